"""OpenDocument text (.odt) with the standard library's XML parser: headings, paragraphs, lists and tables in
document order, split into sections at headings like DOCX; tables as Markdown rows (merged and repeated cells
keep their columns, a table inside a cell stays on one line of it). The archive checks have passed already."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from ingest.document import Document
from ingest.loaders.heading_sections import HeadingSections
from ingest.loaders.text import read_bytes
from rag.errors import LoaderError

# Spreadsheet-style repeats ("1,024 empty columns") are real in ODT tables: only this many are spelled out.
_MAX_REPEAT = 64


def _name(element: ElementTree.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _attr(element: ElementTree.Element, name: str) -> str | None:
    return next((v for k, v in element.attrib.items() if k.rsplit("}", 1)[-1] == name), None)


def _repeat(element: ElementTree.Element, name: str) -> int:
    raw = _attr(element, name) or "1"
    return min(int(raw), _MAX_REPEAT) if raw.isdigit() else 1


def _inline(element: ElementTree.Element) -> str:
    """A paragraph's text: spans, links and notes read through, ``text:s`` spaces, tabs and line breaks."""
    parts = [element.text or ""]
    for child in element:
        kind = _name(child)
        if kind == "s":
            parts.append(" " * _repeat(child, "c"))
        elif kind == "tab":
            parts.append("\t")
        elif kind == "line-break":
            parts.append("\n")
        else:
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _rows(table: ElementTree.Element) -> list[list[str]]:
    rows: list[list[str]] = []
    for child in table:
        kind = _name(child)
        if kind in ("table-header-rows", "table-rows", "table-row-group"):
            rows.extend(_rows(child))
        elif kind == "table-row":
            cells: list[str] = []
            for cell in child:
                if _name(cell) in ("table-cell", "covered-table-cell"):
                    # A covered cell is the part of a merged one beneath or beside it: empty, in its column.
                    text = _cell_text(cell) if _name(cell) == "table-cell" else ""
                    cells.extend([text] * _repeat(cell, "number-columns-repeated"))
            while cells and not cells[-1].strip():
                cells.pop()
            rows.extend([cells] * (_repeat(child, "number-rows-repeated") if any(cells) else 1))
    return rows


def _cell_text(cell: ElementTree.Element) -> str:
    lines = []
    for kind, _, value in _blocks(cell):
        if kind == "table":
            lines.append(" / ".join("; ".join(c for c in row if c.strip()) for row in value))
        else:
            lines.append(value)
    return "\n".join(line for line in lines if line.strip())


def _blocks(element: ElementTree.Element) -> Iterator[tuple[str, int, Any]]:
    """(kind, heading level, text or rows) of each heading, paragraph and table, in order."""
    for child in element:
        kind = _name(child)
        if kind == "h":
            level = _attr(child, "outline-level") or "1"
            yield "h", int(level) if level.isdigit() else 1, " ".join(_inline(child).split())
        elif kind == "p":
            yield "p", 0, "\n".join(" ".join(line.split()) for line in _inline(child).splitlines())
        elif kind == "table":
            yield "table", 0, _rows(child)
        elif kind in ("list", "list-item", "list-header", "section", "index-body", "text"):
            yield from _blocks(child)


def load_odt(path: Path, doc_id: str) -> list[Document]:
    read_bytes(path)
    try:
        with zipfile.ZipFile(path) as doc:
            content = ElementTree.fromstring(doc.read("content.xml"))
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError) as exc:
        raise LoaderError(f"corrupt or unreadable ODT: {exc}") from None
    office_body = next((e for e in content if _name(e) == "body"), None)
    body = next((e for e in office_body if _name(e) == "text"), None) if office_body is not None else None
    built = HeadingSections()
    for kind, level, value in _blocks(body) if body is not None else ():
        if kind == "table":
            built.table(value)
        elif value.strip():
            built.paragraph(value, level if kind == "h" else None)
    sections = built.finish()
    if not sections:
        raise LoaderError("ODT has no text")
    title = built.first_heading or path.stem
    return [Document(doc_id=doc_id, title=title, format="odt", sections=sections, coverage=built.coverage)]
