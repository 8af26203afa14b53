"""Full SciFact (slow: run with `pytest -m slow`): hybrid beats dense and sparse alone on the train split, and the
default fusion (DBSF) beats plain RRF."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.evaluation import load_beir, run_queries
from rag.wiring import build_parts
from tests.conftest import SCIFACT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1800),  # a full SciFact ingest on 2 cores: ~3 min alone, much longer beside other work
    pytest.mark.skipif(not SCIFACT.is_dir(), reason="shared SciFact data not present"),
]


def test_hybrid_beats_each_mode_on_train(make_ingestor, settings, tmp_path: Path) -> None:
    ranx = pytest.importorskip("ranx")
    split = load_beir(SCIFACT, "train")
    ing = make_ingestor()
    assert ing.run([split.corpus]).added == 5183
    pipeline = build_parts(settings, lambda _: ing.store, ing.embedder, with_llm=False).pipeline
    ndcg = {}
    for mode in ("dense", "sparse", "hybrid"):
        runs = run_queries(pipeline, split.queries, pipeline.options(top_k=100, mode=mode))
        run = {q: r or {"-": 0.0} for q, r in runs.items()}
        ndcg[mode] = ranx.evaluate(ranx.Qrels(split.qrels), ranx.Run(run), "ndcg@10")
    plain_rrf = settings.with_overrides(fusion="rrf", prefetch_limit=100)
    rrf = build_parts(plain_rrf, lambda _: ing.store, ing.embedder, with_llm=False).pipeline
    run = {q: r or {"-": 0.0} for q, r in run_queries(rrf, split.queries, rrf.options(top_k=100)).items()}
    ndcg["rrf"] = ranx.evaluate(ranx.Qrels(split.qrels), ranx.Run(run), "ndcg@10")
    assert ndcg["hybrid"] > max(ndcg["dense"], ndcg["sparse"]), ndcg
    assert ndcg["hybrid"] > ndcg["rrf"] + 0.005 and ndcg["hybrid"] >= 0.73, ndcg
    assert ndcg["dense"] > 0.62 and ndcg["sparse"] > 0.65, ndcg
