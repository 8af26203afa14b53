"""The query path: retrieve, rerank with the LLM (or say why not), and generate a cited answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any

from rag.errors import LLMError, LLMNotConfiguredError
from rag.generation import Answer, AnswerGenerator
from rag.llm.usage import Usage
from rag.rerank.reranker import Reranker
from rag.retrieval import Retriever, SearchOptions, SearchResult

NO_LLM = "no LLM configured (set GEMINI_API_KEY, or RAGLINE_LLM=ollama)"


@dataclass(slots=True)
class SearchReply:
    results: list[SearchResult]
    rerank: dict[str, Any]  # status (disabled, skipped, ok, fallback), backend, reason, cached
    usage: Usage
    timings_ms: dict[str, float]


@dataclass(frozen=True, slots=True)
class Event:
    """One step of an answer: ``passages``, then ``token`` pieces, then ``done``."""

    name: str
    data: dict[str, Any]


class QueryFlow:
    """Retrieval, reranking and answering over any retriever; the API and CLI both call this."""

    def __init__(
        self,
        reranker: Reranker | None,
        generator: AnswerGenerator | None,
        backend: str | None,
        candidates: int = 30,
        rerank_default: bool = True,
        answer_passages: int = 5,
    ) -> None:
        self.reranker = reranker
        self.generator = generator
        self.backend = backend
        self.candidates = candidates
        self.rerank_default = rerank_default
        self.answer_passages = answer_passages

    def search(self, retriever: Retriever, query: str, opts: SearchOptions, rerank: bool | None = None) -> SearchReply:
        started = time.perf_counter()
        wanted = self.rerank_default if rerank is None else rerank
        fetch = replace(opts, top_k=max(opts.top_k, self.candidates)) if wanted and self.reranker else opts
        out = retriever.search(query, fetch)
        usage = Usage()
        info: dict[str, Any] = {"status": "disabled", "backend": self.backend, "reason": None, "cached": False}
        results, rerank_ms = out.results, 0.0
        if wanted and self.reranker is None:
            info.update(status="skipped", reason=NO_LLM)
        elif wanted and self.reranker is not None:
            outcome = self.reranker.rerank(query, out.results, usage)
            results, rerank_ms = outcome.results, outcome.ms
            info.update(status=outcome.status, reason=outcome.reason, cached=outcome.cached)
        timings = {**out.timings_ms, "rerank": rerank_ms, "total": round((time.perf_counter() - started) * 1000, 3)}
        return SearchReply(results[: opts.top_k], info, usage, timings)

    def answer(self, retriever: Retriever, question: str, opts: SearchOptions) -> Iterator[Event]:
        """Events of one answer; an LLM failure ends it with ``status: failed`` and the reason, never raises."""
        if self.generator is None:
            raise LLMNotConfiguredError(f"answers need an LLM: {NO_LLM}")
        started = time.perf_counter()
        reply = self.search(retriever, question, opts)
        passages = reply.results
        yield Event("passages", {"results": [asdict(p) for p in passages], "rerank": reply.rerank})
        answer: Answer | None = None
        status, reason, parts = "ok", None, []
        t0 = time.perf_counter()
        try:
            for piece in self.generator.stream(question, passages, reply.usage):
                if isinstance(piece, Answer):
                    answer = piece
                else:
                    parts.append(piece)
                    yield Event("token", {"text": piece})
        except LLMError as exc:
            status, reason = "failed", str(exc)
        if answer is not None and answer.truncated:
            status, reason = "truncated", "the answer reached RAGLINE_ANSWER_MAX_TOKENS"
        timings = {
            **reply.timings_ms,
            "generate": round((time.perf_counter() - t0) * 1000, 3),
            "total": round((time.perf_counter() - started) * 1000, 3),
        }
        yield Event(
            "done",
            {
                "answer": answer.text if answer else "".join(parts),
                "status": status,
                "reason": reason,
                "citations": [asdict(c) for c in answer.citations] if answer else [],
                "rerank": reply.rerank,
                "usage": reply.usage.as_dict(),
                "timings_ms": timings,
            },
        )
