"""However many collections callers make or name, the server's collections, threads and memory maps stay
bounded (real embedded Qdrant Edge shards; threads and maps counted in /proc)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.config import Settings
from rag.edges.api.app import create_app
from rag.embedding import Embedder
from rag.service import Service


def _threads_and_maps() -> tuple[int, int]:
    with open("/proc/self/maps") as maps:
        return len(os.listdir("/proc/self/task")), sum(1 for _ in maps)


def _records(c: TestClient, collection: str) -> int:
    body = {"records": [{"_id": "r", "text": f"Notes kept in {collection}."}], "collection": collection}
    return c.post("/v1/documents/records", json=body).status_code


@pytest.fixture
def serve(tmp_path: Path, embedder: Embedder):
    servers = []

    def start(**settings) -> TestClient:
        s = Settings(data_dir=tmp_path / "data", **settings)
        server = Service(s, embedder)
        servers.append(server)
        return TestClient(create_app(s, server))

    yield start
    for server in servers:
        server.close()


def test_new_collections_stop_at_the_cap(serve) -> None:
    with serve(max_collections=3) as c:
        assert [_records(c, f"c{n}") for n in range(3)] == [200, 200, 200]
        r = c.post("/v1/documents/records", json={"records": [{"_id": "x", "text": "one more"}], "collection": "c3"})
        assert r.status_code == 409 and "RAGLINE_MAX_COLLECTIONS" in r.json()["detail"]
        assert _records(c, "c0") == 200  # an existing collection still takes documents
        # Naming collections that do not exist (searches, deletes) makes none and keeps nothing open.
        for n in range(20):
            assert c.post("/v1/search", json={"query": "notes", "collection": f"ghost{n}"}).status_code == 404
            assert c.delete("/v1/documents/x", params={"collection": f"ghost{n}"}).status_code == 404
        assert [col["name"] for col in c.get("/v1/collections").json()["collections"]] == ["c0", "c1", "c2"]


def test_open_collections_are_bounded_and_reopen_on_use(serve) -> None:
    with serve(open_collections=2) as c:
        for n in range(2):
            assert _records(c, f"c{n}") == 200
        threads_2, maps_2 = _threads_and_maps()
        for n in range(2, 8):
            assert _records(c, f"c{n}") == 200
        for n in range(8):  # every collection still answers: the closed ones reopen
            hit = c.post("/v1/search", json={"query": "notes kept", "collection": f"c{n}"}).json()["results"][0]
            assert hit["text"].endswith(f"c{n}.")
        threads_8, maps_8 = _threads_and_maps()

        # Closing a store waits for the calls using it: searches across all eight at once, from 4 threads,
        # keep evicting each other's stores and all succeed.
        def search(n: int) -> int:
            return c.post("/v1/search", json={"query": "notes", "collection": f"c{n % 8}"}).status_code

        with ThreadPoolExecutor(4) as pool:
            assert set(pool.map(search, range(64))) == {200}
    # Eight collections cost what two do (each open one holds ~8 threads and ~70 maps).
    assert threads_8 - threads_2 <= 4, (threads_2, threads_8)
    assert maps_8 - maps_2 <= 60, (maps_2, maps_8)
