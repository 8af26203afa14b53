"""The rerank stage: one deadline per request, retries only inside it, the LLM's judgement fused with the
retrieval score, and retrieval order whenever the LLM fails, is cooling down, or is refused."""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Literal

from cachetools import LRUCache

from rag.errors import LLMAccessError, LLMError, LLMRateLimitedError, LLMTimeoutError, LLMUnavailableError
from rag.llm.base import Completion, LLMRequest
from rag.llm.usage import MeteredLLM, Usage
from rag.rerank.fusion import JudgeTrust, TrustConfig, fused_order
from rag.rerank.parse import parse_grades, parse_ranking, parse_relevance
from rag.rerank.prompts import (
    GRADED_SYSTEM,
    LISTWISE_SCHEMA,
    LISTWISE_SYSTEM,
    POINTWISE_SCHEMA,
    POINTWISE_SYSTEM,
    graded_prompt,
    graded_schema,
    listwise_prompt,
    pointwise_prompt,
)
from rag.stored_chunk import SearchResult

Strategy = Literal["graded", "pointwise", "listwise"]
_BACKOFF_S = 0.05
# A retry is only worth starting when this much time is left after its wait.
_MIN_CALL_S = 0.2


@dataclass(frozen=True, slots=True)
class RerankConfig:
    """The rerank settings (``RAGLINE_RERANK_*``)."""

    strategy: Strategy
    window: int
    step: int
    passage_tokens: int
    timeout_ms: int
    retries: int
    weight: float  # what a grade of 10 adds over 0, in retrieval score ranges, when the judge is trusted in full
    trust: TrustConfig


@dataclass(frozen=True, slots=True)
class RerankOutcome:
    results: list[SearchResult]
    status: Literal["ok", "fallback", "skipped"]
    reason: str | None = None
    cached: bool = False
    trust: float | None = None  # how far the judge's grades counted (0-1), from its record before this query
    ms: float = 0.0  # the whole stage
    llm_ms: float = 0.0  # of which waiting for the LLM


