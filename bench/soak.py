"""Soak: mixed search / answer / upload / delete at concurrency 8 against `rag serve` with a faulty LLM.

    .venv/bin/python bench/soak.py [--seconds 600] [--concurrency 8]

`rag serve` runs as a subprocess on a fresh data dir, seeded with 1,000 SciFact abstracts (synthetic text when
../shared is absent), behind a fake Gemini (testkit, the real wire protocol) that answers half its calls
well and fails the rest the ways the real one does: too slow for the rerank deadline, 429 with a retry delay,
500, babble, a SAFETY block, a cut-off answer. Uploads and deletes cycle through 100 document ids, so the data
stops growing early. Reports errors (any 5xx, transport error or unexpected status: want 0), p50/p95 per
operation, how answers and reranks degraded, and the server's RSS at the start, middle and end of the run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake servers live with the tests

from bench.machine import describe_machine
from bench.serve_process import start_serve
from bench.stats import process_memory_mib
from testkit.gemini import gemini_server
from testkit.judges import judge, keyword_grade
from testkit.server import Behaviour, FakeLLM

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"
FAULTS = [  # (weight, how one LLM call goes)
    (50, Behaviour()),
    (10, Behaviour(delay_s=6.0)),  # past the 4 s rerank deadline
    (10, Behaviour(status=429, retry_delay_s=2.0)),
    (10, Behaviour(status=500)),
    (10, Behaviour(output="babble")),
    (5, Behaviour(blocked="SAFETY")),
    (5, Behaviour(output="truncate")),
]
# (weight, operation); statuses each may answer without it being an error
MIX = [(65, "search"), (10, "answer"), (12, "upload"), (13, "delete")]
EXPECTED = {"search": {200}, "answer": {200}, "upload": {200}, "delete": {204, 404}}


class FaultyLLM(FakeLLM):
    """A fake whose every call draws its behaviour from ``FAULTS``."""

    def next_behaviour(self, body: dict[str, Any], path: str) -> Behaviour:
        with self.lock:
            self.requests.append({"path": path})
            return random.choices([b for _, b in FAULTS], [w for w, _ in FAULTS])[0]


def corpus_and_queries() -> tuple[list[dict[str, str]], list[str]]:
    if (SCIFACT / "corpus.jsonl").is_file():
        with (SCIFACT / "corpus.jsonl").open() as f:
            docs = [json.loads(line) for _, line in zip(range(1000), f, strict=False)]
        queries = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").open()]
        return [{"_id": d["_id"], "title": d.get("title", ""), "text": d["text"]} for d in docs], queries
    rng = random.Random(7)
    words = [
        "cell",
        "protein",
        "gene",
        "cancer",
        "risk",
        "trial",
        "patients",
        "dose",
        "effect",
        "brain",
        "blood",
        "immune",
        "virus",
        "therapy",
    ]
    docs = [{"_id": f"d{i}", "text": " ".join(rng.choices(words, k=120))} for i in range(1000)]
    return docs, [" ".join(rng.choices(words, k=6)) for _ in range(500)]


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else (values or [float("nan")])[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    print(describe_machine())
    docs, queries = corpus_and_queries()
    fake = FaultyLLM(responder=judge(keyword_grade))
    with tempfile.TemporaryDirectory() as tmp, gemini_server(fake) as llm:
        env = {
            "RAGLINE_DATA_DIR": str(Path(tmp) / "data"),
            "RAGLINE_LLM": "gemini",
            "GEMINI_API_KEY": "soak-key",
            "RAGLINE_GEMINI_BASE_URL": llm.url,
        }
        server, base = start_serve(env)
        try:
            run(base, server.pid, docs, queries, args.seconds, args.concurrency)
        finally:
            server.terminate()
            server.wait(timeout=60)
        print(f"fake LLM calls: {len(fake.requests)}")


def run(base: str, pid: int, docs: list[dict[str, str]], queries: list[str], seconds: float, workers: int) -> None:
    with httpx.Client(base_url=base, timeout=120) as client:
        for start in range(0, len(docs), 250):
            client.post("/v1/documents/records", json={"records": docs[start : start + 250]}).raise_for_status()
    print(f"seeded {len(docs)} documents; running {seconds:.0f} s at concurrency {workers}")
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: Counter[tuple[str, int]] = Counter()
    degraded: Counter[str] = Counter()
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def one(client: httpx.Client, rng: random.Random) -> None:
        op = rng.choices([o for _, o in MIX], [w for w, _ in MIX])[0]
        n = rng.randrange(100)
        t0 = time.perf_counter()
        try:
            if op == "search":
                r = client.post("/v1/search", json={"query": rng.choice(queries), "top_k": 10})
            elif op == "answer":
                r = client.post("/v1/answer", json={"query": rng.choice(queries)})
            elif op == "upload":
                doc = rng.choice(docs)
                r = client.post("/v1/documents", files=[("files", (f"soak-{n}.txt", doc["text"].encode()))])
            else:
                r = client.delete(f"/v1/documents/soak-{n}.txt")
        except httpx.HTTPError as exc:
            with lock:
                errors.append(f"{op}: {type(exc).__name__}: {exc}")
            return
        ms = (time.perf_counter() - t0) * 1000
        with lock:
            latencies[op].append(ms)
            statuses[(op, r.status_code)] += 1
            if r.status_code not in EXPECTED[op]:
                errors.append(f"{op}: HTTP {r.status_code}: {r.text[:200]}")
            elif op == "search":
                degraded[f"rerank {r.json()['rerank']['status']}"] += 1
            elif op == "answer":
                degraded[f"answer {r.json()['status']}"] += 1

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base, timeout=120) as client:
            while time.monotonic() < stop_at:
                one(client, rng)

    rss: list[tuple[float, float]] = []
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    started = time.monotonic()
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        rss.append((time.monotonic() - started, process_memory_mib(pid)[0]))
        time.sleep(5)
    for t in threads:
        t.join()

    total = sum(statuses.values())
    print(f"requests: {total} ({total / seconds:.1f}/s); errors: {len(errors)}")
    for e in errors[:10]:
        print("  ", e)
    for op in ("search", "answer", "upload", "delete"):
        times = latencies[op]
        codes = {c: k for (o, c), k in sorted(statuses.items()) if o == op}
        print(f"{op:7} n={len(times):5}  p50 {pct(times, 50):8.1f} ms  p95 {pct(times, 95):8.1f} ms  statuses {codes}")
    print("degraded, as flagged in the responses:", dict(sorted(degraded.items())))
    first = next((m for t, m in rss if t >= 30), rss[0][1])  # after the first 30 s: model, caches, WAL warm
    middle = min(rss, key=lambda x: abs(x[0] - seconds / 2))[1]
    print(
        f"server RSS MiB: start (30 s) {first:.0f}, middle {middle:.0f}, end {rss[-1][1]:.0f}, "
        f"max {max(m for _, m in rss):.0f}; end/start {rss[-1][1] / first:.2f}"
    )


if __name__ == "__main__":
    main()
