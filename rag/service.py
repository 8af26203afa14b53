"""Long-lived state of a serving process: one embedder, one store per collection, one writer at a time."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from pathlib import Path, PurePosixPath
from typing import Any

from ingest.discovery import source_file
from ingest.pipeline import Ingestor, IngestReport
from rag.components import make_embedder, make_flow, make_llm, make_meter, make_sparse, retriever_over
from rag.config import COLLECTION_NAME_PATTERN, Settings
from rag.embedding import Embedder
from rag.errors import LLMError, NotFoundError, UsageError
from rag.filters import parse_filter
from rag.retrieval import Retriever
from rag.store import collection_names, open_store
from rag.store.base import Store

_COLLECTION_NAME = re.compile(COLLECTION_NAME_PATTERN)
log = logging.getLogger("ragline")


class Service:
    """What the API needs, loaded once at startup (not per request, not at import)."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or make_embedder(settings)
        self.sparse = make_sparse(settings)
        self.llm = make_llm(settings)
        self.meter = make_meter(settings)
        self.flow = make_flow(settings, self.llm, self.meter)
        self._stores: dict[str, Store] = {}
        self._stores_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self.ready = False

    def load(self) -> None:
        """Load the model and open the default collection's store."""
        self.embedder.encode(["warm up"])
        self.store(self.settings.collection).count()
        if self.llm is not None:
            try:
                self.llm.check()
            except LLMError as exc:
                # Not fatal: reranking falls back to retrieval order until the backend is there.
                log.warning("LLM not usable yet: %s", exc)
        self.ready = True

    def close(self) -> None:
        if self.flow.reranker is not None:
            self.flow.reranker.close()
        with self._stores_lock:
            for store in self._stores.values():
                store.close()
            self._stores.clear()

    def store(self, collection: str | None) -> Store:
        name = collection or self.settings.collection
        if not _COLLECTION_NAME.match(name):
            raise UsageError(f"collection: {name!r} is not a valid name (letters, digits, '_' and '-', 1-64)")
        with self._stores_lock:
            if name not in self._stores:
                self._stores[name] = open_store(self.settings, name)
            return self._stores[name]

    def retriever(self, collection: str | None) -> Retriever:
        return retriever_over(self.settings, self.store(collection), self.embedder, self.sparse)

    def _ingestor(self, collection: str | None) -> Ingestor:
        return Ingestor(self.settings, self.store(collection), self.embedder, self.sparse)

    def upload_dir(self, collection: str | None) -> Path:
        path = Path(self.settings.data_dir) / "uploads" / (collection or self.settings.collection)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def ingest_uploads(self, files: list[tuple[str, bytes]], collection: str | None) -> IngestReport:
        """Store uploaded files (name, content); each file's doc id is its (relative, '/'-separated) name."""
        folder = self.upload_dir(collection)
        paths = []
        for name, content in files:
            rel = PurePosixPath(name)
            if not rel.parts or rel.is_absolute() or any(p in ("..", "") or p.startswith(".") for p in rel.parts):
                raise UsageError(f"files: invalid file name {name!r}")
            target = folder.joinpath(*rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            paths.append(target)
        with self._write_lock:
            return self._ingestor(collection).ingest_files([source_file(p, folder) for p in paths])

    def ingest_records(self, records: list[dict[str, Any]], collection: str | None) -> IngestReport:
        body = "\n".join(json.dumps(r, sort_keys=True) for r in records)
        name = f"records-{hashlib.sha256(body.encode()).hexdigest()[:16]}.jsonl"
        return self.ingest_uploads([(name, body.encode())], collection)

    def delete_document(self, doc_id: str, collection: str | None) -> None:
        store = self.store(collection)
        if store.meta() is None or store.count(parse_filter({"doc_id": doc_id})) == 0:
            raise NotFoundError(f"no document {doc_id!r} in collection {store.name!r}")
        with self._write_lock:
            store.delete_docs([doc_id])
            store.finish()

    def collections(self) -> list[dict[str, Any]]:
        out = []
        for name in collection_names(self.settings):
            store = self.store(name)
            meta = store.meta()
            out.append(
                {
                    "name": name,
                    "points": store.count(),
                    "embed_model": meta.embed_model if meta else None,
                    "dimension": meta.dimension if meta else None,
                }
            )
        return out
