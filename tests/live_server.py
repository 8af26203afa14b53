"""A real uvicorn server on a free 127.0.0.1 port, in a thread, for tests that drive the app over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from starlette.types import ASGIApp

from rag.config import Settings
from rag.edges.api.app import create_app
from rag.embedding import Embedder
from rag.service import Service
from testkit.gemini import gemini_server
from testkit.judges import judge, keyword_grade
from testkit.server import FakeServer


@contextmanager
def live_server(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL (``http://127.0.0.1:PORT``)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


@contextmanager
def served_with_gemini(
    data_dir: Path, embedder: Embedder, records: list[dict], **settings: object
) -> Iterator[tuple[str, FakeServer]]:
    """The real app on a live server over ``records``, with a fake Gemini (judging by keywords) behind it;
    yields (base URL, the fake)."""
    with gemini_server() as llm:
        llm.fake.responder = judge(keyword_grade)
        s = Settings(data_dir=data_dir, gemini_api_key="k", gemini_base_url=llm.url, **settings)
        state = Service(s, embedder)
        try:
            state.ingest_records(records, None)
            with live_server(create_app(s, state)) as base:
                yield base, llm
        finally:
            state.close()
