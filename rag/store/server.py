"""A collection on a Qdrant server (or qdrant-client's ``:memory:`` engine) through qdrant-client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from rag.errors import NotFoundError
from rag.store.base import (
    DENSE,
    INT8_OVERSAMPLING,
    RRF_K,
    SPARSE,
    ChunkPoint,
    CollectionMeta,
    Condition,
    DocState,
    Hit,
    IndexConfig,
    QuerySpec,
    accumulate_states,
    check_meta,
)
from rag.stored_chunk import CHUNK_INDEX, CONTENT_HASH, DOC_ID, INDEXED_KEYWORDS, STATE_FIELDS

_SCROLL_PAGE = 2048


def _condition(c: Condition) -> models.FieldCondition | models.Filter:
    if c.or_absent:
        absent = models.IsEmptyCondition(is_empty=models.PayloadField(key=c.key))
        return models.Filter(should=[_condition(replace(c, or_absent=False)), absent])
    if c.eq is not None:
        return models.FieldCondition(key=c.key, match=models.MatchValue(value=c.eq))
    if c.any is not None:
        return models.FieldCondition(key=c.key, match=models.MatchAny(any=list(c.any)))
    rng = models.DatetimeRange(**c.range) if c.is_datetime_range else models.Range(**c.range)
    return models.FieldCondition(key=c.key, range=rng)


def to_filter(conditions: tuple[Condition, ...]) -> models.Filter | None:
    return models.Filter(must=[_condition(c) for c in conditions]) if conditions else None


def _collection_missing(exc: Exception) -> bool:
    """How Qdrant says a collection does not exist: a 404 from a server, a ValueError from ':memory:'."""
    if isinstance(exc, UnexpectedResponse):
        return exc.status_code == 404
    return str(exc).endswith("not found")


def _sparse(s: Any) -> models.SparseVector:
    return models.SparseVector(indices=s.indices, values=s.values)


class ServerStore:
    """A collection on a Qdrant server; safe to share between threads and processes."""

    def __init__(
        self,
        client: QdrantClient,
        name: str,
        *,
        shards: int,
        replicas: int,
        index: IndexConfig,
    ) -> None:
        self.client = client
        self._index = index
        self._indexes = [(k, "keyword") for k in INDEXED_KEYWORDS] + list(index.extra_indexes)
        self.name = name
        self._shards = shards
        self._replicas = replicas
        self._meta: CollectionMeta | None = None

    def _exists(self) -> bool:
        return self.client.collection_exists(self.name)

    def _gone(self, exc: Exception) -> bool:
        """Whether ``exc`` says the collection does not exist; if so its model is forgotten (read again if it comes
        back)."""
        if isinstance(exc, UnexpectedResponse | ValueError) and _collection_missing(exc):
            self._meta = None
            return True
        return False

    @contextmanager
    def _if_present(self) -> Iterator[None]:
        """Run the block; a collection that does not exist ends it quietly, leaving the caller's empty answer. One
        round trip to the server where asking first whether the collection exists made two."""
        try:
            yield
        except Exception as exc:
            if not self._gone(exc):
                raise

    def meta(self) -> CollectionMeta | None:
        # A collection's model never changes once it is made: read once (two round trips), not on every search;
        # forgotten when a query finds the collection deleted.
        if self._meta is None and self._exists():
            data = self.client.get_collection(self.name).config.metadata or {}
            if "embed_model" in data:
                self._meta = CollectionMeta(embed_model=data["embed_model"], dimension=int(data["dimension"]))
        return self._meta

    def ensure(self, meta: CollectionMeta) -> None:
        check_meta(self.name, self.meta(), meta.embed_model)
        if self._exists():
            return
        try:
            self.client.create_collection(
                self.name,
                vectors_config={DENSE: models.VectorParams(size=meta.dimension, distance=models.Distance.COSINE)},
                sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                hnsw_config=models.HnswConfigDiff(
                    m=self._index.hnsw_m,
                    ef_construct=self._index.hnsw_ef_construct,
                    full_scan_threshold=self._index.full_scan_kb,
                ),
                quantization_config=models.ScalarQuantization(
                    scalar=models.ScalarQuantizationConfig(type=models.ScalarType.INT8, quantile=0.99, always_ram=True)
                )
                if self._index.quantize_int8
                else None,
                shard_number=self._shards,
                replication_factor=self._replicas,
                metadata=meta.as_dict(),
            )
        except Exception:
            # Another worker created it between our check and our create: use theirs (after the same check).
            if not self._exists():
                raise
            check_meta(self.name, self.meta(), meta.embed_model)
            return
        for key, kind in self._indexes:
            self.client.create_payload_index(self.name, key, models.PayloadSchemaType(kind))

    def close(self) -> None:
        """The client is shared per URL and closed with the process."""

    def upsert(self, points: list[ChunkPoint]) -> None:
        if not points:
            return
        structs = [
            models.PointStruct(id=p.id, vector={DENSE: p.dense.tolist(), SPARSE: _sparse(p.sparse)}, payload=p.payload)
            for p in points
        ]
        self.client.upsert(self.name, structs, wait=True)

    def delete_stale(self, doc_id: str, keep_hash: str) -> None:
        flt = models.Filter(
            must=[models.FieldCondition(key=DOC_ID, match=models.MatchValue(value=doc_id))],
            must_not=[models.FieldCondition(key=CONTENT_HASH, match=models.MatchValue(value=keep_hash))],
        )
        self.client.delete(self.name, models.FilterSelector(filter=flt), wait=True)

    def delete_docs(self, doc_ids: list[str]) -> None:
        if not doc_ids:
            return
        flt = models.Filter(must=[models.FieldCondition(key=DOC_ID, match=models.MatchAny(any=list(doc_ids)))])
        self.client.delete(self.name, models.FilterSelector(filter=flt), wait=True)

    def update_payload(self, doc_id: str, values: dict[str, Any]) -> None:
        """Set (or, for None, remove) payload fields on every chunk of a document, its vectors untouched."""
        flt = models.Filter(must=[models.FieldCondition(key=DOC_ID, match=models.MatchValue(value=doc_id))])
        kept = {k: v for k, v in values.items() if v is not None}
        dropped = [k for k, v in values.items() if v is None]
        if kept:
            self.client.set_payload(self.name, kept, points=models.FilterSelector(filter=flt), wait=True)
        if dropped:
            self.client.delete_payload(self.name, dropped, points=models.FilterSelector(filter=flt), wait=True)

    def delete_debris(self) -> int:
        """Delete points missing ``doc_id`` or ``content_hash``; returns how many."""
        keys = (DOC_ID, CONTENT_HASH)
        flt = models.Filter(should=[models.IsEmptyCondition(is_empty=models.PayloadField(key=k)) for k in keys])
        found = 0
        with self._if_present():
            found = self.client.count(self.name, count_filter=flt, exact=True).count
        if found:
            self.client.delete(self.name, models.FilterSelector(filter=flt), wait=True)
        return found

    def finish(self) -> None:
        """The server indexes in the background; nothing to do."""

    def doc_states(self) -> dict[str, DocState]:
        states: dict[str, DocState] = {}
        offset: Any = None
        with self._if_present():
            while True:
                records, offset = self.client.scroll(
                    self.name, limit=_SCROLL_PAGE, offset=offset, with_payload=STATE_FIELDS, with_vectors=False
                )
                accumulate_states((r.payload or {} for r in records), states)
                if offset is None:
                    return states
        return {}  # no collection (or deleted while it was read): nothing stored

    def doc_chunks(self, doc_id: str, conditions: tuple[Condition, ...] = (), limit: int = 1000) -> list[Hit]:
        """One document's chunks (those meeting ``conditions``), in order."""
        flt = to_filter((Condition(DOC_ID, eq=doc_id), *conditions))
        records: list[models.Record] = []
        with self._if_present():
            records, _ = self.client.scroll(
                self.name, scroll_filter=flt, limit=limit, with_payload=True, with_vectors=False
            )
        hits = [Hit(id=str(r.id), score=0.0, payload=dict(r.payload or {})) for r in records]
        return sorted(hits, key=lambda h: int(h.payload.get(CHUNK_INDEX, 0)))

    def doc_of_chunk(self, point_id: str) -> str | None:
        """The document a chunk (point id) belongs to, if the chunk exists."""
        records: list[models.Record] = []
        with self._if_present():
            records = self.client.retrieve(self.name, ids=[point_id], with_payload=[DOC_ID], with_vectors=False)
        return next((str(r.payload.get(DOC_ID)) for r in records if r.payload and r.payload.get(DOC_ID)), None)

    def existing(self, point_ids: list[str]) -> set[str]:
        """Those of ``point_ids`` that are stored."""
        records: list[models.Record] = []
        if point_ids:
            with self._if_present():
                records = self.client.retrieve(self.name, ids=point_ids, with_payload=False, with_vectors=False)
        return {str(r.id) for r in records}

    def dense_vectors(self, point_ids: list[str]) -> dict[str, list[float]]:
        """The stored dense vectors of those of ``point_ids`` that exist (the citation check reuses them)."""
        records: list[models.Record] = []
        if point_ids:
            with self._if_present():
                records = self.client.retrieve(self.name, ids=point_ids, with_payload=False, with_vectors=[DENSE])
        return {str(r.id): list(r.vector[DENSE]) for r in records if isinstance(r.vector, dict) and DENSE in r.vector}

    def count(self, conditions: tuple[Condition, ...] = ()) -> int:
        found = 0
        with self._if_present():
            found = self.client.count(self.name, count_filter=to_filter(conditions), exact=True).count
        return found

    def query(self, spec: QuerySpec) -> list[Hit]:
        args = self._query_args(spec)
        if args is None:  # a sparse query without a known term
            if not self._exists():
                raise self._missing()
            return []
        # No existence check first: on the search path that was one more round trip to the server per query.
        try:
            res = self.client.query_points(self.name, limit=spec.limit, with_payload=True, **args)
        except Exception as exc:
            if not self._gone(exc):
                raise
            raise self._missing() from None
        return [Hit(id=str(p.id), score=float(p.score), payload=dict(p.payload or {})) for p in res.points]

    def _missing(self) -> NotFoundError:
        return NotFoundError(f"collection {self.name!r} does not exist; ingest documents into it first")

    def _query_args(self, spec: QuerySpec) -> dict[str, Any] | None:
        """``query_points``' arguments for ``spec`` beyond the name, limit and payload; None when it finds nothing."""
        flt = to_filter(spec.conditions)
        has_sparse = spec.sparse is not None and bool(spec.sparse.indices)
        params = models.SearchParams(
            hnsw_ef=self._index.hnsw_ef,
            exact=spec.exact,
            quantization=models.QuantizationSearchParams(ignore=True)
            if spec.exact
            else models.QuantizationSearchParams(rescore=True, oversampling=INT8_OVERSAMPLING),
        )
        if spec.mode == "dense":
            return {"query": spec.dense, "using": DENSE, "query_filter": flt, "search_params": params}
        if spec.mode == "sparse":
            return {"query": _sparse(spec.sparse), "using": SPARSE, "query_filter": flt} if has_sparse else None
        prefetch = [
            models.Prefetch(query=spec.dense, using=DENSE, limit=spec.prefetch_limit, filter=flt, params=params)
        ]
        if has_sparse:
            prefetch.append(
                models.Prefetch(query=_sparse(spec.sparse), using=SPARSE, limit=spec.prefetch_limit, filter=flt)
            )
        if spec.fusion == "dbsf":
            fusion: Any = models.FusionQuery(fusion=models.Fusion.DBSF)
        else:
            weights = list(spec.weights[: len(prefetch)]) if spec.weights else None
            fusion = models.RrfQuery(rrf=models.Rrf(k=RRF_K, weights=weights))
        return {"prefetch": prefetch, "query": fusion}
