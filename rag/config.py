"""All configuration, one Settings class read from ``RAGLINE_*`` environment variables and CLI flags (its LLM,
rerank and answer fields are declared in ``rag.config_llm``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.config_llm import MAX_ANSWER_PASSAGES, LLMSettings
from rag.errors import ConfigError

__all__ = ["COLLECTION_NAME_PATTERN", "DEFAULT_EMBED_MODEL", "MAX_ANSWER_PASSAGES", "Settings", "get_settings"]

DEFAULT_EMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
COLLECTION_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
INDEX_TYPES = ("keyword", "integer", "float", "datetime", "bool")


class Settings(LLMSettings, BaseSettings):
    """ragline settings; every field is ``RAGLINE_<NAME>`` in the environment. The LLM's, reranking's and
    answers' fields are declared in ``rag.config_llm`` and are fields of this class like the rest."""

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
