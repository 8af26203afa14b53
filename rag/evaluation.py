"""BEIR-layout evaluation: every query goes through the query pipeline the API serves (retrieval, the candidate
cap, rerank), and the runs are scored (metrics in ``rag.ir_metrics``)."""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.errors import UsageError
from rag.ir_metrics import evaluate
from rag.llm.usage import Usage
from rag.query_pipeline import QueryPipeline
from rag.retrieval import SearchOptions
from rag.store.base import Mode

_BATCH = 64


@dataclass(frozen=True, slots=True)
class BeirSplit:
    corpus: Path
    queries: dict[str, str]  # only the queries judged in this split
    qrels: dict[str, dict[str, int]]


def load_beir(folder: Path, split: str = "test") -> BeirSplit:
    """``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` of a BEIR folder."""
    for need in ("corpus.jsonl", "queries.jsonl", f"qrels/{split}.tsv"):
        if not (folder / need).is_file():
            raise UsageError(f"{folder} is not a BEIR folder with split {split!r}: {need} is missing")
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]:
        qid, doc, score = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(score)
    queries = {q["_id"]: q["text"] for q in map(json.loads, (folder / "queries.jsonl").open()) if q["_id"] in qrels}
    return BeirSplit(folder / "corpus.jsonl", queries, {q: r for q, r in qrels.items() if q in queries})


def collection_for(folder: Path) -> str:
    """The collection a dataset is ingested into: ``beir-<folder name>``."""
    return "beir-" + (re.sub(r"[^A-Za-z0-9_-]", "-", folder.resolve().name)[:59] or "data")


def run_queries(
    pipeline: QueryPipeline, queries: dict[str, str], opts: SearchOptions, collection: str | None = None
) -> dict[str, dict[str, float]]:
    """{query id: {doc id: score}} for every query in retrieval order, one document per entry (best chunk)."""
    qids = list(queries)
    replies = pipeline.search_many([queries[q] for q in qids], opts, collection, rerank=False)
    return {q: {r.doc_id: r.score for r in o.results} for q, o in zip(qids, replies, strict=True)}


@dataclass(slots=True)
class ModeReport:
    mode: str
    metrics: dict[str, float]
    queries: int
    latency_ms: dict[str, dict[str, float]]  # stage → p50, p95, mean
    rerank: dict[str, Any] | None = None  # statuses, tokens and cost per 1,000 queries

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {**{k: round(v, 4) for k, v in self.metrics.items()}, "queries": self.queries}
        out.update(mode=self.mode, latency_ms=self.latency_ms)
        if self.rerank is not None:
            out["rerank"] = self.rerank
        return out


def _percentiles(values: list[float]) -> dict[str, float]:
    if len(values) < 2:
        v = values[0] if values else 0.0
        return {"p50": v, "p95": v, "mean": v}
    cuts = statistics.quantiles(values, n=100)
    return {"p50": round(cuts[49], 3), "p95": round(cuts[94], 3), "mean": round(statistics.fmean(values), 3)}


def evaluate_mode(
    pipeline: QueryPipeline, split: BeirSplit, mode: Mode, top_k: int, *, rerank: bool = False
) -> ModeReport:
    """Every query of ``split`` through ``pipeline`` in batches, reranked when asked."""
    qids = list(split.queries)
    run: dict[str, dict[str, float]] = {}
    timings: dict[str, list[float]] = {"embed": [], "retrieve": [], "rerank": [], "total": []}
    statuses: Counter[str] = Counter()
    usage = Usage()
    opts = pipeline.options(top_k=top_k, mode=mode)
    for start in range(0, len(qids), _BATCH):
        batch = qids[start : start + _BATCH]
        replies = pipeline.search_many([split.queries[q] for q in batch], opts, rerank=rerank)
        for q, reply in zip(batch, replies, strict=True):
            # Scores by final rank, so the reranked order is what gets scored.
            run[q] = {r.doc_id: float(len(reply.results) - i) for i, r in enumerate(reply.results)}
            for stage, values in timings.items():
                values.append(reply.timings_ms[stage])
            if rerank:
                statuses[reply.rerank["status"]] += 1
                usage.merge(reply.usage)
    report = ModeReport(
        mode,
        evaluate(run, split.qrels),
        len(qids),
        {k: _percentiles(v) for k, v in timings.items() if rerank or k != "rerank"},
    )
    if rerank:
        per_1k = 1000 / max(len(qids), 1)
        report.rerank = {
            "statuses": dict(statuses),
            "calls_per_1k": round(usage.calls * per_1k, 1),
            "input_tokens_per_1k": round(usage.input_tokens * per_1k),
            "output_tokens_per_1k": round(usage.output_tokens * per_1k),
            "cost_usd_per_1k": round(usage.cost_usd * per_1k, 4),
        }
    return report
