"""PowerPoint .pptx with python-pptx: each slide a section (its text frames, tables as Markdown rows, and its
speaker notes), the slide number kept."""

from __future__ import annotations

import zipfile
from pathlib import Path

from ingest.document import Coverage, Document, Section
from ingest.loaders.tables import markdown_rows
from ingest.loaders.text import read_bytes
from rag.errors import LoaderError


def load_pptx(path: Path, doc_id: str) -> list[Document]:
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    read_bytes(path)
    try:
        deck = Presentation(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoaderError(f"corrupt or unreadable PPTX: {exc}") from None
    sections, title = [], deck.core_properties.title or ""
    coverage = Coverage(pages=len(deck.slides))
    for n, slide in enumerate(deck.slides, start=1):
        parts = []
        for shape in slide.shapes:
            if shape.has_text_frame and shape.text_frame.text.strip():
                parts.append(shape.text_frame.text.strip())
            elif shape.has_table:
                rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
                parts.extend(markdown_rows(rows, max_chars=10**9))
                coverage.tables += 1
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame.text.strip():
            parts.append("Notes: " + slide.notes_slide.notes_text_frame.text.strip())
        if parts:
            title = title or parts[0].splitlines()[0]
            sections.append(Section("\n".join(parts), {"slide": n}))
    if not sections:
        raise LoaderError("presentation has no text")
    return [Document(doc_id=doc_id, title=title or path.stem, format="pptx", sections=sections, coverage=coverage)]
