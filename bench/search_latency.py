"""/v1/search latency and throughput over HTTP vs a bare in-process encode of the same query (the same int8 ONNX
file) and vs the in-process search (query embed + store query), with the server's RSS.

    .venv/bin/python bench/search_latency.py [--store .ragline-bench] [--collection scifact] [--n 400]

Needs a filled collection; `RAGLINE_DATA_DIR=.ragline-bench .venv/bin/rag eval ../shared/datasets/scifact
--split train --collection scifact` makes one from SciFact. Both halves run in this one call:
in-process, then against `rag serve` started as a subprocess on 127.0.0.1 (the embedded store admits one
process at a time), then in-process again; ratios are to the mean of the two in-process p50s, and to the mean of
the two bare-encode p50s (the goal: HTTP p50 <= 1.5x a bare encode). No rerank. Concurrency 1 is also timed with
the standard library's ``http.client`` on one kept-alive connection: httpx costs the client side several tenths
of a millisecond a request, which is not the server's. The last lines add up what no search over HTTP can go
below: the encode, the search's retrieve stage and a round trip to /healthz (with each client).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine
from bench.serve_process import start_serve
from bench.stats import peak_rss_mib, process_memory_mib
from rag.config import Settings
from rag.wiring import OpenStores, build_parts

QUERIES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact" / "queries.jsonl"


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def bare(settings: Settings, queries: list[str]) -> tuple[list[float], list[float], list[float]]:
    """(in-process search times, bare query-encode times, the search's own retrieve stage) in ms, each query
    in turn."""
    stores = OpenStores(settings)
    parts = build_parts(settings, stores, with_llm=False)
    pipeline, embedder = parts.pipeline, parts.embedder
    opts = pipeline.options(top_k=10)
    try:
        for q in queries[:20]:
            pipeline.search(q, opts, rerank=False)  # warm up
        times, encodes, retrieves = [], [], []
        for q in queries:
            t0 = time.perf_counter()
            reply = pipeline.search(q, opts, rerank=False)
            t1 = time.perf_counter()
            embedder.encode([q])
            t2 = time.perf_counter()
            times.append((t1 - t0) * 1000)
            encodes.append((t2 - t1) * 1000)
            retrieves.append(reply.timings_ms["retrieve"])
        return times, encodes, retrieves
    finally:
        stores.close()


def http(base: str, queries: list[str], concurrency: int) -> tuple[list[float], float]:
    with httpx.Client(base_url=base, timeout=60, limits=httpx.Limits(max_connections=concurrency)) as client:

        def one(q: str) -> float:
            t0 = time.perf_counter()
            r = client.post("/v1/search", json={"query": q, "top_k": 10, "rerank": False})
            r.raise_for_status()
            return (time.perf_counter() - t0) * 1000

        for q in queries[:20]:
            one(q)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            times = list(pool.map(one, queries))
        return times, len(queries) / (time.perf_counter() - t0)


def http_stdlib(base: str, queries: list[str], path: str = "/v1/search") -> list[float]:
    """One client on one kept-alive ``http.client`` connection: POST each query to ``path`` (GET ``/healthz``
    when ``path`` is that), reading each answer whole."""
    host, port = base.removeprefix("http://").split(":")
    conn = HTTPConnection(host, int(port), timeout=60)
    headers = {"content-type": "application/json"}
    times = []
    try:
        for n, q in enumerate(queries[:20] + queries):
            body = json.dumps({"query": q, "top_k": 10, "rerank": False})
            t0 = time.perf_counter()
            if path == "/healthz":
                conn.request("GET", path)
            else:
                conn.request("POST", path, body, headers)
            r = conn.getresponse()
            r.read()
            if r.status != 200:
                raise SystemExit(f"{path} answered {r.status}")
            if n >= 20:  # the first 20 warm up
                times.append((time.perf_counter() - t0) * 1000)
        return times
    finally:
        conn.close()


def http_noop(base: str, n: int) -> list[float]:
    """Round trips to /healthz (answers without work) with the same client: the HTTP stack's own cost."""
    with httpx.Client(base_url=base, timeout=60) as client:
        times = []
        for _ in range(n + 20):
            t0 = time.perf_counter()
            client.get("/healthz").raise_for_status()
            times.append((time.perf_counter() - t0) * 1000)
        return times[20:]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path, default=Path(".ragline-bench"))
    ap.add_argument("--collection", default="scifact")
    ap.add_argument("--n", type=int, default=400)
    args = ap.parse_args()
    print(describe_machine())
    queries = [json.loads(line)["text"] for line in QUERIES.open()][: args.n]
    settings = Settings(data_dir=args.store, collection=args.collection)
    before, enc_before, ret_before = bare(settings, queries)
    print(f"bare query encode:      p50 {pct(enc_before, 50):6.2f} ms  p95 {pct(enc_before, 95):6.2f} ms")
    print(f"in-process embed+query: p50 {pct(before, 50):6.2f} ms  p95 {pct(before, 95):6.2f} ms")
    results, stdlib, noop, rss = serve_and_load(args.store, args.collection, queries, (1, 8, 32))
    # Measured again after the HTTP runs: on a shared 2-core machine the speed drifts within a run.
    after, enc_after, ret_after = bare(settings, queries)
    print(f"bare query encode:      p50 {pct(enc_after, 50):6.2f} ms  p95 {pct(enc_after, 95):6.2f} ms  (again)")
    print(f"in-process again:       p50 {pct(after, 50):6.2f} ms  p95 {pct(after, 95):6.2f} ms")
    base_p50 = (pct(before, 50) + pct(after, 50)) / 2
    encode_p50 = (pct(enc_before, 50) + pct(enc_after, 50)) / 2
    for c, (times, qps) in results.items():
        print(
            f"HTTP concurrency {c:2}: p50 {pct(times, 50):6.2f} ms  p95 {pct(times, 95):6.2f} ms  {qps:6.1f} QPS  "
            f"p50 / in-process {pct(times, 50) / base_p50:.2f}  p50 / bare encode {pct(times, 50) / encode_p50:.2f}"
        )
    search_stdlib, noop_stdlib = stdlib
    print(
        f"HTTP concurrency  1, http.client: p50 {pct(search_stdlib, 50):6.2f} ms  p95 {pct(search_stdlib, 95):6.2f} ms"
        f"  p50 / in-process {pct(search_stdlib, 50) / base_p50:.2f}"
        f"  p50 / bare encode {pct(search_stdlib, 50) / encode_p50:.2f}"
    )
    # What no search can go below: the encode, the store's part of the search, and a round trip that does no work.
    retrieve_p50 = pct(ret_before + ret_after, 50)
    for client, trip in (("httpx", pct(noop, 50)), ("http.client", pct(noop_stdlib, 50))):
        floor = encode_p50 + retrieve_p50 + trip
        print(
            f"floor ({client}): bare encode {encode_p50:.2f} + retrieve stage {retrieve_p50:.2f} + HTTP /healthz "
            f"round trip {trip:.2f} = {floor:.2f} ms = {floor / encode_p50:.2f}x the bare encode"
        )
    print(
        f"rag serve RSS after the runs: {rss[0]:.0f} MiB (peak {rss[1]:.0f} MiB); "
        f"this process peak {peak_rss_mib():.0f} MiB"
    )


def serve_and_load(
    store: Path, collection: str, queries: list[str], concurrencies: tuple[int, ...]
) -> tuple[dict[int, tuple[list[float], float]], tuple[list[float], list[float]], list[float], tuple[float, float]]:
    """``rag serve`` as a subprocess on 127.0.0.1, loaded at each concurrency in turn (httpx); the searches and
    the /healthz round trips with ``http.client``; the /healthz round trips with httpx; its (RSS, peak RSS)."""
    server, base = start_serve(
        {"RAGLINE_DATA_DIR": str(store), "RAGLINE_COLLECTION": collection, "RAGLINE_LLM": "none"}
    )
    try:
        results = {c: http(base, queries, c) for c in concurrencies}
        stdlib = http_stdlib(base, queries), http_stdlib(base, queries, "/healthz")
        return results, stdlib, http_noop(base, len(queries)), process_memory_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
