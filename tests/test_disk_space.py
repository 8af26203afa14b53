"""A data dir without room is refused up front (never a SIGBUS from Qdrant's memory-mapped WAL), and a full
disk makes writes 507 while searches keep working."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.config import Settings
from rag.edges.api.app import create_app
from rag.embedding import Embedder
from rag.errors import StorageFullError
from rag.service import Service


def _more_than_free(path: Path) -> int:
    return shutil.disk_usage(path).free // 2**20 + 1024


def test_startup_without_room_is_one_clear_error(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(data_dir=tmp_path / "data", min_free_mb=_more_than_free(tmp_path))
    with pytest.raises(StorageFullError, match="RAGLINE_MIN_FREE_MB"):
        Service(settings, embedder).load()
    env = {**os.environ, "RAGLINE_DATA_DIR": str(tmp_path / "data"), "RAGLINE_MIN_FREE_MB": str(settings.min_free_mb)}
    run = subprocess.run(
        [sys.executable, "-m", "rag.edges.cli", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 3
    assert run.stderr.strip().splitlines()[-1].startswith("rag: error:") and "RAGLINE_MIN_FREE_MB" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"needs a small tmpfs to fill (root and mount): {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_507_and_search_goes_on(small_disk: Path, embedder: Embedder) -> None:
    settings = Settings(data_dir=small_disk / "data", min_free_mb=256)
    server = Service(settings, embedder)
    with TestClient(create_app(settings, server)) as c:
        r = c.post("/v1/documents", files=[("files", ("owls.txt", b"Owls hunt at night."))])
        assert r.status_code == 200 and r.json()["added"] == 1
        filler = small_disk / "filler"
        # Below RAGLINE_MIN_FREE_MB: refused before Qdrant is asked to write.
        subprocess.run(["fallocate", "-l", str(shutil.disk_usage(small_disk).free - 200 * 2**20), str(filler)])
        r = c.post("/v1/documents", files=[("files", ("bread.txt", b"Bread rises with yeast."))])
        assert r.status_code == 507 and "RAGLINE_MIN_FREE_MB" in r.json()["detail"]
        # No room even to stage the upload: the same 507, nothing half-written left behind.
        filler.unlink()
        subprocess.run(["fallocate", "-l", str(shutil.disk_usage(small_disk).free - 2**20), str(filler)])
        r = c.post("/v1/documents", files=[("files", ("big.txt", b"word " * 500_000))])
        assert r.status_code == 507 and "no room" in r.json()["detail"]
        assert not list((small_disk / "data" / "uploads").rglob("*.txt"))
        hit = c.post("/v1/search", json={"query": "owls at night"}).json()["results"][0]
        assert hit["doc_id"] == "owls.txt"
    server.close()
