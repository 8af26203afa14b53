"""BEIR-layout datasets and runs of the retrieval core over their queries (metrics are left to ranx)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rag.retrieval import Retriever, SearchOptions
from rag.store.base import Mode


@dataclass(frozen=True, slots=True)
class BeirSplit:
    corpus: Path
    queries: dict[str, str]  # only the queries judged in this split
    qrels: dict[str, dict[str, int]]


def load_beir(folder: Path, split: str = "test") -> BeirSplit:
    """``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` of a BEIR folder."""
    qrels: dict[str, dict[str, int]] = {}
    for line in (folder / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]:
        qid, doc, score = line.split("\t")
        qrels.setdefault(qid, {})[doc] = int(score)
    queries = {q["_id"]: q["text"] for q in map(json.loads, (folder / "queries.jsonl").open()) if q["_id"] in qrels}
    return BeirSplit(folder / "corpus.jsonl", queries, {q: r for q, r in qrels.items() if q in queries})


def run_queries(retriever: Retriever, queries: dict[str, str], mode: Mode, top_k: int = 100) -> dict[str, dict]:
    """{query id: {doc id: score}} for every query, one document per entry (best chunk)."""
    qids = list(queries)
    outs = retriever.search_batch([queries[q] for q in qids], SearchOptions(top_k=top_k, mode=mode))
    return {q: {r.doc_id: r.score for r in o.results} for q, o in zip(qids, outs, strict=True)}
