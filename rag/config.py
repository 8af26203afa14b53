"""All configuration in one place, read from ``RAGLINE_*`` environment variables and CLI flags."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.errors import ConfigError

DEFAULT_EMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# The most passages one answer may be grounded in (RAGLINE_ANSWER_PASSAGES, a request's top_k).
MAX_ANSWER_PASSAGES = 20
COLLECTION_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ThinkingLevel = Literal["minimal", "low", "medium", "high"]
INDEX_TYPES = ("keyword", "integer", "float", "datetime", "bool")


class Settings(BaseSettings):
    """ragline settings; every field is ``RAGLINE_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="RAGLINE_", extra="ignore")

    data_dir: Path = Field(Path(".ragline"), description="Folder of the embedded Qdrant Edge store.")
    min_free_mb: int = Field(
        256,
        ge=0,
        description="Free disk the embedded store needs before it opens or writes (its WAL writes through memory "
        "maps, which crash the process on a full disk); below it: a startup error, HTTP 507 for writes.",
    )
    qdrant_url: str | None = Field(
        None, description="Qdrant server URL; switches from the embedded store to qdrant-client. ':memory:' for tests."
    )
    qdrant_api_key: SecretStr | None = Field(None, description="API key of the Qdrant server.")
    qdrant_shards: int = Field(1, ge=1, description="Shards of a new collection on a Qdrant cluster.")
    qdrant_replicas: int = Field(1, ge=1, description="Replication factor of a new collection on a Qdrant cluster.")
    collection: str = Field("documents", pattern=COLLECTION_NAME_PATTERN, description="Collection name.")
    max_collections: int = Field(
        100, ge=1, description="Collections a server may hold; creating one more through the API is HTTP 409."
    )
    open_collections: int = Field(
        16,
        ge=1,
        description="Embedded collections kept open at once (each holds threads and memory maps); the least "
        "recently used are closed and reopen on their next call.",
    )

    embed_model: str = Field(DEFAULT_EMBED_MODEL, description="sentence-transformers model name or path.")
    # 16: the same speed as 64 on 2 cores, half the peak memory (ONNX Runtime keeps the largest batch's
    # activations; bench/embed_batch.py: 894 MB against 1,777 MB).
    embed_batch_size: int = Field(16, ge=1, le=4096, description="Chunks per encode call.")
    embed_device: str | None = Field(None, description="torch device; None lets sentence-transformers choose.")
    embed_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8",
        description="How the embedder runs: torch, onnx (exported locally once), or onnx-int8 (quantized for this "
        "CPU; fastest on CPUs). Use torch on a GPU.",
    )
    model_cache_dir: Path = Field(
        Path.home() / ".cache" / "ragline", description="Where local ONNX exports of the embedding model are kept."
    )

    chunk_tokens: int | None = Field(
        None, ge=16, description="Word pieces per chunk (title included); default: the model's maximum."
    )
    chunk_overlap: int = Field(32, ge=0, description="Word pieces shared by consecutive chunks.")
    bm25_avg_len: float = Field(120.0, gt=0, description="Expected BM25 document length in tokens.")
    ingest_batch_chunks: int = Field(256, ge=1, description="Chunks embedded and upserted together.")
    ocr: Literal["local", "llm", "off"] = Field(
        "local",
        description="Scanned PDF pages and image files: local (RapidOCR, models inside its wheel, no download), llm "
        "(the configured multimodal LLM transcribes each page; local OCR when it fails) or off.",
    )
    ocr_llm_concurrency: int = Field(4, ge=1, le=64, description="Pages of one file sent to the LLM at once.")
    ocr_llm_max_tokens: int = Field(4096, ge=256, description="Output tokens an LLM page transcription may use.")
    ocr_dpi: int = Field(200, ge=50, le=600, description="Resolution PDF pages are rendered at for OCR.")
    ocr_min_chars: int = Field(
        20, ge=0, description="A PDF page with less extracted text than this is read by OCR instead."
    )
    ocr_max_pixels: int = Field(
        40_000_000, ge=10_000, description="Largest image (or rendered page) OCR reads, in pixels."
    )
    max_unpacked_bytes: int = Field(
        256 * 1024 * 1024, ge=1, description="Most bytes one archive-based file (DOCX) may unpack to in all."
    )
    max_unpack_ratio: float = Field(
        200.0, gt=1, description="Most an archive member over 1 MiB may expand (unpacked / packed): zip bombs."
    )

    payload_indexes: str = Field(
        "",
        description="Extra payload indexes for new collections, comma-separated FIELD:TYPE "
        "(TYPE one of keyword, integer, float, datetime, bool), e.g. 'metadata.year:integer'.",
    )
    top_k: int = Field(10, ge=1, le=100, description="Results per search when a request or --top-k does not say.")
    mode: Literal["dense", "sparse", "hybrid"] = Field("hybrid", description="Default retrieval mode.")
    prefetch_limit: int = Field(200, ge=1, le=1000, description="Candidates each prefetch hands to fusion.")
    fusion: Literal["rrf", "dbsf"] = Field(
        "dbsf", description="How hybrid mode fuses dense and sparse results (chosen on SciFact train: bench/)."
    )
    # Chosen with bench/dense_recall.py: recall@20 against exact search >= 0.99 on SciFact and on a hard
    # synthetic store, where the engine's defaults (16, 100) missed whole neighbourhoods.
    hnsw_m: int = Field(32, ge=4, le=128, description="HNSW graph degree of new collections.")
    hnsw_ef_construct: int = Field(200, ge=4, description="HNSW build-time candidates of new collections.")
    hnsw_ef: int = Field(384, ge=1, description="HNSW search-time candidates.")
    # bench/search_latency.py: the hybrid query over 10k SciFact chunks 1.1 -> 0.6 ms (payloads aside);
    # bench/dense_recall.py: recall@20 against exact float search stays >= 0.99.
    dense_quantization: Literal["int8", "none"] = Field(
        "int8",
        description="New collections keep an int8 copy of the dense vectors in memory to search with (the float "
        "vectors rescore the best); 'none' searches the float vectors alone.",
    )
    hnsw_full_scan_kb: int = Field(
        16_000,
        ge=0,
        description="New collections search exactly (no HNSW) while a segment's dense vectors are below this many "
        "KB (16,000: about 10k MiniLM chunks, where exact search is as fast as HNSW at RAGLINE_HNSW_EF).",
    )

    api_keys: SecretStr | None = Field(
        None,
        description="Comma-separated API keys, each with every scope on every collection and document; when set "
        "(or RAGLINE_API_KEYS_FILE), every /v1 route needs 'Authorization: Bearer KEY'.",
    )
    api_keys_file: Path | None = Field(
        None,
        description="Key file (TOML or JSON; `rag keys add`): keys by SHA-256 with scopes, collections and groups; "
        "documents' ACLs apply to its keys. Re-read when it changes.",
    )
    key_rpm: int = Field(600, ge=0, description="Requests a minute per key of the key file (0: no limit).")
    max_upload_bytes: int = Field(
        50 * 1024 * 1024,
        ge=1,
        description="Largest upload request, all its files together (HTTP 413 above, from Content-Length or while "
        "reading).",
    )
    max_json_bytes: int = Field(
        8 * 1024 * 1024, ge=1, description="Largest JSON request body (searches, answers, records); HTTP 413 above."
    )
    max_query_chars: int = Field(2000, ge=1, description="Longest accepted query.")
    keep_uploads: bool = Field(
        False, description="Keep uploaded files under DATA_DIR/uploads after ingesting them (removed by default)."
    )

    llm: Literal["auto", "gemini", "ollama", "openai", "none"] = Field(
        "auto",
        description="LLM backend for reranking and answers; auto: gemini when a key is set, else ollama when "
        "OLLAMA_HOST is set, else openai when RAGLINE_OPENAI_BASE_URL is set, else none.",
    )
    gemini_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("RAGLINE_GEMINI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"),
        description="Gemini API key (GEMINI_API_KEY or GOOGLE_API_KEY).",
    )
    gemini_model: str = Field("gemini-3.1-flash-lite", description="Gemini model.")
    gemini_base_url: str | None = Field(None, description="Gemini API base URL (proxies, tests).")
    gemini_thinking_rerank: ThinkingLevel = Field(
        "minimal", description="Gemini thinking level for rerank calls (3.x: thinkingLevel; 2.5: minimal = budget 0)."
    )
    gemini_thinking_answer: ThinkingLevel = Field("low", description="Gemini thinking level for answers.")
    gemini_thinking_transcribe: ThinkingLevel = Field(
        "minimal", description="Gemini thinking level for page transcription (RAGLINE_OCR=llm)."
    )
    gemini_temperature: float | None = Field(
        None, ge=0, le=2, description="Gemini temperature; unset keeps the model's default (1.0 for Gemini 3)."
    )
    ollama_host: str = Field(
        "http://127.0.0.1:11434",
        validation_alias=AliasChoices("RAGLINE_OLLAMA_HOST", "OLLAMA_HOST"),
        description="Ollama server URL (OLLAMA_HOST); setting it makes RAGLINE_LLM=auto choose Ollama.",
    )
    ollama_model: str = Field("gemma3:4b", description="Ollama model.")
    ollama_num_ctx: int = Field(8192, ge=512, description="Ollama context window, set on every call.")
    ollama_keep_alive: str = Field("30m", description="How long Ollama keeps the model loaded after a call.")
    openai_base_url: str = Field(
        "http://127.0.0.1:8000/v1",
        description="Base URL of an OpenAI-compatible server, /v1 included (vLLM, llama.cpp's server, SGLang, "
        "LM Studio, Ollama's /v1); setting it makes RAGLINE_LLM=auto choose it when neither Gemini nor Ollama is.",
    )
    openai_model: str | None = Field(
        None, description="Model to ask the OpenAI-compatible server for; unset: the first model it lists."
    )
    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("RAGLINE_OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="Key for the OpenAI-compatible server (OPENAI_API_KEY); servers that need none accept any.",
    )
    openai_structured: Literal["auto", "json_schema", "json_object", "none"] = Field(
        "auto",
        description="Structured-output form to send: json_schema (OpenAI, vLLM, SGLang), json_object with a schema "
        "(llama-cpp-python), none (plain JSON asked for in the prompt); auto: step down from json_schema the first "
        "time the server refuses a form.",
    )
    openai_images: bool = Field(
        False, description="The OpenAI-compatible server's model reads images (needed for RAGLINE_OCR=llm)."
    )
    llm_timeout_s: float = Field(60.0, gt=0, description="Longest wait for one answer-generation call.")
    llm_max_concurrency: int = Field(8, ge=1, description="LLM calls in flight at once, per backend and process.")
    llm_rpm: int = Field(1000, ge=0, description="LLM calls started per minute, per backend and process (0: no limit).")
    llm_prices: str = Field(
        "",
        description='Extra prices per 1M tokens as JSON, e.g. {"gemini-3.1-flash-lite": [0.25, 1.5]} (input, output).',
    )
    ollama_gpu_hour_usd: float = Field(
        0.0,
        ge=0,
        description="Price of self-hosted LLM time (Ollama, OpenAI-compatible servers) per GPU-hour (0: free); a "
        "model named in RAGLINE_LLM_PRICES is priced per token instead.",
    )
    gpu_hour_usd: float = Field(
        0.80, ge=0, description="Price of a rented GPU hour in `rag cost`'s self-hosting projection (an L4-class GPU)."
    )
    gpu_queries_per_hour: int = Field(
        3600, ge=1, description="Reranked queries one rented GPU serves an hour, for `rag cost` (measure yours)."
    )
    usage_log: Path | None = Field(None, description="JSONL file that gets one line per LLM call.")

    rerank: bool = Field(True, description="Rerank searches with the LLM unless a request says otherwise.")
    rerank_strategy: Literal["graded", "pointwise", "listwise"] = Field(
        "graded",
        description="How the LLM judges: graded (one call grades every candidate 0-10), pointwise (a call per "
        "candidate), listwise (RankGPT windows).",
    )
    rerank_weight: float = Field(
        4.0,
        ge=0,
        description="What a grade of 10 adds over a grade of 0, in units of the candidates' retrieval score range "
        "(min-max scaled), when the judge is trusted in full (chosen with bench/rerank.py; 0: retrieval order).",
    )
    rerank_full_trust_agreement: float = Field(
        0.3,
        gt=0,
        le=1,
        description="The judge's agreement with retrieval over recent queries (Goodman-Kruskal gamma, its 2-sigma "
        "lower bound) at which its grades count in full; below it they count in proportion, at 0 not at all.",
    )
    rerank_trust_memory: float = Field(
        0.98, gt=0, lt=1, description="Share of the judge's record kept per query (0.98: about the last 50)."
    )
    rerank_prior_agreement: float = Field(
        0.6,
        ge=-1,
        le=1,
        description="The agreement a new process assumes of the judge, worth RAGLINE_RERANK_PRIOR_PAIRS graded "
        "pairs: trusted at first (half of full with the defaults), until its record says otherwise.",
    )
    rerank_prior_pairs: float = Field(20.0, gt=0, description="Weight of RAGLINE_RERANK_PRIOR_AGREEMENT.")
    rerank_candidates: int = Field(
        20, ge=2, le=100, description="Retrieved candidates the LLM judges (never more per query)."
    )
    rerank_window: int = Field(20, ge=2, description="Listwise: passages per call.")
    rerank_step: int = Field(10, ge=1, description="Listwise: how far the window slides.")
    rerank_passage_tokens: int = Field(
        56, ge=16, description="Token budget of each passage in a rerank prompt (about 4 characters a token)."
    )
    rerank_timeout_ms: int = Field(4000, ge=50, description="Deadline of the rerank stage; retrieval order after.")
    rerank_retries: int = Field(2, ge=0, description="Retries of a failed call, only when they fit the deadline.")
    rerank_cache_size: int = Field(1024, ge=0, description="Cached rerank results (0 disables the cache).")
    mcp_max_bytes: int = Field(
        24_000, ge=1000, description="Most bytes of JSON one MCP tool reply carries (passages trimmed to fit)."
    )
    max_concurrent_answers: int = Field(
        8,
        ge=1,
        description="Answers generated at once per process; more get HTTP 503 with Retry-After, so answers waiting "
        "on a slow LLM never hold every worker.",
    )
    citation_check: Literal["local", "llm", "off"] = Field(
        "local",
        description="Check each claim of an answer against the passage(s) it cites: local (the loaded embedder and "
        "word overlap, no LLM call), llm (one structured call per answer, metered under the citations stage; the "
        "local verdicts stand where it fails) or off.",
    )
    citation_min_support: float = Field(
        0.48,
        ge=0,
        le=1,
        description="Support (0-1) a claim needs to count as supported by the passage it cites (chosen with "
        "bench/citations.py).",
    )
    answer_passages: int = Field(5, ge=1, le=MAX_ANSWER_PASSAGES, description="Top passages an answer is grounded in.")
    answer_max_tokens: int = Field(512, ge=16, description="Longest generated answer.")
    answer_passage_tokens: int = Field(384, ge=16, description="Token budget of each passage in an answer prompt.")

    def payload_index_list(self) -> list[tuple[str, str]]:
        """``RAGLINE_PAYLOAD_INDEXES`` as (field, type) pairs (checked when the settings are read)."""
        items = filter(None, (x.strip() for x in self.payload_indexes.split(",")))
        return [(field, kind) for field, _, kind in (item.partition(":") for item in items)]

    def api_key_list(self) -> list[str]:
        raw = self.api_keys.get_secret_value() if self.api_keys else ""
        return [k.strip() for k in raw.split(",") if k.strip()]

    @field_validator("payload_indexes")
    @classmethod
    def _known_index_types(cls, value: str) -> str:
        for item in filter(None, (x.strip() for x in value.split(","))):
            field, _, kind = item.partition(":")
            if not field or kind not in INDEX_TYPES:
                raise ValueError(f"{item!r} needs FIELD:TYPE with TYPE one of {', '.join(INDEX_TYPES)}")
        return value

    @field_validator("qdrant_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @model_validator(mode="after")
    def _window_slides(self) -> Settings:
        if self.rerank_step >= self.rerank_window:
            raise ValueError("RAGLINE_RERANK_STEP must be smaller than RAGLINE_RERANK_WINDOW (windows overlap)")
        return self

    def with_overrides(self, **overrides: object) -> Settings:
        """A copy with the given non-None fields replaced and validated (CLI flags win over env)."""
        # Only what was set carries over, so "was this given?" (model_fields_set) survives the copy.
        data = self.model_dump(exclude_unset=True)
        data.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return Settings.model_validate(data)
        except ValidationError as exc:
            raise _config_error(exc) from None


def _config_error(exc: ValidationError) -> ConfigError:
    """One line naming each bad setting, instead of pydantic's multi-line report."""
    parts = [f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()]
    return ConfigError("invalid settings: " + "; ".join(parts))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read from the environment once per process."""
    try:
        return Settings()
    except ValidationError as exc:
        raise _config_error(exc) from None
