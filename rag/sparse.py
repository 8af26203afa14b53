"""BM25-style sparse vectors from Qdrant's own BM25 tokenizer (stemmed, stopwords removed, hashed ids).

Documents carry term-frequency weights only; Qdrant applies IDF at query time (``Modifier.IDF``), so
token ids stay stable across ingests and no corpus vocabulary has to be kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from qdrant_edge import Bm25, Bm25Config


@dataclass(frozen=True, slots=True)
class Sparse:
    indices: list[int]
    values: list[float]


# The usual Okapi constants (what Lucene and bm25s use); avg_len is a setting because it depends on chunk size.
BM25_K1 = 1.2
BM25_B = 0.75


class SparseEncoder:
    """Turns text into sparse BM25 vectors (documents) or unit-weight term sets (queries)."""

    def __init__(self, avg_len: float) -> None:
        self._bm25 = Bm25(Bm25Config(k=BM25_K1, b=BM25_B, avg_len=avg_len, language="english"))

    def document(self, text: str) -> Sparse:
        v = self._bm25.embed_document(text)
        return Sparse(list(v.indices), list(v.values))

    def query(self, text: str) -> Sparse:
        v = self._bm25.embed_query(text)
        return Sparse(list(v.indices), list(v.values))
