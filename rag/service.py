"""The process object: what a running ragline holds — the parts (one embedder, one query pipeline, the LLM), one
store per collection, one writer at a time, upload staging — built once by the edge that runs the process (the
HTTP API, MCP over stdio, a CLI command) and closed once."""

from __future__ import annotations

import errno
import json
import logging
import threading
from pathlib import Path
from typing import Any

from ingest.discovery import source_file
from ingest.failure_ledger import FailureLedger
from ingest.pipeline import Ingestor, IngestReport
from rag.config import Settings
from rag.embedding import Embedder
from rag.errors import LLMError, NotFoundError, StorageFullError, UsageError
from rag.heap import keep_mmap_threshold
from rag.ingest_wiring import ingest_options, make_page_reader
from rag.query_pipeline import QueryPipeline
from rag.store.base import Condition, visible_to
from rag.store.disk import require_free_space
from rag.stored_chunk import DOC_ID
from rag.upload_staging import RECORDS_FILE, as_caller_sees, remove_staged, upload_parts
from rag.wiring import OpenStores, build_parts, collection_names

log = logging.getLogger("ragline")


class Service:
    """What a running ragline process holds, built once by its edge (HTTP API, MCP, a CLI command)."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, *, with_llm: bool = True) -> None:
        self.settings = settings
        keep_mmap_threshold()  # a service runs long: big buffers go back to the system when freed
        self.stores = OpenStores(settings)
        self.parts = build_parts(settings, self.stores, embedder, with_llm=with_llm)
        self.meter = self.parts.meter
        # RAGLINE_OCR=llm: uploads' scanned pages go to the server's LLM, metered with its searches.
        self._page_reader = make_page_reader(settings, self.meter, self.parts.llm)
        self._write_lock = threading.Lock()
        self.ready = False
        self.llm_state: dict[str, Any] = {"backend": None, "status": "none"}

    @property
    def pipeline(self) -> QueryPipeline:
        return self.parts.pipeline

    def load(self) -> None:
        """Check the data dir has room, load the model and open the default collection's store."""
        if not self.settings.qdrant_url:
            require_free_space(self.settings.data_dir, self.settings.min_free_mb * 2**20)
        self.parts.embedder.encode(["warm up"])
        self.stores(None).count()
        llm = self.parts.llm
        if llm is not None:
            self.llm_state = {"backend": llm.name, "model": llm.model, "status": "ok"}
            try:
                llm.check()
                self.llm_state["model"] = llm.model  # an OpenAI-compatible server may have named it just now
                log.info("LLM ready: %s %s", llm.name, llm.model)
            except LLMError as exc:
                # Not fatal: searches fall back to retrieval order until the backend is there.
                self.llm_state.update(status="unavailable", reason=str(exc))
                log.warning("LLM not usable: %s — searches come back in retrieval order", exc)
        self.ready = True

    def close(self) -> None:
        self.pipeline.close()
        if self.parts.llm is not None:
            self.parts.llm.close()
        self.stores.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ingestor(self, collection: str | None) -> Ingestor:
        """The ingest pipeline into ``collection`` (created if new), with this process's embedder and LLM."""
        store = self.stores(collection, create=True)  # under the write lock: the collection cap holds
        options = ingest_options(self.settings, self._page_reader)
        return Ingestor(options, store, self.parts.embedder, self.parts.sparse)

    def failure_ledger(self, collection: str | None) -> FailureLedger:
        """The files that failed to ingest into ``collection`` from this machine, kept between runs."""
        name = self.stores(collection).name
        return FailureLedger(Path(self.settings.data_dir) / "ingest-failures" / f"{name}.json")

    def upload_dir(self, collection: str | None) -> Path:
        path = Path(self.settings.data_dir) / "uploads" / self.stores(collection).name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def ingest_uploads(
        self,
        files: list[tuple[str, bytes]],
        collection: str | None,
        acl: tuple[str, ...] = (),
        writer: tuple[str, ...] | None = None,
    ) -> IngestReport:
        """Store uploaded files (name, content) visible to ``acl`` (empty: everyone); each file's doc id is its
        (relative, '/'-separated) name. ``writer``: the uploading key's ACL identities (None: sees everything);
        a document it may not see is not replaced.

        Every name is checked before anything is written; the staged files are removed once ingested (the
        store keeps the chunks) unless ``RAGLINE_KEEP_UPLOADS`` is set."""
        folder = self.upload_dir(collection)
        staged = [(folder.joinpath(*upload_parts(n)), n, c) for n, c in files]
        return self._ingest_staged(staged, folder, collection, acl, writer)

    def ingest_records(
        self, records: list[dict[str, Any]], collection: str | None, writer: tuple[str, ...] | None = None
    ) -> IngestReport:
        """Store JSON records (each may carry its ``acl``). They are staged as one file whose name no upload can
        take (hidden), so the records route is one source: a record may replace an earlier record, never an
        uploaded file of the same id."""
        folder = self.upload_dir(collection)
        body = "\n".join(json.dumps(r, sort_keys=True) for r in records).encode()
        return self._ingest_staged([(folder / RECORDS_FILE, RECORDS_FILE, body)], folder, collection, (), writer)

    def _ingest_staged(
        self,
        staged: list[tuple[Path, str, bytes]],
        folder: Path,
        collection: str | None,
        acl: tuple[str, ...],
        writer: tuple[str, ...] | None,
    ) -> IngestReport:
        inside = folder.resolve()
        for target, name, _ in staged:  # a symlink planted under uploads/ must not lead out of it either
            if not target.resolve().is_relative_to(inside):
                raise UsageError(f"files: {name!r} resolves outside the upload folder")
        with self._write_lock:
            written: list[Path] = []
            try:
                for target, name, content in staged:
                    written.append(target)  # before writing: a write cut short (disk full) is removed too
                    try:
                        target.parent.mkdir(parents=True, exist_ok=True)
                        target.write_bytes(content)
                    except OSError as exc:
                        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                            raise StorageFullError(f"files: no room to stage {name!r}: {exc.strerror}") from None
                        # e.g. "a.txt/b.txt" next to a file "a.txt"
                        raise UsageError(f"files: cannot store {name!r}: {exc.strerror}") from None
                sources = [source_file(p, folder, acl) for p in written]
                report = self.ingestor(collection).ingest_files(sources, writer=writer)
                for failure in report.failed:  # the caller's own names, not the server's folders
                    failure.update({k: as_caller_sees(v, folder) for k, v in failure.items()})
                for entry in report.files:
                    entry["path"] = as_caller_sees(entry["path"], folder)
                return report
            finally:
                if not self.settings.keep_uploads:
                    remove_staged(written, folder)

    def delete_document(self, doc_id: str, collection: str | None, visible: tuple[str, ...] | None = None) -> None:
        """Delete a document; one the caller may not see (``visible``: its ACL identities) is not found."""
        store = self.stores(collection)
        conditions = (Condition(DOC_ID, eq=doc_id),) + (() if visible is None else (visible_to(visible),))
        if store.meta() is None or store.count(conditions) == 0:
            raise NotFoundError(f"no document {doc_id!r} in collection {store.name!r}")
        with self._write_lock:
            store.delete_docs([doc_id])
            store.finish()

    def collections(self) -> list[dict[str, Any]]:
        out = []
        for name in collection_names(self.settings):
            store = self.stores(name)
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
