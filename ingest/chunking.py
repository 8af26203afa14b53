"""Token-budgeted chunking: chunks fit the embedder's window with the title, overlap, and never split words.

Word-piece counts come from the embedder's own tokenizer, one count per whitespace-separated word; for
BERT-style tokenizers (the default) their sum is exactly the chunk's length, so no chunk is cut by the model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ingest.document import Document

_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")
# A chunk may end early, at a sentence end, if that keeps at least this share of the budget.
_SENTENCE_SLACK = 0.7
_SEGMENT_CHARS = 100_000  # text tokenised at a time (a 50 MB file at once took 10 GB)


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str  # the passage as stored and shown
    embed_text: str  # what the embedders read: title, then the passage
    metadata: dict[str, Any]


def segments(text: str, size: int = _SEGMENT_CHARS) -> Iterator[str]:
    """``text`` in pieces of at most about ``size`` characters, cut at a paragraph break (else a line break, else
    a space) — so a huge file is tokenised a piece at a time, in bounded memory."""
    start = 0
    while len(text) - start > size:
        window = text[start : start + size]
        cut = max(window.rfind("\n\n"), window.rfind("\n") if "\n\n" not in window else -1)
        cut = cut if cut > size // 2 else window.rfind(" ")
        cut = cut if cut > 0 else size
        yield text[start : start + cut]
        start += cut
    yield text[start:]


class Chunker:
    """Splits documents into chunks of at most ``budget`` word pieces, title and special tokens included."""

    def __init__(
        self,
        count_tokens: Callable[[list[str]], list[int]],
        max_tokens: int,
        chunk_tokens: int | None,
        overlap: int,
    ) -> None:
        self._count = count_tokens
        # [CLS] and [SEP] take two places of the model's window.
        self.window = min(chunk_tokens or max_tokens, max_tokens) - 2
        self.overlap = min(overlap, self.window // 2)

    def chunk(self, doc: Document) -> list[Chunk]:
        title_words = doc.title.split()
        counts = self._count(title_words) if title_words else []
        # The title takes at most a quarter of the window; a longer one is shortened for embedding only.
        title_budget, kept = self.window // 4, 0
        used = 0
        for c in counts:
            if used + c > title_budget:
                break
            used, kept = used + c, kept + 1
        title = " ".join(title_words[:kept])
        budget = self.window - used - (1 if title else 0)
        chunks: list[Chunk] = []
        for section in doc.sections:
            pieces = (piece for segment in segments(section.text) for piece in self._split(segment, budget))
            for piece in pieces:
                embed_text = f"{title}\n{piece}" if title else piece
                chunks.append(Chunk(piece, embed_text, section.metadata))
        return chunks

    def _split(self, text: str, budget: int) -> list[str]:
        """Pieces of ``text`` within ``budget``, each cut from the text as it is: line breaks (code, lists, table
        rows) stay; the embedders read them as spaces."""
        words, counts, spans = self._fit_words([(m.group(), m.start()) for m in _WORD.finditer(text)], budget)
        out: list[str] = []
        start, n = 0, len(words)
        while start < n:
            end, used = start, 0
            while end < n and used + counts[end] <= budget:
                used += counts[end]
                end += 1
            end = max(end, start + 1)
            if end < n:
                end = self._sentence_end(words, counts, start, end, budget)
            out.append(text[spans[start][0] : spans[end - 1][1]])
            if end >= n:
                break
            # Step back over at most `overlap` word pieces, always moving forward.
            back, shared = end, 0
            while back - 1 > start and shared + counts[back - 1] <= self.overlap:
                back -= 1
                shared += counts[back]
            start = back
        return out

    @staticmethod
    def _sentence_end(words: list[str], counts: list[int], start: int, end: int, budget: int) -> int:
        """The last sentence end in the window if it keeps enough of it; ``end`` otherwise."""
        used = sum(counts[start:end])
        for i in range(end, start, -1):
            if used < budget * _SENTENCE_SLACK:
                break
            if _SENTENCE_END.search(words[i - 1]):
                return i
            used -= counts[i - 1]
        return end

    def _fit_words(
        self, found: list[tuple[str, int]], budget: int
    ) -> tuple[list[str], list[int], list[tuple[int, int]]]:
        """Words (with where they start) as words, per-word counts and spans; a single word longer than the budget
        (a hash, a URL) is split into pieces that fit."""
        words = [w for w, _ in found]
        counts = self._count(words)
        spans = [(at, at + len(w)) for w, at in found]
        if all(c <= budget for c in counts):
            return words, counts, spans
        out_w: list[str] = []
        out_c: list[int] = []
        out_s: list[tuple[int, int]] = []
        for (w, at), c in zip(found, counts, strict=True):
            if c <= budget:
                out_w.append(w)
                out_c.append(c)
                out_s.append((at, at + len(w)))
                continue
            size = max(1, len(w) * budget // (2 * c))
            pieces = [w[i : i + size] for i in range(0, len(w), size)]
            out_w.extend(pieces)
            out_c.extend(self._count(pieces))
            out_s.extend((at + i, at + min(i + size, len(w))) for i in range(0, len(w), size))
        return out_w, out_c, out_s
