"""The SciFact store the ranking benchmarks read (built once with `rag eval`, see bench/rerank.py)."""

from __future__ import annotations

from rag.config import Settings
from rag.stored_chunk import SearchResult
from rag.wiring import OpenStores, build_parts


def retrieved(settings: Settings, queries: list[str], top_k: int) -> list[list[SearchResult]]:
    """Hybrid retrieval's top ``top_k`` for each query (no rerank), from the store ``settings`` names."""
    stores = OpenStores(settings)
    try:
        pipeline = build_parts(settings, stores, with_llm=False).pipeline
        if stores(None).meta() is None:
            raise SystemExit(f"no SciFact store in {settings.data_dir}: run rag eval first (see bench/rerank.py)")
        return [r.results for r in pipeline.search_many(queries, pipeline.options(top_k=top_k), rerank=False)]
    finally:
        stores.close()
