"""``rag ask`` and ``rag search --rerank`` as real processes, with the fake Gemini server behind google-genai."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.gemini import gemini_server
from testkit.judges import judge, keyword_grade
from testkit.server import Behaviour, FakeServer
from tests.test_ingest import REPO, cli_env, make_folder, run_cli


def rag(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.edges.cli", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ask")
    data = root / "data"
    assert run_cli([str(make_folder(root))], cli_env(data)).returncode == 0
    return data


@pytest.fixture
def gemini(store: Path) -> Iterator[tuple[FakeServer, dict[str, str]]]:
    with gemini_server() as server:
        server.fake.responder = judge(keyword_grade)
        yield server, cli_env(store, GEMINI_API_KEY="k", RAGLINE_GEMINI_BASE_URL=server.url)


def test_ask_streams_an_answer_with_sources(gemini) -> None:
    _, env = gemini
    p = rag(["ask", "where do penguins live"], env)
    assert p.returncode == 0, p.stderr
    answer, _, sources = p.stdout.partition("Sources:")
    assert "[1]" in answer and sources.strip().startswith("[1] d.pdf")
    assert "LLM calls" in p.stderr


def test_ask_json(gemini) -> None:
    _, env = gemini
    p = rag(["ask", "where do penguins live", "--json", "--top-k", "2"], env)
    body = json.loads(p.stdout)
    assert p.returncode == 0 and body["status"] == "ok" and len(body["results"]) == 2
    assert body["citations"][0]["doc_id"] == "d.pdf" and body["usage"]["calls"] >= 2


def test_ask_exit_codes(gemini, store: Path) -> None:
    server, env = gemini
    server.fake.default = Behaviour(status=500)
    p = rag(["ask", "where do penguins live"], env)
    assert p.returncode == 3 and "no answer" in p.stderr and "500" in p.stderr
    p = rag(["ask", "where do penguins live"], cli_env(store))
    assert p.returncode == 3 and "GEMINI_API_KEY" in p.stderr and "Traceback" not in p.stderr
    assert rag(["ask", "  "], env).returncode == 2


def test_search_rerank_flag(gemini) -> None:
    server, env = gemini
    p = rag(["search", "penguins", "--json"], env)
    assert json.loads(p.stdout)["rerank"]["status"] == "ok"
    calls = len(server.fake.requests)
    p = rag(["search", "penguins", "--json", "--no-rerank"], env)
    assert json.loads(p.stdout)["rerank"]["status"] == "disabled" and len(server.fake.requests) == calls
