"""The one place that builds ragline's parts from ``Settings``: stores, embedder, sparse encoder, the LLM and
the query pipeline. The API, the CLIs, the evaluation and the benchmarks all get their parts here."""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from qdrant_client import QdrantClient

from rag.citation_check import CitationChecker
from rag.config import COLLECTION_NAME_PATTERN, Settings
from rag.embedding import Embedder
from rag.errors import ConfigError, LimitReachedError, UsageError
from rag.generation import AnswerGenerator, largest_answer_tokens
from rag.llm.admission import Admission
from rag.llm.backend_choice import make_llm
from rag.llm.base import LLMBackend
from rag.llm.pricing import PriceTable
from rag.llm.usage import MeteredLLM, UsageMeter
from rag.prompt_blocks import CHARS_PER_TOKEN
from rag.query_pipeline import QueryPipeline
from rag.rerank.fusion import TrustConfig
from rag.rerank.prompts import largest_prompt_tokens
from rag.rerank.reranker import RerankConfig, Reranker
from rag.retrieval import Retriever
from rag.sparse import SparseEncoder
from rag.store.base import IndexConfig, Store
from rag.store.disk import list_collections
from rag.store.edge import EdgeStore
from rag.store.server import ServerStore

StoreOpener = Callable[[str | None], Store]  # a collection's store, opened or reused (for reading)
_COLLECTION_NAME = re.compile(COLLECTION_NAME_PATTERN)


@lru_cache(maxsize=8)
def _client(url: str, api_key: str | None) -> QdrantClient:
    # One client per URL and process: ':memory:' is then one shared in-process engine.
    if url == ":memory:":
        return QdrantClient(location=":memory:")
    return QdrantClient(url=url, api_key=api_key)


def _server_client(settings: Settings) -> QdrantClient:
    assert settings.qdrant_url is not None
    key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    return _client(settings.qdrant_url, key)


def index_config(settings: Settings) -> IndexConfig:
    return IndexConfig(
        hnsw_m=settings.hnsw_m,
        hnsw_ef_construct=settings.hnsw_ef_construct,
        hnsw_ef=settings.hnsw_ef,
        full_scan_kb=settings.hnsw_full_scan_kb,
        quantize_int8=settings.dense_quantization == "int8",
        extra_indexes=tuple(settings.payload_index_list()),
    )


def open_store(settings: Settings, collection: str | None = None) -> Store:
    """The configured store for one collection (``settings.collection`` unless named): the embedded Qdrant
    Edge shard by default, a Qdrant server when ``RAGLINE_QDRANT_URL`` is set."""
    name = collection or settings.collection
    if settings.qdrant_url:
        return ServerStore(
            _server_client(settings),
            name,
            shards=settings.qdrant_shards,
            replicas=settings.qdrant_replicas,
            index=index_config(settings),
        )
    return EdgeStore(settings.data_dir, name, index_config(settings), min_free_bytes=settings.min_free_mb * 2**20)


