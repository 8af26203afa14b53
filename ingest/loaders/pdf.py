"""PDF: text per page with pypdf; pages without a usable text layer (scans) rendered with PDFium and read by
local OCR. Each section keeps its page number (and ``ocr: true`` when OCR read it)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import DependencyError, PyPdfError

from ingest.document import Document, Section
from ingest.loaders.ocr import OCR, OcrOptions
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


def _ocr_pages(path: Path, pages: list[int], ocr: OcrOptions) -> dict[int, str]:
    """Pages (numbered from 1) rendered with PDFium and read by OCR; at most ``max_pixels`` a page."""
    import pypdfium2 as pdfium

    out = {}
    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise LoaderError(f"cannot render the PDF for OCR: {exc}") from None
    try:
        for n in pages:
            page = pdf[n - 1]
            width, height = page.get_size()  # in points
            scale = min(ocr.dpi / 72, (ocr.max_pixels / max(width * height, 1)) ** 0.5)
            if text := OCR.read(page.render(scale=scale).to_pil(), document=True):
                out[n] = text
    finally:
        pdf.close()
    return out


def load_pdf(path: Path, doc_id: str, ocr: OcrOptions) -> list[Document]:
    read_bytes(path)  # permission and emptiness checks with the shared wording
    try:
        reader = PdfReader(path)
        # Many PDFs are "encrypted" with an empty user password (only editing is restricted): viewers open
        # them, and so does this.
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoaderError("encrypted PDF: it needs a password")
        texts = [normalise(page.extract_text() or "") for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or path.stem
    except LoaderError:
        raise
    except DependencyError as exc:  # an AES-encrypted PDF without `cryptography`
        raise LoaderError(f"encrypted PDF: {exc}") from None
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoaderError(f"corrupt or unreadable PDF: {exc}") from None
    scanned = [n for n, text in enumerate(texts, start=1) if len(text) < ocr.min_chars]
    read = _ocr_pages(path, scanned, ocr) if scanned and ocr.enabled else {}
    sections = [
        Section(read[n], {"page": n, "ocr": True}) if n in read else Section(text, {"page": n})
        for n, text in enumerate(texts, start=1)
        if read.get(n) or text
    ]
    if not sections:
        why = "RAGLINE_OCR=off" if not ocr.enabled else "OCR found none either"
        raise LoaderError(f"PDF has no extractable text ({why})")
    return [Document(doc_id=doc_id, title=str(title), format="pdf", sections=sections)]
