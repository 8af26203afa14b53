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
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ingest.chunking import Chunk, Chunker
from ingest.coverage import file_coverage
from ingest.discovery import Scope, SourceFile, discover
from ingest.document import Document, RecordFailure
from ingest.loaders import ReadOptions, is_supported, load
from ingest.loaders.archive_guard import UnpackLimits
from ingest.loaders.ocr import OcrOptions, PageReader
from ingest.text_quality import drop_encoded
from rag.config import Settings
from rag.embedding import Embedder, model_identity
from rag.errors import LoaderError
from rag.llm.usage import Usage
from rag.sparse import SparseEncoder
from rag.store.base import ChunkPoint, CollectionMeta, DocState, Store, check_meta
from rag.stored_chunk import ACL, FILE_STAMP, chunk_payload

PIPELINE_VERSION = 1
_ID_NAMESPACE = uuid.UUID("6f1c1a3e-5b7d-4c39-9a52-4e1f0f8d2a11")

log = logging.getLogger("ragline.ingest")


@dataclass(slots=True)
class IngestReport:
    """Counts in documents, except ``chunks`` (chunks written), ``failed`` (one entry per bad file or record) and
    ``files`` (one entry per file read in this run; files skipped as unchanged are not read)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)  # files a folder walk passed over, by extension or reason
    files: list[dict[str, Any]] = field(default_factory=list)  # per file read: ingest.coverage.file_coverage
    resumed: int = 0  # chunks a killed run had written already: found stored, not embedded again
    llm_usage: dict[str, Any] | None = None  # tokens and cost of LLM page transcription (RAGLINE_OCR=llm)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Pending:
    doc: Document
    content_hash: str
    chunks: list[Chunk]
    existed: bool
    file_stamp: str
    resumed: bool = False  # some chunks of this very version are stored already (a run was killed writing it)


def point_id(doc_id: str, content_hash: str, index: int) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{doc_id}\x00{content_hash}\x00{index}"))


class Ingestor:
    """Writes documents into one store; the embedder is loaded only when something has to be embedded."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        embedder: Embedder,
        sparse: SparseEncoder,
        page_reader: PageReader | None = None,
    ) -> None:
        """``page_reader``: how scanned pages are read when not by local OCR (``RAGLINE_OCR=llm``)."""
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.sparse = sparse
        self._chunker: Chunker | None = None
        self._collection_ready = False
        self._identity = model_identity(settings.embed_model)
        self._read_options = ReadOptions(
            UnpackLimits(settings.max_unpacked_bytes, settings.max_unpack_ratio),
            OcrOptions(
                settings.ocr != "off",
                settings.ocr_dpi,
                settings.ocr_min_chars,
                settings.ocr_max_pixels,
                reader=page_reader,
                concurrency=settings.ocr_llm_concurrency if page_reader else 1,
            ),
        )
        check_meta(store.name, store.meta(), self._identity)
        self._fingerprint = json.dumps(
            [PIPELINE_VERSION, self._identity, settings.chunk_tokens, settings.chunk_overlap, settings.bm25_avg_len]
        )

    @property
    def chunker(self) -> Chunker:
        """Built on first use: it loads the embedder's tokenizer, which an all-unchanged run never needs."""
        if self._chunker is None:
            self._chunker = Chunker(
                self.embedder.count_tokens,
                self.embedder.max_tokens,
                chunk_tokens=self.settings.chunk_tokens,
                overlap=self.settings.chunk_overlap,
            )
        return self._chunker

    def ensure_collection(self) -> None:
        """Make the collection (recording the embedding model) unless it exists; before the first write."""
        if not self._collection_ready:
            self.store.ensure(CollectionMeta(self._identity, self.embedder.dimension))
            self._collection_ready = True

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
    ) -> IngestReport:
        """Make the collection mirror ``paths``; with ``prune``, delete documents whose files are gone.

        ``on_file`` is called with the number of files discovered first, then once per file done; ``on_chunks``
        with the chunks of each batch written (progress inside one big file).
        """
        files, scope = discover(paths)
        if on_file:
            on_file(len(files))
        report = self.ingest_files(files, scope if prune else None, on_file, on_chunks=on_chunks)
        report.skipped = dict(sorted(scope.skipped.items()))
        return report

    def ingest_files(
        self,
        files: list[SourceFile],
        prune_scope: Scope | None = None,
        on_file: Callable[[int], None] | None = None,
        writer: tuple[str, ...] | None = None,
        on_chunks: Callable[[int], None] | None = None,
    ) -> IngestReport:
        """Store ``files``; ``writer``: the ACL identities of whoever sends them (None: sees every document) —
        a stored document it may not see is never replaced."""
        started = time.perf_counter()
        report = IngestReport()
        usage = Usage()
        options = replace(self._read_options, ocr=replace(self._read_options.ocr, usage=usage))
        if debris := self.store.delete_debris():
            log.warning("deleted %d points of %r without doc_id or content_hash", debris, self.store.name)
        states = self.store.doc_states()
        seen: dict[str, str] = {}  # doc_id -> source that claimed it in this run
        failed_sources: set[str] = set()
        batch: list[_Pending] = []
        batch_chunks = 0
        for pending in self._changed_docs(files, states, seen, failed_sources, report, on_file, writer, options):
            batch.append(pending)
            batch_chunks += len(pending.chunks)
            if batch_chunks >= self.settings.ingest_batch_chunks:
                self._write(batch, report, on_chunks)
                batch, batch_chunks = [], 0
        self._write(batch, report, on_chunks)
        if prune_scope is not None:
            gone = [
                doc_id
                for doc_id, st in states.items()
                if doc_id not in seen and st.source not in failed_sources and prune_scope.covers(st.root, st.source)
            ]
            self.store.delete_docs(gone)
            report.deleted += len(gone)
        self.store.finish()
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
    ) -> Iterator[_Pending]:
        by_source: dict[str, list[str]] = {}
        for doc_id, st in states.items():
            by_source.setdefault(st.source, []).append(doc_id)
        for f in files:
            stamp = self._stamp(f)
            held = by_source.get(unicode_safe(str(f.path)), [])
            if stamp and held and all(states[d].file_stamp == stamp and states[d].is_whole for d in held):
                # Same size, mtime and read settings as when stored: not read again (the content hash
                # decides whenever it is read).
                seen.update(dict.fromkeys(held, str(f.path)))
                report.unchanged += len(held)
                if on_file:
                    on_file(1)
                continue
            loaded = self._load(f, report, failed_sources, options)
            if any(isinstance(item, RecordFailure) for item in loaded):
                stamp = ""  # never skipped unread: each run reports its bad records again
            for item in loaded:
                if isinstance(item, RecordFailure):
                    report.failed.append({"path": item.where, "error": item.error, "file": str(f.path)})
                    failed_sources.add(unicode_safe(str(f.path)))
                    continue
                doc = item
                if doc.doc_id in seen:
                    report.failed.append(
                        {"path": str(f.path), "error": f"duplicate doc_id {doc.doc_id!r} (also in {seen[doc.doc_id]})"}
                    )
                    continue
                h = self.content_hash(doc)
                st = states.get(doc.doc_id)
                if st is not None and st.acl and writer is not None and not set(st.acl) & set(writer):
                    report.failed.append(
                        {"path": str(f.path), "error": f"doc_id {doc.doc_id!r} cannot be written by this key"}
                    )
                    continue
                if st is not None and st.source and st.source != doc.source and not st.is_complete(h):
                    # Another file (or the records route) holds this id: replacing it would lose that document.
                    report.failed.append({"path": str(f.path), "error": _taken(doc.doc_id, st)})
                    continue
                seen[doc.doc_id] = str(f.path)
                if st is not None and st.is_complete(h):
                    # Unchanged text: who may see it, or the file's stamp, may still have changed (payload only).
                    changes: dict[str, Any] = {FILE_STAMP: stamp} if st.file_stamp != stamp else {}
                    if st.acl != doc.acl:
                        changes[ACL] = list(doc.acl) or None
                    if changes:
                        self.store.update_payload(doc.doc_id, changes)
                    if ACL in changes:
                        report.updated += 1
                    else:
                        report.unchanged += 1
                    continue
                chunks = self.chunker.chunk(doc)
                resumed = st is not None and st.points_by_hash.get(h, 0) > 0
                yield _Pending(doc, h, chunks, existed=st is not None, file_stamp=stamp, resumed=resumed)
            if on_file:
                on_file(1)

    def _stamp(self, f: SourceFile) -> str:
        """The file's size and mtime with what else decides how it reads (its sidecar ACL, the chunking and
        embedding settings, how scanned pages are read): while it is the same, the file's documents are the same."""
        try:
            st = f.path.stat()
        except OSError:
            return ""
        s = self.settings
        reading = [s.ocr, s.ocr_dpi, s.ocr_min_chars] if s.ocr != "off" else ["off"]
        key = [st.st_size, st.st_mtime_ns, list(f.acl), self._fingerprint, reading]
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

    def _write(self, batch: list[_Pending], report: IngestReport, on_chunks: Callable[[int], None] | None) -> None:
        """Embed and upsert the batch's chunks ``RAGLINE_INGEST_BATCH_CHUNKS`` at a time (a huge document too,
        in bounded memory); each document's old chunks are deleted only after all its new ones are written."""
        if not batch:
            return
        self.ensure_collection()
        todo = [
            (point_id(p.doc.doc_id, p.content_hash, i), p, i, chunk) for p in batch for i, chunk in enumerate(p.chunks)
        ]
        step, written = self.settings.ingest_batch_chunks, 0
        for start in range(0, len(todo), step):
            part = todo[start : start + step]
            if resumed := [pid for pid, p, _, _ in part if p.resumed]:
                # What a killed run already wrote of this version is not embedded again.
                stored = self.store.existing(resumed)
                part = [t for t in part if t[0] not in stored]
                report.resumed += len(stored)
                if not part:
                    continue
            dense = self.embedder.encode([chunk.embed_text for _, _, _, chunk in part])
            self.store.upsert(
                [
                    ChunkPoint(pid, dense[row], self.sparse.document(chunk.embed_text), self._payload(p, i, chunk))
                    for row, (pid, p, i, chunk) in enumerate(part)
                ]
            )
            written += len(part)
            if on_chunks:
                on_chunks(len(part))
        for p in batch:
            if p.resumed:  # chunks the killed run wrote carry what the file's ACL and stamp were then
                self.store.update_payload(p.doc.doc_id, {ACL: list(p.doc.acl) or None, FILE_STAMP: p.file_stamp})
            self.store.delete_stale(p.doc.doc_id, p.content_hash)
            if p.existed:
                report.updated += 1
            else:
                report.added += 1
        report.chunks += written

    @staticmethod
    def _payload(p: _Pending, index: int, chunk: Chunk) -> dict[str, Any]:
        return chunk_payload(
            doc_id=p.doc.doc_id,
            chunk_index=index,
            chunk_count=len(p.chunks),
            text=chunk.text,
            title=p.doc.title,
            source=p.doc.source,
            root=p.doc.root,
            format=p.doc.format,
            content_hash=p.content_hash,
            metadata={**p.doc.metadata, **chunk.metadata},
            acl=p.doc.acl,
            file_stamp=p.file_stamp,
        )


def unicode_safe(text: str) -> str:
    """``text`` with lone surrogates (undecodable bytes of a file name) written as backslash escapes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "surrogatepass")
        return raw.decode("utf-8", "backslashreplace")


def _only_escapes(text: str) -> bool:
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


def _taken(doc_id: str, held: DocState) -> str:
    source = Path(held.source)
    name = source.relative_to(held.root).as_posix() if source.is_relative_to(held.root) else source.name
    return (
        f"doc_id {doc_id!r} already belongs to another source ({name or source.name!r}); delete that document "
        "first (or --prune it) to replace it"
    )
