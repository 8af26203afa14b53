"""Builds the core's parts from settings; the CLI and the API share these."""

from __future__ import annotations

import logging

from rag.config import Settings
from rag.embedding import Embedder
from rag.flow import NO_LLM, QueryFlow
from rag.generation import AnswerGenerator
from rag.llm.base import LLMBackend
from rag.llm.pricing import PriceTable
from rag.llm.usage import MeteredLLM, UsageMeter
from rag.rerank.reranker import RerankConfig, Reranker
from rag.retrieval import Retriever
from rag.sparse import SparseEncoder
from rag.store import open_store
from rag.store.base import Store

log = logging.getLogger("ragline")
DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"


def make_embedder(settings: Settings) -> Embedder:
    return Embedder(
        settings.embed_model,
        batch_size=settings.embed_batch_size,
        device=settings.embed_device,
        backend=settings.embed_backend,
        cache_dir=settings.model_cache_dir,
    )


def make_sparse(settings: Settings) -> SparseEncoder:
    return SparseEncoder(avg_len=settings.bm25_avg_len)


def retriever_over(settings: Settings, store: Store, embedder: Embedder, sparse: SparseEncoder) -> Retriever:
    """A retriever over an open store with the configured prefetch size and fusion."""
    return Retriever(store, embedder, sparse, prefetch_limit=settings.prefetch_limit, fusion=settings.fusion)


def make_retriever(settings: Settings, embedder: Embedder | None = None, collection: str | None = None) -> Retriever:
    return retriever_over(
        settings, open_store(settings, collection), embedder or make_embedder(settings), make_sparse(settings)
    )


def make_llm(settings: Settings) -> LLMBackend | None:
    """The configured backend (``RAGLINE_LLM``); auto picks Gemini with a key, else Ollama with a host, else none."""
    choice = settings.llm
    if choice == "auto":
        choice = "gemini" if settings.gemini_api_key else "ollama" if settings.ollama_host else "none"
    if choice == "gemini":
        if not settings.gemini_api_key:
            raise ValueError("RAGLINE_LLM=gemini needs GEMINI_API_KEY (or GOOGLE_API_KEY)")
        from rag.llm.gemini_backend import GeminiBackend

        llm: LLMBackend = GeminiBackend(
            settings.gemini_api_key.get_secret_value(), settings.gemini_model, settings.gemini_base_url
        )
    elif choice == "ollama":
        from rag.llm.ollama_backend import OllamaBackend

        host = settings.ollama_host or DEFAULT_OLLAMA_HOST
        llm = OllamaBackend(host, settings.ollama_model, settings.ollama_num_ctx, settings.ollama_keep_alive)
    else:
        log.info("LLM: none — %s; searches return retrieval order", NO_LLM)
        return None
    log.info("LLM: %s, model %s (RAGLINE_LLM=%s)", llm.name, llm.model, settings.llm)
    return llm


def make_meter(settings: Settings) -> UsageMeter:
    return UsageMeter(PriceTable.from_json(settings.llm_prices, settings.ollama_gpu_hour_usd), settings.usage_log)


def make_flow(settings: Settings, llm: LLMBackend | None, meter: UsageMeter) -> QueryFlow:
    """Rerank and answer stages over ``llm`` (both absent without one)."""
    reranker = generator = None
    if llm is not None:
        metered = MeteredLLM(llm, meter)
        config = RerankConfig(
            strategy=settings.rerank_strategy,
            window=settings.rerank_window,
            step=settings.rerank_step,
            passage_tokens=settings.rerank_passage_tokens,
            timeout_ms=settings.rerank_timeout_ms,
            retries=settings.rerank_retries,
        )
        reranker = Reranker(metered, config, settings.rerank_cache_size, settings.rerank_concurrency)
        generator = AnswerGenerator(metered, settings.answer_max_tokens, timeout_s=settings.llm_timeout_s)
    return QueryFlow(
        reranker,
        generator,
        llm.name if llm else None,
        candidates=settings.rerank_candidates,
        rerank_default=settings.rerank,
        answer_passages=settings.answer_passages,
    )
