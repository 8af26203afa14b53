"""The per-file coverage report of ``ingest --json``: what was read of each file, so that what a file lost on the
way in (pages without text, guessed encodings, removed blobs) is visible rather than silent."""

from __future__ import annotations

from typing import Any

from ingest.document import Document

_MAX_WARNINGS = 20


def file_coverage(path: str, docs: list[Document]) -> dict[str, Any]:
    """One file's entry: its documents' pages, OCR'd pages, tables, characters and warnings, added up."""
    warnings: dict[str, None] = {}
    for doc in docs:
        encoding = str(doc.metadata.get("encoding", ""))
        if encoding.endswith("guessed"):
            warnings[f"encoding {encoding}"] = None
        warnings.update(dict.fromkeys(doc.coverage.warnings))
    listed = list(warnings)
    if len(listed) > _MAX_WARNINGS:
        listed = [*listed[:_MAX_WARNINGS], f"... and {len(listed) - _MAX_WARNINGS} more warnings"]
    return {
        "path": path,
        "format": docs[0].format if docs else "",
        "documents": len(docs),
        "pages": sum(d.coverage.pages for d in docs),
        "ocr_pages": sum(d.coverage.ocr_pages for d in docs),
        "tables": sum(d.coverage.tables for d in docs),
        "chars": sum(len(s.text) for d in docs for s in d.sections),
        "warnings": listed,
    }
