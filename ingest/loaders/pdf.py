"""PDF: text per page with pypdf; pages without a usable text layer (scans) rendered with PDFium and read by
local OCR; ruled tables as Markdown rows (pdf_tables). Each section keeps its page number (and ``ocr: true`` when
OCR read it, ``table: true`` for table rows)."""

from __future__ import annotations

import logging
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, PyPdfError

from ingest.document import Coverage, Document, Section
from ingest.loaders.ocr import OcrOptions, PageRead
from ingest.loaders.pdf_tables import find_tables
from ingest.loaders.tables import markdown_rows
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


def _ocr_pages(path: Path, pages: list[int], ocr: OcrOptions) -> dict[int, PageRead]:
    """Pages (numbered from 1) rendered with PDFium and read by OCR, ``ocr.concurrency`` at a time (rendering
    stays on this thread: PDFium is not thread-safe); at most ``max_pixels`` a page."""
    import pypdfium2 as pdfium

    out: dict[int, PageRead] = {}
    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise LoaderError(f"cannot render the PDF for OCR: {exc}") from None
    try:
        with ThreadPoolExecutor(ocr.concurrency, thread_name_prefix="ocr") as pool:
            for start in range(0, len(pages), ocr.concurrency):
                window = pages[start : start + ocr.concurrency]
                images = []
                for n in window:
                    page = pdf[n - 1]
                    width, height = page.get_size()  # in points
                    scale = min(ocr.dpi / 72, (ocr.max_pixels / max(width * height, 1)) ** 0.5)
                    images.append(page.render(scale=scale).to_pil())
                out.update(zip(window, pool.map(lambda image: ocr.read(image, document=True), images), strict=True))
    finally:
        pdf.close()
    return out


def load_pdf(path: Path, doc_id: str, ocr: OcrOptions) -> list[Document]:
    read_bytes(path)  # permission and emptiness checks with the shared wording
    try:
        reader = PdfReader(path)
        # Many PDFs are "encrypted" with an empty user password (only editing is restricted): viewers open
        # them, and so does this. One rule for the rest: a PDF whose user password is set is refused, even when
        # its owner password is empty (pypdf would open it as its owner, which no viewer does unasked).
        if reader.is_encrypted and reader.decrypt("") != PasswordType.USER_PASSWORD:
            raise LoaderError("encrypted PDF: it needs a password (its user password is set)")
        texts = [normalise(page.extract_text() or "") for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or path.stem
    except LoaderError:
        raise
    except DependencyError as exc:  # an AES-encrypted PDF without `cryptography`
        raise LoaderError(f"encrypted PDF: {exc}") from None
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoaderError(f"corrupt or unreadable PDF: {exc}") from None
    scanned = [n for n, text in enumerate(texts, start=1) if len(text) < ocr.min_chars]
    coverage = Coverage(pages=len(texts))
    read: dict[int, str] = {}
    if scanned and ocr.enabled:
        try:
            pages_read = _ocr_pages(path, scanned, ocr)
        except LoaderError as exc:  # OCR cannot run here: the pages with a text layer still count
            if len(scanned) == len(texts):
                raise
            coverage.warnings.append(str(exc))
            pages_read = {}
        read = {n: page.text for n, page in pages_read.items() if page.text}
        coverage.warnings += [f"page {n}: {page.note}" for n, page in pages_read.items() if page.note]
    tables, table_warnings = find_tables(path, [n for n, text in enumerate(texts, start=1) if text and n not in read])
    coverage.warnings += table_warnings
    sections: list[Section] = []
    for n, text in enumerate(texts, start=1):
        if n in read:
            sections.append(Section(read[n], {"page": n, "ocr": True}))
        elif n in tables:
            if outside := normalise(tables[n].text):
                sections.append(Section(outside, {"page": n}))
            for rows in tables[n].tables:
                groups = markdown_rows([[normalise(cell) for cell in row] for row in rows])
                sections.extend(Section(group, {"page": n, "table": True}) for group in groups)
                coverage.tables += 1 if groups else 0
        elif text:
            sections.append(Section(text, {"page": n}))
    coverage.ocr_pages = len(read)
    if empty := [n for n, text in enumerate(texts, start=1) if not text and n not in read]:
        why = "RAGLINE_OCR=off" if not ocr.enabled else "OCR found none"
        coverage.warnings.append(f"no text on {_pages(empty)} ({why})")
    if not sections:
        why = "RAGLINE_OCR=off" if not ocr.enabled else "OCR found none either"
        raise LoaderError(f"PDF has no extractable text ({why})")
    return [Document(doc_id=doc_id, title=str(title), format="pdf", sections=sections, coverage=coverage)]


def _pages(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:10])) + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")
    return f"page{'s' if len(numbers) > 1 else ''} {shown}"
