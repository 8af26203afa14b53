"""HTML: the article's visible text (page furniture such as navigation, footers, cookie notices and related-story
lists removed), its tables as Markdown rows, and the page title."""

from __future__ import annotations

import re
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser as HTMLParser
from selectolax.lexbor import LexborNode as Node

from ingest.document import Coverage, Document, Section
from ingest.loaders.tables import markdown_rows
from ingest.loaders.text import encoding_note, read_bytes, read_text
from rag.errors import LoaderError

_INVISIBLE = ["script", "style", "noscript", "template", "head", "svg", "iframe"]
# Page furniture around the article: navigation, site headers and footers, sidebars, forms, cookie notices,
# related-story and share blocks.
_FURNITURE = ["nav", "header", "footer", "aside", "form", "dialog", "button"]
_FURNITURE_ROLES = ["navigation", "banner", "contentinfo", "complementary", "search", "dialog"]
_FURNITURE_NAMES = re.compile(
    r"(^|[-_ ])(nav|navbar|menu|breadcrumbs?|sidebar|footer|header|cookies?|consent|banner|related|share|"
    r"social|subscribe|newsletter|comments?|promo|advert|ads?|popup|modal)([-_ ]|$)",
    re.IGNORECASE,
)
_MIN_ARTICLE_CHARS = 200
_MARKER = re.compile(r"\0(\d+)\0")  # where a table was


# <meta charset="x"> or <meta http-equiv="Content-Type" content="text/html; charset=x">, in the first 4 KB
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _title(tree: HTMLParser) -> str:
    """<title>, else og:title, else the first <h1>."""
    node = tree.css_first("title")
    if node and node.text(strip=True):
        return node.text(strip=True)
    og = tree.css_first('meta[property="og:title"]')
    if og and (og.attributes.get("content") or "").strip():
        return (og.attributes.get("content") or "").strip()
    h1 = tree.css_first("h1")
    return h1.text(strip=True) if h1 else ""


def _visible_text(node: Node | None) -> str:
    text = node.text(separator="\n") if node else ""
    return re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t]+", " ", text)).strip()


def _inside_article(node: Node) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in ("article", "main"):
            return True
        parent = parent.parent
    return False


def _main_content(tree: HTMLParser) -> Node | None:
    """The page's article: page furniture removed, then its <article> or <main> (or role=main) when that
    holds a real text, else the whole body."""
    for node in tree.css(", ".join(_FURNITURE + [f'[role="{r}"]' for r in _FURNITURE_ROLES])):
        if not (node.tag in ("header", "footer") and _inside_article(node)):  # an article's own byline stays
            node.decompose()
    for node in tree.css("[class], [id]"):
        names = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}"
        if _FURNITURE_NAMES.search(names) and node.tag not in ("body", "html", "main", "article"):
            node.decompose()
    for selector in ("article", "main", '[role="main"]'):
        found = [n for n in tree.css(selector) if len(_visible_text(n)) >= _MIN_ARTICLE_CHARS]
        if found:
            return max(found, key=lambda n: len(_visible_text(n)))
    return tree.body or tree.root


def _tables_marked(node: Node) -> list[list[list[str]]]:
    """Data tables replaced by a marker ``\0n\0``; their rows of cells, in order. A table that holds another
    one (layout), or has a single row or column, keeps its text as text."""
    tables = []
    for table in node.css("table"):
        if len(table.css("table")) > 1:  # css() matches the node itself too
            continue
        rows = [[cell.text(separator=" ", strip=True) for cell in tr.css("th, td")] for tr in table.css("tr")]
        if len(rows) < 2 or max(map(len, rows)) < 2:
            continue
        table.replace_with(f"\0{len(tables)}\0")
        tables.append(rows)
    return tables


def _sections(text: str, tables: list[list[list[str]]]) -> list[Section]:
    """Text between tables as it is; each table as Markdown row groups that repeat its header."""
    sections = []
    for n, part in enumerate(_MARKER.split(text)):
        if n % 2:
            sections += [Section(group, {"table": True}) for group in markdown_rows(tables[int(part)])]
        elif part.strip():
            sections.append(Section(part.strip()))
    return sections


def load_html(path: Path, doc_id: str) -> list[Document]:
    declared = _CHARSET.search(read_bytes(path)[:4096])
    text, encoding = read_text(path, declared.group(1).decode("ascii") if declared else None)
    tree = HTMLParser(text)
    title = _title(tree)
    tree.strip_tags(_INVISIBLE)
    main = _main_content(tree)
    tables = _tables_marked(main) if main is not None else []
    sections = _sections(_visible_text(main), tables)
    if not sections:
        raise LoaderError("no visible text in HTML")
    coverage = Coverage(tables=sum(1 for rows in tables if any(cell for row in rows for cell in row)))
    return [
        Document(
            doc_id=doc_id,
            title=title or path.stem,
            format="html",
            sections=sections,
            metadata=encoding_note(encoding),
            coverage=coverage,
        )
    ]
