"""Searches of an embedded Qdrant Edge shard: ragline's conditions as Qdrant filters, and one query (dense,
sparse, or both fused in Qdrant with DBSF or RRF)."""

from __future__ import annotations

from dataclasses import replace

from qdrant_edge import (
    EdgeShard,
    FieldCondition,
    Filter,
    Fusion,
    IsEmptyCondition,
    MatchAny,
    MatchValue,
    Prefetch,
    QuantizationSearchParams,
    Query,
    QueryRequest,
    RangeDateTime,
    RangeFloat,
    SearchParams,
    SparseVector,
)

from rag.store.base import DENSE, INT8_OVERSAMPLING, RRF_K, SPARSE, Condition, Hit, QuerySpec


def _condition(c: Condition) -> FieldCondition | Filter:
    if c.or_absent:
        return Filter(should=[_condition(replace(c, or_absent=False)), IsEmptyCondition(key=c.key)])
    if c.eq is not None:
        return FieldCondition(key=c.key, match=MatchValue(value=c.eq))
    if c.any is not None:
        return FieldCondition(key=c.key, match=MatchAny(any=list(c.any)))
    rng = RangeDateTime(**c.range) if c.is_datetime_range else RangeFloat(**c.range)
    return FieldCondition(key=c.key, range=rng)


def to_filter(conditions: tuple[Condition, ...]) -> Filter | None:
    return Filter(must=[_condition(c) for c in conditions]) if conditions else None


def run_query(shard: EdgeShard, spec: QuerySpec, hnsw_ef: int) -> list[Hit]:
    """One search of the shard: dense, sparse, or both fused in Qdrant."""
    flt = to_filter(spec.conditions)
    # Exact search is the reference for recall: it reads the float vectors, never the int8 copy.
    params = SearchParams(
        hnsw_ef=hnsw_ef,
        exact=spec.exact,
        quantization=QuantizationSearchParams(ignore=True)
        if spec.exact
        else QuantizationSearchParams(rescore=True, oversampling=INT8_OVERSAMPLING),
    )
    dense = Query.Nearest(spec.dense, using=DENSE) if spec.dense is not None else None
    sparse = (
        Query.Nearest(SparseVector(indices=spec.sparse.indices, values=spec.sparse.values), using=SPARSE)
        if spec.sparse is not None and spec.sparse.indices
        else None
    )
    if spec.mode == "dense":
        req = QueryRequest(limit=spec.limit, query=dense, filter=flt, with_payload=True, params=params)
    elif spec.mode == "sparse":
        if sparse is None:
            return []
        req = QueryRequest(limit=spec.limit, query=sparse, filter=flt, with_payload=True)
    else:
        prefetches = [Prefetch(limit=spec.prefetch_limit, query=dense, filter=flt, params=params)]
        if sparse is not None:
            prefetches.append(Prefetch(limit=spec.prefetch_limit, query=sparse, filter=flt))
        weights = list(spec.weights[: len(prefetches)]) if spec.weights else None
        fusion = Fusion.Dbsf() if spec.fusion == "dbsf" else Fusion.Rrf(k=RRF_K, weights=weights)
        req = QueryRequest(limit=spec.limit, query=fusion, prefetches=prefetches, with_payload=True)
    return [Hit(id=str(p.id), score=float(p.score), payload=dict(p.payload or {})) for p in shard.query(req)]
