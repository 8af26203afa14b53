"""The ingest pipeline: make a collection mirror a set of files, incrementally and crash-safely.

Crash safety comes from the order of writes, not from transactions:

1. Point ids are derived from (doc id, content hash, chunk index), so re-upserting a version is idempotent.
2. A changed document's new chunks are upserted first; only then are the points of its other versions
   deleted (one delete-by-filter).
3. A document counts as stored only when exactly one version is present and all of its chunks are
   (``DocState.is_complete``). After a kill at any point the next run sees either the old version complete
   (nothing happened yet), two versions or a partial one (redo steps 1-2), or the new one complete.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ingest.chunking import Chunker
from ingest.coverage import file_coverage
from ingest.discovery import Scope, SourceFile, discover, unicode_safe, with_distinct_ids
from ingest.document import Document, RecordFailure
from ingest.failure_ledger import FailureLedger
from ingest.loaders import ReadOptions, is_supported, load
from ingest.options import IngestOptions
from ingest.report import IngestReport
from ingest.text_quality import drop_encoded
from ingest.writer import ChunkWriter, PendingDoc
from rag.embedding import Embedder
from rag.errors import LoaderError
from rag.llm.usage import Usage
from rag.sparse import SparseEncoder
from rag.store.base import DocState, Store, check_meta
from rag.stored_chunk import ACL, FILE_STAMP

log = logging.getLogger("ragline.ingest")


class Ingestor:
    """Writes documents into one store; the embedder is loaded only when something has to be embedded."""

    def __init__(self, options: IngestOptions, store: Store, embedder: Embedder, sparse: SparseEncoder) -> None:
        """``options``: made from the settings by ``rag.wiring.ingest_options``."""
        self.options = options
        self.store = store
        self.embedder = embedder
        self.sparse = sparse
        self._chunker: Chunker | None = None
        self.writer = ChunkWriter(store, embedder, sparse, options.embed_identity, options.batch_chunks)
        self._identity = options.embed_identity
        self._read_options = options.read
        check_meta(store.name, store.meta(), self._identity)
        self._fingerprint = options.fingerprint()

    @property
    def chunker(self) -> Chunker:
        """Built on first use: it loads the embedder's tokenizer, which an all-unchanged run never needs."""
        if self._chunker is None:
            self._chunker = Chunker(
                self.embedder.count_tokens,
                self.embedder.max_tokens,
                chunk_tokens=self.options.chunk_tokens,
                overlap=self.options.chunk_overlap,
            )
        return self._chunker

    def content_hash(self, doc: Document) -> str:
        body = json.dumps(
            [self._fingerprint, doc.title, [(s.text, s.metadata) for s in doc.sections], doc.metadata],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(body.encode()).hexdigest()[:32]

    # -- public entry points ---------------------------------------------------------------------
    def run(
        self,
        paths: list[Path],
        *,
        prune: bool = False,
        on_file: Callable[[int], None] | None = None,
        on_chunks: Callable[[int], None] | None = None,
        ledger: FailureLedger | None = None,
    ) -> IngestReport:
        """Make the collection mirror ``paths``; with ``prune``, delete documents whose files are gone.

        ``on_file`` is called with the number of files discovered first, then once per file done; ``on_chunks``
        with the chunks of each batch written (progress inside one big file). With a ``ledger``, a file that
        failed before and is unchanged is not read again: its failures go to ``known_failed``, not ``failed``.
        """
        files, scope = discover(paths)
        if on_file:
            on_file(len(files))
        report = self.ingest_files(
            files, scope if prune else None, on_file, on_chunks=on_chunks, distinct_ids=True, ledger=ledger
        )
        report.skipped = dict(sorted(scope.skipped.items()))
        return report

    def ingest_files(
        self,
        files: list[SourceFile],
        prune_scope: Scope | None = None,
        on_file: Callable[[int], None] | None = None,
        writer: tuple[str, ...] | None = None,
        on_chunks: Callable[[int], None] | None = None,
        distinct_ids: bool = False,
        ledger: FailureLedger | None = None,
    ) -> IngestReport:
        """Store ``files``; ``writer``: the ACL identities of whoever sends them (None: sees every document) —
        a stored document it may not see is never replaced. ``distinct_ids``: a file whose doc id belongs to
        another file takes a longer one (its folders' names), kept on later runs; otherwise it is refused (an
        upload's name is the id its sender asked for)."""
        started = time.perf_counter()
        report = IngestReport()
        usage = Usage()
        options = replace(self._read_options, ocr=replace(self._read_options.ocr, usage=usage))
        if debris := self.store.delete_debris():
            log.warning("deleted %d points of %r without doc_id or content_hash", debris, self.store.name)
        states = self.store.doc_states()
        seen: dict[str, str] = {}  # doc_id -> source that claimed it in this run
        failed_sources: set[str] = set()
        batch: list[PendingDoc] = []
        batch_chunks = 0
        if distinct_ids:
            files = with_distinct_ids(files, states, report.renamed)
        changed = self._changed_docs(files, states, seen, failed_sources, report, on_file, writer, options, ledger)
        for pending in changed:
            batch.append(pending)
            batch_chunks += len(pending.chunks)
            if batch_chunks >= self.options.batch_chunks:
                self.writer.write(batch, report, on_chunks)
                batch, batch_chunks = [], 0
        self.writer.write(batch, report, on_chunks)
        if prune_scope is not None:
            gone = [
                doc_id
                for doc_id, st in states.items()
                if doc_id not in seen and st.source not in failed_sources and prune_scope.covers(st.root, st.source)
            ]
            self.store.delete_docs(gone)
            report.deleted += len(gone)
        self.store.finish()
        if ledger is not None:
            ledger.record([(str(f.path), self._stamp(f)) for f in files], report.failed + report.known_failed)
        report.seconds = round(time.perf_counter() - started, 3)
        if self._read_options.ocr.reader is not None:
            report.llm_usage = usage.as_dict()
        return report

    def delete_source(self, source: Path) -> int:
        """Delete every document that came from ``source`` (a file that no longer exists)."""
        src = unicode_safe(str(source.absolute()))
        doomed = [d for d, st in self.store.doc_states().items() if st.source == src]
        self.store.delete_docs(doomed)
        self.store.finish()
        return len(doomed)

    # -- steps -----------------------------------------------------------------------------------
    def _changed_docs(
        self,
        files: list[SourceFile],
        states: dict[str, DocState],
        seen: dict[str, str],
        failed_sources: set[str],
        report: IngestReport,
        on_file: Callable[[int], None] | None,
        writer: tuple[str, ...] | None,
        options: ReadOptions,
        ledger: FailureLedger | None,
    ) -> Iterator[PendingDoc]:
        by_source: dict[str, list[str]] = {}
        for doc_id, st in states.items():
            by_source.setdefault(st.source, []).append(doc_id)
        for f in files:
            stamp = self._stamp(f)
            source = unicode_safe(str(f.path))
            held = by_source.get(source, [])
            known = ledger.known(str(f.path), stamp) if ledger is not None else None
            if known is not None or (
                stamp and held and all(states[d].file_stamp == stamp and states[d].is_whole for d in held)
            ):
                # Same size, mtime and read settings as when stored, or as when it failed: not read again
                # (the content hash decides whenever it is read). What it holds stays, even under --prune.
                seen.update(dict.fromkeys(held, str(f.path)))
                report.unchanged += len(held)
                if known is not None:
                    report.known_failed.extend(known)
                    failed_sources.add(source)
                if on_file:
                    on_file(1)
                continue
            loaded = self._load(f, report, failed_sources, options)
            if any(isinstance(item, RecordFailure) for item in loaded):
                stamp = ""  # never skipped as unchanged: without a ledger, each run reports its bad records again
            for item in loaded:
                if isinstance(item, RecordFailure):
                    report.failed.append({"path": item.where, "error": item.error, "file": str(f.path)})
                    failed_sources.add(unicode_safe(str(f.path)))
                    continue
                doc = item
                h = self.content_hash(doc)
                st = states.get(doc.doc_id)
                if why := _refusal(doc, st, h, seen, writer):
                    report.failed.append({"path": str(f.path), "error": why})
                    continue
                seen[doc.doc_id] = str(f.path)
                if st is not None and st.is_complete(h):
                    self._refresh_unchanged(doc, st, stamp, report)
                    continue
                chunks = self.chunker.chunk(doc)
                resumed = st is not None and st.points_by_hash.get(h, 0) > 0
                yield PendingDoc(doc, h, chunks, existed=st is not None, file_stamp=stamp, resumed=resumed)
            if on_file:
                on_file(1)

    def _refresh_unchanged(self, doc: Document, st: DocState, stamp: str, report: IngestReport) -> None:
        """Unchanged text: who may see it, or the file's stamp, may still have changed (payload only)."""
        changes: dict[str, Any] = {FILE_STAMP: stamp} if st.file_stamp != stamp else {}
        if st.acl != doc.acl:
            changes[ACL] = list(doc.acl) or None
        if changes:
            self.store.update_payload(doc.doc_id, changes)
        if ACL in changes:
            report.updated += 1
        else:
            report.unchanged += 1

    def _stamp(self, f: SourceFile) -> str:
        """The file's size and mtime with what else decides how it reads (its sidecar ACL, the chunking and
        embedding settings, how scanned pages are read): while it is the same, the file's documents are the same."""
        try:
            st = f.path.stat()
        except OSError:
            return ""
        key = [st.st_size, st.st_mtime_ns, list(f.acl), self._fingerprint, self.options.reading()]
        return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]

    def _load(
        self, f: SourceFile, report: IngestReport, failed_sources: set[str], options: ReadOptions
    ) -> list[Document | RecordFailure]:
        # The file's doc id counts as seen even when it fails, so --prune never deletes what is still there.
        try:
            if not is_supported(f.path):
                raise LoaderError(f"unsupported file type {f.path.suffix or '(none)'!r}")
            items = load(f.path, f.doc_id, options)
        except LoaderError as exc:
            report.failed.append({"path": str(f.path), "error": str(exc)})
            failed_sources.add(unicode_safe(str(f.path)))
            return []
        kept: list[Document | RecordFailure] = []
        for item in items:
            if isinstance(item, Document):
                drop_encoded(item)
                if not item.sections:
                    where = str(f.path) if item.doc_id == f.doc_id else f"{f.path} ({item.doc_id})"
                    kept.append(RecordFailure(where, "encoded data (base64, hex), not text: skipped"))
                    continue
                # A file name that is not valid UTF-8 reaches Python as lone surrogates, which neither the
                # tokenizer nor a JSON payload can hold: such names are stored with the bad bytes escaped.
                item.doc_id, item.title = unicode_safe(item.doc_id), unicode_safe(item.title)
                item.source, item.root = unicode_safe(str(f.path)), unicode_safe(str(f.root))
                item.acl = item.acl or f.acl  # a record's own acl wins over its file's
            kept.append(item)
        if docs := [item for item in kept if isinstance(item, Document)]:
            report.files.append(file_coverage(unicode_safe(str(f.path)), docs))
        return kept


def _refusal(
    doc: Document, st: DocState | None, content_hash: str, seen: dict[str, str], writer: tuple[str, ...] | None
) -> str | None:
    """Why ``doc`` may not be written (``st``: what the store holds under its id), or None."""
    if doc.doc_id in seen:
        return f"duplicate doc_id {doc.doc_id!r} (also in {seen[doc.doc_id]})"
    if st is not None and st.acl and writer is not None and not set(st.acl) & set(writer):
        return f"doc_id {doc.doc_id!r} cannot be written by this key"
    if st is not None and st.source and st.source != doc.source and not st.is_complete(content_hash):
        # Another file (or the records route) holds this id: replacing it would lose that document.
        return _taken(doc.doc_id, st)
    return None


def _taken(doc_id: str, held: DocState) -> str:
    source, root = Path(held.source), Path(held.root)
    # Under a folder (an upload's or a walked one): its name there; a file given alone: its whole path.
    name = source.relative_to(root).as_posix() if source != root and source.is_relative_to(root) else held.source
    return (
        f"doc_id {doc_id!r} already belongs to another source ({name!r}); delete that document first "
        "(`rag delete`, or --prune when its file is gone) to replace it"
    )
