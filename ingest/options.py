"""How files become stored chunks: one value the composition root (``rag/wiring.py``) makes from the settings.
The pipeline reads nothing else, and what decides how a file reads — the OCR mode among it — is written once,
here, for the file stamp that lets an unchanged re-run skip the file."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ingest.loaders import ReadOptions

PIPELINE_VERSION = 1


@dataclass(frozen=True, slots=True)
class IngestOptions:
    embed_identity: str  # the embedding model's stable name, recorded with the collection
    chunk_tokens: int | None  # None: the model's maximum
    chunk_overlap: int
    bm25_avg_len: float
    batch_chunks: int  # chunks embedded and upserted together
    read: ReadOptions

    def fingerprint(self) -> str:
        """What makes a document's chunks and vectors: part of its content hash (a change re-embeds it)."""
        return json.dumps(
            [PIPELINE_VERSION, self.embed_identity, self.chunk_tokens, self.chunk_overlap, self.bm25_avg_len]
        )

    def reading(self) -> list:
        """What decides the text a file yields besides its bytes: part of its file stamp."""
        ocr = self.read.ocr
        if not ocr.enabled:
            return ["off"]
        return ["llm" if ocr.reader is not None else "local", ocr.dpi, ocr.min_chars]
