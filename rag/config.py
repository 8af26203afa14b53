"""All configuration in one place, read from ``RAGLINE_*`` environment variables and CLI flags."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_EMBED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
COLLECTION_NAME_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class Settings(BaseSettings):
    """ragline settings; every field is ``RAGLINE_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="RAGLINE_", extra="ignore")

    data_dir: Path = Field(Path(".ragline"), description="Folder of the embedded Qdrant Edge store.")
    qdrant_url: str | None = Field(
        None, description="Qdrant server URL; switches from the embedded store to qdrant-client. ':memory:' for tests."
    )
    qdrant_api_key: SecretStr | None = Field(None, description="API key of the Qdrant server.")
    qdrant_shards: int = Field(1, ge=1, description="Shards of a new collection on a Qdrant cluster.")
    qdrant_replicas: int = Field(1, ge=1, description="Replication factor of a new collection on a Qdrant cluster.")
    collection: str = Field("documents", pattern=COLLECTION_NAME_PATTERN, description="Collection name.")

    embed_model: str = Field(DEFAULT_EMBED_MODEL, description="sentence-transformers model name or path.")
    embed_batch_size: int = Field(64, ge=1, le=4096, description="Chunks per encode call.")
    embed_device: str | None = Field(None, description="torch device; None lets sentence-transformers choose.")

    chunk_tokens: int | None = Field(
        None, ge=16, description="Word pieces per chunk (title included); default: the model's maximum."
    )
    chunk_overlap: int = Field(32, ge=0, description="Word pieces shared by consecutive chunks.")
    bm25_avg_len: float = Field(120.0, gt=0, description="Expected BM25 document length in tokens.")
    ingest_batch_chunks: int = Field(256, ge=1, description="Chunks embedded and upserted together.")

    payload_indexes: str = Field(
        "",
        description="Extra payload indexes for new collections, comma-separated FIELD:TYPE "
        "(TYPE one of keyword, integer, float, datetime, bool), e.g. 'metadata.year:integer'.",
    )
    mode: Literal["dense", "sparse", "hybrid"] = Field("hybrid", description="Default retrieval mode.")
    prefetch_limit: int = Field(100, ge=1, le=1000, description="Candidates each prefetch hands to fusion.")

    api_keys: SecretStr | None = Field(
        None, description="Comma-separated API keys; when set, every /v1 route needs 'Authorization: Bearer KEY'."
    )
    max_upload_bytes: int = Field(50 * 1024 * 1024, ge=1, description="Largest accepted upload (HTTP 413 above).")
    max_query_chars: int = Field(2000, ge=1, description="Longest accepted query.")

    def payload_index_list(self) -> list[tuple[str, str]]:
        out = []
        for item in filter(None, (x.strip() for x in self.payload_indexes.split(","))):
            field, _, kind = item.partition(":")
            if kind not in ("keyword", "integer", "float", "datetime", "bool"):
                raise ValueError(f"RAGLINE_PAYLOAD_INDEXES: {item!r} needs FIELD:TYPE with a known TYPE")
            out.append((field, kind))
        return out

    def api_key_list(self) -> list[str]:
        raw = self.api_keys.get_secret_value() if self.api_keys else ""
        return [k.strip() for k in raw.split(",") if k.strip()]

    @field_validator("qdrant_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    def with_overrides(self, **overrides: object) -> Settings:
        """A copy with the given non-None fields replaced and validated (CLI flags win over env)."""
        data = self.model_dump()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return Settings.model_validate(data)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read from the environment once per process."""
    return Settings()
