"""``rag cost``: what the LLM stages cost per query as measured, projected per month on the Gemini API and on a
rented GPU running a local Gemma: the API costs per query, a GPU per hour, so the API is cheaper at low volume
and self-hosting past a break-even volume."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rag.errors import UsageError

HOURS_A_MONTH = 730  # 365 × 24 / 12


@dataclass(frozen=True, slots=True)
class Measured:
    """LLM usage per query (a search or an answer request), averaged over what was recorded."""

    queries: int
    input_tokens: float
    output_tokens: float  # thinking included
    thinking_tokens: float
    cost_usd: float  # at the prices the service applied (RAGLINE_LLM_PRICES)


def from_log(path: Path) -> Measured:
    """From ``RAGLINE_USAGE_LOG``: one line per call, calls of one request sharing its ``request`` id."""
    if not path.is_file():
        raise UsageError(f"no usage log at {path}: set RAGLINE_USAGE_LOG on the server, or use --server URL")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return _measured(len({r.get("request") for r in rows}), rows)


def from_summary(summary: dict[str, Any]) -> Measured:
    """From a running server's ``GET /v1/usage`` (requests counted per stage; an answer also reranks)."""
    rows = summary.get("by_model", [])
    per_stage: dict[str, int] = {}
    for r in rows:
        per_stage[r["stage"]] = per_stage.get(r["stage"], 0) + int(r.get("requests", 0))
    return _measured(max(per_stage.values(), default=0), rows)


def _measured(queries: int, rows: list[dict[str, Any]]) -> Measured:
    if not rows or not queries:
        raise UsageError("no LLM calls recorded yet: run some searches with reranking first")

    def per_query(key: str) -> float:
        return sum(float(r.get(key, 0)) for r in rows) / queries

    return Measured(
        queries,
        per_query("input_tokens"),
        per_query("output_tokens"),
        per_query("thinking_tokens"),
        per_query("cost_usd"),
    )


def projection(m: Measured, queries_per_month: int, gpu_hour_usd: float, gpu_queries_per_hour: int) -> dict[str, Any]:
    """Monthly cost of ``queries_per_month`` on the API and on enough rented GPUs, and the break-even volume."""
    api = m.cost_usd * queries_per_month
    gpus = max(1, math.ceil(queries_per_month / (gpu_queries_per_hour * HOURS_A_MONTH)))
    gpu_month = gpu_hour_usd * HOURS_A_MONTH
    break_even = math.ceil(gpu_month / m.cost_usd) if m.cost_usd > 0 else None
    return {
        "measured": asdict(m),
        "queries_per_month": queries_per_month,
        "api_usd_per_month": round(api, 2),
        "self_hosted_usd_per_month": round(gpus * gpu_month, 2),
        "gpus": gpus,
        "gpu_hour_usd": gpu_hour_usd,
        "gpu_queries_per_hour": gpu_queries_per_hour,
        "break_even_queries_per_month": break_even,
        "cheaper": "api" if api <= gpus * gpu_month else "self-hosted",
    }


def report(p: dict[str, Any]) -> str:
    m = p["measured"]
    lines = [
        f"measured over {m['queries']} queries: {m['input_tokens']:.0f} input and {m['output_tokens']:.0f} output "
        f"tokens per query ({m['thinking_tokens']:.0f} of them thinking), ${m['cost_usd'] * 1000:.3f} per 1,000",
        f"{p['queries_per_month']:,} queries a month:",
        f"  Gemini API           ${p['api_usd_per_month']:>10,.2f}",
        f"  self-hosted Gemma    ${p['self_hosted_usd_per_month']:>10,.2f}  ({p['gpus']} GPU at "
        f"${p['gpu_hour_usd']}/h around the clock, up to {p['gpu_queries_per_hour']:,} queries an hour each)",
    ]
    if p["break_even_queries_per_month"] is not None:
        lines.append(f"break-even: {p['break_even_queries_per_month']:,} queries a month (below it the API is cheaper)")
    return "\n".join(lines)
