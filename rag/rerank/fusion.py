"""The LLM's judgement fused with the retrieval score, so a weak judge cannot sink a strong first stage.

A grade counts by how far it stands out from the same query's other grades (its z-score), like DBSF counts a
retrieval score by how far it stands out from its list: only a grade more than ``standout`` standard
deviations above the query's mean moves a passage, by ``weight`` × the excess, on top of its retrieval score
scaled to [0, 1]. A judge that grades at random rarely stands out, and a decisive one moves what it is sure of.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def min_max(values: Sequence[float]) -> list[float]:
    lo, hi = min(values), max(values)
    return [1.0] * len(values) if hi <= lo else [(v - lo) / (hi - lo) for v in values]


def fused_order(relevance: Sequence[float], retrieval: Sequence[float], weight: float, standout: float) -> list[int]:
    """Candidate positions by retrieval score (min-max scaled) + ``weight`` · max(0, z(relevance) − ``standout``);
    ties keep retrieval order."""
    mean, spread = statistics.fmean(relevance), statistics.pstdev(relevance)
    scaled = min_max(retrieval)
    boost = [max(0.0, (r - mean) / spread - standout) if spread > 0 else 0.0 for r in relevance]
    fused = [s + weight * b for s, b in zip(scaled, boost, strict=True)]
    return sorted(range(len(fused)), key=lambda i: -fused[i])
