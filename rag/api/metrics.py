"""Prometheus metrics of one app: requests and latency per route, latency per stage."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

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

    def observe_stages(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.stage.labels(stage).observe(ms / 1000)
