"""Exit codes say what kind of failure it was: unavailable (3) is not a usage error (2), and a bug is not either."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import rag.edges.cli
from rag.config import get_settings
from rag.edges.exit_codes import EXIT_UNAVAILABLE, EXIT_USAGE
from rag.edges.ingest_cli import main as ingest_main


class _Busy(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = json.dumps({"detail": "the embedded store is in use by another process"}).encode()
        self.send_response(503)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "a.txt"
    path.write_text("Some text to send.")
    return path


@pytest.fixture(autouse=True)
def _fresh_settings() -> None:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_ingest_api_unreachable_is_unavailable(doc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ingest_main(["--api", "http://127.0.0.1:9", str(doc)]) == EXIT_UNAVAILABLE
    assert "cannot reach the ragline server" in capsys.readouterr().err


def test_ingest_api_busy_server_is_unavailable(doc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        code = ingest_main(["--api", f"http://127.0.0.1:{server.server_address[1]}", str(doc)])
    finally:
        server.shutdown()
    assert code == EXIT_UNAVAILABLE
    assert "503" in capsys.readouterr().err


def test_bad_settings_are_a_usage_error_on_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAGLINE_RERANK_STEP", "30")  # not smaller than the window (20)
    assert rag.edges.cli.main(["search", "anything"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("rag: error: invalid settings") and err.count("\n") == 1
    monkeypatch.delenv("RAGLINE_RERANK_STEP")
    get_settings.cache_clear()
    monkeypatch.setenv("RAGLINE_LLM", "gemini")
    assert rag.edges.cli.main(["search", "anything"]) == EXIT_USAGE
    assert "GEMINI_API_KEY" in capsys.readouterr().err


def test_a_bug_is_not_reported_as_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(args: object) -> int:
        raise ValueError("a bug deep inside")

    monkeypatch.setattr(rag.edges.cli, "_search", broken)
    with pytest.raises(ValueError, match="a bug deep inside"):
        rag.edges.cli.main(["search", "anything"])


def test_same_names_from_two_folders_both_stored_then_deleted_by_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RAGLINE_DATA_DIR", str(tmp_path / "data"))
    for folder, text in (("a", "Owls hunt at night."), ("b", "Bread rises with yeast.")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "README.md").write_text(text)
    assert ingest_main([str(tmp_path / "a")]) == 0
    assert ingest_main([str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "added 1" in out and f"stored as 'b/README.md': {tmp_path / 'b' / 'README.md'}" in out
    assert rag.edges.cli.main(["search", "yeast", "--top-k", "1", "--no-rerank"]) == 0
    assert "1. b/README.md" in capsys.readouterr().out
    # Deleting: each named id; one not there is a usage error naming it, and the rest are still deleted.
    assert rag.edges.cli.main(["delete", "b/README.md", "nope.md"]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert "deleted b/README.md" in captured.out and "'nope.md'" in captured.err
    assert rag.edges.cli.main(["search", "yeast", "--top-k", "5", "--no-rerank"]) == 0
    assert "b/README.md" not in capsys.readouterr().out