class Reranker:
    """Judges candidates with an LLM — graded (one call grades all), pointwise (a call each, concurrent) or
    listwise (RankGPT sliding window) — and orders them by that judgement fused with the retrieval score."""

    def __init__(self, llm: MeteredLLM, config: RerankConfig, *, cache_size: int, concurrency: int) -> None:
        self.llm = llm
        self.config = config
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="rerank")
        self._cache: LRUCache[tuple, tuple[str, ...]] | None = LRUCache(cache_size) if cache_size else None
        self._cache_lock = threading.Lock()
        self.trust = JudgeTrust(config.trust)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def rerank(self, query: str, candidates: list[SearchResult], usage: Usage) -> RerankOutcome:
        started = time.perf_counter()
        if len(candidates) < 2:
            return RerankOutcome(candidates, "skipped", "fewer than two candidates")
        cfg = self.config
        key = (self.llm.label, cfg, query, *(c.chunk_id for c in candidates))
        by_id = {c.chunk_id: c for c in candidates}
        if self._cache is not None:
            with self._cache_lock:
                hit = self._cache.get(key)
            if hit is not None:
                return RerankOutcome([by_id[i] for i in hit], "ok", cached=True, ms=_ms_since(started))
        cooling = self.llm.admission.cooldown_left()
        if cooling > 0:
            reason = f"the LLM asked to wait after a 429 ({cooling:.1f} s left); not called, retrieval order"
            return RerankOutcome(candidates, "fallback", reason, ms=_ms_since(started))
        deadline = time.monotonic() + cfg.timeout_ms / 1000
        waited = [0.0]
        judge = {"graded": self._graded, "pointwise": self._pointwise, "listwise": self._listwise}[cfg.strategy]
        try:
            relevance = judge(query, candidates, deadline, usage, waited)
        except LLMError as exc:
            return RerankOutcome(candidates, "fallback", str(exc), ms=_ms_since(started), llm_ms=waited[0] * 1000)
        trust = self.trust.trust()
        order = fused_order(relevance, [c.score for c in candidates], cfg.weight, trust)
        self.trust.record(relevance)
        ranked = [candidates[i] for i in order]
        if self._cache is not None:
            with self._cache_lock:
                self._cache[key] = tuple(c.chunk_id for c in ranked)
        return RerankOutcome(ranked, "ok", ms=_ms_since(started), llm_ms=waited[0] * 1000, trust=round(trust, 3))

    def _call(
        self, system: str, prompt: str, schema: dict, max_tokens: int, deadline: float, usage: Usage
    ) -> Completion:
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LLMTimeoutError(f"rerank deadline of {self.config.timeout_ms} ms passed")
            request = LLMRequest(system, prompt, "rerank", max_tokens, remaining, schema)
            try:
                return self.llm.complete(request, "rerank", usage)
            except LLMTimeoutError as exc:
                raise LLMTimeoutError(f"rerank deadline of {self.config.timeout_ms} ms passed ({exc})") from exc
            except LLMAccessError:
                raise  # a bad key or an unknown model: retrying cannot help
            except (LLMRateLimitedError, LLMUnavailableError) as exc:
                wait_s = _BACKOFF_S * 2**attempt
                if isinstance(exc, LLMRateLimitedError) and exc.retry_after_s is not None:
                    wait_s = exc.retry_after_s  # the provider said how long; sooner is refused again
                if attempt >= self.config.retries or deadline - time.monotonic() < wait_s + _MIN_CALL_S:
                    raise
                time.sleep(wait_s)
                attempt += 1

    def _graded(
        self, query: str, candidates: list[SearchResult], deadline: float, usage: Usage, waited: list[float]
    ) -> list[float]:
        prompt = graded_prompt(query, candidates, self.config.passage_tokens)
        n = len(candidates)
        t0 = time.perf_counter()
        try:
            # About 3 tokens per grade ("10, ") plus the braces and key.
            out = self._call(GRADED_SYSTEM, prompt, graded_schema(n), 3 * n + 16, deadline, usage)
        finally:
            waited[0] += time.perf_counter() - t0
        return parse_grades(out.text, n)

    def _pointwise(
        self, query: str, candidates: list[SearchResult], deadline: float, usage: Usage, waited: list[float]
    ) -> list[float]:
        def grade(c: SearchResult) -> float:
            prompt = pointwise_prompt(query, c, self.config.passage_tokens)
            out = self._call(POINTWISE_SYSTEM, prompt, POINTWISE_SCHEMA, 16, deadline, usage)
            return parse_relevance(out.text) / 3

        t0 = time.perf_counter()
        futures = [self._pool.submit(grade, c) for c in candidates]
        done, pending = wait(futures, timeout=max(0.0, deadline - time.monotonic()), return_when=FIRST_EXCEPTION)
        waited[0] += time.perf_counter() - t0
        for f in pending:
            f.cancel()  # calls not started are dropped; calls in flight are abandoned, their answers ignored
        for f in done:
            if f.exception() is not None:
                raise f.exception()  # type: ignore[misc]
        if pending:
            raise LLMTimeoutError(f"rerank deadline of {self.config.timeout_ms} ms passed")
        return [f.result() for f in futures]

    def _listwise(
        self, query: str, candidates: list[SearchResult], deadline: float, usage: Usage, waited: list[float]
    ) -> list[float]:
        order = list(range(len(candidates)))
        window, step = self.config.window, self.config.step
        end = len(order)
        start = max(0, end - window)
        # Back to front, so relevant passages bubble up through overlapping windows (RankGPT).
        while True:
            part = order[start:end]
            prompt = listwise_prompt(query, [candidates[i] for i in part], self.config.passage_tokens)
            t0 = time.perf_counter()
            try:
                out = self._call(LISTWISE_SYSTEM, prompt, LISTWISE_SCHEMA, 8 * len(part) + 32, deadline, usage)
            finally:
                waited[0] += time.perf_counter() - t0
            labels = parse_ranking(out.text, range(1, len(part) + 1))
            order[start:end] = [part[n - 1] for n in labels]
            if start == 0:
                break
            end -= step
            start = max(0, end - window)
        # The LLM's order as a top-heavy relevance (1, 1/2, 1/3, ...): a ranking says how sure it is of its first
        # picks only by putting them first.
        relevance = [0.0] * len(order)
        for rank, i in enumerate(order):
            relevance[i] = 1 / (rank + 1)
        return relevance


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
