"""Request and response bodies of the HTTP API; every field is described in the OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, WithJsonSchema

from rag.config import COLLECTION_NAME_PATTERN, MAX_ANSWER_PASSAGES
from rag.filters import DATE_PATTERN
from rag.retrieval import MAX_TOP_K


def _not_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("must not be blank")
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate such as "\ud800", which JSON allows and no tokenizer takes
        raise ValueError("must be valid Unicode text") from None
    return v


QueryText = Annotated[str, AfterValidator(_not_blank)]

# The filter grammar, stated in the OpenAPI schema; rag/filters.py checks it and names what is wrong (400).
_INT64 = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
_MATCH = {"oneOf": [{"type": "string"}, _INT64, {"type": "boolean"}]}
_BOUND = {"oneOf": [{"type": "number"}, {"type": "string", "pattern": DATE_PATTERN}]}
_FILTER_SCHEMA = {
    "type": "object",
    "description": "Metadata filter: {field: value} or {field: {eq: value}} exact, {field: [a, b]} or "
    "{field: {any: [...]}} any-of, {field: {gte, gt, lte, lt}} numeric or ISO-8601 date range. All conditions "
    "must hold. A field is a chunk field (doc_id, source, title, ...) or a metadata key (dotted for nested). "
    "Bad filters are 400s.",
    "propertyNames": {"minLength": 1},
    "additionalProperties": {
        "oneOf": [
            _MATCH,
            {"type": "array", "items": _MATCH},
            {"type": "object", "properties": {"eq": _MATCH}, "required": ["eq"], "additionalProperties": False},
            {
                "type": "object",
                "properties": {"any": {"type": "array", "items": _MATCH}},
                "required": ["any"],
                "additionalProperties": False,
            },
            {
                "type": "object",
                "properties": {op: _BOUND for op in ("gte", "gt", "lte", "lt")},
                "minProperties": 1,
                "additionalProperties": False,
            },
        ]
    },
}
Filter = Annotated[dict[str, Any] | None, WithJsonSchema({"anyOf": [_FILTER_SCHEMA, {"type": "null"}]})]
CollectionName = Annotated[
    str | None,
    WithJsonSchema({"anyOf": [{"type": "string", "pattern": COLLECTION_NAME_PATTERN}, {"type": "null"}]}),
]


class SearchRequest(BaseModel):
    query: QueryText = Field(description="The search text.", min_length=1)
    top_k: int | None = Field(
        None, ge=1, le=MAX_TOP_K, description="How many results to return; RAGLINE_TOP_K if omitted."
    )
    mode: Literal["dense", "sparse", "hybrid"] | None = Field(
        None, description="Retrieval mode; RAGLINE_MODE if omitted."
    )
    filter: Filter = Field(None, description="Metadata filter (see the schema); all conditions must hold.")
    rerank: StrictBool | None = Field(
        None, description="Rerank candidates with the configured LLM; the server's default (RAGLINE_RERANK) if omitted."
    )
    group_by_doc: StrictBool = Field(True, description="Return only the best chunk of each document.")
    fusion: Literal["rrf", "dbsf"] | None = Field(
        None, description="How hybrid mode fuses dense and sparse results; the server's default if omitted."
    )
    weights: tuple[float, float] | None = Field(
        None, description="RRF weights of the (dense, sparse) prefetches (implies RRF); equal when omitted."
    )
    collection: CollectionName = Field(
        None, description="Collection to search (letters, digits, '_', '-'; 1-64); the server's default if omitted."
    )


class BatchSearchRequest(BaseModel):
    queries: list[QueryText] = Field(description="Search texts, embedded in one batch.", min_length=1, max_length=256)
    top_k: int | None = Field(None, ge=1, le=MAX_TOP_K, description="Results per query; RAGLINE_TOP_K if omitted.")
    mode: Literal["dense", "sparse", "hybrid"] | None = Field(
        None, description="Retrieval mode; RAGLINE_MODE if omitted."
    )
    filter: Filter = Field(None, description="Metadata filter applied to every query.")
    group_by_doc: StrictBool = Field(True, description="Return only the best chunk of each document.")
    fusion: Literal["rrf", "dbsf"] | None = Field(
        None, description="Fusion of dense and sparse results; the server's default if omitted."
    )
    rerank: StrictBool | None = Field(
        None, description="Rerank each query's candidates with the LLM; the server's default (RAGLINE_RERANK)."
    )
    collection: CollectionName = Field(None, description="Collection to search; the server's default if omitted.")


class Result(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read straight from the core's SearchResult, no dict copy

    doc_id: str = Field(description="Document id (file path relative to its folder, or the record's id).")
    chunk_id: str = Field(description="Id of the chunk's point in Qdrant.")
    text: str = Field(description="The chunk's text.")
    score: float = Field(description="Fused (or single-mode) score; higher is better.")
    source: str = Field(description="File the document came from.")
    title: str = Field(description="Document title.")
    chunk_index: int = Field(description="Position of the chunk in its document.")
    metadata: dict[str, Any] = Field(description="Record fields, page, heading path.")


class RerankInfo(BaseModel):
    status: Literal["disabled", "skipped", "ok", "fallback"] = Field(
        description="disabled: not asked; skipped: no LLM or nothing to rerank; ok: LLM order; "
        "fallback: the LLM failed or was late, results are in retrieval order."
    )
    backend: str | None = Field(None, description="LLM backend used, if any.")
    reason: str | None = Field(None, description="Why reranking was skipped or fell back.")
    cached: bool = Field(False, description="The order came from the rerank cache (no LLM call).")
    trust: float | None = Field(
        None,
        description="How far the LLM's grades counted in the fused order (0: not at all, retrieval order; 1: in "
        "full), from the judge's recent agreement with retrieval. Set when status is ok and not cached.",
    )


class Usage(BaseModel):
    input_tokens: int = Field(0, description="LLM input tokens.")
    output_tokens: int = Field(0, description="LLM output tokens, thinking included (billed as output).")
    thinking_tokens: int = Field(0, description="Of the output tokens, those the model spent thinking.")
    cost_usd: float = Field(0.0, description="Estimated LLM cost.")
    calls: int = Field(0, description="LLM calls made.")


class SearchResponse(BaseModel):
    results: list[Result] = Field(description="Results, best first.")
    rerank: RerankInfo = Field(description="Reranking outcome.")
    timings_ms: dict[str, float] = Field(description="Milliseconds per stage: embed, retrieve, rerank, total.")
    usage: Usage = Field(description="LLM usage of this request.")


class BatchSearchResponse(BaseModel):
    responses: list[SearchResponse] = Field(description="One response per query, in order.")
    usage: Usage = Field(description="LLM usage of all the queries together.")


class FileCoverage(BaseModel):
    path: str = Field(description="The file, by the name it was uploaded under.")
    format: str = Field(description="How it was read: pdf, docx, html, ...")
    documents: int = Field(description="Documents it held (records, for JSON and JSONL).")
    pages: int = Field(description="Pages, slides or image frames (0: not a paged format).")
    ocr_pages: int = Field(description="Pages whose text came from OCR.")
    tables: int = Field(description="Tables kept as Markdown rows.")
    chars: int = Field(description="Characters of text kept.")
    warnings: list[str] = Field(description="What was read only in part, guessed or passed over.")


class IngestResponse(BaseModel):
    added: int = Field(description="Documents added.")
    updated: int = Field(description="Documents replaced.")
    unchanged: int = Field(description="Documents already stored as they are.")
    deleted: int = Field(description="Documents deleted.")
    failed: list[dict[str, str]] = Field(description="Files or records that could not be stored, with reasons.")
    chunks: int = Field(description="Chunks written.")
    seconds: float = Field(description="Time taken.")
    files: list[FileCoverage] = Field(default_factory=list, description="What was read of each file.")


class RecordsRequest(BaseModel):
    records: list[dict[str, Any]] = Field(
        description="Records with '_id' or 'id', 'text', optional 'title' and any metadata fields.", min_length=1
    )
    collection: CollectionName = Field(None, description="Target collection; the server's default if omitted.")


class CollectionInfo(BaseModel):
    name: str = Field(description="Collection name.")
    points: int = Field(description="Chunks stored.")
    embed_model: str | None = Field(description="Embedding model the collection was built with.")
    dimension: int | None = Field(description="Dense vector size.")


class CollectionsResponse(BaseModel):
    collections: list[CollectionInfo] = Field(description="Every collection in the store.")


class AnswerRequest(BaseModel):
    query: QueryText = Field(description="The question.", min_length=1)
    top_k: int | None = Field(
        None,
        ge=1,
        le=MAX_ANSWER_PASSAGES,
        description="Passages the answer is grounded in; RAGLINE_ANSWER_PASSAGES if omitted.",
    )
    filter: Filter = Field(None, description="Metadata filter, as in /v1/search.")
    stream: StrictBool = Field(False, description="Server-Sent Events: passages, token pieces, then done.")
    collection: CollectionName = Field(None, description="Collection to search; the server's default if omitted.")


class Citation(BaseModel):
    n: int = Field(description="The number used in the answer, e.g. [2].")
    doc_id: str = Field(description="Cited document.")
    chunk_id: str = Field(description="Cited chunk.")
    title: str = Field(description="Its title.")
    source: str = Field(description="Its file.")


class ClaimInfo(BaseModel):
    text: str = Field(description="A sentence of the answer, or a clause carrying its own [n] markers.")
    cites: list[int] = Field(description="The passage numbers it cites.")
    support: float | None = Field(
        description="How well the cited passage supports it, 0-1 (the best of several); null: not a claim to check "
        "(cites nothing and states nothing)."
    )
    supported: bool = Field(
        description="support >= RAGLINE_CITATION_MIN_SUPPORT; a claim citing nothing that states something is not. "
        "A similarity check, not entailment."
    )


class AnswerResponse(BaseModel):
    answer: str = Field(description="The answer with [n] citations (empty when generation failed).")
    status: Literal["ok", "truncated", "failed", "blocked"] = Field(
        description="How generation went; blocked: the provider's safety, recitation or blocklist filters stopped it."
    )
    reason: str | None = Field(None, description="Why generation failed or was cut short.")
    citations: list[Citation] = Field(description="Passages cited, in order of first mention.")
    claims: list[ClaimInfo] | None = Field(
        None, description="The answer's claims in order, each checked against what it cites (null: check off)."
    )
    unsupported_claims: int | None = Field(None, description="Claims not supported by what they cite.")
    citation_check: dict[str, str | None] | None = Field(
        None,
        description='How claims were checked: {"method": "local" | "llm", "note"}; note says why local verdicts '
        "stand when the LLM check failed.",
    )
    results: list[Result] = Field(description="The passages the answer was grounded in, numbered from 1.")
    rerank: RerankInfo = Field(description="Reranking outcome.")
    usage: Usage = Field(description="LLM usage of this request (rerank and answer).")
    timings_ms: dict[str, float] = Field(description="Milliseconds per stage.")


class UsageRow(Usage):
    requests: int = Field(description="Searches or answers that called this stage.")
    backend: str = Field(description="LLM backend.")
    model: str = Field(description="Model.")
    stage: str = Field(description="rerank or answer.")


class UsageResponse(BaseModel):
    since: float = Field(description="Unix time the totals start from (process start).")
    total: Usage = Field(description="Totals of every LLM call.")
    by_model: list[UsageRow] = Field(description="Totals per backend, model and stage.")


class ErrorResponse(BaseModel):
    detail: str = Field(description="What was wrong.")


# The error statuses a /v1 route may answer with, in OpenAPI (422 is FastAPI's own).
ERROR_RESPONSES: dict[int | str, dict] = {
    code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 413, 429, 503, 507)
}
