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
_ARTICLE = 'article, main, [role="main"]'
# Furniture holding more of the page's text than this is not furniture (bench/html_extraction.py).
_MAX_FURNITURE_SHARE = 0.3
_INNER_SHARE = 0.5
# Kept less than this share of the page: the article may have gone with the furniture. On the benchmark of
# bench/html_extraction.py, 11 of the 13 pages the older rules reduced to scraps kept under 5%; 1 good page does.
_WARN_KEPT_SHARE = 0.05
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


def _prose_chars(node: Node) -> int:
    """Text that is not link text: a list of story teasers is mostly links, an article mostly not."""
    links = sum(len(a.text(strip=True)) for a in node.css("a"))
    return len(_visible_text(node)) - links


def _inside(node: Node, ancestor: Node) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.mem_id == ancestor.mem_id:
            return True
        parent = parent.parent
    return False


def _inside_article(node: Node) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.tag in ("article", "main"):
            return True
        parent = parent.parent
    return False


def _holds_article(node: Node, page_chars: int) -> bool:
    """Too big to be furniture: it holds an <article> or <main>, or more than a set share of the page's text
    (pages wrap everything in a <form>, or in a div whose class happens to say "ad-margins" or "sidebar")."""
    return bool(node.css_first(_ARTICLE)) or len(_visible_text(node)) > _MAX_FURNITURE_SHARE * page_chars


def _main_content(tree: HTMLParser, page_chars: int) -> Node | None:
    """The page's article: page furniture removed (unless it holds the article), then whichever <article>,
    <main> or role=main holds the most text outside links, when one holds a real text, else the whole body."""
    for node in tree.css(", ".join(_FURNITURE + [f'[role="{r}"]' for r in _FURNITURE_ROLES])):
        if node.tag in ("header", "footer") and _inside_article(node):  # an article's own byline stays
            continue
        if not _holds_article(node, page_chars):
            node.decompose()
    for node in tree.css("[class], [id]"):
        names = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}"
        furniture = _FURNITURE_NAMES.search(names) and node.tag not in ("body", "html", "main", "article")
        if furniture and not _holds_article(node, page_chars):
            node.decompose()
    sized = sorted(((_prose_chars(n), n) for n in tree.css(_ARTICLE)), key=lambda kv: -kv[0])
    found = [(chars, n) for chars, n in sized if chars >= _MIN_ARTICLE_CHARS]
    if not found:
        return tree.body or tree.root
    # The one with the most text; but a <main> around an <article> holding most of it is the article and
    # its neighbours (related stories): the article then. A short teaser inside a long <main> is not.
    best_chars, best = found[0]
    for chars, node in found[1:]:
        if chars >= _INNER_SHARE * best_chars and _inside(node, best):
            best_chars, best = chars, node
    return best


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
    page_chars = len(_visible_text(tree.body or tree.root))
    main = _main_content(tree, page_chars)
    kept = len(_visible_text(main))
    tables = _tables_marked(main) if main is not None else []
    sections = _sections(_visible_text(main), tables)
    if not sections:
        raise LoaderError("no visible text in HTML")
    coverage = Coverage(tables=sum(1 for rows in tables if any(cell for row in rows for cell in row)))
    if kept < _WARN_KEPT_SHARE * page_chars:
        coverage.warnings.append(
            f"kept {kept:,} of the page's {page_chars:,} characters: the rest was taken for navigation, sidebars "
            "or comments (check that the article is there)"
        )
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
