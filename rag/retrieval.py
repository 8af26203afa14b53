"""Query-side core: embed the query, ask the store (dense, sparse, or both fused in Qdrant), group by document."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from rag.embedding import Embedder
from rag.errors import NotFoundError, UsageError
from rag.filters import Condition
from rag.sparse import SparseEncoder
from rag.store.base import FusionName, Hit, Mode, QuerySpec, Store

MAX_TOP_K = 100
# Chunks fetched per wanted document when grouping, so that a few long documents cannot fill the page.
_GROUP_OVERFETCH = 4


@dataclass(frozen=True, slots=True)
class SearchResult:
    doc_id: str
    chunk_id: str
    text: str
    score: float
    source: str
    title: str
    chunk_index: int
    metadata: dict[str, Any]

    @classmethod
    def from_hit(cls, hit: Hit) -> SearchResult:
        p = hit.payload
        return cls(
            doc_id=p.get("doc_id", ""),
            chunk_id=hit.id,
            text=p.get("text", ""),
            score=hit.score,
            source=p.get("source", ""),
            title=p.get("title", ""),
            chunk_index=int(p.get("chunk_index", 0)),
            metadata=p.get("metadata") or {},
        )


@dataclass(slots=True)
class SearchOutput:
    results: list[SearchResult]
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SearchOptions:
    top_k: int = 10
    mode: Mode = "hybrid"
    conditions: tuple[Condition, ...] = ()
    group_by_doc: bool = True
    fusion: FusionName | None = None  # None: RRF when weights are given, else the retriever's default
    weights: tuple[float, float] | None = None

    def validate(self) -> None:
        if not 1 <= self.top_k <= MAX_TOP_K:
            raise UsageError(f"top_k must be between 1 and {MAX_TOP_K}, got {self.top_k}")
        if self.mode not in ("dense", "sparse", "hybrid"):
            raise UsageError(f"mode must be dense, sparse or hybrid, got {self.mode!r}")
        if self.weights is not None and self.fusion == "dbsf":
            raise UsageError("weights apply to RRF fusion only; drop them or use fusion 'rrf'")


def group_best_per_doc(hits: list[Hit], top_k: int) -> list[Hit]:
    """The best-scoring chunk of each document, in score order (hits arrive sorted)."""
    seen: set[str] = set()
    out: list[Hit] = []
    for h in hits:
        doc = h.payload.get("doc_id", h.id)
        if doc not in seen:
            seen.add(doc)
            out.append(h)
            if len(out) == top_k:
                break
    return out


class Retriever:
    """Hybrid retrieval over one store; the same code serves the embedded store and a Qdrant server."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        sparse: SparseEncoder,
        prefetch_limit: int,
        fusion: FusionName,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.sparse = sparse
        self.prefetch_limit = prefetch_limit
        self.fusion = fusion

    def search(self, query: str, opts: SearchOptions) -> SearchOutput:
        return self.search_batch([query], opts)[0]

    def search_batch(self, queries: list[str], opts: SearchOptions) -> list[SearchOutput]:
        """Many queries with one batched encode; each output carries its share of the embed time."""
        opts.validate()
        if self.store.meta() is None:
            raise NotFoundError(f"collection {self.store.name!r} does not exist; ingest documents into it first")
        t0 = time.perf_counter()
        dense = self.embedder.encode(queries) if opts.mode != "sparse" else None
        sparse = [self.sparse.query(q) for q in queries] if opts.mode != "dense" else None
        embed_ms = (time.perf_counter() - t0) * 1000 / max(len(queries), 1)
        limit = opts.top_k * _GROUP_OVERFETCH if opts.group_by_doc else opts.top_k
        outputs = []
        for i in range(len(queries)):
            t1 = time.perf_counter()
            spec = QuerySpec(
                limit=limit,
                mode=opts.mode,
                dense=dense[i].tolist() if dense is not None else None,
                sparse=sparse[i] if sparse is not None else None,
                conditions=opts.conditions,
                prefetch_limit=max(self.prefetch_limit, limit),
                fusion=opts.fusion or ("rrf" if opts.weights else self.fusion),
                weights=opts.weights,
            )
            hits = self.store.query(spec)
            hits = group_best_per_doc(hits, opts.top_k) if opts.group_by_doc else hits[: opts.top_k]
            retrieve_ms = (time.perf_counter() - t1) * 1000
            outputs.append(
                SearchOutput(
                    [SearchResult.from_hit(h) for h in hits],
                    {"embed": round(embed_ms, 3), "retrieve": round(retrieve_ms, 3)},
                )
            )
        return outputs
