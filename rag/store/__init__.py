"""Store factory: the embedded Qdrant Edge shard by default, a Qdrant server when a URL is set."""

from __future__ import annotations

from functools import lru_cache

from qdrant_client import QdrantClient

from rag.config import Settings
from rag.store.base import Store
from rag.store.edge import EdgeStore, list_collections
from rag.store.server import ServerStore


@lru_cache(maxsize=8)
def _client(url: str, api_key: str | None) -> QdrantClient:
    # One client per URL and process: ':memory:' is then one shared in-process engine.
    if url == ":memory:":
        return QdrantClient(location=":memory:")
    return QdrantClient(url=url, api_key=api_key)


def open_store(settings: Settings, collection: str | None = None) -> Store:
    """The configured store for one collection (``settings.collection`` unless named)."""
    name = collection or settings.collection
    if settings.qdrant_url:
        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return ServerStore(
            _client(settings.qdrant_url, key),
            name,
            shards=settings.qdrant_shards,
            replicas=settings.qdrant_replicas,
            extra_indexes=settings.payload_index_list(),
        )
    return EdgeStore(settings.data_dir, name, extra_indexes=settings.payload_index_list())


def collection_names(settings: Settings) -> list[str]:
    """Every collection in the configured engine."""
    if settings.qdrant_url:
        key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return sorted(c.name for c in _client(settings.qdrant_url, key).get_collections().collections)
    return list_collections(settings.data_dir)


__all__ = ["Store", "collection_names", "open_store"]
