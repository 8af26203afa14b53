"""The /v1 routes: thin translations between HTTP bodies and the core."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.sse import EventSourceResponse, format_sse_event
from starlette.concurrency import run_in_threadpool

from rag.api.schemas import (
    AnswerRequest,
    AnswerResponse,
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
    UsageResponse,
)
from rag.filters import parse_filter
from rag.flow import Event, SearchReply
from rag.retrieval import SearchOptions, SearchOutput
from rag.service import Service

router = APIRouter()
_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 404, 409, 413, 503)}


def _service(request: Request) -> Service:
    return request.app.state.service


def _batch_response(out: SearchOutput, total_ms: float) -> SearchResponse:
    return SearchResponse(
        results=[asdict(r) for r in out.results],
        rerank=RerankInfo(status="disabled", reason="batch searches are not reranked"),
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
    _check_query(request, body.query)
    opts = SearchOptions(body.top_k, body.mode, parse_filter(body.filter), body.group_by_doc, body.fusion, body.weights)
    svc = _service(request)
    reply: SearchReply = svc.flow.search(svc.retriever(body.collection), body.query, opts, body.rerank)
    request.app.state.metrics.observe_stages(reply.timings_ms)
    return SearchResponse(
        results=[asdict(r) for r in reply.results],
        rerank=RerankInfo(**reply.rerank),
        timings_ms=reply.timings_ms,
        usage=Usage(**reply.usage.as_dict()),
    )


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
    return BatchSearchResponse(responses=[_batch_response(o, total) for o in outs])


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


def _sse(events: Iterator[Event]) -> Iterator[str]:
    for event in events:
        yield format_sse_event(data_str=json.dumps(event.data), event=event.name)


@router.post(
    "/answer",
    response_model=AnswerResponse,
    responses={**_ERRORS, 200: {"content": {"text/event-stream": {}}}},
    tags=["answer"],
)
def answer(body: AnswerRequest, request: Request):
    """Retrieve, rerank, and answer with numbered citations; `stream: true` sends Server-Sent Events."""
    _check_query(request, body.query)
    svc = _service(request)
    top_k = body.top_k or svc.settings.answer_passages
    opts = SearchOptions(top_k=top_k, mode=svc.settings.mode, conditions=parse_filter(body.filter))
    events = svc.flow.answer(svc.retriever(body.collection), body.query, opts)
    first = next(events)  # retrieval errors (404, 400, 503) surface here, before any byte is sent
    if body.stream:

        def all_events() -> Iterator[Event]:
            yield first
            yield from events

        # No caching or proxy buffering of the stream (what FastAPI sets on its own SSE endpoints).
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return EventSourceResponse(_sse(all_events()), headers=headers)
    done = next(e for e in events if e.name == "done").data
    return AnswerResponse(**done, results=first.data["results"])


@router.get("/usage", response_model=UsageResponse, responses=_ERRORS, tags=["answer"])
def usage(request: Request) -> UsageResponse:
    """LLM tokens and estimated cost since the process started."""
    return UsageResponse(**_service(request).meter.summary())
