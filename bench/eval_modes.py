"""nDCG@10 and Recall@100 of dense, sparse and hybrid retrieval on a BEIR folder (default: SciFact train).

    .venv/bin/pip install -e '.[dev]'
    .venv/bin/python bench/eval_modes.py [--data ../shared/datasets/scifact] [--split train] [--store DIR]

The corpus is ingested through the normal pipeline into --store (reused when unchanged); metrics by ranx.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ranx import Qrels, Run, evaluate

from ingest.pipeline import Ingestor
from rag.components import make_embedder, make_sparse
from rag.config import Settings
from rag.evaluation import load_beir, run_queries
from rag.retrieval import Retriever
from rag.store import open_store

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--split", default="train")
    ap.add_argument("--store", type=Path, default=Path(".ragline-bench"))
    args = ap.parse_args()
    split = load_beir(args.data, args.split)
    settings = Settings(data_dir=args.store, collection="scifact")
    embedder = make_embedder(settings)
    store = open_store(settings)
    t0 = time.perf_counter()
    report = Ingestor(settings, store, embedder, make_sparse(settings)).run([split.corpus])
    print(f"ingest: added {report.added}, unchanged {report.unchanged} in {time.perf_counter() - t0:.1f}s")
    retriever = Retriever(store, embedder, make_sparse(settings), settings.prefetch_limit)
    print(f"{'mode':8} {'nDCG@10':>8} {'R@100':>7}  queries={len(split.queries)}")
    for mode in ("dense", "sparse", "hybrid"):
        run = run_queries(retriever, split.queries, mode)
        m = evaluate(Qrels(split.qrels), Run({q: r or {"-": 0.0} for q, r in run.items()}), ["ndcg@10", "recall@100"])
        print(f"{mode:8} {m['ndcg@10']:8.4f} {m['recall@100']:7.4f}")
    store.close()


if __name__ == "__main__":
    main()
