"""PDF: text per page with pypdf; each section keeps its page number."""

from __future__ import annotations

import logging
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from ingest.document import Document, Section
from ingest.loaders.text import read_bytes
from rag.errors import LoaderError

logging.getLogger("pypdf").setLevel(logging.ERROR)


def load_pdf(path: Path, doc_id: str) -> list[Document]:
    read_bytes(path)  # permission and emptiness checks with the shared wording
    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise LoaderError("encrypted PDF")
        sections = [
            Section(text.strip(), {"page": n})
            for n, page in enumerate(reader.pages, start=1)
            if (text := page.extract_text() or "").strip()
        ]
        title = (reader.metadata.title if reader.metadata else None) or path.stem
    except LoaderError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoaderError(f"corrupt or unreadable PDF: {exc}") from None
    if not sections:
        raise LoaderError("PDF has no extractable text (scanned images?)")
    return [Document(doc_id=doc_id, title=str(title), format="pdf", sections=sections)]
