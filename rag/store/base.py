"""The store interface both engines implement, and the plain data that crosses it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from rag.errors import ModelMismatchError
from rag.sparse import Sparse
from rag.stored_chunk import ACL, CHUNK_COUNT, CONTENT_HASH, DOC_ID, FILE_STAMP, ROOT, SOURCE

Mode = Literal["dense", "sparse", "hybrid"]
FusionName = Literal["rrf", "dbsf"]

RRF_K = 60  # the usual RRF constant, the same on both engines
# Candidates scored on the int8 copy per wanted result, rescored with the float vectors. 1 lost true neighbours
# (SciFact recall@20 0.985, a clustered store 0.959); 2 found all of them on SciFact and >= 0.99 on the clustered.
INT8_OVERSAMPLING = 2.0
DENSE = "dense"
SPARSE = "sparse"
Scalar = str | int | bool


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition on one payload key: exactly one of ``eq``, ``any`` or ``range`` is set. ``or_absent``: the
    condition also holds where the key is missing or empty (an ACL: a document without one is public)."""

    key: str
    eq: Scalar | None = None
    any: tuple[Scalar, ...] | None = None
    range: dict[str, float | str] | None = None
    or_absent: bool = False

    @property
    def is_datetime_range(self) -> bool:
        return self.range is not None and any(isinstance(v, str) for v in self.range.values())


def visible_to(identities: tuple[str, ...]) -> Condition:
    """The mandatory condition of a caller under ACLs: documents without an ``acl``, or sharing an identity."""
    return Condition(ACL, any=identities, or_absent=True)


@dataclass(frozen=True, slots=True)
class IndexConfig:
    """How a new collection's dense index is built and searched (from ``Settings``)."""

    hnsw_m: int
    hnsw_ef_construct: int
    hnsw_ef: int | None  # search-time candidates; higher finds more true neighbours (None: the engine's default)
    full_scan_kb: int  # below this much vector data a segment is searched exactly
    quantize_int8: bool = False  # search an int8 copy of the dense vectors, rescored with the floats
    extra_indexes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class CollectionMeta:
    """What a collection records about how its vectors were made."""

    embed_model: str
    dimension: int

    def as_dict(self) -> dict[str, Any]:
        return {"embed_model": self.embed_model, "dimension": self.dimension}


@dataclass(slots=True)
class ChunkPoint:
    """One chunk ready to store."""

    id: str
    dense: np.ndarray
    sparse: Sparse
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any]


@dataclass(slots=True)
class DocState:
    """What the store holds of one document: points per content hash, and the count each hash expects."""

    root: str
    source: str
    acl: tuple[str, ...] = ()
    file_stamp: str = ""  # the source file's size, mtime and read settings when it was stored
    points_by_hash: Counter[str] = field(default_factory=Counter)
    expected_by_hash: dict[str, int] = field(default_factory=dict)

    @property
    def is_whole(self) -> bool:
        """One version stored, none of its chunks missing."""
        return len(self.points_by_hash) == 1 and all(
            n == self.expected_by_hash.get(h) for h, n in self.points_by_hash.items()
        )

    def is_complete(self, content_hash: str) -> bool:
        """True when exactly one version is stored, it is ``content_hash``, and none of its chunks is missing."""
        return set(self.points_by_hash) == {content_hash} and self.points_by_hash[
            content_hash
        ] == self.expected_by_hash.get(content_hash)


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """One retrieval request in engine-neutral terms."""

    limit: int
    mode: Mode
    prefetch_limit: int
    fusion: FusionName
    dense: list[float] | None = None
    sparse: Sparse | None = None
    conditions: tuple[Condition, ...] = ()
    weights: tuple[float, float] | None = None  # (dense, sparse) for weighted RRF
    exact: bool = False  # brute-force dense search (the reference approximate search is measured against)


class Store(Protocol):
    """One collection in one engine: the embedded Qdrant Edge shard or a Qdrant server."""

    name: str

    def meta(self) -> CollectionMeta | None: ...
    def ensure(self, meta: CollectionMeta) -> None: ...
    def upsert(self, points: list[ChunkPoint]) -> None: ...
    def delete_stale(self, doc_id: str, keep_hash: str) -> None: ...
    def delete_docs(self, doc_ids: list[str]) -> None: ...
    def update_payload(self, doc_id: str, values: dict[str, Any]) -> None: ...
    def doc_states(self) -> dict[str, DocState]: ...
    def doc_chunks(self, doc_id: str, conditions: tuple[Condition, ...] = (), limit: int = 1000) -> list[Hit]: ...
    def doc_of_chunk(self, point_id: str) -> str | None: ...
    def existing(self, point_ids: list[str]) -> set[str]: ...
    def dense_vectors(self, point_ids: list[str]) -> dict[str, list[float]]: ...
    def delete_debris(self) -> int: ...
    def query(self, spec: QuerySpec) -> list[Hit]: ...
    def count(self, conditions: tuple[Condition, ...] = ()) -> int: ...
    def finish(self) -> None: ...
    def close(self) -> None: ...


def accumulate_states(records: Iterable[dict[str, Any]], states: dict[str, DocState]) -> None:
    """Fold scrolled payloads into per-document states."""
    for payload in records:
        if not payload.get(DOC_ID) or not payload.get(CONTENT_HASH):
            continue  # debris without the fields every chunk has: not a document (``delete_debris`` removes it)
        doc_id = payload[DOC_ID]
        st = states.get(doc_id)
        if st is None:
            st = states[doc_id] = DocState(
                root=payload.get(ROOT, ""),
                source=payload.get(SOURCE, ""),
                acl=tuple(payload.get(ACL) or ()),
                file_stamp=payload.get(FILE_STAMP, ""),
            )
        h = payload[CONTENT_HASH]
        st.points_by_hash[h] += 1
        st.expected_by_hash[h] = int(payload.get(CHUNK_COUNT, 0))


def check_meta(name: str, stored: CollectionMeta | None, embed_model: str) -> None:
    """Refuse to mix vectors of two embedding models in one collection (the dimension follows the model)."""
    if stored is not None and stored.embed_model != embed_model:
        raise ModelMismatchError(
            f"collection {name!r} holds vectors of {stored.embed_model} ({stored.dimension} dims); "
            f"refusing to add {embed_model}. Use that model "
            "(RAGLINE_EMBED_MODEL) or another collection (--collection / RAGLINE_COLLECTION)."
        )
