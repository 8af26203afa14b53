"""Uploaded files' names, checked before anything is written, and the staging folder they pass through."""

from __future__ import annotations

import contextlib
from pathlib import Path, PurePosixPath

from rag.errors import UsageError

_MAX_NAME_BYTES = 255  # what the filesystems we run on allow for one name
_MAX_PATH_BYTES = 1024
RECORDS_FILE = ".records.jsonl"  # the records route's one source; upload names cannot start with "."


def upload_parts(name: str) -> tuple[str, ...]:
    """The path parts of an uploaded file's name, or a ``UsageError`` saying what is wrong with it."""
    rel = PurePosixPath(name)
    bad = (
        not rel.parts
        or rel.is_absolute()
        or any(p in ("..", "") or p.startswith(".") for p in rel.parts)
        or any(ord(ch) < 32 or ch == "\\" for ch in name)
        or any(utf8_len(p) > _MAX_NAME_BYTES for p in rel.parts)
        or utf8_len(name) > _MAX_PATH_BYTES
    )
    if bad:
        raise UsageError(
            f"files: invalid file name {name!r} (relative, no '..', no hidden or control characters, parts of at "
            f"most {_MAX_NAME_BYTES} bytes)"
        )
    return rel.parts


def utf8_len(text: str) -> int:
    """Bytes ``text`` takes on disk; a lone surrogate (which no filesystem name can hold) counts as too long."""
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        return _MAX_PATH_BYTES + 1


def as_caller_sees(text: str, folder: Path) -> str:
    """A report line with staged paths as the names they were uploaded under ("records" for the records route)."""
    return text.replace(f"{folder}/", "").replace(RECORDS_FILE, "records")


def remove_staged(paths: list[Path], folder: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # never written, or could not be
            path.unlink()
        for parent in path.parents:
            if parent == folder or not parent.is_relative_to(folder):
                break
            with contextlib.suppress(OSError):  # not empty: another file still there
                parent.rmdir()
