"""Real data in the default run: 300 SciFact abstracts, queried with their own train claims."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.retrieval import Retriever, SearchOptions
from tests.conftest import SCIFACT

pytestmark = pytest.mark.skipif(not SCIFACT.is_dir(), reason="shared SciFact data not present")


def _subset(tmp_path: Path, n_docs: int = 300) -> tuple[Path, list[tuple[str, set[str]]]]:
    qrels: dict[str, set[str]] = {}
    for line in (SCIFACT / "qrels" / "train.tsv").read_text().splitlines()[1:]:
        qid, doc, _ = line.split("\t")
        qrels.setdefault(qid, set()).add(doc)
    queries = {q["_id"]: q["text"] for q in map(json.loads, (SCIFACT / "queries.jsonl").open())}
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").open()]
    wanted = {d for docs in list(qrels.values())[:60] for d in docs}
    keep = [d for d in corpus if d["_id"] in wanted]
    keep += [d for d in corpus if d["_id"] not in wanted][: n_docs - len(keep)]
    path = tmp_path / "scifact" / "corpus.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(json.dumps(d) for d in keep))
    pairs = [(queries[q], docs) for q, docs in list(qrels.items())[:60]]
    return path.parent, pairs


def test_scifact_subset_hybrid_finds_relevant(tmp_path: Path, make_ingestor) -> None:
    folder, pairs = _subset(tmp_path)
    ing = make_ingestor()
    report = ing.run([folder])
    assert report.added == 300 and not report.failed
    retriever = Retriever(ing.store, ing.embedder, ing.sparse)
    hits = {}
    for mode in ("dense", "sparse", "hybrid"):
        outs = retriever.search_batch([q for q, _ in pairs], SearchOptions(top_k=10, mode=mode))
        hits[mode] = sum(bool({r.doc_id for r in o.results} & rel) for o, (_, rel) in zip(outs, pairs, strict=True))
    # BEIR ids survive as doc ids, and most claims find a relevant abstract in the top 10.
    assert hits["hybrid"] >= 0.8 * len(pairs), hits
    assert hits["hybrid"] >= max(hits["dense"], hits["sparse"]) - 2, hits
