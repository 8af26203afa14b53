"""Rich Text Format (.rtf) with striprtf: the text, its 8-bit characters read in the code page the file
declares (``\\ansicpgN``; Windows-1252 when it declares none)."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from striprtf.striprtf import rtf_to_text

from ingest.document import Document, Section
from ingest.loaders.text import read_bytes
from rag.errors import LoaderError

_CODE_PAGE = re.compile(rb"\\ansicpg(\d{3,5})")


def _code_page(head: bytes) -> str:
    match = _CODE_PAGE.search(head)
    if match:
        try:
            return codecs.lookup(f"cp{int(match.group(1))}").name
        except LookupError:
            pass
    return "cp1252"


def load_rtf(path: Path, doc_id: str) -> list[Document]:
    data = read_bytes(path)
    if not data.lstrip().startswith(b"{\\rtf"):
        raise LoaderError("not an RTF file (it does not start with {\\rtf)")
    # RTF is 7-bit: other characters are escapes (\'e9, \u233?) that striprtf decodes in the code page.
    text = rtf_to_text(data.decode("latin-1"), encoding=_code_page(data[:4096]), errors="replace")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    body = "\n".join(line for line in lines if line)
    if not body:
        raise LoaderError("RTF has no text")
    return [Document(doc_id=doc_id, title=path.stem, format="rtf", sections=[Section(body)])]
