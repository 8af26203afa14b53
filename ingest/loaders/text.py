"""Plain text files, and the byte-level checks every text format shares."""

from __future__ import annotations

import codecs
from pathlib import Path

import charset_normalizer

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


_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode(data: bytes, declared: str | None = None) -> tuple[str, str | None]:
    """Text of ``data`` and, when it was not UTF-8, how it was read ("cp1252, guessed"): by byte-order mark,
    then the ``declared`` charset, then UTF-8, then charset detection. Binary content is a ``LoaderError``."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return data.decode(codec, errors="replace"), None if codec == "utf-8-sig" else codec
    if b"\x00" in data[:8192]:
        raise LoaderError("binary content, not text")
    if declared:
        try:
            return data.decode(declared), None if codecs.lookup(declared).name == "utf-8" else declared
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration: read it as if there were none
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    matches = list(charset_normalizer.from_bytes(data[: 1 << 20]))
    if not matches:
        raise LoaderError("binary content, not text")
    # Short texts fit several single-byte code pages equally well; Western European (cp1252) is the
    # likeliest of those tied for the least chaos.
    least = min(m.chaos for m in matches)
    tied = [m.encoding for m in matches if m.chaos == least]
    guess = "cp1252" if "cp1252" in tied else tied[0]
    return data.decode(guess, errors="replace"), f"{guess}, guessed"


def read_text(path: Path, declared: str | None = None) -> tuple[str, str | None]:
    """A file's text and how it was decoded (None: UTF-8), refusing binary and empty files with a reason."""
    text, encoding = decode(read_bytes(path), declared)
    if not text.strip():
        raise LoaderError("empty file")
    return text, encoding


def encoding_note(encoding: str | None) -> dict[str, str]:
    """Document metadata saying how a non-UTF-8 file was read."""
    return {"encoding": encoding} if encoding else {}


def load_text(path: Path, doc_id: str) -> list[Document]:
    text, encoding = read_text(path)
    return [
        Document(
            doc_id=doc_id,
            title=path.stem,
            format=path.suffix.lower().lstrip(".") or "txt",
            sections=[Section(text.strip())],
            metadata=encoding_note(encoding),
        )
    ]
