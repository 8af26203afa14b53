"""What the mandatory ACL filter costs: query p50/p95 with and without it, at 10k and 100k points, on the
embedded store with the default index settings.

    .venv/bin/python bench/acl_filter.py [--sizes 10000 100000] [--queries 300]

Points are random unit vectors (384 dimensions, MiniLM's) with a BM25 vector of 12 random words; half the
documents are public, the rest carry one or two of 20 groups. The caller holds 2 groups, so it may see about
55% of the points. Each query runs dense and hybrid (DBSF), once unfiltered and once with the caller's ACL
condition in every prefetch, interleaved so drift on a shared machine hits both alike.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine
from rag.config import Settings
from rag.sparse import SparseEncoder
from rag.store.base import ChunkPoint, CollectionMeta, QuerySpec, visible_to
from rag.store.edge import EdgeStore
from rag.stored_chunk import chunk_payload
from rag.wiring import index_config

DIM = 384
GROUPS = [f"group-{n}" for n in range(20)]
CALLER = ("group-3", "group-7", "caller")
VOCAB = [f"w{n}" for n in range(5000)]


def build(folder: Path, size: int, rng: random.Random, sparse: SparseEncoder) -> EdgeStore:
    store = EdgeStore(folder, "acl", index_config(Settings()))
    store.ensure(CollectionMeta("bench", DIM))
    vectors = np.random.default_rng(rng.randrange(2**32)).standard_normal((size, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    batch = []
    for i in range(size):
        text = " ".join(rng.choices(VOCAB, k=12))
        acl = tuple(sorted(rng.sample(GROUPS, rng.randint(1, 2)))) if rng.random() < 0.5 else ()
        payload = chunk_payload(
            doc_id=f"d{i}", chunk_index=0, chunk_count=1, text=text, title="", source="s", root="r",
            format="txt", content_hash="h", metadata={}, acl=acl,
        )  # fmt: skip
        batch.append(ChunkPoint(str(uuid.UUID(int=i)), vectors[i], sparse.document(text), payload))
        if len(batch) == 2000:
            store.upsert(batch)
            batch = []
    store.upsert(batch)
    store.finish()
    return store


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    print(describe_machine())
    rng = random.Random(11)
    sparse = SparseEncoder(avg_len=Settings().bm25_avg_len)
    acl = (visible_to(CALLER),)
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            store = build(Path(tmp), size, rng, sparse)
            allowed = store.count(acl)
            print(f"\n{size:,} points (built in {time.perf_counter() - t0:.0f} s); the caller may see {allowed:,}")
            for mode in ("dense", "hybrid"):
                plain: list[float] = []
                filtered: list[float] = []
                for _ in range(args.queries):
                    q = np.random.default_rng(rng.randrange(2**32)).standard_normal(DIM).astype(np.float32)
                    q /= np.linalg.norm(q)
                    words = " ".join(rng.choices(VOCAB, k=4))
                    base = {"limit": 10, "mode": mode, "prefetch_limit": 200, "fusion": "dbsf", "dense": q.tolist()}
                    base["sparse"] = sparse.query(words) if mode == "hybrid" else None
                    for conditions, out in (((), plain), (acl, filtered)):
                        t1 = time.perf_counter()
                        hits = store.query(QuerySpec(**base, conditions=conditions))
                        out.append((time.perf_counter() - t1) * 1000)
                        if conditions:
                            assert all(not h.payload.get("acl") or set(h.payload["acl"]) & set(CALLER) for h in hits)
                print(
                    f"  {mode:6}: without ACL p50 {pct(plain, 50):6.2f} ms p95 {pct(plain, 95):6.2f} ms | "
                    f"with ACL p50 {pct(filtered, 50):6.2f} ms p95 {pct(filtered, 95):6.2f} ms | "
                    f"p50 ratio {pct(filtered, 50) / pct(plain, 50):.2f}"
                )
            store.close()


if __name__ == "__main__":
    main()
