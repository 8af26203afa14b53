"""PDF: text per page with pypdf; each section keeps its page number."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import DependencyError, PyPdfError

from ingest.document import Document, Section
from ingest.loaders.text import read_bytes
from rag.errors import LoaderError

logging.getLogger("pypdf").setLevel(logging.ERROR)


_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
# "adip-\niscing" -> "adipiscing": a hyphen at a line end between two lower-case letters splits one word.
_SPLIT_WORD = re.compile(r"(?<=[^\W\d_])-\n(?=[a-zà-ÿ])")


def normalise(text: str) -> str:
    """Extracted page text as words a query can match: typographic ligatures spelled out, words split at a line
    end joined again."""
    return _SPLIT_WORD.sub("", text.translate(_LIGATURES)).strip()


def load_pdf(path: Path, doc_id: str) -> list[Document]:
    read_bytes(path)  # permission and emptiness checks with the shared wording
    try:
        reader = PdfReader(path)
        # Many PDFs are "encrypted" with an empty user password (only editing is restricted): viewers open
        # them, and so does this.
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoaderError("encrypted PDF: it needs a password")
        sections = [
            Section(text, {"page": n})
            for n, page in enumerate(reader.pages, start=1)
            if (text := normalise(page.extract_text() or ""))
        ]
        title = (reader.metadata.title if reader.metadata else None) or path.stem
    except LoaderError:
        raise
    except DependencyError as exc:  # an AES-encrypted PDF without `cryptography`
        raise LoaderError(f"encrypted PDF: {exc}") from None
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoaderError(f"corrupt or unreadable PDF: {exc}") from None
    if not sections:
        raise LoaderError("PDF has no extractable text (scanned images?)")
    return [Document(doc_id=doc_id, title=str(title), format="pdf", sections=sections)]
