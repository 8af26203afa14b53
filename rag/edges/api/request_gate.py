"""What a request must pass before its body is read: the API key (and its rate), then the body size limit.

Both are pure ASGI middleware, so an unauthenticated or oversized request is refused without its body being
read or spooled (a route's body is parsed before its dependencies run, which is too late for either)."""

from __future__ import annotations

import hmac
import logging
import math

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rag.access import Principal, unrestricted
from rag.edges.api.rate_limit import PerKeyRate
from rag.key_file import KeyRing

PROTECTED_PREFIXES = ("/v1/", "/mcp")
# A request refused before its body is read: the connection closes after the answer, as nginx does, rather than
# the server reading and discarding a body it already refused (400 MiB at wire speed).
CLOSE = {"Connection": "close"}
log = logging.getLogger("ragline.auth")


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token if scheme.lower() == "bearer" else None
    return None


class Authenticator:
    """Who is calling, before anything else: every ``/v1/`` route and ``/mcp`` needs ``Authorization: Bearer
    KEY`` once keys are configured (401 otherwise), and a key-file key keeps to its requests a minute (429 with
    Retry-After).
    The caller (a ``Principal``) is left in ``scope["state"]["principal"]`` for the routes' scope checks."""

    def __init__(self, app: ASGIApp, plain_keys: list[str], ring: KeyRing | None, default_rpm: int) -> None:
        self.app = app
        self.plain = [k.encode() for k in plain_keys]
        self.ring = ring
        self.default_rpm = default_rpm
        self.rate = PerKeyRate()
        self.open = not plain_keys and ring is None

    def identify(self, token: str | None) -> Principal | None:
        if self.open:
            return unrestricted("anonymous")
        if token is None:
            return None
        given = token.encode("latin-1", "replace")
        matched = None
        for n, key in enumerate(self.plain):  # every key compared, so timing does not tell which matched
            if hmac.compare_digest(given, key):
                matched = n
        if matched is not None:
            return unrestricted(f"RAGLINE_API_KEYS#{matched + 1}")
        return self.ring.principal(token) if self.ring else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PROTECTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        principal = self.identify(_bearer_token(scope))
        if principal is None:
            log.warning("refused %s %s: missing or unknown API key", scope["method"], scope["path"])
            headers = {"WWW-Authenticate": "Bearer", **CLOSE}
            await JSONResponse({"detail": "missing or invalid API key"}, 401, headers)(scope, receive, send)
            return
        if not principal.sees_everything:
            wait = self.rate.admit(principal.name, self.default_rpm if principal.rpm is None else principal.rpm)
            if wait is not None:
                log.warning("refused %s %s for key %r: rate limit", scope["method"], scope["path"], principal.name)
                detail = f"key {principal.name!r} is over its requests a minute; retry in {wait:.0f} s"
                headers = {"Retry-After": str(max(1, math.ceil(wait))), **CLOSE}
                await JSONResponse({"detail": detail}, 429, headers)(scope, receive, send)
                return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


class BodyLimits:
    """413 for a body over its limit, from ``Content-Length`` before anything is read, or while it streams in:
    multipart uploads get ``upload_bytes`` for all their files together, every other body ``json_bytes``."""

    def __init__(self, app: ASGIApp, upload_bytes: int, json_bytes: int) -> None:
        self.app = app
        self.upload_bytes = upload_bytes
        self.json_bytes = json_bytes

    def _message(self) -> str:
        return (
            f"request body too large: uploads take at most {self.upload_bytes} bytes in all "
            f"(RAGLINE_MAX_UPLOAD_BYTES), other bodies {self.json_bytes} (RAGLINE_MAX_JSON_BYTES)"
        )

    def _too_large(self) -> JSONResponse:
        return JSONResponse({"detail": self._message()}, status_code=413, headers=CLOSE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        upload = headers.get("content-type", "").lower().startswith("multipart/")
        limit = self.upload_bytes if upload else self.json_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await self._too_large()(scope, receive, send)
            return
        seen = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # An HTTPException: FastAPI's body parsing re-raises it as it is (any other error would
                    # become its generic 400).
                    raise HTTPException(413, self._message())
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await self._too_large()(scope, receive, send)
