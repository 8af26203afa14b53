"""Request and response bodies of the HTTP API; every field is described in the OpenAPI schema."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from rag.retrieval import MAX_TOP_K


class SearchRequest(BaseModel):
    query: str = Field(description="The search text.", min_length=1)
    top_k: int = Field(10, ge=1, le=MAX_TOP_K, description="How many results to return.")
    mode: Literal["dense", "sparse", "hybrid"] = Field("hybrid", description="Retrieval mode.")
    filter: dict[str, Any] | None = Field(
        None,
        description="Metadata filter: {field: value} exact, {field: [a, b]} or {field: {any: [...]}} any-of, "
        "{field: {gte, gt, lte, lt}} numeric or ISO-date range. All conditions must hold.",
    )
    rerank: bool = Field(False, description="Rerank candidates with the configured LLM.")
    group_by_doc: bool = Field(True, description="Return only the best chunk of each document.")
    fusion: Literal["rrf", "dbsf"] = Field("rrf", description="How hybrid mode fuses dense and sparse results.")
    weights: tuple[float, float] | None = Field(
        None, description="RRF weights of the (dense, sparse) prefetches; equal when omitted."
    )
    collection: str | None = Field(None, description="Collection to search; the server's default if omitted.")

    @field_validator("query")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("query must not be blank")
        return v


class BatchSearchRequest(BaseModel):
    queries: list[str] = Field(description="Search texts, embedded in one batch.", min_length=1, max_length=256)
    top_k: int = Field(10, ge=1, le=MAX_TOP_K, description="Results per query.")
    mode: Literal["dense", "sparse", "hybrid"] = Field("hybrid", description="Retrieval mode.")
    filter: dict[str, Any] | None = Field(None, description="Metadata filter applied to every query.")
    group_by_doc: bool = Field(True, description="Return only the best chunk of each document.")
    fusion: Literal["rrf", "dbsf"] = Field("rrf", description="Fusion of dense and sparse results.")
    collection: str | None = Field(None, description="Collection to search.")


class Result(BaseModel):
    doc_id: str = Field(description="Document id (file path relative to its folder, or the record's id).")
    chunk_id: str = Field(description="Id of the chunk's point in Qdrant.")
    text: str = Field(description="The chunk's text.")
    score: float = Field(description="Fused (or single-mode) score; higher is better.")
    source: str = Field(description="File the document came from.")
    title: str = Field(description="Document title.")
    chunk_index: int = Field(description="Position of the chunk in its document.")
    metadata: dict[str, Any] = Field(description="Record fields, page, heading path.")


class RerankInfo(BaseModel):
    status: Literal["disabled", "skipped", "ok", "fallback"] = Field(description="What reranking did.")
    backend: str | None = Field(None, description="LLM backend used, if any.")
    reason: str | None = Field(None, description="Why reranking was skipped or fell back.")


class Usage(BaseModel):
    input_tokens: int = Field(0, description="LLM input tokens.")
    output_tokens: int = Field(0, description="LLM output tokens.")
    cost_usd: float = Field(0.0, description="Estimated LLM cost.")
    calls: int = Field(0, description="LLM calls made.")


class SearchResponse(BaseModel):
    results: list[Result] = Field(description="Results, best first.")
    rerank: RerankInfo = Field(description="Reranking outcome.")
    timings_ms: dict[str, float] = Field(description="Milliseconds per stage: embed, retrieve, rerank, total.")
    usage: Usage = Field(description="LLM usage of this request.")


class BatchSearchResponse(BaseModel):
    responses: list[SearchResponse] = Field(description="One response per query, in order.")


class IngestResponse(BaseModel):
    added: int = Field(description="Documents added.")
    updated: int = Field(description="Documents replaced.")
    unchanged: int = Field(description="Documents already stored as they are.")
    deleted: int = Field(description="Documents deleted.")
    failed: list[dict[str, str]] = Field(description="Files or records that could not be stored, with reasons.")
    chunks: int = Field(description="Chunks written.")
    seconds: float = Field(description="Time taken.")


class RecordsRequest(BaseModel):
    records: list[dict[str, Any]] = Field(
        description="Records with '_id' or 'id', 'text', optional 'title' and any metadata fields.", min_length=1
    )
    collection: str | None = Field(None, description="Target collection.")


class CollectionInfo(BaseModel):
    name: str = Field(description="Collection name.")
    points: int = Field(description="Chunks stored.")
    embed_model: str | None = Field(description="Embedding model the collection was built with.")
    dimension: int | None = Field(description="Dense vector size.")


class CollectionsResponse(BaseModel):
    collections: list[CollectionInfo] = Field(description="Every collection in the store.")


class ErrorResponse(BaseModel):
    detail: str = Field(description="What was wrong.")
