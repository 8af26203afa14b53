"""What loaders produce: a document made of sections, each with its own metadata (page, headings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Section:
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Coverage:
    """What a loader read of a file, for ``ingest --json``'s per-file report (never stored)."""

    pages: int = 0  # pages, slides or image frames the file has (0: not paged)
    ocr_pages: int = 0  # of those, pages whose text came from OCR
    tables: int = 0
    warnings: list[str] = field(default_factory=list)  # what was read only in part, guessed or passed over


@dataclass(slots=True)
class Document:
    """One document: a file, or one record of a JSON/JSONL file."""

    doc_id: str
    title: str
    format: str
    sections: list[Section]
    metadata: dict[str, Any] = field(default_factory=dict)
    acl: tuple[str, ...] = ()  # groups or key names that may see it; empty: everyone
    source: str = ""  # absolute path of the file it came from
    root: str = ""  # absolute path of the folder (or file) it was found under
    coverage: Coverage = field(default_factory=Coverage)


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """A record inside a file that could not become a document; the rest of the file still counts."""

    where: str
    error: str
