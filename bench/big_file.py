"""Ingest of one big text file: time and the process's peak RSS (target: under 2.5 GB for 50 MB, as for a small
corpus), against a small file in the same run.

    .venv/bin/python bench/big_file.py [--mb 50]

The file is prose-like text made from SciFact abstracts (synthetic words when ../shared is absent), written
to a temporary folder and ingested into a fresh embedded store in a child process, whose peak RSS is read
from the kernel (ru_maxrss) when it exits.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact" / "corpus.jsonl"


def make_text(path: Path, size: int) -> None:
    if CORPUS.is_file():
        paragraphs = [json.loads(line)["text"] for line in CORPUS.open()]
    else:
        rng = random.Random(3)
        words = [f"word{n}" for n in range(3000)]
        paragraphs = [" ".join(rng.choices(words, k=180)) + "." for _ in range(2000)]
    with path.open("w") as f:
        written, n = 0, 0
        while written < size:
            written += f.write(paragraphs[n % len(paragraphs)] + "\n\n")
            n += 1


def ingest(folder: Path, data: Path) -> tuple[float, float, dict]:
    env = {**os.environ, "RAGLINE_DATA_DIR": str(data)}
    t0 = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "rag.edges.ingest_cli", str(folder), "--json"], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if run.returncode != 0:
        raise SystemExit(run.stderr[-2000:])
    return seconds, peak_mb, json.loads(run.stdout)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=50)
    args = ap.parse_args()
    print(describe_machine())
    with tempfile.TemporaryDirectory() as tmp:
        small, big = Path(tmp) / "small", Path(tmp) / "big"
        small.mkdir()
        big.mkdir()
        make_text(small / "small.txt", 200_000)
        make_text(big / "big.txt", int(args.mb * 2**20))
        # ru_maxrss of children is the largest of any child so far: the small run goes first.
        s_sec, s_peak, s_rep = ingest(small, Path(tmp) / "data-small")
        print(f"0.2 MB file: {s_sec:6.1f} s, {s_rep['chunks']} chunks, peak RSS {s_peak:7.0f} MB")
        b_sec, b_peak, b_rep = ingest(big, Path(tmp) / "data-big")
        print(
            f"{args.mb:g} MB file: {b_sec:6.1f} s, {b_rep['chunks']} chunks, peak RSS {b_peak:7.0f} MB "
            f"(ratio to the small file's peak {b_peak / s_peak:.2f})"
        )


if __name__ == "__main__":
    main()
