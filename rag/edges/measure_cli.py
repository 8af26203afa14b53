"""``rag eval`` and ``rag cost``: the commands that measure (retrieval quality and speed, LLM cost)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from rag.config import get_settings
from rag.edges.exit_codes import EXIT_OK
from rag.errors import LLMNotConfiguredError, ServerUnavailableError, UsageError
from rag.llm.backend_choice import NO_LLM
from rag.service import Service


def evaluate(args: argparse.Namespace) -> int:
    """``rag eval``: ingest a BEIR dataset's corpus, then score retrieval (and rerank) on its queries."""
    from rag.evaluation import collection_for, evaluate_mode, load_beir

    split = load_beir(args.dataset, args.split)
    settings = get_settings().with_overrides(collection=args.collection or collection_for(args.dataset))
    with Service(settings, with_llm=args.rerank) as session:
        parts = session.parts
        if args.rerank and parts.pipeline.reranker is None:
            raise LLMNotConfiguredError(f"--rerank needs an LLM: {NO_LLM}")
        started = time.perf_counter()
        report = session.ingestor(None).run([split.corpus])
        print(
            f"collection {settings.collection}: {report.added} added, {report.updated} updated, "
            f"{report.unchanged} unchanged ({time.perf_counter() - started:.1f} s)",
            file=sys.stderr,
        )
        modes = args.mode or [settings.mode]
        reports = [evaluate_mode(parts.pipeline, split, m, args.top_k, rerank=args.rerank) for m in modes]
    if args.json:
        first = reports[0].as_dict()
        if len(reports) > 1:
            first["by_mode"] = {r.mode: r.as_dict() for r in reports}
        print(json.dumps(first))
        return EXIT_OK
    print(f"{args.dataset.name} ({args.split}), {reports[0].queries} queries, top {args.top_k}")
    head = f"{'mode':8} {'nDCG@10':>8} {'R@10':>7} {'R@100':>7} {'MRR@10':>7}  {'ms p50':>7} {'p95':>7}"
    print(head + ("  rerank ms p50   calls/1k  tokens in/1k  out/1k   $/1k" if args.rerank else ""))
    for r in reports:
        m, lat = r.metrics, r.latency_ms
        row = f"{r.mode:8} {m['ndcg@10']:8.4f} {m['recall@10']:7.4f} {m['recall@100']:7.4f} {m['mrr@10']:7.4f}"
        row += f"  {lat['total']['p50']:7.1f} {lat['total']['p95']:7.1f}"
        if r.rerank is not None:
            k = r.rerank
            row += f"  {lat['rerank']['p50']:13.1f} {k['calls_per_1k']:10.0f} {k['input_tokens_per_1k']:13} "
            row += f"{k['output_tokens_per_1k']:7} {k['cost_usd_per_1k']:6.3f}"
            if set(k["statuses"]) - {"ok"}:
                row += f"  ({k['statuses']})"
        print(row)
    return EXIT_OK


def cost(args: argparse.Namespace) -> int:
    """``rag cost``: LLM cost per query as measured, and per month: the Gemini API against a rented GPU."""
    from rag import cost as costs

    settings = get_settings()
    if args.server:
        import httpx

        keys = settings.api_key_list()
        key = args.api_key or (keys[0] if keys else None)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        try:
            r = httpx.get(f"{args.server.rstrip('/')}/v1/usage", headers=headers, timeout=30)
        except httpx.TransportError as exc:
            raise ServerUnavailableError(f"cannot reach the ragline server at {args.server}: {exc}") from None
        if r.status_code != 200:
            raise UsageError(f"server answered {r.status_code}: {r.text[:200]}")
        measured = costs.from_summary(r.json())
    elif settings.usage_log:
        measured = costs.from_log(settings.usage_log)
    else:
        raise UsageError("nothing to measure: set RAGLINE_USAGE_LOG (the server's call log) or give --server URL")
    p = costs.projection(measured, args.queries_per_month, settings.gpu_hour_usd, settings.gpu_queries_per_hour)
    print(json.dumps(p) if args.json else costs.report(p))
    return EXIT_OK
