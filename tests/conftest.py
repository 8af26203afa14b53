"""Shared fixtures: one real MiniLM per test session, stores in temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.embedding import Embedder
from rag.ingest_wiring import ingest_options
from rag.wiring import make_embedder, make_sparse, open_store

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in os.environ:
        if var.startswith("RAGLINE_") or var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OLLAMA_HOST"):
            monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return make_embedder(Settings())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def make_ingestor(settings: Settings, embedder: Embedder):
    """Ingestors over the test's store; each call opens the store afresh (closing the previous one)."""
    opened = []

    def make(s: Settings | None = None) -> Ingestor:
        for st in opened:
            st.close()
        s = s or settings
        store = open_store(s)
        opened.append(store)
        return Ingestor(ingest_options(s), store, embedder, make_sparse(s))

    yield make
    for st in opened:
        st.close()
