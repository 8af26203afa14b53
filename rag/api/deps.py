"""State of a serving process, loaded once at startup: the parts (one embedder, one query pipeline), one store
per collection, one writer at a time, and where uploads are staged. Routes get it with ``server_state``."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import threading
from pathlib import Path, PurePosixPath
from typing import Any

from fastapi import Request

from ingest.discovery import source_file
from ingest.pipeline import Ingestor, IngestReport
from rag.config import Settings
from rag.embedding import Embedder
from rag.errors import LLMError, NotFoundError, StorageFullError, UsageError
from rag.query_pipeline import QueryPipeline
from rag.store.base import Condition, visible_to
from rag.store.edge import require_free_space
from rag.stored_chunk import DOC_ID
from rag.wiring import OpenStores, build_parts, collection_names, make_page_reader

log = logging.getLogger("ragline")
_MAX_NAME_BYTES = 255  # what the filesystems we run on allow for one name
_MAX_PATH_BYTES = 1024
_RECORDS_FILE = ".records.jsonl"  # the records route's one source; upload names cannot start with "."


class ServerState:
    """What the API needs, built at startup (not per request, not at import)."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.stores = OpenStores(settings)
        self.parts = build_parts(settings, self.stores, embedder)
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

    def _ingestor(self, collection: str | None) -> Ingestor:
        store = self.stores(collection, create=True)  # under the write lock: the collection cap holds
        return Ingestor(self.settings, store, self.parts.embedder, self.parts.sparse, self._page_reader)

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
        staged = [(folder.joinpath(*_upload_parts(n)), n, c) for n, c in files]
        return self._ingest_staged(staged, folder, collection, acl, writer)

    def ingest_records(
        self, records: list[dict[str, Any]], collection: str | None, writer: tuple[str, ...] | None = None
    ) -> IngestReport:
        """Store JSON records (each may carry its ``acl``). They are staged as one file whose name no upload can
        take (hidden), so the records route is one source: a record may replace an earlier record, never an
        uploaded file of the same id."""
        folder = self.upload_dir(collection)
        body = "\n".join(json.dumps(r, sort_keys=True) for r in records).encode()
        return self._ingest_staged([(folder / _RECORDS_FILE, _RECORDS_FILE, body)], folder, collection, (), writer)

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
                report = self._ingestor(collection).ingest_files(sources, writer=writer)
                for failure in report.failed:  # the caller's own names, not the server's folders
                    failure.update({k: _as_caller_sees(v, folder) for k, v in failure.items()})
                for entry in report.files:
                    entry["path"] = _as_caller_sees(entry["path"], folder)
                return report
            finally:
                if not self.settings.keep_uploads:
                    _remove_staged(written, folder)

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


def _upload_parts(name: str) -> tuple[str, ...]:
    """The path parts of an uploaded file's name, or a ``UsageError`` saying what is wrong with it."""
    rel = PurePosixPath(name)
    bad = (
        not rel.parts
        or rel.is_absolute()
        or any(p in ("..", "") or p.startswith(".") for p in rel.parts)
        or any(ord(ch) < 32 or ch == "\\" for ch in name)
        or any(_utf8_len(p) > _MAX_NAME_BYTES for p in rel.parts)
        or _utf8_len(name) > _MAX_PATH_BYTES
    )
    if bad:
        raise UsageError(
            f"files: invalid file name {name!r} (relative, no '..', no hidden or control characters, parts of at "
            f"most {_MAX_NAME_BYTES} bytes)"
        )
    return rel.parts


def _utf8_len(text: str) -> int:
    """Bytes ``text`` takes on disk; a lone surrogate (which no filesystem name can hold) counts as too long."""
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        return _MAX_PATH_BYTES + 1


def _as_caller_sees(text: str, folder: Path) -> str:
    """A report line with staged paths as the names they were uploaded under ("records" for the records route)."""
    return text.replace(f"{folder}/", "").replace(_RECORDS_FILE, "records")


def _remove_staged(paths: list[Path], folder: Path) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):  # never written, or could not be
            path.unlink()
        for parent in path.parents:
            if parent == folder or not parent.is_relative_to(folder):
                break
            with contextlib.suppress(OSError):  # not empty: another file still there
                parent.rmdir()


def server_state(request: Request) -> ServerState:
    return request.app.state.server
