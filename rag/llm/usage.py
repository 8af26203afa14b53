"""Token and cost accounting of every LLM call: per request, process totals, metrics, and a JSONL log."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from rag.errors import LLMError, LLMRateLimitedError
from rag.llm.admission import Admission
from rag.llm.base import Completion, LLMBackend, LLMRequest
from rag.llm.pricing import PriceTable


@dataclass(slots=True)
class Usage:
    """Tokens and cost of the LLM calls made for one request."""

    input_tokens: int = 0
    output_tokens: int = 0  # thinking included: it is billed as output
    thinking_tokens: int = 0
    cost_usd: float = 0.0
    calls: int = 0
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16], repr=False, compare=False)
    stages: set[str] = field(default_factory=set, repr=False, compare=False)  # stages this request has called
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, record: UsageRecord) -> None:
        with self._lock:  # concurrent pointwise calls add to one request's usage
            self.input_tokens += record.input_tokens
            self.output_tokens += record.output_tokens
            self.thinking_tokens += record.thinking_tokens
            self.cost_usd += record.cost_usd
            self.calls += 1

    def merge(self, other: Usage) -> None:
        """Add another request's totals (e.g. to sum an evaluation run)."""
        with self._lock:
            self.input_tokens += other.input_tokens
            self.output_tokens += other.output_tokens
            self.thinking_tokens += other.thinking_tokens
            self.cost_usd += other.cost_usd
            self.calls += other.calls

    def as_dict(self) -> dict[str, float | int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "thinking_tokens": self.thinking_tokens,
            "cost_usd": round(self.cost_usd, 8),
            "calls": self.calls,
        }


@dataclass(frozen=True, slots=True)
class UsageRecord:
    backend: str
    model: str
    stage: str  # "rerank" or "answer"
    input_tokens: int
    output_tokens: int
    thinking_tokens: int
    cost_usd: float
    seconds: float
    outcome: str  # "ok" or the error class name
    at: float
    request: str  # the search or answer the call was made for (calls of one request share it)


class UsageMeter:
    """Records every call: totals since start, listeners (metrics), and an optional JSONL log."""

    def __init__(self, prices: PriceTable, log_path: Path | None = None) -> None:
        self.prices = prices
        self.log_path = log_path
        self.started = time.time()
        self.listeners: list[Callable[[UsageRecord], None]] = []
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, str, str], Usage] = {}
        self._requests: dict[tuple[str, str, str], int] = {}  # requests that called each stage

    def record(
        self,
        llm: LLMBackend,
        stage: str,
        completion: Completion | None,
        seconds: float,
        usage: Usage,
        outcome: str = "ok",
    ) -> None:
        """One call, into the totals, the log, the listeners and the request's ``usage``."""
        tokens_in = completion.input_tokens if completion else 0
        tokens_out = completion.output_tokens if completion else 0
        rec = UsageRecord(
            backend=llm.name,
            model=llm.model,
            stage=stage,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            thinking_tokens=completion.thinking_tokens if completion else 0,
            cost_usd=self.prices.cost(llm.name, llm.model, tokens_in, tokens_out, seconds),
            seconds=round(seconds, 4),
            outcome=outcome,
            at=time.time(),
            request=usage.request_id,
        )
        key = (rec.backend, rec.model, rec.stage)
        with self._lock:
            self._totals.setdefault(key, Usage()).add(rec)
            if stage not in usage.stages:
                usage.stages.add(stage)
                self._requests[key] = self._requests.get(key, 0) + 1
            if self.log_path:
                with self.log_path.open("a") as f:
                    f.write(json.dumps(asdict(rec)) + "\n")
        for listener in self.listeners:
            listener(rec)
        usage.add(rec)

    def summary(self) -> dict:
        """Totals since start, overall and per backend/model/stage."""
        with self._lock:
            rows = [
                {"backend": b, "model": m, "stage": s, "requests": self._requests.get((b, m, s), 0), **u.as_dict()}
                for (b, m, s), u in sorted(self._totals.items())
            ]
        keys = ("input_tokens", "output_tokens", "thinking_tokens", "cost_usd", "calls")
        total = {k: sum(r[k] for r in rows) for k in keys}
        total["cost_usd"] = round(total["cost_usd"], 8)
        return {"since": self.started, "total": total, "by_model": rows}


class MeteredLLM:
    """A backend whose every call is admitted (concurrency, rate, cooldown), timed, and recorded into the meter
    and the request's ``Usage`` — failed calls too, with whatever the provider still billed."""

    def __init__(self, backend: LLMBackend, meter: UsageMeter, admission: Admission) -> None:
        self.backend = backend
        self.meter = meter
        self.admission = admission

    @property
    def label(self) -> str:
        return f"{self.backend.name}:{self.backend.model}"

    def _failed(self, exc: LLMError, stage: str, usage: Usage, started: float) -> None:
        if isinstance(exc, LLMRateLimitedError) and exc.retry_after_s:
            self.admission.cool_down(exc.retry_after_s)
        seconds = time.perf_counter() - started
        self.meter.record(self.backend, stage, exc.billed, seconds, usage, type(exc).__name__)

    def complete(self, request: LLMRequest, stage: str, usage: Usage) -> Completion:
        deadline = time.monotonic() + request.timeout_s
        with self.admission.slot(deadline):
            request = replace(request, timeout_s=max(0.001, deadline - time.monotonic()))
            started = time.perf_counter()
            try:
                out = self.backend.complete(request)
            except LLMError as exc:
                self._failed(exc, stage, usage, started)
                raise
        self.meter.record(self.backend, stage, out, time.perf_counter() - started, usage)
        return out

    def stream(self, request: LLMRequest, stage: str, usage: Usage) -> Iterator[str | Completion]:
        with self.admission.slot(time.monotonic() + request.timeout_s):
            started = time.perf_counter()
            try:
                for piece in self.backend.stream(request):
                    if isinstance(piece, Completion):
                        self.meter.record(self.backend, stage, piece, time.perf_counter() - started, usage)
                    yield piece
            except LLMError as exc:
                self._failed(exc, stage, usage, started)
                raise
