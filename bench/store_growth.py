"""How query latency of the embedded store grows with its size: 10k, 100k and 1M points (synthetic vectors).

    .venv/bin/python bench/store_growth.py [--sizes 10000,100000,1000000] [--queries 200]

One Qdrant Edge shard through ragline's own store code (`EdgeStore`), grown in place: 384-d unit vectors
(MiniLM's size) and BM25-like sparse vectors of 40 Zipf-distributed terms per point, payload as the ingest
pipeline writes it. At each size: upsert time, index build time, then p50/p95 of dense, sparse, hybrid (RRF in
Qdrant) and hybrid with a keyword filter matching 10% of the points, top 10, prefetch 100.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine
from rag.config import Settings
from rag.sparse import Sparse
from rag.store.base import ChunkPoint, CollectionMeta, Condition, QuerySpec
from rag.store.edge import EdgeStore
from rag.wiring import index_config

DIM, VOCAB, TERMS, BATCH = 384, 30_000, 40, 2_000
SOURCES = [f"s{i}.txt" for i in range(10)]


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM), dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def sparse(rng: np.random.Generator, n_terms: int) -> Sparse:
    ids = np.unique(np.minimum(rng.zipf(1.3, n_terms), VOCAB) + rng.integers(0, 50))
    return Sparse(indices=[int(i) for i in ids], values=[float(v) for v in rng.uniform(0.5, 2.5, len(ids))])


def fill(store: EdgeStore, rng: np.random.Generator, start: int, stop: int) -> None:
    for lo in range(start, stop, BATCH):
        hi = min(lo + BATCH, stop)
        dense = unit(rng, hi - lo)
        points = [
            ChunkPoint(
                id=f"00000000-0000-4000-8000-{i:012d}",
                dense=dense[i - lo],
                sparse=sparse(rng, TERMS),
                payload={
                    "doc_id": f"doc{i // 2}",
                    "chunk_index": i % 2,
                    "source": SOURCES[i % 10],
                    "content_hash": f"h{i // 2}",
                    "text": "synthetic",
                },
            )
            for i in range(lo, hi)
        ]
        store.upsert(points)


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def measure(store: EdgeStore, rng: np.random.Generator, n_queries: int) -> dict[str, tuple[float, float]]:
    dense = unit(rng, n_queries)
    # 1 of the 10 sources: a tenth of the points.
    flt = (Condition(key="source", any=(SOURCES[3],)),)
    # Prefetch 100 and RRF, as in earlier runs, so rows compare across them.
    base = {"limit": 10, "prefetch_limit": 100, "fusion": "rrf"}
    kinds = {
        "dense": lambda i: QuerySpec(**base, mode="dense", dense=dense[i].tolist()),
        "sparse": lambda i: QuerySpec(**base, mode="sparse", sparse=sparse(rng, 6)),
        "hybrid": lambda i: QuerySpec(**base, mode="hybrid", dense=dense[i].tolist(), sparse=sparse(rng, 6)),
        "hybrid+filter": lambda i: QuerySpec(
            **base, mode="hybrid", dense=dense[i].tolist(), sparse=sparse(rng, 6), conditions=flt
        ),
    }
    out = {}
    for name, spec_for in kinds.items():
        specs = [spec_for(i) for i in range(n_queries)]
        for s in specs[:10]:
            store.query(s)
        times = []
        for s in specs:
            t0 = time.perf_counter()
            store.query(s)
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = (pct(times, 50), pct(times, 95))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    print(describe_machine())
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    kinds = ["dense", "sparse", "hybrid", "hybrid+filter"]
    print(f"{'points':>9} {'upsert s':>8} {'index s':>8}  " + "  ".join(f"{k + ' p50/p95 ms':>24}" for k in kinds))
    first: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = EdgeStore(Path(tmp), "growth", index_config(Settings()))
        store.ensure(CollectionMeta(embed_model="synthetic", dimension=DIM))
        have = 0
        for n in sizes:
            t0 = time.perf_counter()
            fill(store, rng, have, n)
            upsert_s = time.perf_counter() - t0
            print(f"{n:,} points upserted in {upsert_s:.0f} s, building the index", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            store.finish()
            index_s = time.perf_counter() - t0
            print(f"index built in {index_s:.0f} s, measuring", file=sys.stderr, flush=True)
            have = n
            lat = measure(store, rng, args.queries)
            first = first or lat
            cells = "  ".join(f"{f'{lat[k][0]:.2f} / {lat[k][1]:.2f}':>24}" for k in kinds)
            print(f"{n:9} {upsert_s:8.1f} {index_s:8.1f}  {cells}", flush=True)
        store.close()
    print(
        f"p50 growth from {sizes[0]:,} to {sizes[-1]:,} points ({sizes[-1] // sizes[0]}x the data): "
        + ", ".join(f"{k} {lat[k][0] / first[k][0]:.1f}x" for k in kinds)
    )


if __name__ == "__main__":
    main()
