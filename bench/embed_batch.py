"""Embedding batch size against speed and memory: 768 chunks that fill the model's 256 word pieces, encoded with
each batch size in a fresh process (its peak RSS read from the kernel), in one run.

    .venv/bin/python bench/embed_batch.py [--sizes 16 32 64]

Needs ../shared (SciFact abstracts, each repeated to fill the window).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact" / "corpus.jsonl"


def child(batch_size: int) -> None:
    from rag.config import Settings
    from rag.wiring import make_embedder

    embedder = make_embedder(Settings(embed_batch_size=batch_size))
    embedder.encode(["warm up"])
    with CORPUS.open() as f:
        texts = [(json.loads(line)["text"] + " ") * 3 for _, line in zip(range(768), f, strict=False)]
    t0 = time.perf_counter()
    embedder.encode(texts)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "texts": len(texts)}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64])
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return
    print(describe_machine())
    if not CORPUS.is_file():
        raise SystemExit(f"needs {CORPUS}")
    rows = {}
    for size in args.sizes:
        run = subprocess.run([sys.executable, __file__, "--child", str(size)], capture_output=True, text=True)
        if run.returncode:
            raise SystemExit(run.stderr[-2000:])
        rows[size] = json.loads(run.stdout.strip().splitlines()[-1])
    smallest = rows[args.sizes[0]]
    for size, r in rows.items():
        print(
            f"batch {size:4}: {r['seconds']:5.1f} s for {r['texts']} chunks ({r['texts'] / r['seconds']:.1f}/s), "
            f"peak RSS {r['peak_mb']:6.0f} MB (time {r['seconds'] / smallest['seconds']:.2f}x, "
            f"memory {r['peak_mb'] / smallest['peak_mb']:.2f}x batch {args.sizes[0]})"
        )


if __name__ == "__main__":
    main()
