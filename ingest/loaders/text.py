"""Plain text files, and the byte-level checks every text format shares."""

from __future__ import annotations

from pathlib import Path

from ingest.document import Document, Section
from rag.errors import LoaderError


def read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except PermissionError:
        raise LoaderError("permission denied") from None
    except OSError as exc:
        raise LoaderError(f"cannot read file: {exc.strerror or exc}") from None
    if not data.strip():
        raise LoaderError("empty file")
    return data


def read_text(path: Path) -> str:
    """UTF-8 text of a file, refusing binary content and other encodings with a reason."""
    data = read_bytes(path)
    if b"\x00" in data[:8192]:
        raise LoaderError("binary content, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoaderError(f"not valid UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise LoaderError("empty file")
    return text


def load_text(path: Path, doc_id: str) -> list[Document]:
    text = read_text(path)
    return [Document(doc_id=doc_id, title=path.stem, format="txt", sections=[Section(text.strip())])]
