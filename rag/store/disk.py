"""The embedded store's disk: room to write before writing, and the collections a data folder holds."""

from __future__ import annotations

import shutil
from pathlib import Path

from rag.errors import StorageFullError


def require_free_space(path: Path, min_bytes: int) -> None:
    """Raise ``StorageFullError`` when the filesystem holding ``path`` (or its nearest existing parent) has less
    than ``min_bytes`` free. Qdrant writes its WAL through memory maps of 32 MiB segments, two at a time: on a
    full disk a write there is a SIGBUS that kills the process, so writes must not start without room."""
    if min_bytes <= 0:
        return
    existing = Path(path).absolute()
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if free < min_bytes:
        raise StorageFullError(
            f"{existing} has {free // 2**20} MiB free; the embedded store needs at least {min_bytes // 2**20} MiB "
            "(RAGLINE_MIN_FREE_MB): free some space or move RAGLINE_DATA_DIR"
        )


def list_collections(data_dir: Path) -> list[str]:
    """Names of the collections stored under ``data_dir``."""
    root = Path(data_dir) / "collections"
    return sorted(p.name for p in root.iterdir() if (p / "shard").is_dir()) if root.is_dir() else []
