"""The key and the body limit are checked before a body is read: driven at the ASGI level, counting what the
app pulls from the client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from rag.config import Settings
from rag.edges.api.app import create_app

KEY = "gate-key"
LIMIT = 64_000


class Client:
    """One request to an ASGI app: ``chunks`` are sent on demand and counted."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.pulled = 0
        self.status: int | None = None
        self.body = b""

    async def receive(self) -> dict:
        if self.pulled < len(self.chunks):
            self.pulled += 1
            return {"type": "http.request", "body": self.chunks[self.pulled - 1], "more_body": True}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")


def call(app, path: str, chunks: list[bytes], headers: dict[str, str]) -> Client:
    client = Client(chunks)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, client.receive, client.send))
    return client


@pytest.fixture
def app(tmp_path: Path):
    return create_app(Settings(data_dir=tmp_path / "data", api_keys=KEY, max_upload_bytes=LIMIT, max_json_bytes=LIMIT))


MULTIPART = {"content-type": "multipart/form-data; boundary=xyz"}


def test_no_key_is_401_before_the_body_is_read(app) -> None:
    huge = {**MULTIPART, "content-length": str(200 * 1024 * 1024)}
    client = call(app, "/v1/documents", [b"x" * 65536] * 4, huge)
    assert client.status == 401 and client.pulled == 0
    # A malformed body without a key is a 401 too, not a 422 that tells what the route expects.
    bad = call(app, "/v1/search", [b"{not json"], {"content-type": "application/json", "authorization": "Bearer no"})
    assert bad.status == 401 and json.loads(bad.body)["detail"] == "missing or invalid API key"


def test_declared_length_over_the_limit_is_413_unread(app) -> None:
    headers = {**MULTIPART, "content-length": str(LIMIT + 1), "authorization": f"Bearer {KEY}"}
    client = call(app, "/v1/documents", [b"x" * 65536] * 4, headers)
    assert client.status == 413 and client.pulled == 0
    assert "RAGLINE_MAX_UPLOAD_BYTES" in json.loads(client.body)["detail"]


@pytest.mark.parametrize(("path", "headers"), [("/v1/documents", MULTIPART), ("/v1/search", {})])
def test_streamed_body_is_cut_at_the_limit(app, path: str, headers: dict[str, str]) -> None:
    # No Content-Length (chunked): counted while it streams in, stopped once past the limit.
    headers = {"content-type": "application/json", **headers, "authorization": f"Bearer {KEY}"}
    head = b'--xyz\r\nContent-Disposition: form-data; name="files"; filename="a.txt"\r\n\r\n'
    client = call(app, path, [head] + [b"x" * 10_000] * 100, headers)
    assert client.status == 413 and "RAGLINE_MAX_JSON_BYTES" in json.loads(client.body)["detail"]
    assert client.pulled == LIMIT // 10_000 + 2  # nothing read past the chunk that crossed the limit


@pytest.mark.parametrize("key", [None, "Bearer right"])
def test_a_request_refused_before_its_body_is_read_closes_the_connection(tmp_path: Path, key: str | None) -> None:
    """A 413 from Content-Length (or a 401) was answered at once, but the server then read and discarded the whole
    declared body on the open connection: now the connection closes after the answer."""
    import socket

    from rag.config import Settings
    from rag.edges.api.app import create_app
    from tests.live_server import live_server

    settings = Settings(data_dir=tmp_path / "data", llm="none", api_keys="right", max_json_bytes=1024)
    with live_server(create_app(settings)) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            auth = f"Authorization: {key}\r\n" if key else ""
            head = (
                f"POST /v1/search HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
                "Content-Length: 400000000\r\n\r\n"
            )
            sock.sendall(head.encode() + b"{" * 1000)
            reply = b""
            while chunk := sock.recv(65536):  # b"" once the server has closed its end
                reply += chunk
    status = reply.split(b"\r\n", 1)[0]
    assert status.endswith(b"413 Request Entity Too Large" if key else b"401 Unauthorized"), reply[:200]
    assert b"connection: close" in reply.lower()


@pytest.mark.parametrize("keys", ["", "right"])
def test_readyz_says_whether_v1_needs_a_key(tmp_path: Path, keys: str) -> None:
    """The search page asked for collections before a key was typed (a 401 in the console); it now reads this
    first and asks for a key."""
    from fastapi.testclient import TestClient

    settings = Settings(data_dir=tmp_path / "data", llm="none", api_keys=keys)
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").json()["key_required"] is bool(keys)
