"""Query-side core: embed the query, ask the store (dense, sparse, or both fused in Qdrant), group by document."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from rag.embedding import Embedder
from rag.errors import NotFoundError, UsageError
from rag.sparse import SparseEncoder
from rag.store.base import Condition, FusionName, Hit, Mode, QuerySpec, Store, visible_to
from rag.stored_chunk import SearchResult, doc_id_of

MAX_TOP_K = 100
# Chunks asked for per wanted document on the first try when grouping; more are fetched if documents are long.
_GROUP_OVERFETCH = 4


@dataclass(slots=True)
class SearchOutput:
    results: list[SearchResult]
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SearchOptions:
    """One search as asked; the query pipeline fills what the caller left out from the settings."""

    top_k: int
    mode: Mode
    conditions: tuple[Condition, ...] = ()
    group_by_doc: bool = True
    fusion: FusionName | None = None  # None: RRF when weights are given, else the retriever's default
    weights: tuple[float, float] | None = None
    exact: bool = False  # brute-force dense search instead of HNSW (the reference for recall checks)
    visible_to: tuple[str, ...] | None = None  # the caller's identities under ACLs; None: every document

    @property
    def all_conditions(self) -> tuple[Condition, ...]:
        """The caller's filter and, under ACLs, the mandatory one: both go into every prefetch."""
        return self.conditions + (() if self.visible_to is None else (visible_to(self.visible_to),))

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
        doc = doc_id_of(h.id, h.payload)
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
        outputs = []
        for i in range(len(queries)):
            t1 = time.perf_counter()
            spec = QuerySpec(
                limit=opts.top_k,
                mode=opts.mode,
                prefetch_limit=self.prefetch_limit,
                fusion=opts.fusion or ("rrf" if opts.weights else self.fusion),
                dense=dense[i].tolist() if dense is not None else None,
                sparse=sparse[i] if sparse is not None else None,
                conditions=opts.all_conditions,
                weights=opts.weights,
                exact=opts.exact,
            )
            hits = self._best_per_doc(spec) if opts.group_by_doc else self.store.query(spec)
            retrieve_ms = (time.perf_counter() - t1) * 1000
            outputs.append(
                SearchOutput(
                    [SearchResult.from_payload(h.id, h.score, h.payload) for h in hits],
                    {"embed": round(embed_ms, 3), "retrieve": round(retrieve_ms, 3)},
                )
            )
        return outputs

    def _best_per_doc(self, spec: QuerySpec) -> list[Hit]:
        """``spec.limit`` documents (their best chunk each), fetching more chunks until that many are found or
        the store has no more. The prefetch stays at its setting while the fetch fits in it, so the fused order
        of the first results does not depend on how many are asked for."""
        top_k = spec.limit
        limit = min(top_k * _GROUP_OVERFETCH, max(self.prefetch_limit, top_k))
        while True:
            hits = self.store.query(replace(spec, limit=limit, prefetch_limit=max(self.prefetch_limit, limit)))
            best = group_best_per_doc(hits, top_k)
            if len(best) == top_k or len(hits) < limit:
                return best
            limit *= _GROUP_OVERFETCH
