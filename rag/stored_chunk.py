"""What one stored chunk is: the payload fields every point carries, which are indexed, and how a payload
becomes a search result. The ingest pipeline writes these fields, the stores index and read them, filters
address them; nothing else names them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DOC_ID = "doc_id"
CHUNK_INDEX = "chunk_index"
CHUNK_COUNT = "chunk_count"
TEXT = "text"
TITLE = "title"
SOURCE = "source"
ROOT = "root"
FORMAT = "format"
CONTENT_HASH = "content_hash"
METADATA = "metadata"  # record fields, page, heading path: filters address them as ``metadata.<key>``
ACL = "acl"  # who may see the document (groups or key names); absent: everyone
FILE_STAMP = "file_stamp"  # the source file's size, mtime and read settings: unchanged files are not re-read

# Fields of the chunk itself; any other filter key is a metadata key.
CORE_FIELDS = frozenset(
    {DOC_ID, CHUNK_INDEX, CHUNK_COUNT, TEXT, TITLE, SOURCE, ROOT, FORMAT, CONTENT_HASH, ACL, FILE_STAMP}
)
# Fields with a keyword index in every collection.
INDEXED_KEYWORDS = (DOC_ID, SOURCE, ROOT, CONTENT_HASH, ACL)
# Fields the ingest pipeline reads back to decide what changed.
STATE_FIELDS = [DOC_ID, CONTENT_HASH, CHUNK_COUNT, ROOT, SOURCE, ACL, FILE_STAMP]


def chunk_payload(
    *,
    doc_id: str,
    chunk_index: int,
    chunk_count: int,
    text: str,
    title: str,
    source: str,
    root: str,
    format: str,
    content_hash: str,
    metadata: dict[str, Any],
    acl: tuple[str, ...] = (),
    file_stamp: str = "",
) -> dict[str, Any]:
    """The payload of one chunk's point; ``acl`` only when the document has one (no field: public)."""
    return (
        ({ACL: list(acl)} if acl else {})
        | ({FILE_STAMP: file_stamp} if file_stamp else {})
        | {
            DOC_ID: doc_id,
            CHUNK_INDEX: chunk_index,
            CHUNK_COUNT: chunk_count,
            TEXT: text,
            TITLE: title,
            SOURCE: source,
            ROOT: root,
            FORMAT: format,
            CONTENT_HASH: content_hash,
            METADATA: metadata,
        }
    )


def doc_id_of(point_id: str, payload: dict[str, Any]) -> str:
    """The document a point belongs to (its own id if the payload lacks one)."""
    return payload.get(DOC_ID) or point_id


@dataclass(frozen=True, slots=True)
class SearchResult:
    """One retrieved chunk, as the API and CLI return it."""

    doc_id: str
    chunk_id: str
    text: str
    score: float
    source: str
    title: str
    chunk_index: int
    metadata: dict[str, Any]

    @classmethod
    def from_payload(cls, point_id: str, score: float, payload: dict[str, Any]) -> SearchResult:
        return cls(
            doc_id=payload.get(DOC_ID, ""),
            chunk_id=point_id,
            text=payload.get(TEXT, ""),
            score=score,
            source=payload.get(SOURCE, ""),
            title=payload.get(TITLE, ""),
            chunk_index=int(payload.get(CHUNK_INDEX, 0)),
            metadata=payload.get(METADATA) or {},
        )
