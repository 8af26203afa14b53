"""The /v1 routes: thin translations between HTTP bodies and the core."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.sse import EventSourceResponse, format_sse_event
from starlette.concurrency import run_in_threadpool
from starlette.convertors import PathConvertor, register_url_convertor

from rag.access import Principal, parse_acl
from rag.config import COLLECTION_NAME_PATTERN
from rag.edges.api.deps import State
from rag.edges.api.permissions import allowed, caller, with_scope
from rag.edges.api.schemas import (
    ERROR_RESPONSES,
    AnswerRequest,
    AnswerResponse,
    BatchSearchRequest,
    BatchSearchResponse,
    CollectionsResponse,
    IngestResponse,
    RecordsRequest,
    RerankInfo,
    SearchRequest,
    SearchResponse,
    Usage,
    UsageResponse,
)
from rag.errors import UsageError
from rag.filters import parse_filter
from rag.llm.usage import Usage as LLMUsage
from rag.query_pipeline import Event, SearchReply
from rag.retrieval import SearchOptions
from rag.service import Service


class _AnyText(PathConvertor):
    """Like ``path``, but a doc id with a line break in it matches too (``.*`` stops at one)."""

    regex = r"[\s\S]*"


register_url_convertor("anytext", _AnyText())
router = APIRouter()

_NAME = {"pattern": COLLECTION_NAME_PATTERN}  # stated here, checked (400) before any path is built


def _response(reply: SearchReply) -> SearchResponse:
    return SearchResponse(
        results=reply.results,
        rerank=RerankInfo(**reply.rerank),
        timings_ms=reply.timings_ms,
        usage=Usage(**reply.usage.as_dict()),
    )


def _options(state: Service, body: SearchRequest | BatchSearchRequest, who: Principal) -> SearchOptions:
    """The request's retrieval options (the caller's ACL identities among them); what it leaves out comes from
    the settings."""
    return state.pipeline.options(
        top_k=body.top_k,
        mode=body.mode,
        conditions=parse_filter(body.filter),
        group_by_doc=body.group_by_doc,
        fusion=body.fusion,
        weights=body.weights if isinstance(body, SearchRequest) else None,
        visible_to=who.identities,
    )


def _invalid(loc: list[str | int], msg: str) -> HTTPException:
    """A 422 shaped like FastAPI's own (``detail`` is a list of errors, as the OpenAPI schema says)."""
    return HTTPException(422, [{"loc": ["body", *loc], "msg": msg, "type": "value_error"}])


def _check_query(request: Request, query: str, loc: list[str | int]) -> None:
    limit = request.app.state.settings.max_query_chars
    if len(query) > limit:
        raise _invalid(loc, f"longer than {limit} characters")


@router.post("/search", response_model=SearchResponse, responses=ERROR_RESPONSES, tags=["search"])
async def search(body: SearchRequest, request: Request, state: State) -> SearchResponse:
    """Hybrid (or dense/sparse) retrieval with metadata filters, reranked by the LLM when configured."""
    # async, with only the search in a worker thread: a sync route would cost three thread hops (its dependency,
    # itself, and FastAPI's validation of its response), ~0.3 ms of a ~5 ms search.
    who = allowed(request, "read", body.collection)
    _check_query(request, body.query, ["query"])
    opts = _options(state, body, who)
    reply = await run_in_threadpool(state.pipeline.search, body.query, opts, body.collection, body.rerank)
    request.app.state.metrics.observe_stages(reply.timings_ms)
    return _response(reply)


@router.post("/search/batch", response_model=BatchSearchResponse, responses=ERROR_RESPONSES, tags=["search"])
def search_batch(body: BatchSearchRequest, request: Request, state: State) -> BatchSearchResponse:
    """Many queries in one call: embedded in one batch, reranked concurrently (RAGLINE_LLM_MAX_CONCURRENCY)."""
    who = allowed(request, "read", body.collection)
    for n, q in enumerate(body.queries):
        if not q.strip():
            raise _invalid(["queries", n], "must not be blank")
        _check_query(request, q, ["queries", n])
    replies = state.pipeline.search_many(
        body.queries, _options(state, body, who), body.collection, body.rerank, concurrent=True
    )
    total = LLMUsage()
    for reply in replies:
        total.merge(reply.usage)
    return BatchSearchResponse(responses=[_response(r) for r in replies], usage=Usage(**total.as_dict()))


