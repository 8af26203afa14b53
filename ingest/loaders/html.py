"""HTML: the visible text only, and the page title."""

from __future__ import annotations

import re
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from ingest.document import Document, Section
from ingest.loaders.text import encoding_note, read_bytes, read_text
from rag.errors import LoaderError

_INVISIBLE = ["script", "style", "noscript", "template", "head", "svg", "iframe"]


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


def load_html(path: Path, doc_id: str) -> list[Document]:
    declared = _CHARSET.search(read_bytes(path)[:4096])
    text, encoding = read_text(path, declared.group(1).decode("ascii") if declared else None)
    tree = HTMLParser(text)
    title = _title(tree)
    tree.strip_tags(_INVISIBLE)
    root = tree.body or tree.root
    text = root.text(separator="\n") if root else ""
    text = re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t]+", " ", text)).strip()
    if not text:
        raise LoaderError("no visible text in HTML")
    return [
        Document(
            doc_id=doc_id,
            title=title or path.stem,
            format="html",
            sections=[Section(text)],
            metadata=encoding_note(encoding),
        )
    ]
