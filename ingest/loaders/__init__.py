"""File loaders, one module per format, chosen by suffix."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ingest.document import Document, RecordFailure
from ingest.loaders.archive_guard import UnpackLimits, check_archive
from ingest.loaders.ocr import OcrOptions
from rag.errors import LoaderError

Loaded = list[Document | RecordFailure]
Loader = Callable[[Path, str], Loaded]

# "module:function" under ingest/loaders: a parser is imported when the first file of its kind arrives, so a
# serving process holds only the parsers its uploads have needed.
LOADERS: dict[str, str] = {
    ".txt": "text:load_text",
    # Plain-text markups read as text (their markup stays in the text, but their words are searchable).
    ".rst": "text:load_text",
    ".org": "text:load_text",
    ".tex": "text:load_text",
    ".md": "markdown:load_markdown",
    ".markdown": "markdown:load_markdown",
    ".html": "html:load_html",
    ".htm": "html:load_html",
    ".docx": "docx:load_docx",
    ".json": "records:load_json",
    ".jsonl": "records:load_jsonl",
    ".ndjson": "records:load_jsonl",
    ".xlsx": "spreadsheet:load_xlsx",
    ".csv": "spreadsheet:load_delimited",
    ".tsv": "spreadsheet:load_delimited",
    ".pptx": "slides:load_pptx",
    ".eml": "email_message:load_eml",
    ".epub": "epub:load_epub",
    ".odt": "odt:load_odt",
    ".rtf": "rtf:load_rtf",
}

# Zip-based: checked by archive_guard before their parser opens them.
ARCHIVES = {".docx", ".xlsx", ".pptx", ".epub", ".odt"}


# Formats whose pages may need OCR.
PAGE_LOADERS: dict[str, str] = {
    ".pdf": "pdf:load_pdf",
    **dict.fromkeys((".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"), "image:load_image"),
}


def _function(spec: str) -> Callable:
    module, name = spec.split(":")
    return getattr(importlib.import_module(f"ingest.loaders.{module}"), name)


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
    try:
        if suffix in PAGE_LOADERS:
            return list(_function(PAGE_LOADERS[suffix])(path, doc_id, options.ocr))
        return _function(LOADERS[suffix])(path, doc_id)
    except LoaderError:
        raise
    except Exception as exc:  # a parser's own error on one odd file (python-docx, pypdf, Pillow, ...)
        # That file's failure, named with what the parser said; the run goes on with the next file.
        raise LoaderError(f"the {suffix} reader failed: {type(exc).__name__}: {exc}") from exc
