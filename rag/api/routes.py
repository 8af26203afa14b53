"""The /v1 routes: thin translations between HTTP bodies and the core."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from rag.api.schemas import (
    BatchSearchRequest,
    BatchSearchResponse,
    CollectionsResponse,
    ErrorResponse,
    IngestResponse,
    RecordsRequest,
    RerankInfo,
    SearchRequest,
    SearchResponse,
    Usage,
)
from rag.filters import parse_filter
from rag.retrieval import SearchOptions, SearchOutput
from rag.service import Service

router = APIRouter()
_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 404, 409, 413, 503)}


def _service(request: Request) -> Service:
    return request.app.state.service


def _response(out: SearchOutput, total_ms: float) -> SearchResponse:
    return SearchResponse(
        results=[asdict(r) for r in out.results],
        rerank=RerankInfo(status="disabled"),
        timings_ms={**out.timings_ms, "rerank": 0.0, "total": round(total_ms, 3)},
        usage=Usage(),
    )


def _check_query(request: Request, query: str) -> None:
    limit = request.app.state.settings.max_query_chars
    if len(query) > limit:
        raise HTTPException(422, f"query: longer than {limit} characters")


@router.post("/search", response_model=SearchResponse, responses=_ERRORS, tags=["search"])
def search(body: SearchRequest, request: Request) -> SearchResponse:
    """Hybrid (or dense/sparse) retrieval with metadata filters."""
    started = time.perf_counter()
    _check_query(request, body.query)
    opts = SearchOptions(body.top_k, body.mode, parse_filter(body.filter), body.group_by_doc, body.fusion, body.weights)
    out = _service(request).retriever(body.collection).search(body.query, opts)
    resp = _response(out, (time.perf_counter() - started) * 1000)
    request.app.state.metrics.observe_stages(resp.timings_ms)
    return resp


@router.post("/search/batch", response_model=BatchSearchResponse, responses=_ERRORS, tags=["search"])
def search_batch(body: BatchSearchRequest, request: Request) -> BatchSearchResponse:
    """Many queries in one call; their embeddings are computed in one batch."""
    started = time.perf_counter()
    for n, q in enumerate(body.queries):
        if not q.strip():
            raise HTTPException(422, f"queries[{n}]: must not be blank")
        _check_query(request, q)
    opts = SearchOptions(body.top_k, body.mode, parse_filter(body.filter), body.group_by_doc, body.fusion)
    outs = _service(request).retriever(body.collection).search_batch(body.queries, opts)
    total = (time.perf_counter() - started) * 1000
    return BatchSearchResponse(responses=[_response(o, total) for o in outs])


@router.post("/documents", response_model=IngestResponse, responses=_ERRORS, tags=["documents"])
async def upload_documents(
    request: Request,
    files: Annotated[list[UploadFile], File(description="Files to ingest; the name becomes the doc id.")],
    collection: Annotated[str | None, Form(description="Target collection.")] = None,
) -> IngestResponse:
    """Upload files through the same ingest pipeline as the `ingest` command."""
    limit = request.app.state.settings.max_upload_bytes
    contents = []
    for f in files:
        data = await f.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(413, f"files: {f.filename} is larger than the {limit}-byte upload limit")
        contents.append((f.filename or "", data))
    report = await run_in_threadpool(_service(request).ingest_uploads, contents, collection)
    return IngestResponse(**report.as_dict())


@router.post("/documents/records", response_model=IngestResponse, responses=_ERRORS, tags=["documents"])
def upload_records(body: RecordsRequest, request: Request) -> IngestResponse:
    """Ingest JSON records (`_id`/`id`, `title`, `text`, metadata)."""
    report = _service(request).ingest_records(body.records, body.collection)
    return IngestResponse(**report.as_dict())


@router.delete("/documents/{doc_id:path}", status_code=204, responses=_ERRORS, tags=["documents"])
def delete_document(doc_id: str, request: Request, collection: str | None = None) -> None:
    """Delete every chunk of one document."""
    _service(request).delete_document(doc_id, collection)


@router.get("/collections", response_model=CollectionsResponse, responses=_ERRORS, tags=["collections"])
def collections(request: Request) -> CollectionsResponse:
    """Collections with their point counts and embedding model."""
    return CollectionsResponse(collections=_service(request).collections())
