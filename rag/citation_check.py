"""Checked citations: each claim of an answer against the passage(s) it cites, locally, with no LLM call.

A claim is a sentence of the answer, or a clause of it that carries its own ``[n]`` markers. Its support by a
passage is the cosine similarity between the claim and the passage — its vector as stored at ingest, so that
only the claims are embedded (the embedder already loaded for retrieval); without a stored vector, its best
sentence — averaged with the share of the claim's content words found in the passage; a claim whose numbers
are not all in the passage gets half. Then the comparison that catches a wrong number:
a claim that another passage of the same answer supports better than the cited one loses the difference. A
claim citing several passages takes its best. A claim citing nothing is unsupported when it states something
(three content words or more, and not "the passages do not say"); otherwise it is not a claim to check.
This is similarity, not entailment: a passage that says the opposite in the same words supports a claim.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from cachetools import LRUCache

from rag.embedding import Embedder, encodable
from rag.stored_chunk import SearchResult

_MARKER = re.compile(r"\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_CLAUSE_AFTER_MARKER = re.compile(r"(\]\s*[,;:])\s+(?=\S)")
_WORD = re.compile(r"[^\W_]+(?:[.'-][^\W_]+)*")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?:%|\b)")
_REFUSAL = re.compile(
    r"\b(do(?:es)? not (?:say|mention|state|contain)|no information|not (?:mentioned|stated|covered)|"
    r"cannot (?:answer|tell|say)|can't (?:answer|tell)|unknown from)\b",
    re.I,
)
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "and",
        "or",
        "but",
        "nor",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "with",
        "by",
        "from",
        "as",
        "that",
        "this",
        "these",
        "those",
        "it",
        "its",
        "their",
        "there",
        "which",
        "who",
        "whom",
        "whose",
        "than",
        "then",
        "into",
        "over",
        "under",
        "not",
        "no",
        "can",
        "may",
        "might",
        "will",
        "would",
        "should",
        "could",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "so",
        "such",
        "also",
        "both",
        "either",
        "each",
        "more",
        "most",
        "other",
        "some",
        "any",
        "all",
        "only",
        "very",
        "about",
        "after",
        "before",
        "between",
        "through",
        "during",
        "without",
        "within",
        "based",
        "according",
        "passage",
        "passages",
    ]
)
_MAX_SENTENCES = 8  # per passage, the ones sharing the most words with the answer's claims are embedded


@dataclass(frozen=True, slots=True)
class Claim:
    text: str
    cites: tuple[int, ...]  # passage numbers as the answer wrote them (1-based)
    support: float | None  # 0-1; None: not a claim to check (no citation and states nothing)
    supported: bool


def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in _STOP and (len(w) > 1 or w.isdigit())]


def _numbers(text: str) -> set[str]:
    return {n.rstrip("%").replace(",", ".") for n in _NUMBER.findall(text)}


def _stems(words: set[str]) -> set[str]:
    return {w[:5] for w in words if len(w) >= 5}


def _has_word(words: set[str], stems: set[str], word: str) -> bool:
    """``word``, or a word sharing its first five letters (a crude match of inflections: "infect"/"infection")."""
    return word in words or (len(word) >= 5 and word[:5] in stems)


def split_claims(answer: str) -> list[tuple[str, tuple[int, ...]]]:
    """(claim text without its markers, passage numbers it cites) in order; claims that are only markers or
    punctuation are left out."""
    out = []
    for sentence in _SENTENCE_END.split(answer.strip()):
        for clause in _CLAUSE_AFTER_MARKER.sub(r"\1\n", sentence).split("\n"):
            cites = tuple(
                dict.fromkeys(int(n) for group in _MARKER.findall(clause) for n in re.split(r"\s*[,;]\s*", group))
            )
            text = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(_MARKER.sub("", clause).split())).strip(" ,;:")
            if _WORD.search(text):
                out.append((text, cites))
    return out


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if _WORD.search(s)]


class CitationChecker:
    """Checks the claims of answers against their passages; passage sentences' vectors are cached by text."""

    def __init__(self, embedder: Embedder, min_support: float, cache_size: int = 4096) -> None:
        self.embedder = embedder
        self.min_support = min_support
        self._vectors: LRUCache[str, np.ndarray] = LRUCache(cache_size)
        self._lock = threading.Lock()

    def check(
        self,
        answer: str,
        passages: Sequence[SearchResult],
        stored: Mapping[str, Sequence[float]] | None = None,
    ) -> list[Claim]:
        """The answer's claims in order; ``stored``: dense vectors of the passages by chunk id, as the store holds
        them (passages without one are compared sentence by sentence)."""
        split = split_claims(encodable(answer))
        if not split:
            return []
        texts = [encodable(p.text if not p.title else f"{p.title}. {p.text}") for p in passages]
        claim_words = [set(_content_words(t)) for t, _ in split]
        claim_numbers = [_numbers(t) for t, _ in split]
        every_word = set().union(*claim_words)
        stored = stored or {}
        chosen = [
            [] if p.chunk_id in stored else self._chosen_sentences(t, every_word)
            for p, t in zip(passages, texts, strict=True)
        ]
        claim_vecs = self.embedder.encode([t for t, _ in split])
        passage_vecs = self._encode_cached([s for group in chosen for s in group])
        scores = np.zeros((len(split), len(passages)))
        for j, (passage, text, group) in enumerate(zip(passages, texts, chosen, strict=True)):
            words, numbers = set(_content_words(text)), _numbers(text)
            stems = _stems(words)
            if passage.chunk_id in stored:
                sims = claim_vecs @ np.asarray(stored[passage.chunk_id], dtype=np.float32)
            elif group:
                sims = (claim_vecs @ np.stack([passage_vecs[s] for s in group]).T).max(axis=1)
            else:
                sims = np.zeros(len(split))
            for i, cw in enumerate(claim_words):
                lexical = sum(_has_word(words, stems, w) for w in cw) / len(cw) if cw else 0.0
                score = 0.5 * max(0.0, float(sims[i])) + 0.5 * lexical
                if not claim_numbers[i] <= numbers:
                    score *= 0.5
                scores[i, j] = score
        return [self._claim(text, cites, claim_words[i], scores[i]) for i, (text, cites) in enumerate(split)]

    def _claim(self, text: str, cites: tuple[int, ...], words: set[str], scores: np.ndarray) -> Claim:
        valid = [n for n in cites if 1 <= n <= len(scores)]
        if cites and not valid:  # cites a passage the answer was not given
            return Claim(text, cites, 0.0, False)
        if not valid:
            states = len(words) >= 3 and not _REFUSAL.search(text)
            return Claim(text, cites, 0.0 if states else None, not states)
        best_cited = max(scores[n - 1] for n in valid)
        others = [s for k, s in enumerate(scores, start=1) if k not in valid]
        # Another passage of this answer says it better: the citation points at the wrong one.
        gap = max(0.0, max(others, default=0.0) - best_cited)
        support = round(float(min(1.0, max(0.0, best_cited - gap))), 3)
        return Claim(text, cites, support, support >= self.min_support)

    def _chosen_sentences(self, text: str, answer_words: set[str]) -> list[str]:
        sentences = split_sentences(text)
        if len(sentences) <= _MAX_SENTENCES:
            return sentences
        stems = _stems(answer_words)
        ranked = sorted(
            sentences, key=lambda s: -sum(_has_word(answer_words, stems, w) for w in set(_content_words(s)))
        )
        return ranked[:_MAX_SENTENCES]

    def _encode_cached(self, sentences: list[str]) -> dict[str, np.ndarray]:
        with self._lock:
            known = {s: self._vectors[s] for s in sentences if s in self._vectors}
        missing = list(dict.fromkeys(s for s in sentences if s not in known))
        if missing:
            fresh = self.embedder.encode(missing)
            with self._lock:
                for s, v in zip(missing, fresh, strict=True):
                    self._vectors[s] = v
                    known[s] = v
        return known


def unsupported_count(claims: Sequence[Claim]) -> int:
    return sum(not c.supported for c in claims)
