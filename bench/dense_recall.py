"""How many of the true nearest chunks approximate (HNSW) dense search finds, and what finding them costs.

    RAGLINE_DATA_DIR=.ragline-bench .venv/bin/rag eval ../shared/datasets/scifact --split train --collection scifact
    .venv/bin/python bench/dense_recall.py [--store .ragline-bench] [--collection scifact] [--synthetic 15000]

For each HNSW build (m, ef_construct, full-scan threshold) and search-time ``hnsw_ef``: dense recall@20 against
exact (brute-force) search in the same store, mean and worst query, and the p50 of a dense top-20 query. The
builds: the engine's defaults as ragline had them (16, 100, full scan below 1,000 KB), the same graph settings
ragline now uses with HNSW forced (32, 200, 1,000 KB), and ragline's defaults (full scan below 16,000 KB). Over
(a) the SciFact chunks embedded by ``rag eval`` (queried with the 809 train queries; other builds get a copy of
    the same vectors, nothing is embedded again), and
(b) a synthetic store of 384-d vectors in 50 loose clusters (the hard case: it reproduces the "0 of 20 true
    neighbours" queries seen on a store of real web pages), queried with 100 perturbed points.
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
from qdrant_edge import ScrollRequest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine
from rag.config import Settings
from rag.evaluation import load_beir
from rag.sparse import Sparse
from rag.store.base import DENSE, ChunkPoint, CollectionMeta, IndexConfig, QuerySpec
from rag.store.edge import EdgeStore
from rag.wiring import index_config, make_embedder

EFS: tuple[int | None, ...] = (None, 64, 128, 256, 384, 512)
K = 20
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"
Row = tuple[str, float, float, float]


def measure(store: EdgeStore, build: IndexConfig, queries: np.ndarray) -> list[Row]:
    """(setting, mean recall@20, worst recall, p50 ms) for exact search and each ``hnsw_ef``."""

    def run(exact: bool) -> tuple[list[set[str]], float]:
        found, ms = [], []
        for q in queries:
            spec = QuerySpec(limit=K, mode="dense", prefetch_limit=K, fusion="rrf", dense=q.tolist(), exact=exact)
            t0 = time.perf_counter()
            hits = store.query(spec)
            ms.append((time.perf_counter() - t0) * 1000)
            found.append({h.id for h in hits})
        return found, statistics.median(ms)

    truth, exact_ms = run(exact=True)
    rows: list[Row] = [(f"{label(build)}: exact", 1.0, 1.0, exact_ms)]
    for ef in EFS:
        store._index = replace(build, hnsw_ef=ef)  # the search ef is read per query
        found, p50 = run(exact=False)
        recalls = [len(f & t) / max(len(t), 1) for f, t in zip(found, truth, strict=True)]
        name = f"{label(build)}: ef {ef or 'default'}"
        rows.append((name, statistics.fmean(recalls), min(recalls), p50))
    return rows


def label(build: IndexConfig) -> str:
    return f"m {build.hnsw_m} efc {build.hnsw_ef_construct} scan<{build.full_scan_kb}KB" + (
        " int8" if build.quantize_int8 else ""
    )


def show(title: str, rows: list[Row]) -> None:
    print(f"\n{title}\n{'setting':46} {'recall@20':>9} {'worst':>6} {'p50 ms':>7}")
    for name, mean, worst, p50 in rows:
        print(f"{name:46} {mean:9.4f} {worst:6.2f} {p50:7.3f}", flush=True)


def filled(folder: Path, build: IndexConfig, vectors: np.ndarray) -> EdgeStore:
    store = EdgeStore(folder, "recall", build)
    store.ensure(CollectionMeta("bench", vectors.shape[1]))
    for lo in range(0, len(vectors), 2000):
        store.upsert(
            [
                ChunkPoint(f"00000000-0000-4000-8000-{i:012d}", vectors[i], Sparse([1], [1.0]), {"doc_id": str(i)})
                for i in range(lo, min(lo + 2000, len(vectors)))
            ]
        )
    t0 = time.perf_counter()
    store.finish()
    print(f"  {len(vectors)} points, {label(build)}: index built in {time.perf_counter() - t0:.1f} s")
    return store


def dense_vectors(store: EdgeStore) -> np.ndarray:
    out, offset = [], None
    with store._using(required=True) as shard:
        while True:
            page = ScrollRequest(offset=offset, limit=2048, with_payload=False, with_vector=True)
            records, offset = shard.scroll(page)
            out += [r.vector[DENSE] for r in records]
            if offset is None:
                return np.asarray(out, dtype=np.float32)


def each_build(vectors: np.ndarray, queries: np.ndarray, ours: IndexConfig) -> list[Row]:
    rows: list[Row] = []
    old = IndexConfig(hnsw_m=16, hnsw_ef_construct=100, hnsw_ef=None, full_scan_kb=1000)
    floats = replace(ours, quantize_int8=False)
    for build in (old, replace(floats, full_scan_kb=1000), floats, replace(ours, full_scan_kb=1000), ours):
        with tempfile.TemporaryDirectory() as tmp:
            store = filled(Path(tmp), build, vectors)
            rows += measure(store, build, queries)
            store.close()
    return rows


def clustered(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.standard_normal((50, 384)).astype(np.float32)
    points = centres[rng.integers(0, 50, n)] + 0.6 * rng.standard_normal((n, 384)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    queries = points[rng.integers(0, n, 100)] + 0.3 * rng.standard_normal((100, 384)).astype(np.float32)
    return points, queries / np.linalg.norm(queries, axis=1, keepdims=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path, default=Path(".ragline-bench"))
    ap.add_argument("--collection", default="scifact")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--synthetic", type=int, default=15_000)
    args = ap.parse_args()
    print(describe_machine())
    settings = Settings(data_dir=args.store, collection=args.collection)
    index = index_config(settings)
    print(f"ragline's settings: m {index.hnsw_m}, ef_construct {index.hnsw_ef_construct}, hnsw_ef {index.hnsw_ef}")
    source = EdgeStore(args.store, args.collection, index)
    if source.meta() is None:
        sys.exit(f"no collection {args.collection!r} in {args.store}: build it with the rag eval line in the help")
    vectors = dense_vectors(source)
    source.close()
    queries = make_embedder(settings).encode(list(load_beir(args.data, "train").queries.values()))
    print(f"SciFact: {len(vectors)} chunks, {len(queries)} train queries")
    show("SciFact train (real MiniLM chunks)", each_build(vectors, queries, index))
    if args.synthetic:
        points, probes = clustered(args.synthetic, np.random.default_rng(1))
        show(f"synthetic, 50 loose clusters ({args.synthetic} points, 100 queries)", each_build(points, probes, index))


if __name__ == "__main__":
    main()
