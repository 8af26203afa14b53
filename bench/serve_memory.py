"""What `rag serve` holds in memory over 600 SciFact abstracts, with no LLM: once ready, then after 300 searches
and 20 text uploads — for the default embedder (ONNX int8 run by ONNX Runtime directly) and for torch.

    .venv/bin/python bench/serve_memory.py [--docs 600] [--searches 300] [--uploads 20]

The abstracts are ingested once into a temporary store with the `ingest` command; each backend's server is a
fresh `rag serve` process over it (RSS and its peak read from /proc). Targets (issue 21): <= 400 MiB once
ready, <= 450 MiB after the searches and uploads.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine
from bench.serve_process import start_serve
from bench.stats import process_memory_mib

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--docs", type=int, default=600)
    ap.add_argument("--searches", type=int, default=300)
    ap.add_argument("--uploads", type=int, default=20)
    args = ap.parse_args()
    print(describe_machine())
    queries = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").open()][: args.searches]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        corpus = Path(tmp) / "abstracts.jsonl"
        with (SCIFACT / "corpus.jsonl").open() as src, corpus.open("w") as out:
            for line, _ in zip(src, range(args.docs), strict=False):
                out.write(line)
        env = {"RAGLINE_DATA_DIR": str(data), "RAGLINE_LLM": "none"}
        ingest = Path(sys.executable).with_name("ingest")
        subprocess.run([str(ingest), str(corpus)], check=True, env={**os.environ, **env}, capture_output=True)
        print(f"{args.docs} SciFact abstracts; {args.searches} searches (top 10, hybrid), {args.uploads} text uploads")
        print(f"{'embedder':12} {'ready MiB':>9} {'after MiB':>9} {'peak MiB':>8} {'p50 ms':>6} {'ready s':>7}")
        for backend in ("onnx-int8", "torch"):
            t0 = time.perf_counter()
            server, base = start_serve({**env, "RAGLINE_EMBED_BACKEND": backend})
            ready_s = time.perf_counter() - t0
            try:
                time.sleep(1)
                ready, _ = process_memory_mib(server.pid)
                times, uploaded, every = [], 0, max(1, len(queries) // max(1, args.uploads))
                with httpx.Client(base_url=base, timeout=60) as client:
                    for n, q in enumerate(queries):
                        t1 = time.perf_counter()
                        client.post("/v1/search", json={"query": q, "top_k": 10}).raise_for_status()
                        times.append((time.perf_counter() - t1) * 1000)
                        if uploaded < args.uploads and n % every == 0:
                            uploaded += 1
                            text = f"Upload {n}: " + q * 20
                            files = {"files": (f"upload-{n}.txt", text.encode())}
                            client.post("/v1/documents", files=files).raise_for_status()
                after, peak = process_memory_mib(server.pid)
            finally:
                server.terminate()
                server.wait(timeout=30)
            times.sort()
            print(
                f"{backend:12} {ready:9.0f} {after:9.0f} {peak:8.0f} {times[len(times) // 2]:6.2f} {ready_s:7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
