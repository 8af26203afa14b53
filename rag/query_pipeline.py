"""The one query path: retrieve, cap the candidates, rerank them with the LLM (or say why not), answer.

The API routes, ``rag search`` / ``rag ask``, the batch route and ``rag eval`` all call this; none of them
re-implements its steps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import Any

from rag.citation_check import CitationChecker, Claim, unsupported_count
from rag.citation_llm import llm_checked
from rag.config import Settings
from rag.errors import LLMBlockedError, LLMError, LLMNotConfiguredError, OverloadedError
from rag.generation import Answer, AnswerGenerator
from rag.llm.backend_choice import NO_LLM
from rag.llm.usage import Usage
from rag.rerank.reranker import Reranker
from rag.retrieval import Retriever, SearchOptions, SearchOutput
from rag.store.base import Condition, FusionName, Mode
from rag.stored_chunk import SearchResult


@dataclass(slots=True)
class SearchReply:
    results: list[SearchResult]
    rerank: dict[str, Any]  # status (disabled, skipped, ok, fallback), backend, reason, cached, trust
    usage: Usage
    timings_ms: dict[str, float]


@dataclass(frozen=True, slots=True)
class Event:
    """One step of an answer: ``passages``, then ``token`` pieces, then ``done``."""

    name: str
    data: dict[str, Any]


class QueryPipeline:
    """Search, rerank and answer over any collection; what a caller leaves out comes from the settings."""

    def __init__(
        self,
        settings: Settings,
        retrievers: Callable[[str | None], Retriever],
        reranker: Reranker | None,
        generator: AnswerGenerator | None,
        backend: str | None,
        citations: CitationChecker | None = None,
    ) -> None:
        """``citations``: checks each claim of an answer against the passages it cites (None: not checked)."""
        self.settings = settings
        self._retrievers = retrievers
        self.reranker = reranker
        self.generator = generator
        self.citations = citations
        self.backend = backend
        self._answer_slots = threading.BoundedSemaphore(settings.max_concurrent_answers)

    def close(self) -> None:
        if self.reranker is not None:
            self.reranker.close()

    def options(
        self,
        *,
        top_k: int | None = None,
        mode: Mode | None = None,
        conditions: tuple[Condition, ...] = (),
        group_by_doc: bool = True,
        fusion: FusionName | None = None,
        weights: tuple[float, float] | None = None,
        visible_to: tuple[str, ...] | None = None,
    ) -> SearchOptions:
        """A search as asked, with ``RAGLINE_TOP_K`` and ``RAGLINE_MODE`` where the caller did not say;
        ``visible_to``: the caller's identities, when ACLs apply to it."""
        return SearchOptions(
            top_k=top_k or self.settings.top_k,
            mode=mode or self.settings.mode,
            conditions=conditions,
            group_by_doc=group_by_doc,
            fusion=fusion,
            weights=weights,
            visible_to=visible_to,
        )

    def answer_options(
        self,
        top_k: int | None = None,
        conditions: tuple[Condition, ...] = (),
        visible_to: tuple[str, ...] | None = None,
    ) -> SearchOptions:
        """The passages an answer is grounded in: ``RAGLINE_ANSWER_PASSAGES`` unless asked otherwise."""
        return self.options(top_k=top_k or self.settings.answer_passages, conditions=conditions, visible_to=visible_to)

    def search(
        self, query: str, opts: SearchOptions, collection: str | None = None, rerank: bool | None = None
    ) -> SearchReply:
        return self.search_many([query], opts, collection, rerank)[0]

    def search_many(
        self,
        queries: list[str],
        opts: SearchOptions,
        collection: str | None = None,
        rerank: bool | None = None,
        concurrent: bool = False,
    ) -> list[SearchReply]:
        """Each query retrieved (embedded in one batch); with reranking, only the top ``RAGLINE_RERANK_CANDIDATES``
        go to the LLM and the rest keep their retrieval order behind them. ``concurrent`` reranks the queries at
        once, as many as ``RAGLINE_LLM_MAX_CONCURRENCY``; otherwise one after another (as ``rag eval`` times them)."""
        wanted = self.settings.rerank if rerank is None else rerank
        reranker = self.reranker if wanted else None
        fetch = replace(opts, top_k=max(opts.top_k, self.settings.rerank_candidates)) if reranker else opts
        outs = self._retrievers(collection).search_batch(queries, fetch)

        def finish(query: str, out: SearchOutput) -> SearchReply:
            return self._reranked(query, out, opts.top_k, wanted, reranker)

        if concurrent and reranker is not None and len(queries) > 1:
            with ThreadPoolExecutor(self.settings.llm_max_concurrency, thread_name_prefix="batch") as pool:
                return list(pool.map(finish, queries, outs))
        return [finish(q, out) for q, out in zip(queries, outs, strict=True)]

    def _reranked(
        self, query: str, out: SearchOutput, top_k: int, wanted: bool, reranker: Reranker | None
    ) -> SearchReply:
        cap = self.settings.rerank_candidates
        usage = Usage()
        info: dict[str, Any] = {
            "status": "disabled",
            "backend": self.backend,
            "reason": None,
            "cached": False,
            "trust": None,
        }
        results, rerank_ms = out.results, 0.0
        if wanted and reranker is None:
            info.update(status="skipped", reason=NO_LLM)
        elif reranker is not None:
            outcome = reranker.rerank(query, results[:cap], usage)
            results, rerank_ms = outcome.results + results[cap:], outcome.ms
            info.update(status=outcome.status, reason=outcome.reason, cached=outcome.cached, trust=outcome.trust)
        timings = {**out.timings_ms, "rerank": rerank_ms}
        timings["total"] = round(sum(timings.values()), 3)
        return SearchReply(results[:top_k], info, usage, timings)

    def answer(
        self, question: str, opts: SearchOptions, collection: str | None = None, conversation: str | None = None
    ) -> Iterator[Event]:
        """Events of one answer; an LLM failure ends it with ``status: failed`` (``blocked`` when the provider's
        filters stopped it) and the reason, never raises. ``conversation``: what the answer is written to (a
        chat's earlier turns and the question) when retrieval should use ``question`` alone."""
        if self.generator is None:
            raise LLMNotConfiguredError(f"answers need an LLM: {NO_LLM}")
        # Refused rather than queued: each answer holds a worker for as long as the LLM takes.
        if not self._answer_slots.acquire(blocking=False):
            raise OverloadedError(
                f"{self.settings.max_concurrent_answers} answers are already being generated "
                "(RAGLINE_MAX_CONCURRENT_ANSWERS); retry shortly"
            )
        try:
            yield from self._answer(question, opts, collection, self.generator, conversation or question)
        finally:
            self._answer_slots.release()

    def _checked(
        self, text: str, passages: list[SearchResult], collection: str | None, usage: Usage
    ) -> tuple[list[Claim] | None, str | None]:
        """The answer's claims checked against the passages they cite (with the passages' stored vectors, then by
        the LLM with ``RAGLINE_CITATION_CHECK=llm``), and why the LLM's check did not stand, if it did not."""
        if self.citations is None or not text:
            return (None if self.citations is None else []), None
        store = self._retrievers(collection).store
        claims = self.citations.check(text, passages, store.dense_vectors([p.chunk_id for p in passages]))
        if self.settings.citation_check != "llm" or self.generator is None:
            return claims, None
        return llm_checked(
            self.generator.llm,
            claims,
            passages,
            usage,
            passage_tokens=self.settings.answer_passage_tokens,
            timeout_s=self.settings.llm_timeout_s,
        )

    def _answer(
        self, question: str, opts: SearchOptions, collection: str | None, generator: AnswerGenerator, asked: str
    ) -> Iterator[Event]:
        started = time.perf_counter()
        reply = self.search(question, opts, collection)
        passages = reply.results
        yield Event("passages", {"results": [asdict(p) for p in passages], "rerank": reply.rerank})
        answer: Answer | None = None
        status, reason, parts = "ok", None, []
        t0 = time.perf_counter()
        try:
            for piece in generator.stream(asked, passages, reply.usage):
                if isinstance(piece, Answer):
                    answer = piece
                else:
                    parts.append(piece)
                    yield Event("token", {"text": piece})
        except LLMBlockedError as exc:
            status, reason = "blocked", str(exc)
        except LLMError as exc:
            status, reason = "failed", str(exc)
        if answer is not None and answer.truncated:
            status, reason = "truncated", "the answer reached RAGLINE_ANSWER_MAX_TOKENS"
        text = answer.text if answer else "".join(parts)
        t1 = time.perf_counter()
        claims, check_note = self._checked(text, passages, collection, reply.usage)
        timings = {
            **reply.timings_ms,
            "generate": round((t1 - t0) * 1000, 3),
            "check_citations": round((time.perf_counter() - t1) * 1000, 3),
            "total": round((time.perf_counter() - started) * 1000, 3),
        }
        yield Event(
            "done",
            {
                "answer": text,
                "status": status,
                "reason": reason,
                "citations": [asdict(c) for c in answer.citations] if answer else [],
                "claims": [asdict(c) for c in claims] if claims is not None else None,
                "unsupported_claims": unsupported_count(claims) if claims is not None else None,
                "citation_check": None
                if claims is None
                else {"method": self.settings.citation_check, "note": check_note},
                "rerank": reply.rerank,
                "usage": reply.usage.as_dict(),
                "timings_ms": timings,
            },
        )
