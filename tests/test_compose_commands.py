"""The compose services' own commands (`ingest --watch`, `rag serve`) as local processes, on the embedded
store, with the fake Gemini and Ollama servers as their LLMs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from testkit.gemini import gemini_server
from testkit.judges import judge, keyword_grade
from testkit.ollama import ollama_server
from testkit.server import FakeServer
from tests.test_ingest import REPO, cli_env
from tests.test_serve_process import free_port

SERVICES = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]


def compose_argv(service: str, replace: dict[str, str]) -> list[str]:
    """The service's command with host paths and ports in place of the container's, run by this Python."""
    command = [replace.get(arg, arg) for arg in SERVICES[service]["command"]]
    module = {"rag": "rag.edges.cli", "ingest": "rag.edges.ingest_cli"}[command[0]]
    return [sys.executable, "-m", module, *command[1:]]


def wait_for(check, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def serve(data: Path, **env: str) -> Iterator[str]:
    port = str(free_port())
    argv = compose_argv("api", {"0.0.0.0": "127.0.0.1", "8000": port})
    proc = subprocess.Popen(argv, env=cli_env(data, **env), cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "rag serve exited"
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_for(ready, "rag serve to be ready")
        yield base
    finally:
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)


@pytest.fixture(scope="module")
def worker_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the worker leaves behind after ingesting a file dropped into its inbox, then being stopped."""
    root = tmp_path_factory.mktemp("compose")
    inbox, data, log = root / "inbox", root / "data", root / "worker.log"
    inbox.mkdir()
    (inbox / "penguins.txt").write_text("Penguins live in the southern hemisphere, mostly in Antarctica.")
    argv = compose_argv("worker", {"/inbox": str(inbox)})
    with log.open("w") as out:
        proc = subprocess.Popen([*argv, "--json"], env=cli_env(data), cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: '"added": 1' in log.read_text(), "the first pass")
            (inbox / "lava.md").write_text("# Lava\nVolcanoes erupt molten rock called lava.")
            wait_for(lambda: log.read_text().count('"added": 1') == 2, "the dropped file")
        finally:
            proc.send_signal(signal.SIGTERM)  # what `docker compose stop` sends
            assert proc.wait(timeout=30) == 0, log.read_text()
    reports = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert [r["added"] for r in reports] == [1, 1]
    return data


@pytest.mark.parametrize("backend", ["gemini", "ollama"])
def test_api_over_the_workers_store_with_each_llm(worker_store: Path, backend: str) -> None:
    server: FakeServer
    with gemini_server() if backend == "gemini" else ollama_server() as server:
        server.fake.responder = judge(keyword_grade)
        # As in the compose file: Gemini when a key is given, the Ollama service otherwise.
        env = {"GEMINI_API_KEY": "k", "RAGLINE_GEMINI_BASE_URL": server.url} if backend == "gemini" else {}
        env["OLLAMA_HOST"] = server.url if backend == "ollama" else "http://127.0.0.1:9"
        with serve(worker_store, **env) as base:
            found = httpx.post(f"{base}/v1/search", json={"query": "where do penguins live"}, timeout=30).json()
            assert found["results"][0]["doc_id"] == "penguins.txt"
            assert found["rerank"]["status"] == "ok" and found["rerank"]["backend"] == backend
            r = httpx.post(f"{base}/v1/answer", json={"query": "what is lava", "stream": True}, timeout=30)
            assert r.status_code == 200 and "event: done" in r.text and '"status": "ok"' in r.text
            assert httpx.get(f"{base}/v1/usage", timeout=5).json()["total"]["calls"] == len(server.fake.requests)
