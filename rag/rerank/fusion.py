"""The LLM's judgement fused with the retrieval score, so a weak judge cannot sink a strong first stage.

A grade counts at its **absolute level** (a 10 means the same in a list of 3 as in a list of 20):
``fused = retrieval score scaled to [0, 1] + weight · trust · grade``, with grades as fractions of 10. How much
the judge is trusted comes from its **track record**, not from the list at hand: over the recent queries, how
often its grades agree with retrieval's order (Goodman–Kruskal gamma over the pairs it graded differently),
taken at a lower confidence bound (2 standard errors of Kendall's S for a judge that grades at random). A judge
that grades at random agrees with a decent retriever about as often as it disagrees, so its trust falls to 0
within some dozens of queries and retrieval order comes back; a judge that tells relevant passages apart agrees
with retrieval more often than not, whatever the list's length or how many of its passages are relevant. One
list cannot tell the two apart — with 2 to 5 candidates no statistic of the grades can — so a new process
starts trusting the judge (``prior_agreement``), as a new user expects.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass

# A lower bound this many standard errors under the estimated agreement decides the trust.
_CONFIDENCE_Z = 2.0


def min_max(values: Sequence[float]) -> list[float]:
    lo, hi = min(values), max(values)
    return [1.0] * len(values) if hi <= lo else [(v - lo) / (hi - lo) for v in values]


def fused_order(relevance: Sequence[float], retrieval: Sequence[float], weight: float, trust: float) -> list[int]:
    """Candidate positions by retrieval score (min-max scaled) + ``weight`` · ``trust`` · relevance (0-1);
    ties keep retrieval order."""
    scaled = min_max(retrieval)
    fused = [s + weight * trust * r for s, r in zip(scaled, relevance, strict=True)]
    return sorted(range(len(fused)), key=lambda i: -fused[i])


def concordance(relevance: Sequence[float]) -> tuple[int, int]:
    """(concordant, discordant) pairs of a judgement against retrieval order (position 0 first): a pair agrees
    when the judge grades the earlier candidate higher. Pairs graded alike count for neither."""
    agree = disagree = 0
    for i, a in enumerate(relevance):
        for b in relevance[i + 1 :]:
            if a > b:
                agree += 1
            elif a < b:
                disagree += 1
    return agree, disagree


@dataclass(frozen=True, slots=True)
class TrustConfig:
    full_agreement: float  # the agreement (gamma, lower bound) at which grades count in full
    memory: float  # per query, the share of the record kept (0.98: about the last 50 queries)
    prior_agreement: float  # what a new process assumes of the judge ...
    prior_pairs: float  # ... worth this many graded pairs of evidence


class JudgeTrust:
    """The judge's running record of agreement with retrieval, and the trust (0-1) it earns. Thread-safe."""

    def __init__(self, config: TrustConfig) -> None:
        self.config = config
        self._net = config.prior_agreement * config.prior_pairs  # concordant - discordant, decayed
        self._pairs = config.prior_pairs  # concordant + discordant, decayed
        self._variance = config.prior_pairs  # of ``_net`` were the judge random (pairs of one list are not independent)
        self._lock = threading.Lock()

    def trust(self) -> float:
        with self._lock:
            net, pairs, variance = self._net, self._pairs, self._variance
        if pairs <= 0:
            return 0.0
        lower = (net - _CONFIDENCE_Z * math.sqrt(variance)) / pairs
        return min(1.0, max(0.0, lower / self.config.full_agreement))

    def record(self, relevance: Sequence[float]) -> None:
        """Adds one query's judgement (candidates in retrieval order) to the record."""
        agree, disagree = concordance(relevance)
        n, untied = len(relevance), agree + disagree
        # Kendall's S (agree - disagree) of a random judge has variance n(n-1)(2n+5)/18, less the tied pairs' share.
        variance = n * (n - 1) * (2 * n + 5) / 18 * untied / max(1, n * (n - 1) // 2)
        keep = self.config.memory
        with self._lock:
            self._net = keep * self._net + agree - disagree
            self._pairs = keep * self._pairs + untied
            self._variance = keep * keep * self._variance + variance
