"""The rerank stage: one deadline per request, retries only inside it, retrieval order whenever the LLM fails."""

from __future__ import annotations

import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Literal

from cachetools import LRUCache

from rag.errors import LLMError, LLMRateLimitedError, LLMTimeoutError, LLMUnavailableError
from rag.llm.base import Completion, LLMRequest
from rag.llm.usage import MeteredLLM, Usage
from rag.rerank.parse import parse_ranking, parse_relevance
from rag.rerank.prompts import (
    LISTWISE_SCHEMA,
    LISTWISE_SYSTEM,
    POINTWISE_SCHEMA,
    POINTWISE_SYSTEM,
    listwise_prompt,
    pointwise_prompt,
)
from rag.stored_chunk import SearchResult

Strategy = Literal["pointwise", "listwise"]
_BACKOFF_S = 0.05
# A retry is only worth starting when this much time is left after its backoff.
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


@dataclass(frozen=True, slots=True)
class RerankOutcome:
    results: list[SearchResult]
    status: Literal["ok", "fallback", "skipped"]
    reason: str | None = None
    cached: bool = False
    ms: float = 0.0  # the whole stage
    llm_ms: float = 0.0  # of which waiting for the LLM


class Reranker:
    """Reorders candidates with an LLM, pointwise (concurrent calls) or listwise (RankGPT sliding window)."""

    def __init__(self, llm: MeteredLLM, config: RerankConfig, *, cache_size: int, concurrency: int) -> None:
        self.llm = llm
        self.config = config
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="rerank")
        self._cache: LRUCache[tuple, tuple[str, ...]] | None = LRUCache(cache_size) if cache_size else None
        self._cache_lock = threading.Lock()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def rerank(self, query: str, candidates: list[SearchResult], usage: Usage) -> RerankOutcome:
        started = time.perf_counter()
        if len(candidates) < 2:
            return RerankOutcome(candidates, "skipped", "fewer than two candidates")
        cfg = self.config
        key = (self.llm.label, cfg.strategy, cfg.window, cfg.step, cfg.passage_tokens, query)
        key += tuple(c.chunk_id for c in candidates)
        by_id = {c.chunk_id: c for c in candidates}
        if self._cache is not None:
            with self._cache_lock:
                hit = self._cache.get(key)
            if hit is not None:
                return RerankOutcome([by_id[i] for i in hit], "ok", cached=True, ms=_ms_since(started))
        deadline = time.monotonic() + cfg.timeout_ms / 1000
        waited = [0.0]
        try:
            rank = self._pointwise if cfg.strategy == "pointwise" else self._listwise
            order = rank(query, candidates, deadline, usage, waited)
        except LLMError as exc:
            return RerankOutcome(candidates, "fallback", str(exc), ms=_ms_since(started), llm_ms=waited[0] * 1000)
        ranked = [candidates[i] for i in order]
        if self._cache is not None:
            with self._cache_lock:
                self._cache[key] = tuple(c.chunk_id for c in ranked)
        return RerankOutcome(ranked, "ok", ms=_ms_since(started), llm_ms=waited[0] * 1000)

    def _call(
        self, system: str, prompt: str, schema: dict, max_tokens: int, deadline: float, usage: Usage
    ) -> Completion:
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LLMTimeoutError(f"rerank deadline of {self.config.timeout_ms} ms passed")
            try:
                return self.llm.complete(LLMRequest(system, prompt, schema, max_tokens, remaining), "rerank", usage)
            except LLMTimeoutError as exc:
                raise LLMTimeoutError(f"rerank deadline of {self.config.timeout_ms} ms passed ({exc})") from exc
            except (LLMRateLimitedError, LLMUnavailableError):
                backoff = _BACKOFF_S * 2**attempt
                if attempt >= self.config.retries or deadline - time.monotonic() < backoff + _MIN_CALL_S:
                    raise
                time.sleep(backoff)
                attempt += 1

    def _pointwise(
        self, query: str, candidates: list[SearchResult], deadline: float, usage: Usage, waited: list[float]
    ) -> list[int]:
        def grade(c: SearchResult) -> float:
            prompt = pointwise_prompt(query, c, self.config.passage_tokens)
            return parse_relevance(self._call(POINTWISE_SYSTEM, prompt, POINTWISE_SCHEMA, 32, deadline, usage).text)

        t0 = time.perf_counter()
        futures = [self._pool.submit(grade, c) for c in candidates]
        done, pending = wait(futures, timeout=max(0.0, deadline - time.monotonic()), return_when=FIRST_EXCEPTION)
        waited[0] += time.perf_counter() - t0
        for f in pending:
            f.cancel()
        for f in done:
            if f.exception() is not None:
                raise f.exception()  # type: ignore[misc]
        if pending:
            raise LLMTimeoutError(f"rerank deadline of {self.config.timeout_ms} ms passed")
        grades = [f.result() for f in futures]
        # Ties keep retrieval order (sorted() is stable).
        return sorted(range(len(candidates)), key=lambda i: -grades[i])

    def _listwise(
        self, query: str, candidates: list[SearchResult], deadline: float, usage: Usage, waited: list[float]
    ) -> list[int]:
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
                return order
            end -= step
            start = max(0, end - window)


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
