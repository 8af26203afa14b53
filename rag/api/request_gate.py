"""What a request must pass before its body is read: the API key, then the body size limit.

Both are pure ASGI middleware, so an unauthenticated or oversized request is refused without its body being
read or spooled (a route's body is parsed before its dependencies run, which is too late for either)."""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PROTECTED_PREFIX = "/v1/"


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers") or []:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token if scheme.lower() == "bearer" else None
    return None


class KeyGate:
    """Every ``/v1/`` route needs ``Authorization: Bearer KEY`` when keys are configured; 401 otherwise."""

    def __init__(self, app: ASGIApp, keys: list[str]) -> None:
        self.app = app
        self.keys = [k.encode() for k in keys]

    def allows(self, token: str | None) -> bool:
        given = (token or "").encode("latin-1", "replace")
        ok = False
        for key in self.keys:  # compare against every key, so timing does not tell which one matched
            ok |= hmac.compare_digest(given, key)
        return ok

    def refuses(self, scope: Scope) -> bool:
        protected = scope["type"] == "http" and scope["path"].startswith(PROTECTED_PREFIX)
        return bool(self.keys) and protected and not self.allows(_bearer_token(scope))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.refuses(scope):
            response = JSONResponse(
                {"detail": "missing or invalid API key"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
            await response(scope, receive, send)
            return
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
        return JSONResponse({"detail": self._message()}, status_code=413)

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