class OpenStores:
    """Each collection's store, opened on first use after its name is checked. At most
    ``RAGLINE_OPEN_COLLECTIONS`` stay open (the least recently used are closed, releasing their threads and
    memory maps, and reopen on their next call); new collections stop at ``RAGLINE_MAX_COLLECTIONS``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stores: OrderedDict[str, Store] = OrderedDict()  # least recently used first
        self._lock = threading.Lock()

    def __call__(self, collection: str | None, *, create: bool = False) -> Store:
        """The collection's store; ``create`` when the caller is about to write (it may make the collection).
        A name that holds no collection is not kept, so unknown names cannot pile up."""
        name = self.settings.collection if collection is None else collection
        if not _COLLECTION_NAME.match(name):
            raise UsageError(f"collection: {name!r} is not a valid name (letters, digits, '_' and '-', 1-64)")
        with self._lock:
            store = self._stores.get(name)
            if store is None:
                store = open_store(self.settings, name)
                if store.meta() is None:
                    if not create:
                        return store
                    self._check_room(name)
                self._stores[name] = store
            self._stores.move_to_end(name)
            idle = list(self._stores.values())[: -self.settings.open_collections]
        for old in idle:  # outside the lock: closing waits for calls still using that store
            old.close()
        return store

    def _check_room(self, name: str) -> None:
        limit = self.settings.max_collections
        if len(collection_names(self.settings)) >= limit:
            raise LimitReachedError(
                f"collection: cannot create {name!r}: {limit} collections exist (RAGLINE_MAX_COLLECTIONS)"
            )

    def close(self) -> None:
        with self._lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()


def collection_names(settings: Settings) -> list[str]:
    """Every collection in the configured engine."""
    if settings.qdrant_url:
        return sorted(c.name for c in _server_client(settings).get_collections().collections)
    return list_collections(settings.data_dir)


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


def make_retriever(settings: Settings, store: Store, embedder: Embedder, sparse: SparseEncoder) -> Retriever:
    """A retriever over an open store with the configured prefetch size and fusion."""
    return Retriever(store, embedder, sparse, prefetch_limit=settings.prefetch_limit, fusion=settings.fusion)


def make_meter(settings: Settings) -> UsageMeter:
    return UsageMeter(PriceTable.from_json(settings.llm_prices, settings.ollama_gpu_hour_usd), settings.usage_log)


def rerank_config(settings: Settings) -> RerankConfig:
    return RerankConfig(
        strategy=settings.rerank_strategy,
        window=settings.rerank_window,
        step=settings.rerank_step,
        passage_tokens=settings.rerank_passage_tokens,
        timeout_ms=settings.rerank_timeout_ms,
        retries=settings.rerank_retries,
        weight=settings.rerank_weight,
        trust=TrustConfig(
            full_agreement=settings.rerank_full_trust_agreement,
            memory=settings.rerank_trust_memory,
            prior_agreement=settings.rerank_prior_agreement,
            prior_pairs=settings.rerank_prior_pairs,
        ),
    )


def make_metered(settings: Settings, backend: LLMBackend, meter: UsageMeter) -> MeteredLLM:
    """The backend behind its admission gate (RAGLINE_LLM_MAX_CONCURRENCY, RAGLINE_LLM_RPM) and the meter."""
    return MeteredLLM(backend, meter, Admission(settings.llm_max_concurrency, settings.llm_rpm))


def make_reranker(settings: Settings, llm: MeteredLLM) -> Reranker:
    return Reranker(
        llm,
        rerank_config(settings),
        cache_size=settings.rerank_cache_size,
        concurrency=settings.llm_max_concurrency,
    )


def check_fits_context(settings: Settings) -> None:
    """Ollama cuts a prompt over ``num_ctx`` from the front, instructions first: refuse settings whose largest
    rerank or answer call cannot fit."""
    query = settings.max_query_chars // CHARS_PER_TOKEN
    needs = {
        "rerank (RAGLINE_RERANK_CANDIDATES / _PASSAGE_TOKENS)": largest_prompt_tokens(
            settings.rerank_strategy,
            settings.rerank_candidates,
            settings.rerank_window,
            settings.rerank_passage_tokens,
            query,
        ),
        "answer (RAGLINE_ANSWER_PASSAGES / _PASSAGE_TOKENS / _MAX_TOKENS)": largest_answer_tokens(
            settings.answer_passages, settings.answer_passage_tokens, query, settings.answer_max_tokens
        ),
    }
    for stage, tokens in needs.items():
        if tokens > settings.ollama_num_ctx:
            raise ConfigError(
                f"an Ollama {stage} call can need {tokens} tokens, more than RAGLINE_OLLAMA_NUM_CTX "
                f"{settings.ollama_num_ctx}; raise it or lower those settings"
            )


@dataclass(slots=True)
class Parts:
    """Everything a process needs to search and answer, built once."""

    settings: Settings
    embedder: Embedder
    sparse: SparseEncoder
    llm: LLMBackend | None
    meter: UsageMeter
    pipeline: QueryPipeline


def build_parts(
    settings: Settings,
    stores: StoreOpener,
    embedder: Embedder | None = None,
    with_llm: bool = True,
) -> Parts:
    """Settings in, parts out. ``stores`` opens (or reuses) a collection's store; ``with_llm=False`` leaves the
    LLM out (retrieval only)."""
    embedder = embedder or make_embedder(settings)
    sparse = make_sparse(settings)
    backend = make_llm(settings) if with_llm else None
    if backend is not None and backend.name == "ollama":
        check_fits_context(settings)
    meter = make_meter(settings)
    reranker = generator = None
    if backend is not None:
        metered = make_metered(settings, backend, meter)
        reranker = make_reranker(settings, metered)
        generator = AnswerGenerator(
            metered,
            max_tokens=settings.answer_max_tokens,
            passage_tokens=settings.answer_passage_tokens,
            timeout_s=settings.llm_timeout_s,
        )
    checker = CitationChecker(embedder, settings.citation_min_support) if settings.citation_check != "off" else None
    pipeline = QueryPipeline(
        settings,
        lambda name: make_retriever(settings, stores(name), embedder, sparse),
        reranker,
        generator,
        backend.name if backend else None,
        checker,
    )
    return Parts(settings, embedder, sparse, backend, meter, pipeline)