@router.post("/documents", response_model=IngestResponse, responses=ERROR_RESPONSES, tags=["documents"])
async def upload_documents(
    request: Request,
    state: State,
    files: Annotated[list[UploadFile], File(description="Files to ingest; the name becomes the doc id.")],
    collection: Annotated[str | None, Form(description="Target collection.", json_schema_extra=_NAME)] = None,
    acl: Annotated[
        str | None, Form(description="Who may see these files: group or key names, comma-separated (none: everyone).")
    ] = None,
) -> IngestResponse:
    """Upload files through the same ingest pipeline as the `ingest` command (RAGLINE_MAX_UPLOAD_BYTES in all)."""
    collection = collection or None  # an empty form field: not given
    who = allowed(request, "write", collection)
    try:
        labels = parse_acl(acl) if acl else ()
    except ValueError as exc:
        raise UsageError(f"acl: {exc}") from None
    contents = [(f.filename or "", await f.read()) for f in files]
    report = await run_in_threadpool(state.ingest_uploads, contents, collection, labels, who.identities)
    return IngestResponse(**report.as_dict())


@router.post("/documents/records", response_model=IngestResponse, responses=ERROR_RESPONSES, tags=["documents"])
def upload_records(body: RecordsRequest, request: Request, state: State) -> IngestResponse:
    """Ingest JSON records (`_id`/`id`, `title`, `text`, `acl`, metadata)."""
    who = allowed(request, "write", body.collection)
    report = state.ingest_records(body.records, body.collection, who.identities)
    return IngestResponse(**report.as_dict())


@router.delete("/documents/{doc_id:anytext}", status_code=204, responses=ERROR_RESPONSES, tags=["documents"])
def delete_document(
    doc_id: str,
    request: Request,
    state: State,
    collection: Annotated[str | None, Query(description="Collection.", json_schema_extra=_NAME)] = None,
) -> None:
    """Delete every chunk of one document (404 when the key may not see it)."""
    who = allowed(request, "write", collection)
    state.delete_document(doc_id, collection, who.identities)


@router.get("/collections", response_model=CollectionsResponse, responses=ERROR_RESPONSES, tags=["collections"])
def collections(request: Request, state: State) -> CollectionsResponse:
    """Collections with their point counts and embedding model: all of them for an admin key, else those the
    key may use."""
    who = caller(request)
    listed = [c for c in state.collections() if who.can("admin") or who.may_use(c["name"])]
    return CollectionsResponse(collections=listed)


def _sse(events: Iterator[Event]) -> Iterator[str]:
    for event in events:
        yield format_sse_event(data_str=json.dumps(event.data), event=event.name)


@router.post(
    "/answer",
    response_model=AnswerResponse,
    responses={**ERROR_RESPONSES, 200: {"content": {"text/event-stream": {}}}},
    tags=["answer"],
)
def answer(body: AnswerRequest, request: Request, state: State):
    """Retrieve, rerank, and answer with numbered citations; `stream: true` sends Server-Sent Events."""
    who = allowed(request, "read", body.collection)
    _check_query(request, body.query, ["query"])
    opts = state.pipeline.answer_options(body.top_k, parse_filter(body.filter), who.identities)
    events = state.pipeline.answer(body.query, opts, body.collection)
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


@router.get("/usage", response_model=UsageResponse, responses=ERROR_RESPONSES, tags=["answer"])
def usage(request: Request, state: State) -> UsageResponse:
    """LLM tokens and estimated cost since the process started (an admin key's view: every caller's calls)."""
    with_scope(request, "admin")
    return UsageResponse(**state.meter.summary())
