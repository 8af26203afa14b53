"""Word .docx with python-docx: paragraphs and tables in document order (tables as Markdown rows), split into
sections at heading styles; headers and footers once at the end."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table, _Cell

from ingest.document import Document, Section
from ingest.loaders.heading_sections import HeadingSections
from ingest.loaders.text import read_bytes
from rag.errors import LoaderError


def _heading_level(style_name: str) -> int | None:
    if style_name == "Title":
        return 0
    if style_name.startswith("Heading"):
        digits = style_name.removeprefix("Heading").strip()
        return int(digits) if digits.isdigit() else 1
    return None


def _cells(table: Table) -> list[list[str]]:
    """The table's text, one string per grid column: a cell merged across columns is returned for each column
    it spans, so its text goes in the first and the others stay empty (later cells keep their columns); a
    cell merged down repeats in each row, which then reads whole."""
    rows = []
    for row in table.rows:
        cells, last = [], None
        try:
            row_cells = row.cells
        except ValueError:  # a grid python-docx cannot lay out (a row short of cells): its cells as they stand
            row_cells = [_Cell(tc, table) for tc in row._tr.tc_lst]
        for cell in row_cells:
            cells.append("" if cell._tc is last else _cell_text(cell))
            last = cell._tc
        rows.append(cells)
    return rows


def _cell_text(cell: _Cell) -> str:
    """A cell's paragraphs, and any table inside it on one line, "a; b / c; d" (``cell.text`` leaves it out)."""
    parts = []
    for block in cell.iter_inner_content():
        if isinstance(block, Table):
            parts.append(" / ".join("; ".join(c for c in row if c.strip()) for row in _cells(block)))
        else:
            parts.append(block.text)
    return "\n".join(p for p in parts if p.strip())


def load_docx(path: Path, doc_id: str) -> list[Document]:
    read_bytes(path)
    try:
        d = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoaderError(f"corrupt or truncated DOCX: {exc}") from None
    built = HeadingSections()
    for block in d.iter_inner_content():
        if isinstance(block, Table):
            built.table(_cells(block))
        elif text := block.text.strip():
            built.paragraph(text, _heading_level(block.style.name if block.style is not None else ""))
    sections, coverage = built.finish(), built.coverage
    title = d.core_properties.title or built.first_heading
    # Headers and footers repeat on every page: each distinct one once, at the end.
    margins = dict.fromkeys(
        p.text.strip()
        for section in d.sections
        for part in (section.header, section.footer)
        if not part.is_linked_to_previous
        for p in part.paragraphs
        if p.text.strip()
    )
    if margins:
        sections.append(Section("\n".join(margins), {"part": "header/footer"}))
    # Review comments, each once with its author (python-docx reads them since 1.2).
    comments = [f"{c.author or 'comment'}: {c.text.strip()}" for c in d.comments if c.text.strip()]
    if comments:
        sections.append(Section("\n".join(comments), {"part": "comments"}))
    if not sections:
        raise LoaderError("DOCX has no text")
    return [Document(doc_id=doc_id, title=title or path.stem, format="docx", sections=sections, coverage=coverage)]
