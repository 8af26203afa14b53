"""File loaders, one module per format, chosen by suffix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.document import Document, RecordFailure
from ingest.loaders.archive_guard import UnpackLimits, check_archive
from ingest.loaders.docx import load_docx
from ingest.loaders.email_message import load_eml
from ingest.loaders.html import load_html
from ingest.loaders.image import load_image
from ingest.loaders.markdown import load_markdown
from ingest.loaders.ocr import OcrOptions
from ingest.loaders.open_formats import load_epub, load_odt
from ingest.loaders.pdf import load_pdf
from ingest.loaders.records import load_json, load_jsonl
from ingest.loaders.rtf import load_rtf
from ingest.loaders.slides import load_pptx
from ingest.loaders.spreadsheet import load_delimited, load_xlsx
from ingest.loaders.text import load_text

Loaded = list[Document | RecordFailure]
Loader = Callable[[Path, str], Loaded]

LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".docx": load_docx,
    ".json": load_json,
    ".jsonl": load_jsonl,
    ".ndjson": load_jsonl,
    ".xlsx": load_xlsx,
    ".csv": load_delimited,
    ".tsv": load_delimited,
    ".pptx": load_pptx,
    ".eml": load_eml,
    ".epub": load_epub,
    ".odt": load_odt,
    ".rtf": load_rtf,
}

# Zip-based: checked by archive_guard before their parser opens them.
ARCHIVES = {".docx", ".xlsx", ".pptx", ".epub", ".odt"}


# Formats whose pages may need OCR.
PAGE_LOADERS: dict[str, Callable[[Path, str, OcrOptions], list[Document]]] = {
    ".pdf": load_pdf,
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"), load_image),
}


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How files are read (from Settings): archive limits and OCR."""

    unpack: UnpackLimits
    ocr: OcrOptions


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in LOADERS or path.suffix.lower() in PAGE_LOADERS


def load(path: Path, doc_id: str, options: ReadOptions) -> Loaded:
    """Documents (and per-record failures) of one file; raises LoaderError when the file as a whole is bad."""
    suffix = path.suffix.lower()
    if suffix in ARCHIVES:
        check_archive(path, options.unpack)
    if suffix in PAGE_LOADERS:
        return list(PAGE_LOADERS[suffix](path, doc_id, options.ocr))
    return LOADERS[suffix](path, doc_id)
