"""The embedded store: one Qdrant Edge shard per collection under ``RAGLINE_DATA_DIR``."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeOptimizersConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    HnswIndexConfig,
    IsEmptyCondition,
    MatchAny,
    MatchValue,
    Modifier,
    PayloadSchemaType,
    Point,
    ScalarQuantizationConfig,
    ScalarType,
    ScrollRequest,
    SparseVector,
    UpdateOperation,
)

from rag.errors import NotFoundError, StoreBusyError
from rag.store.base import (
    DENSE,
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
from rag.store.disk import require_free_space
from rag.store.edge_query import run_query, to_filter
from rag.stored_chunk import CHUNK_INDEX, CONTENT_HASH, DOC_ID, INDEXED_KEYWORDS, STATE_FIELDS

_SCHEMA = {
    "keyword": PayloadSchemaType.Keyword,
    "integer": PayloadSchemaType.Integer,
    "float": PayloadSchemaType.Float,
    "datetime": PayloadSchemaType.Datetime,
    "bool": PayloadSchemaType.Bool,
}
_SCROLL_PAGE = 2048


class EdgeStore:
    """A collection in an in-process Qdrant Edge shard. One process may open a shard at a time."""

    def __init__(self, data_dir: Path, name: str, index: IndexConfig, *, min_free_bytes: int = 0) -> None:
        """``min_free_bytes``: refuse to open or write with less free disk than this (0: no check)."""
        self.name = name
        self._min_free = min_free_bytes
        self._index = index
        self._indexes = [(k, "keyword") for k in INDEXED_KEYWORDS] + list(index.extra_indexes)
        self.dir = Path(data_dir) / "collections" / name
        self._shard_dir = self.dir / "shard"
        self._meta_file = self.dir / "meta.json"
        self._shard: EdgeShard | None = None
        self._meta: CollectionMeta | None = None
        self._dirty = False
        # Edge serialises internally, but open/close must not race between API worker threads; ``close``
        # waits until no call is using the shard (the store may be closed to bound open collections and
        # is opened again by its next call).
        self._lock = threading.Condition()
        self._active = 0

    # -- lifecycle -------------------------------------------------------------------------------
    def _busy(self, exc: Exception) -> StoreBusyError:
        return StoreBusyError(
            f"the embedded store {self._shard_dir} is in use by another process "
            "(a running `rag serve` or `ingest`). Stop that process, or send documents to the running "
            "server with `ingest --api http://HOST:PORT PATH`."
        )

    def _open(self, create_with: CollectionMeta | None = None) -> EdgeShard | None:
        """The shard (loaded, or made from ``create_with``), or None when the collection does not exist; the
        caller holds ``_lock``."""
        if self._shard is not None:
            return self._shard
        if self._shard_dir.is_dir() or create_with is not None:
            require_free_space(self.dir, self._min_free)
        try:
            if self._shard_dir.is_dir():
                self._shard = EdgeShard.load(str(self._shard_dir))
            elif create_with is not None:
                self._shard_dir.mkdir(parents=True, exist_ok=True)
                self._shard = EdgeShard.create(str(self._shard_dir), self._config(create_with))
                for key, kind in self._indexes:
                    self._shard.update(UpdateOperation.create_field_index(key, _SCHEMA[kind]))
        except Exception as exc:  # qdrant_edge raises a bare Exception
            if "WouldBlock" in str(exc) or "already" in str(exc):
                raise self._busy(exc) from None
            raise
        return self._shard

    @contextmanager
    def _using(
        self, *, required: bool = False, create_with: CollectionMeta | None = None
    ) -> Iterator[EdgeShard | None]:
        """The open shard for one call (``close`` waits for the call to end); with ``required``, a missing
        collection is a ``NotFoundError``."""
        with self._lock:
            shard = self._open(create_with)
            if shard is None and required:
                raise NotFoundError(f"collection {self.name!r} does not exist; ingest documents into it first")
            self._active += 1
        try:
            yield shard
        finally:
            with self._lock:
                self._active -= 1
                self._lock.notify_all()

    def _config(self, meta: CollectionMeta) -> EdgeConfig:
        index = self._index
        hnsw = HnswIndexConfig(
            m=index.hnsw_m, ef_construct=index.hnsw_ef_construct, full_scan_threshold=index.full_scan_kb
        )
        # int8 copy kept in RAM (a quarter of the float vectors): the scan reads it, the floats rescore the best.
        sq = (
            ScalarQuantizationConfig(type=ScalarType.Int8, quantile=0.99, always_ram=True)
            if index.quantize_int8
            else None
        )
        return EdgeConfig(
            vectors={DENSE: EdgeVectorParams(size=meta.dimension, distance=Distance.Cosine, quantization_config=sq)},
            sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
            hnsw_config=hnsw,
            optimizers=EdgeOptimizersConfig(indexing_threshold=1000),
        )

    def meta(self) -> CollectionMeta | None:
        # Written once when the collection is made and never changed: cached after the first read.
        if self._meta is None and self._meta_file.is_file():
            data = json.loads(self._meta_file.read_text())
            self._meta = CollectionMeta(embed_model=data["embed_model"], dimension=int(data["dimension"]))
        return self._meta

    def ensure(self, meta: CollectionMeta) -> None:
        check_meta(self.name, self.meta(), meta.embed_model)
        with self._using(create_with=meta):
            pass
        if self.meta() is None:
            tmp = self._meta_file.with_suffix(".tmp")
            tmp.write_text(json.dumps(meta.as_dict()))
            os.replace(tmp, self._meta_file)

    def close(self) -> None:
        """Flush and release the shard (its threads and memory maps) once no call is using it."""
        with self._lock:
            if self._shard is None:
                return
            self._lock.wait_for(lambda: self._active == 0)
            if self._shard is not None:
                self._shard.flush()
                self._shard.close()
                self._shard = None

    # -- writes ----------------------------------------------------------------------------------
    def upsert(self, points: list[ChunkPoint]) -> None:
        if not points:
            return
        ops = [
            Point(
                p.id,
                {DENSE: p.dense.tolist(), SPARSE: SparseVector(indices=p.sparse.indices, values=p.sparse.values)},
                p.payload,
            )
            for p in points
        ]
        require_free_space(self.dir, self._min_free)
        with self._using(required=True) as shard:
            shard.update(UpdateOperation.upsert_points(ops))
        self._dirty = True

    def delete_stale(self, doc_id: str, keep_hash: str) -> None:
        flt = Filter(
            must=[FieldCondition(key=DOC_ID, match=MatchValue(value=doc_id))],
            must_not=[FieldCondition(key=CONTENT_HASH, match=MatchValue(value=keep_hash))],
        )
        with self._using(required=True) as shard:
            shard.update(UpdateOperation.delete_points_by_filter(flt))
        self._dirty = True

    def delete_docs(self, doc_ids: list[str]) -> None:
        if not doc_ids:
            return
        flt = Filter(must=[FieldCondition(key=DOC_ID, match=MatchAny(any=list(doc_ids)))])
        with self._using(required=True) as shard:
            shard.update(UpdateOperation.delete_points_by_filter(flt))
        self._dirty = True

    def update_payload(self, doc_id: str, values: dict[str, Any]) -> None:
        """Set (or, for None, remove) payload fields on every chunk of a document, its vectors untouched."""
        flt = Filter(must=[FieldCondition(key=DOC_ID, match=MatchValue(value=doc_id))])
        kept = {k: v for k, v in values.items() if v is not None}
        dropped = [k for k, v in values.items() if v is None]
        with self._using(required=True) as shard:
            if kept:
                shard.update(UpdateOperation.set_payload_by_filter(flt, kept))
            if dropped:
                shard.update(UpdateOperation.delete_payload_by_filter(flt, dropped))
        self._dirty = True

    def delete_debris(self) -> int:
        """Delete points missing ``doc_id`` or ``content_hash`` (an engine failure between a point's vectors and
        its payload can leave one); returns how many."""
        flt = Filter(should=[IsEmptyCondition(key=DOC_ID), IsEmptyCondition(key=CONTENT_HASH)])
        with self._using() as shard:
            if shard is None:
                return 0
            found = shard.count(CountRequest(exact=True, filter=flt))
            if found:
                shard.update(UpdateOperation.delete_points_by_filter(flt))
                self._dirty = True
            return found

    def finish(self) -> None:
        """Build indexes for what was written and make it durable."""
        if not self._dirty:
            return
        with self._using(required=True) as shard:
            shard.optimize()
            shard.flush()
        self._dirty = False

    # -- reads -----------------------------------------------------------------------------------
    def doc_states(self) -> dict[str, DocState]:
        states: dict[str, DocState] = {}
        with self._using() as shard:
            offset: Any = None
            while shard is not None:
                records, offset = shard.scroll(
                    ScrollRequest(offset=offset, limit=_SCROLL_PAGE, with_payload=STATE_FIELDS, with_vector=False)
                )
                accumulate_states((r.payload for r in records), states)
                if offset is None:
                    break
        return states

    def doc_chunks(self, doc_id: str, conditions: tuple[Condition, ...] = (), limit: int = 1000) -> list[Hit]:
        """One document's chunks (those meeting ``conditions``), in order."""
        flt = to_filter((Condition(DOC_ID, eq=doc_id), *conditions))
        with self._using() as shard:
            if shard is None:
                return []
            records, _ = shard.scroll(ScrollRequest(limit=limit, filter=flt, with_payload=True, with_vector=False))
        hits = [Hit(id=str(r.id), score=0.0, payload=dict(r.payload or {})) for r in records]
        return sorted(hits, key=lambda h: int(h.payload.get(CHUNK_INDEX, 0)))

    def doc_of_chunk(self, point_id: str) -> str | None:
        """The document a chunk (point id) belongs to, if the chunk exists."""
        with self._using() as shard:
            records = shard.retrieve([point_id], with_payload=True, with_vector=False) if shard else []
        return next((str(r.payload.get(DOC_ID)) for r in records if r.payload and r.payload.get(DOC_ID)), None)

    def existing(self, point_ids: list[str]) -> set[str]:
        """Those of ``point_ids`` that are stored."""
        with self._using() as shard:
            records = shard.retrieve(point_ids, with_payload=False, with_vector=False) if shard and point_ids else []
        return {str(r.id) for r in records}

    def dense_vectors(self, point_ids: list[str]) -> dict[str, list[float]]:
        """The stored dense vectors of those of ``point_ids`` that exist (the citation check reuses them)."""
        with self._using() as shard:
            records = shard.retrieve(point_ids, with_payload=False, with_vector=[DENSE]) if shard and point_ids else []
        return {str(r.id): list((r.vector or {}).get(DENSE, [])) for r in records if (r.vector or {}).get(DENSE)}

    def count(self, conditions: tuple[Condition, ...] = ()) -> int:
        with self._using() as shard:
            return 0 if shard is None else shard.count(CountRequest(exact=True, filter=to_filter(conditions)))

    def query(self, spec: QuerySpec) -> list[Hit]:
        with self._using(required=True) as shard:
            return run_query(shard, spec, self._index.hnsw_ef)
