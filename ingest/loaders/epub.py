"""EPUB books with the standard library and selectolax (the archive checks have passed already): chapters in
reading order, each a section with its chapter title."""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from xml.etree import ElementTree

from selectolax.lexbor import LexborHTMLParser

from ingest.document import Document, Section
from ingest.loaders.text import read_bytes
from rag.errors import LoaderError

_OPF = "{http://www.idpf.org/2007/opf}"
_DC = "{http://purl.org/dc/elements/1.1/}"
_CONTAINER = "{urn:oasis:names:tc:opendocument:xmlns:container}"


def _visible(markup: bytes) -> tuple[str, str]:
    """(first heading, visible text) of an XHTML document."""
    tree = LexborHTMLParser(markup.decode("utf-8", errors="replace"))
    tree.strip_tags(["script", "style", "head"])
    heading = next((h.text(strip=True) for h in tree.css("h1, h2, h3") if h.text(strip=True)), "")
    root = tree.body or tree.root
    lines = (line.strip() for line in (root.text(separator="\n") if root else "").splitlines())
    return heading, "\n".join(line for line in lines if line)


def load_epub(path: Path, doc_id: str) -> list[Document]:
    read_bytes(path)
    try:
        with zipfile.ZipFile(path) as book:
            container = ElementTree.fromstring(book.read("META-INF/container.xml"))
            opf_path = container.find(f".//{_CONTAINER}rootfile").get("full-path")
            opf = ElementTree.fromstring(book.read(opf_path))
            base = posixpath.dirname(opf_path)
            items = {i.get("id"): i.get("href") for i in opf.iter(f"{_OPF}item")}
            title = (opf.findtext(f".//{_DC}title") or "").strip()
            sections = []
            for ref in opf.iter(f"{_OPF}itemref"):
                href = items.get(ref.get("idref"))
                if not href:
                    continue
                heading, text = _visible(book.read(posixpath.normpath(posixpath.join(base, href))))
                if text:
                    sections.append(Section(text, {"chapter": heading} if heading else {}))
    except (zipfile.BadZipFile, KeyError, AttributeError, ElementTree.ParseError) as exc:
        raise LoaderError(f"corrupt or unreadable EPUB: {exc}") from None
    if not sections:
        raise LoaderError("EPUB has no text")
    return [Document(doc_id=doc_id, title=title or path.stem, format="epub", sections=sections)]
