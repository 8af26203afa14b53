"""Two ingest workers seeing the same files against one Qdrant engine neither duplicate nor lose chunks."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient

from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.embedding import Embedder
from rag.ingest_wiring import ingest_options
from rag.store.server import ServerStore
from rag.wiring import index_config, make_sparse


class SerialClient:
    """qdrant-client's local engine is not thread-safe; a server applies each request whole, so we do too."""

    def __init__(self, client: QdrantClient) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return call


def test_two_workers_same_files(tmp_path: Path, embedder: Embedder) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(40):
        (src / f"n{i:02}.txt").write_text(f"Note {i} on topic {i % 4}. " * (5 + i))
    client = SerialClient(QdrantClient(location=":memory:"))  # one engine shared by both workers
    settings = Settings(data_dir=tmp_path / "data", ingest_batch_chunks=8)

    def shared() -> ServerStore:
        return ServerStore(client, "shared", shards=1, replicas=1, index=index_config(settings))

    workers = [Ingestor(ingest_options(settings), shared(), embedder, make_sparse(settings)) for _ in range(2)]
    errors: list[BaseException] = []

    def run(w: Ingestor) -> None:
        try:
            w.run([src])
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors
    store = shared()
    states = store.doc_states()
    assert len(states) == 40
    assert all(len(st.points_by_hash) == 1 and st.is_complete(next(iter(st.points_by_hash))) for st in states.values())
    assert store.count() == sum(sum(st.points_by_hash.values()) for st in states.values())
