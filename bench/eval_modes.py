"""nDCG@10 and Recall@100 of dense, sparse and hybrid retrieval on a BEIR folder (default: SciFact train).

    .venv/bin/python bench/eval_modes.py [--data ../shared/datasets/scifact] [--split train] [--store DIR]

The corpus is ingested through the normal pipeline into --store (reused when unchanged); metrics by ranx.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ranx import Qrels, Run, evaluate

from ingest.pipeline import Ingestor
from rag.components import make_embedder, make_sparse
from rag.config import Settings
from rag.retrieval import Retriever, SearchOptions
from rag.store import open_store

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for line in path.read_text().splitlines()[1:]:
        qid, doc, score = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(score)
    return qrels


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--split", default="train")
    ap.add_argument("--store", type=Path, default=Path(".ragline-bench"))
    args = ap.parse_args()
    settings = Settings(data_dir=args.store, collection="scifact")
    embedder = make_embedder(settings)
    store = open_store(settings)
    t0 = time.perf_counter()
    report = Ingestor(settings, store, embedder, make_sparse(settings)).run([args.data / "corpus.jsonl"])
    print(f"ingest: added {report.added}, unchanged {report.unchanged} in {time.perf_counter() - t0:.1f}s")
    qrels = load_qrels(args.data / "qrels" / f"{args.split}.tsv")
    queries = {q["_id"]: q["text"] for q in map(json.loads, (args.data / "queries.jsonl").open())}
    qids = [q for q in qrels if q in queries]
    retriever = Retriever(store, embedder, make_sparse(settings), settings.prefetch_limit)
    print(f"{'mode':8} {'nDCG@10':>8} {'R@100':>7}  queries={len(qids)}")
    for mode in ("dense", "sparse", "hybrid"):
        outs = retriever.search_batch([queries[q] for q in qids], SearchOptions(top_k=100, mode=mode))
        run = {q: {r.doc_id: r.score for r in o.results} or {"-": 0.0} for q, o in zip(qids, outs, strict=True)}
        m = evaluate(Qrels(qrels), Run(run), ["ndcg@10", "recall@100"])
        print(f"{mode:8} {m['ndcg@10']:8.4f} {m['recall@100']:7.4f}")
    store.close()


if __name__ == "__main__":
    main()
