"""Prometheus metrics of one app: requests and latency per route, latency per stage."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from rag.llm.usage import UsageRecord

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ragline_requests_total", "HTTP requests", ["route", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "ragline_request_seconds", "HTTP request latency", ["route"], buckets=_BUCKETS, registry=self.registry
        )
        self.stage = Histogram(
            "ragline_stage_seconds", "Latency per pipeline stage", ["stage"], buckets=_BUCKETS, registry=self.registry
        )

        labels = ["backend", "model", "stage"]
        self.llm_calls = Counter("ragline_llm_calls_total", "LLM calls", [*labels, "outcome"], registry=self.registry)
        self.llm_tokens = Counter(
            "ragline_llm_tokens_total", "LLM tokens", [*labels, "direction"], registry=self.registry
        )
        self.llm_cost = Counter("ragline_llm_cost_usd_total", "Estimated LLM cost", labels, registry=self.registry)

    def observe_llm(self, rec: UsageRecord) -> None:
        key = (rec.backend, rec.model, rec.stage)
        self.llm_calls.labels(*key, rec.outcome).inc()
        self.llm_tokens.labels(*key, "input").inc(rec.input_tokens)
        self.llm_tokens.labels(*key, "output").inc(rec.output_tokens)
        self.llm_cost.labels(*key).inc(rec.cost_usd)

    def observe_stages(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.stage.labels(stage).observe(ms / 1000)
