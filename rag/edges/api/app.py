"""The FastAPI application: lifespan loading, auth, request ids, metrics, and error mapping."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import APIRouter, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from mcp.server.transport_security import TransportSecuritySettings
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag import __version__
from rag.access import NO_ONE
from rag.config import Settings
from rag.edges.api.error_status import status_for
from rag.edges.api.openai_compat import router as openai_router
from rag.edges.api.prometheus import Metrics
from rag.edges.api.request_gate import Authenticator, BodyLimits
from rag.edges.api.routes import router
from rag.edges.mcp_tools import build_mcp
from rag.errors import OverloadedError, RaglineError
from rag.key_file import KeyRing
from rag.service import Service

log = logging.getLogger("ragline.api")
SEARCH_PAGE = (files("rag.edges.api") / "search_page.html").read_text(encoding="utf-8")
API_PREFIX = "/v1"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _route_template(scope: Scope) -> str:
    """The matched route's template (``/v1/documents/{doc_id:anytext}``), so metrics labels stay few."""
    route = scope.get("route")
    if route is None:
        return "unmatched"
    # Routes of the included /v1 router report their path without the prefix.
    prefix = API_PREFIX if scope["path"].startswith(API_PREFIX + "/") else ""
    return prefix + getattr(route, "path", "")


class RequestContext:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): request id header, access log, metrics."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        # Only a plain token is echoed and logged: a given id with spaces or line breaks could forge log lines.
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = _route_template(scope)
            self.metrics.requests.labels(route, scope["method"], str(status)).inc()
            self.metrics.latency.labels(route).observe(elapsed)
            log.info(
                "request_id=%s method=%s path=%s status=%s ms=%.1f",
                request_id,
                scope["method"],
                scope["path"],
                status,
                elapsed * 1000,
            )


# Operations and the search page, on the event loop (async): answered even when every worker is busy.
ops = APIRouter()


@ops.get("/", include_in_schema=False)
async def search_page() -> HTMLResponse:
    # Inline script and style only, talking to this server only; the key stays in the browser tab.
    csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'"
    return HTMLResponse(SEARCH_PAGE, headers={"Content-Security-Policy": csp, "X-Frame-Options": "DENY"})


@ops.get("/healthz", tags=["ops"], summary="The process is alive.")
async def healthz() -> dict[str, str]:  # async: answered on the event loop, never behind busy workers
    return {"status": "ok"}


@ops.get("/readyz", tags=["ops"], summary="The model and the store are loaded; the LLM's state.")
async def readyz(request: Request) -> Response:
    svc: Service | None = getattr(request.app.state, "server", None)
    if svc is None or not svc.ready:
        return JSONResponse({"status": "loading"}, status_code=503)
    # Search is ready without the LLM (it falls back to retrieval order); the LLM's state is reported, and whether
    # /v1 needs a key (the search page asks for one before it calls anything that would answer 401).
    settings = request.app.state.settings
    keys = bool(settings.api_key_list() or settings.api_keys_file)
    return JSONResponse({"status": "ready", "llm": svc.llm_state, "key_required": keys})


@ops.get(
    "/metrics",
    tags=["ops"],
    summary="Prometheus metrics (text exposition format).",
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics_endpoint(request: Request) -> Response:
    return PlainTextResponse(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _add_error_handlers(app: FastAPI) -> None:
    """Typed errors to their HTTP status (one table: error_status.py); validation errors ASCII-safe."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's own shape, but ASCII-escaped: the errors echo the input, which may hold a lone surrogate
        # that UTF-8 cannot encode (the default handler then fails with a 500).
        body = json.dumps({"detail": jsonable_encoder(exc.errors())}, ensure_ascii=True)
        return Response(body, status_code=422, media_type="application/json")

    @app.exception_handler(RaglineError)
    async def ragline_error(request: Request, exc: RaglineError) -> JSONResponse:
        headers = {"Retry-After": "1"} if isinstance(exc, OverloadedError) else None
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc), headers=headers)


def create_app(settings: Settings, server: Service | None = None) -> FastAPI:
    """An app over ``server`` (built from ``settings`` and loaded at startup when not given)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = server or Service(settings)
        app.state.server = svc
        svc.meter.listeners.append(app.state.metrics.observe_llm)
        if not svc.ready:
            svc.load()
        log.info(
            "ragline ready: collection=%s store=%s",
            settings.collection,
            "server" if settings.qdrant_url else f"embedded:{settings.data_dir}",
        )
        async with mcp.session_manager.run():  # the /mcp endpoint's sessions
            yield
        svc.meter.listeners.remove(app.state.metrics.observe_llm)
        if server is None:
            svc.close()

    app = FastAPI(
        title="ragline",
        version=__version__,
        description="Hybrid retrieval (dense + BM25 fused in Qdrant), LLM reranking and cited answers.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    # MCP over streamable HTTP at /mcp/, behind the same keys: each tool call acts as the calling key. The
    # SDK's Host-header check is off: access is the API key's to decide (see README, Security).
    mcp = build_mcp(settings, lambda: app.state.server, NO_ONE)
    no_host_check = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app.mount("/mcp", mcp.streamable_http_app(streamable_http_path="/", transport_security=no_host_check))
    app.state.metrics = metrics = Metrics()
    app.include_router(router, prefix=API_PREFIX)
    app.include_router(openai_router, prefix=API_PREFIX)

    # Added last runs first: request id and log, then the key, then the body limit (before any body is read).
    app.add_middleware(BodyLimits, upload_bytes=settings.max_upload_bytes, json_bytes=settings.max_json_bytes)
    ring = KeyRing(settings.api_keys_file) if settings.api_keys_file else None
    app.add_middleware(Authenticator, plain_keys=settings.api_key_list(), ring=ring, default_rpm=settings.key_rpm)
    app.add_middleware(RequestContext, metrics=metrics)

    _add_error_handlers(app)
    app.include_router(ops)
    return app
