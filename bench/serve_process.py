"""`rag serve` as a subprocess on a free 127.0.0.1 port, for benchmarks that measure it over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx


def start_serve(env: dict[str, str], ready_within_s: float = 180) -> tuple[subprocess.Popen, str]:
    """Start `rag serve` with ``env`` added to this process's environment; returns it and its base URL once
    /readyz answers 200."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "rag.edges.cli", "serve", "--port", str(port)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.25)
    server.kill()
    raise SystemExit(f"rag serve did not become ready in {ready_within_s:.0f} s")
