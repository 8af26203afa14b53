"""Ranking metrics as trec_eval and BEIR compute them (linear gains, graded qrels); checked against ranx."""

from __future__ import annotations

import math
from collections.abc import Mapping

Run = Mapping[str, Mapping[str, float]]  # query id → {doc id: score}
Qrels = Mapping[str, Mapping[str, int]]  # query id → {doc id: relevance}


def ranked(scores: Mapping[str, float]) -> list[str]:
    """Doc ids best first; equal scores in doc-id order (as ranx breaks ties)."""
    return [d for d, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]


def ndcg_at(docs: list[str], rels: Mapping[str, int], k: int) -> float:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(docs[:k]))
    ideal = sorted((r for r in rels.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(docs: list[str], rels: Mapping[str, int], k: int) -> float:
    relevant = {d for d, r in rels.items() if r > 0}
    return len(relevant.intersection(docs[:k])) / len(relevant) if relevant else 0.0


def mrr_at(docs: list[str], rels: Mapping[str, int], k: int) -> float:
    return next((1 / (i + 1) for i, d in enumerate(docs[:k]) if rels.get(d, 0) > 0), 0.0)


def evaluate(run: Run, qrels: Qrels) -> dict[str, float]:
    """Mean nDCG@10, Recall@10, Recall@100 and MRR@10 over the judged queries (a missing run scores 0)."""
    judged = [q for q, rels in qrels.items() if any(r > 0 for r in rels.values())]
    sums = dict.fromkeys(("ndcg@10", "recall@10", "recall@100", "mrr@10"), 0.0)
    for q in judged:
        docs, rels = ranked(run.get(q, {})), qrels[q]
        sums["ndcg@10"] += ndcg_at(docs, rels, 10)
        sums["recall@10"] += recall_at(docs, rels, 10)
        sums["recall@100"] += recall_at(docs, rels, 100)
        sums["mrr@10"] += mrr_at(docs, rels, 10)
    return {name: total / len(judged) if judged else 0.0 for name, total in sums.items()}
