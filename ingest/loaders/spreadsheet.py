"""Spreadsheets and delimited text: .xlsx (openpyxl, values not formulas; each sheet its own sections, the
sheet name kept), .csv and .tsv (the delimiter sniffed). Rows become Markdown tables whose groups each repeat
the header row."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

from ingest.document import Coverage, Document, Section
from ingest.loaders.tables import markdown_rows
from ingest.loaders.text import encoding_note, read_bytes, read_text
from rag.errors import LoaderError

_MAX_ROWS = 200_000  # a sheet longer than this is cut, and says so
_MAX_COLUMNS = 200


def _sections(rows: list[list[str]], meta: dict) -> list[Section]:
    return [Section(group, {**meta, "table": True}) for group in markdown_rows(rows)]


def load_xlsx(path: Path, doc_id: str) -> list[Document]:
    import openpyxl

    read_bytes(path)
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise LoaderError(f"corrupt or unreadable XLSX: {exc}") from None
    sections, notes, tables = [], {}, 0
    try:
        for sheet in book.worksheets:
            rows = []
            for n, row in enumerate(sheet.iter_rows(values_only=True)):
                if n >= _MAX_ROWS:
                    notes[sheet.title] = f"cut at {_MAX_ROWS} rows"
                    break
                rows.append(["" if v is None else str(v) for v in row[:_MAX_COLUMNS]])
            sheet_sections = _sections(rows, {"sheet": sheet.title})
            sections += sheet_sections
            tables += 1 if sheet_sections else 0
    finally:
        book.close()
    if not sections:
        raise LoaderError("spreadsheet has no values")
    title = book.properties.title or path.stem
    coverage = Coverage(tables=tables, warnings=[f"sheet {name!r} {note}" for name, note in notes.items()])
    return [Document(doc_id, str(title), "xlsx", sections, {"truncated": notes} if notes else {}, coverage=coverage)]


def load_delimited(path: Path, doc_id: str) -> list[Document]:
    text, encoding = read_text(path)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters="\t" if path.suffix.lower() == ".tsv" else ",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if path.suffix.lower() == ".tsv" else csv.excel
    try:
        rows = [
            row[:_MAX_COLUMNS] for _, row in zip(range(_MAX_ROWS), csv.reader(io.StringIO(text), dialect), strict=False)
        ]
    except csv.Error as exc:
        raise LoaderError(f"malformed {path.suffix.lstrip('.').upper()}: {exc}") from None
    sections = _sections(rows, {})
    if not sections:
        raise LoaderError("no values")
    fmt = path.suffix.lstrip(".").lower()
    warnings = [f"cut at {_MAX_ROWS} rows"] if len(rows) == _MAX_ROWS else []
    return [
        Document(
            doc_id, path.stem, fmt, sections, encoding_note(encoding), coverage=Coverage(tables=1, warnings=warnings)
        )
    ]
