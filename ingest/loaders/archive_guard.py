"""Zip-based formats (DOCX, and any added later) are checked before a parser opens them: the sizes each
member declares, its compression ratio, and the bytes it really unpacks to, read in bounded pieces."""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from rag.errors import LoaderError

_PIECE = 1 << 20
_RATIO_FLOOR = 1 << 20  # members smaller than this unpack to little whatever their ratio


@dataclass(frozen=True, slots=True)
class UnpackLimits:
    """How much one archive may unpack to in all, and how far one member may expand."""

    max_bytes: int
    max_ratio: float


def check_archive(path: Path, limits: UnpackLimits) -> None:
    """Raise ``LoaderError`` naming the problem when ``path`` is not a zip within ``limits``."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            declared = sum(m.file_size for m in members)
            if declared > limits.max_bytes:
                raise LoaderError(
                    f"archive unpacks to {declared} bytes, over the {limits.max_bytes}-byte limit "
                    "(RAGLINE_MAX_UNPACKED_BYTES)"
                )
            for m in members:
                ratio = m.file_size / max(m.compress_size, 1)
                if m.file_size > _RATIO_FLOOR and ratio > limits.max_ratio:
                    raise LoaderError(
                        f"archive member {m.filename!r} expands {ratio:.0f}x, over RAGLINE_MAX_UNPACK_RATIO "
                        f"{limits.max_ratio:g} (a zip bomb?)"
                    )
            _read_within(zf, members, limits.max_bytes)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
        raise LoaderError(f"corrupt or unreadable {path.suffix.lstrip('.').upper()} archive: {exc}") from None


def _read_within(zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], max_bytes: int) -> None:
    """Unpack every member piece by piece (nothing kept), so a member that unpacks to more than it declares
    fails here — on its size or its CRC — rather than in the parser."""
    total = 0
    for m in members:
        with zf.open(m) as member:
            while piece := member.read(_PIECE):
                total += len(piece)
                if total > max_bytes:
                    raise LoaderError(f"archive unpacks to more than {max_bytes} bytes (RAGLINE_MAX_UNPACKED_BYTES)")
