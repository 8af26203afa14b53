"""Word .docx: paragraphs with python-docx, split into sections at heading styles."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
from docx.opc.exceptions import PackageNotFoundError

from ingest.document import Document, Section
from ingest.loaders.text import read_bytes
from rag.errors import LoaderError


def _heading_level(style_name: str) -> int | None:
    if style_name == "Title":
        return 0
    if style_name.startswith("Heading"):
        digits = style_name.removeprefix("Heading").strip()
        return int(digits) if digits.isdigit() else 1
    return None


def load_docx(path: Path, doc_id: str) -> list[Document]:
    read_bytes(path)
    try:
        d = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoaderError(f"corrupt or unreadable DOCX: {exc}") from None
    title = d.core_properties.title or ""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    body: list[str] = []

    def close_section() -> None:
        if body:
            meta = {"headings": [h for _, h in stack]} if stack else {}
            sections.append(Section("\n".join(body), meta))
            body.clear()

    for para in d.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        level = _heading_level(para.style.name if para.style is not None else "")
        if level is not None:
            close_section()
            title = title or text
            stack = [(lv, h) for lv, h in stack if lv < level] + [(level, text)]
        body.append(text)
    close_section()
    if not sections:
        raise LoaderError("DOCX has no text")
    return [Document(doc_id=doc_id, title=title or path.stem, format="docx", sections=sections)]
