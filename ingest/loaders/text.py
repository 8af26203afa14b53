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
        if (utf16 := _utf16_without_bom(data)) is not None:
            return utf16
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
    text = data.decode(guess, errors="replace")
    if guess != "cp1252" and _same_in_cp1252(data, text):
        guess = "cp1252"  # the bytes read the same in Western European: say the likelier of the two
    return text, f"{guess}, guessed"


def _same_in_cp1252(data: bytes, text: str) -> bool:
    try:
        return data.decode("cp1252") == text
    except UnicodeDecodeError:
        return False


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    """UTF-16 text written without a byte-order mark (Windows tools do): nearly every other byte is zero in
    Latin-script text, on the odd positions for little-endian and the even ones for big-endian."""
    head = data[:8192]
    if len(head) < 4:
        return None
    half = len(head) // 2
    even = sum(b == 0 for b in head[0::2]) / half
    odd = sum(b == 0 for b in head[1::2]) / half
    for codec, zeros, others in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if zeros > 0.3 and others < 0.05:
            try:
                text = data[: len(data) // 2 * 2].decode(codec)
            except UnicodeDecodeError:
                return None
            printable = sum(ch.isprintable() or ch.isspace() for ch in text[:4096]) / max(1, len(text[:4096]))
            return (text, f"{codec}, guessed") if printable > 0.95 else None
    return None


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
