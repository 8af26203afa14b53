"""`rag serve` as a real process on 127.0.0.1, queried over HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.test_ingest import run_cli

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_rag_serve_answers_over_http(tmp_path: Path) -> None:
    env = {**os.environ, "RAGLINE_DATA_DIR": str(tmp_path / "data")}
    ingest = run_cli([str(REPO / "examples" / "sample")], env)
    assert ingest.returncode == 0, ingest.stderr
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.edges.cli", "serve", "--port", str(port)],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                ready = False
            if ready:
                break
            time.sleep(0.25)
        assert ready, "rag serve did not become ready"
        r = httpx.post(f"{base}/v1/search", json={"query": "espresso pressure", "top_k": 1}, timeout=30)
        assert r.status_code == 200
        assert r.json()["results"][0]["doc_id"] == "espresso.html"
        assert r.headers["x-request-id"]
        # The embedded store is held by the server: a local ingest says so, `ingest --api` goes through it.
        extra = tmp_path / "extra"
        (extra / "sub").mkdir(parents=True)
        (extra / "sub" / "owls.txt").write_text("Barn owls hunt by sound in complete darkness.")
        busy = run_cli([str(extra)], env)
        assert busy.returncode == 3 and "in use by another process" in busy.stderr and "--api" in busy.stderr
        remote = run_cli([str(extra), "--api", base, "--json"], env)
        assert remote.returncode == 0, remote.stderr
        assert json.loads(remote.stdout)["added"] == 1
        r = httpx.post(f"{base}/v1/search", json={"query": "owls hunting at night", "top_k": 1}, timeout=30)
        assert r.json()["results"][0]["doc_id"] == "sub/owls.txt"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
