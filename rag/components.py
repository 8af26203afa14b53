"""Builds the core's parts from settings; the CLI and the API share these."""

from __future__ import annotations

from rag.config import Settings
from rag.embedding import Embedder
from rag.retrieval import Retriever
from rag.sparse import SparseEncoder
from rag.store import open_store


def make_embedder(settings: Settings) -> Embedder:
    return Embedder(settings.embed_model, batch_size=settings.embed_batch_size, device=settings.embed_device)


def make_sparse(settings: Settings) -> SparseEncoder:
    return SparseEncoder(avg_len=settings.bm25_avg_len)


def make_retriever(settings: Settings, embedder: Embedder | None = None, collection: str | None = None) -> Retriever:
    return Retriever(
        open_store(settings, collection),
        embedder or make_embedder(settings),
        make_sparse(settings),
        prefetch_limit=settings.prefetch_limit,
    )
