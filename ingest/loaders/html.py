"""HTML: the visible text only, and the page title."""

from __future__ import annotations

import re
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser as HTMLParser

from ingest.document import Document, Section
from ingest.loaders.text import read_text
from rag.errors import LoaderError

_INVISIBLE = ["script", "style", "noscript", "template", "head", "svg", "iframe"]


def load_html(path: Path, doc_id: str) -> list[Document]:
    tree = HTMLParser(read_text(path))
    title_node = tree.css_first("title")
    title = title_node.text(strip=True) if title_node else ""
    tree.strip_tags(_INVISIBLE)
    root = tree.body or tree.root
    text = root.text(separator="\n") if root else ""
    text = re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t]+", " ", text)).strip()
    if not text:
        raise LoaderError("no visible text in HTML")
    return [Document(doc_id=doc_id, title=title or path.stem, format="html", sections=[Section(text)])]
