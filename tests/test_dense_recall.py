"""Approximate dense search finds what exact search finds: recall@20 against brute force on a store that is hard
for HNSW (loose clusters of 384-d vectors), where the engine's defaults missed whole neighbourhoods."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.sparse import Sparse
from rag.store.base import ChunkPoint, CollectionMeta, IndexConfig, QuerySpec
from rag.store.edge import EdgeStore
from rag.wiring import index_config

N, QUERIES, K = 6000, 60, 20


def clustered(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.standard_normal((50, 384)).astype(np.float32)
    points = centres[rng.integers(0, 50, N)] + 0.6 * rng.standard_normal((N, 384)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    queries = points[rng.integers(0, N, QUERIES)] + 0.3 * rng.standard_normal((QUERIES, 384)).astype(np.float32)
    return points, queries / np.linalg.norm(queries, axis=1, keepdims=True)


def recalls(folder: Path, index: IndexConfig) -> list[float]:
    points, queries = clustered(np.random.default_rng(3))
    store = EdgeStore(folder, "recall", index)
    store.ensure(CollectionMeta("synthetic", 384))
    store.upsert(
        [
            ChunkPoint(f"00000000-0000-4000-8000-{i:012d}", v, Sparse([1], [1.0]), {"doc_id": str(i)})
            for i, v in enumerate(points)
        ]
    )
    store.finish()
    try:
        out = []
        for q in queries:
            spec = QuerySpec(limit=K, mode="dense", prefetch_limit=K, fusion="rrf", dense=q.tolist())
            approx = {h.id for h in store.query(spec)}
            exact = {h.id for h in store.query(replace(spec, exact=True))}
            out.append(len(approx & exact) / K)
        return out
    finally:
        store.close()


@pytest.mark.parametrize("forced_hnsw", [False, True], ids=["defaults", "hnsw-forced"])
def test_dense_recall_against_exact_search(tmp_path: Path, forced_hnsw: bool) -> None:
    index = index_config(Settings())
    if forced_hnsw:  # the graph and search settings alone, without the exact search small segments get
        index = replace(index, full_scan_kb=100)
    got = recalls(tmp_path, index)
    assert np.mean(got) >= 0.99 and min(got) >= 0.8, (np.mean(got), min(got))
