"""Writing documents' chunks: embedded and upserted in bounded batches, old versions deleted only after the new one
is whole (the order of writes is what makes ingest crash-safe: see ``ingest/pipeline.py``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ingest.chunking import Chunk
from ingest.document import Document
from ingest.report import IngestReport
from rag.embedding import Embedder
from rag.sparse import SparseEncoder
from rag.store.base import ChunkPoint, CollectionMeta, Store
from rag.stored_chunk import ACL, FILE_STAMP, chunk_payload

_ID_NAMESPACE = uuid.UUID("6f1c1a3e-5b7d-4c39-9a52-4e1f0f8d2a11")


def point_id(doc_id: str, content_hash: str, index: int) -> str:
    return str(uuid.uuid5(_ID_NAMESPACE, f"{doc_id}\x00{content_hash}\x00{index}"))


@dataclass(slots=True)
class PendingDoc:
    """A document to write: its new version's chunks, and what the store held of it."""

    doc: Document
    content_hash: str
    chunks: list[Chunk]
    existed: bool
    file_stamp: str
    resumed: bool = False  # some chunks of this very version are stored already (a run was killed writing it)


class ChunkWriter:
    """Embeds and writes documents into one store, making the collection (with its model) before the first write."""

    def __init__(
        self, store: Store, embedder: Embedder, sparse: SparseEncoder, embed_identity: str, batch_chunks: int
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.sparse = sparse
        self.embed_identity = embed_identity
        self.batch_chunks = batch_chunks
        self._collection_ready = False

    def ensure_collection(self) -> None:
        """Make the collection (recording the embedding model) unless it exists; before the first write."""
        if not self._collection_ready:
            self.store.ensure(CollectionMeta(self.embed_identity, self.embedder.dimension))
            self._collection_ready = True

    def write(self, batch: list[PendingDoc], report: IngestReport, on_chunks: Callable[[int], None] | None) -> None:
        """Embed and upsert the batch's chunks ``RAGLINE_INGEST_BATCH_CHUNKS`` at a time (a huge document too,
        in bounded memory); each document's old chunks are deleted only after all its new ones are written."""
        if not batch:
            return
        self.ensure_collection()
        todo = [
            (point_id(p.doc.doc_id, p.content_hash, i), p, i, chunk) for p in batch for i, chunk in enumerate(p.chunks)
        ]
        step, written = self.batch_chunks, 0
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
    def _payload(p: PendingDoc, index: int, chunk: Chunk) -> dict[str, Any]:
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
