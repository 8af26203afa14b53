"""Chooses the hybrid fusion on half of SciFact train and reports it on the other half.

    .venv/bin/python bench/fusion_tuning.py [--store .ragline-bench] [--collection scifact]

Needs a filled collection (see bench/search_latency.py for the `rag eval` line that makes one). Every setting
runs through ragline's own retrieval path (fusion happens in Qdrant): RRF (k=60) with (dense, sparse) weights,
and DBSF, each with 50/100/200 candidates per prefetch, all on the 809 train queries at top 10. Held-out
figures come from k-fold cross-validation (each fold scored with the setting that is best on the other folds)
and from an even/odd split of the queries, each next to plain RRF (k=60, equal weights, prefetch 100).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine
from rag.config import Settings
from rag.evaluation import load_beir, run_queries
from rag.ir_metrics import evaluate
from rag.wiring import OpenStores, build_parts, make_embedder

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"
FUSIONS: list[tuple[str, tuple[float, float] | None]] = [
    ("rrf", None),
    ("rrf", (1.0, 1.25)),
    ("rrf", (1.0, 1.5)),
    ("rrf", (1.0, 2.0)),
    ("rrf", (1.25, 1.0)),
    ("dbsf", None),
]
PREFETCH = (50, 100, 200)


def ndcg(run: dict[str, dict[str, float]], qrels: dict[str, dict[str, int]], part: list[str]) -> float:
    return evaluate({q: run[q] for q in part}, {q: qrels[q] for q in part})["ndcg@10"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path, default=Path(".ragline-bench"))
    ap.add_argument("--collection", default="scifact")
    ap.add_argument("--dataset", type=Path, default=SCIFACT)
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    print(describe_machine())
    settings = Settings(data_dir=args.store, collection=args.collection)
    split = load_beir(args.dataset, "train")
    qids = list(split.queries)
    stores, embedder = OpenStores(settings), make_embedder(settings)
    runs: dict[tuple, dict[str, dict[str, float]]] = {}
    print(f"{'fusion':6} {'weights':12} {'prefetch':>8}  nDCG@10 (all {len(qids)} train queries)")
    try:
        for prefetch in PREFETCH:
            s = settings.with_overrides(prefetch_limit=prefetch)
            pipeline = build_parts(s, stores, embedder, with_llm=False).pipeline
            for fusion, weights in FUSIONS:
                # top 10, as the API is asked.
                run = run_queries(pipeline, split.queries, pipeline.options(top_k=10, fusion=fusion, weights=weights))
                runs[(fusion, weights, prefetch)] = run
                print(
                    f"{fusion:6} {weights or 'equal'!s:12} {prefetch:8}  {ndcg(run, split.qrels, qids):.4f}", flush=True
                )
    finally:
        stores.close()

    plain = ("rrf", None, 100)  # what plain fusion does: RRF k=60, equal weights
    default = (settings.fusion, None, settings.prefetch_limit)
    print(f"ragline's default ({default[0]}, prefetch {default[2]}): {ndcg(runs[default], split.qrels, qids):.4f}")
    held_out: dict[str, dict[str, float]] = {}
    print(f"\n{args.folds}-fold cross-validation: each fold is scored with the setting best on the other folds")
    for i in range(args.folds):
        fold = qids[i :: args.folds]
        rest = [q for q in qids if q not in set(fold)]
        best = max(runs, key=lambda k: ndcg(runs[k], split.qrels, rest))
        held_out.update({q: runs[best][q] for q in fold})
        print(
            f"fold {i + 1}: chose {best[0]} {best[1] or ''} prefetch {best[2]}; held-out nDCG@10 "
            f"{ndcg(runs[best], split.qrels, fold):.4f} vs plain RRF {ndcg(runs[plain], split.qrels, fold):.4f}"
        )
    cv, base = ndcg(held_out, split.qrels, qids), ndcg(runs[plain], split.qrels, qids)
    print(f"held-out nDCG@10 over all folds: {cv:.4f} vs {base:.4f} for plain RRF: {cv - base:+.4f}")
    even, odd = qids[0::2], qids[1::2]
    best = max(runs, key=lambda k: ndcg(runs[k], split.qrels, even))
    print(
        f"even/odd split: chose {best[0]} {best[1] or ''} prefetch {best[2]} on the even half; odd half "
        f"{ndcg(runs[best], split.qrels, odd):.4f} vs plain RRF {ndcg(runs[plain], split.qrels, odd):.4f}"
    )


if __name__ == "__main__":
    main()
