"""Ruled tables on PDF pages, found by pdfplumber, and the page's text outside them. pdfplumber lays out every
character of a page (about 20× pypdf's time), so it only sees pages that PDFium shows drawing lines: a ruled
table cannot be drawn without them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

_MIN_PATHS = 4  # the four sides of the smallest ruled table
_MAX_PAGES = 200  # pages of one file looked at by pdfplumber; past that, tables stay plain text
_MAX_CHARS = 20_000  # a dense page has about 5,000

logging.getLogger("pdfminer").setLevel(logging.ERROR)


@dataclass(slots=True)
class PageTables:
    text: str  # the page's text outside its tables
    tables: list[list[list[str]]]  # each table's rows of cells


def _ruled(path: Path, pages: list[int], warnings: list[str]) -> list[int]:
    """Those of ``pages`` that draw at least a few paths (lines, rectangles), but not too many characters for
    pdfminer's layout analysis (which grows faster than the page)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    pdf = pdfium.PdfDocument(str(path))
    ruled = []
    try:
        for n in pages:
            page = pdf[n - 1]
            if len(list(islice(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_PATH]), _MIN_PATHS))) < _MIN_PATHS:
                continue
            text = page.get_textpage()
            chars = text.count_chars()
            text.close()
            if chars > _MAX_CHARS:
                warnings.append(f"page {n}: {chars} characters, too many to look for tables")
                continue
            ruled.append(n)
    finally:
        pdf.close()
    return ruled


def find_tables(path: Path, pages: list[int]) -> tuple[dict[int, PageTables], list[str]]:
    """Tables of those ``pages`` (numbered from 1) that have any, and warnings for what could not be read. Best
    effort: a PDF pypdf reads but PDFium or pdfminer cannot keeps its plain text."""
    import pdfplumber

    found: dict[int, PageTables] = {}
    warnings = []
    try:
        ruled = _ruled(path, pages, warnings)
        if len(ruled) > _MAX_PAGES:
            warnings.append(f"tables looked for on the first {_MAX_PAGES} pages with lines only")
            ruled = ruled[:_MAX_PAGES]
        with pdfplumber.open(path) as pdf:
            for n in ruled:
                page = pdf.pages[n - 1]
                try:
                    if tables := page.find_tables():
                        outside = page
                        for table in tables:
                            outside = outside.outside_bbox(table.bbox)
                        rows = [[[cell or "" for cell in row] for row in table.extract()] for table in tables]
                        found[n] = PageTables(outside.extract_text() or "", rows)
                except Exception as exc:  # pdfminer raises many types on odd pages
                    warnings.append(f"page {n}: tables not read ({type(exc).__name__})")
                finally:
                    page.close()
    except Exception as exc:  # as above, for the file as a whole
        warnings.append(f"tables not read ({type(exc).__name__})")
    return found, warnings
