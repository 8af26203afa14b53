"""How many of the true nearest chunks approximate (HNSW) dense search finds, and what finding them costs.

    RAGLINE_DATA_DIR=.ragline-bench .venv/bin/rag eval ../shared/datasets/scifact --split train --collection scifact
    .venv/bin/python bench/dense_recall.py [--store .ragline-bench] [--collection scifact] [--synthetic 20000]

For each search-time ``hnsw_ef``: dense recall@20 against exact (brute-force) search in the same store, mean and
worst query, and the p50/p95 of a dense top-20 query, over (a) the SciFact store built by ``rag eval`` and
queried with the 809 train queries, and (b) a synthetic store of random 384-d unit vectors (the hard case for
HNSW: no cluster structure) queried with 200 random vectors. ``--synthetic 0`` skips (b).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine
from rag.config import Settings
from rag.evaluation import load_beir
from rag.sparse import Sparse
from rag.store.base import ChunkPoint, CollectionMeta, IndexConfig, QuerySpec, Store
from rag.store.edge import EdgeStore
from rag.wiring import index_config, make_embedder

EFS = (16, 32, 64, 100, 128, 256)
K = 20
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"


def measure(store: Store, index: IndexConfig, queries: np.ndarray) -> list[tuple[str, float, float, float, float]]:
    """Rows of (setting, mean recall, worst recall, p50 ms, p95 ms); the store's search ef is varied in place."""

    def spec(q: np.ndarray, exact: bool) -> QuerySpec:
        return QuerySpec(limit=K, mode="dense", prefetch_limit=K, fusion="rrf", dense=q.tolist(), exact=exact)

    def timed(exact: bool) -> tuple[list[set[str]], list[float]]:
        found, ms = [], []
        for q in queries:
            t0 = time.perf_counter()
            hits = store.query(spec(q, exact))
            ms.append((time.perf_counter() - t0) * 1000)
            found.append({h.id for h in hits})
        return found, ms

    truth, exact_ms = timed(exact=True)
    rows = [("exact", 1.0, 1.0, statistics.median(exact_ms), statistics.quantiles(exact_ms, n=20)[18])]
    for ef in EFS:
        store._index = replace(index, hnsw_ef=ef)  # type: ignore[attr-defined]
        found, ms = timed(exact=False)
        recalls = [len(f & t) / max(len(t), 1) for f, t in zip(found, truth, strict=True)]
        rows.append((f"hnsw_ef {ef}", statistics.fmean(recalls), min(recalls), statistics.median(ms),
                     statistics.quantiles(ms, n=20)[18]))
    store._index = index  # type: ignore[attr-defined]
    return rows


def show(title: str, rows: list[tuple[str, float, float, float, float]]) -> None:
    print(f"\n{title}\n{'setting':14} {'recall@20':>9} {'worst':>6} {'p50 ms':>7} {'p95 ms':>7} {'p50/exact':>9}")
    base = rows[0][3]
    for name, mean, worst, p50, p95 in rows:
        print(f"{name:14} {mean:9.4f} {worst:6.2f} {p50:7.3f} {p95:7.3f} {p50 / base:9.2f}")


def synthetic(n: int, index: IndexConfig, n_queries: int) -> list[tuple[str, float, float, float, float]]:
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as tmp:
        store = EdgeStore(Path(tmp), "synthetic", index)
        store.ensure(CollectionMeta("synthetic", 384))
        for lo in range(0, n, 2000):
            vecs = rng.standard_normal((min(2000, n - lo), 384), dtype=np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            store.upsert([
                ChunkPoint(f"00000000-0000-4000-8000-{lo + i:012d}", v, Sparse([1], [1.0]), {"doc_id": str(lo + i)})
                for i, v in enumerate(vecs)
            ])
        t0 = time.perf_counter()
        store.finish()
        print(f"synthetic store: {n} points, index built in {time.perf_counter() - t0:.1f} s")
        queries = rng.standard_normal((n_queries, 384), dtype=np.float32)
        queries /= np.linalg.norm(queries, axis=1, keepdims=True)
        try:
            return measure(store, index, queries)
        finally:
            store.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path, default=Path(".ragline-bench"))
    ap.add_argument("--collection", default="scifact")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--synthetic", type=int, default=20_000)
    args = ap.parse_args()
    print(describe_machine())
    settings = Settings(data_dir=args.store, collection=args.collection)
    index = index_config(settings)
    print(f"build: m={index.hnsw_m} ef_construct={index.hnsw_ef_construct}; setting RAGLINE_HNSW_EF={index.hnsw_ef}")
    store = EdgeStore(args.store, args.collection, index)
    if store.meta() is None:
        sys.exit(f"no collection {args.collection!r} in {args.store}: build it with the rag eval line in the help")
    queries = list(load_beir(args.data, "train").queries.values())
    vectors = make_embedder(settings).encode(queries)
    print(f"SciFact store: {store.count()} points, {len(queries)} queries")
    show("SciFact train (real MiniLM chunks)", measure(store, index, vectors))
    store.close()
    if args.synthetic:
        show(f"synthetic random vectors ({args.synthetic} points, 200 queries)", synthetic(args.synthetic, index, 200))


if __name__ == "__main__":
    main()
