"""Ingest benchmark per embedding backend: full SciFact through the pipeline vs a bare ``encode`` of the same
chunks, retrieval quality of what was built, and peak memory at 1x and 4x the corpus.

    .venv/bin/python bench/ingest_scifact.py [--data ../shared/datasets/scifact] [--backends torch,onnx,onnx-int8]
                                             [--scale 4] [--scale-backend onnx-int8]

Each measurement runs in a fresh child process (so peak RSS is its own), with the same batch size and the
machine's default thread settings; ingest and bare encode share the child's loaded model.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.machine import describe_machine
from ingest.document import Document, Section
from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.evaluation import load_beir, run_queries
from rag.ingest_wiring import ingest_options
from rag.ir_metrics import evaluate
from rag.wiring import build_parts, make_embedder, make_sparse, open_store

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"


def _corpus(data: Path, scale: int, tmp: Path) -> Path:
    """The corpus, or ``scale`` copies of it under new ids (every copy is embedded again: no shortcut)."""
    if scale == 1:
        return data / "corpus.jsonl"
    path = tmp / "corpus.jsonl"
    with path.open("w") as out:
        for k in range(scale):
            for line in (data / "corpus.jsonl").open():
                rec = json.loads(line)
                rec["_id"] = f"{rec['_id']}-{k}"
                out.write(json.dumps(rec) + "\n")
    return path


def child(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "store", embed_backend=args.backend)
        embedder = make_embedder(settings)
        embedder.encode(["warm up"] * 8)
        corpus = _corpus(args.data, args.scale, Path(tmp))
        store = open_store(settings)
        ingestor = Ingestor(ingest_options(settings), store, embedder, make_sparse(settings))
        t0 = time.perf_counter()
        report = ingestor.run([corpus])
        out = {"backend": args.backend, "scale": args.scale, "docs": report.added, "chunks": report.chunks}
        out["ingest_s"] = time.perf_counter() - t0
        out["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        if args.scale == 1:
            split = load_beir(args.data, "train")
            pipeline = build_parts(settings, lambda _: store, embedder, with_llm=False).pipeline
            for mode in ("dense", "hybrid"):
                out[f"ndcg_{mode}"] = evaluate(
                    run_queries(pipeline, split.queries, pipeline.options(top_k=100, mode=mode)), split.qrels
                )["ndcg@10"]
            records = [json.loads(line) for line in corpus.open()]
            docs = [Document(r["_id"], r.get("title", ""), "jsonl", [Section(r["text"].strip())]) for r in records]
            texts = [c.embed_text for d in docs for c in ingestor.chunker.chunk(d)]
            t0 = time.perf_counter()
            embedder.encode(texts)  # the same path ingest embeds with (ONNX directly, or sentence-transformers)
            out["encode_s"] = time.perf_counter() - t0
        store.close()
    return out


def run_child(args: argparse.Namespace, backend: str, scale: int) -> dict:
    cmd = [sys.executable, __file__, "--child", "--backend", backend, "--scale", str(scale), "--data", str(args.data)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--backends", default="torch,onnx,onnx-int8")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--scale-backend", default="onnx-int8")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--backend", default="onnx-int8", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    print(describe_machine())
    rows = []
    print(
        f"{'backend':10} {'docs':>5} {'chunks':>6} {'ingest s':>8} {'encode s':>8} {'ratio':>6} {'vs torch':>8} "
        f"{'nDCG dense':>10} {'hybrid':>7} {'peak RSS MiB':>12}",
        flush=True,
    )
    for backend in args.backends.split(","):
        r = run_child(args, backend, 1)
        rows.append(r)
        torch_s = rows[0]["ingest_s"] if rows[0]["backend"] == "torch" else float("nan")
        print(
            f"{backend:10} {r['docs']:5} {r['chunks']:6} {r['ingest_s']:8.1f} {r['encode_s']:8.1f} "
            f"{r['ingest_s'] / r['encode_s']:6.3f} {torch_s / r['ingest_s']:7.2f}x {r['ndcg_dense']:10.4f} "
            f"{r['ndcg_hybrid']:7.4f} {r['rss_mib']:12.0f}",
            flush=True,
        )
    if args.scale > 1:
        backend = args.scale_backend
        one = next((r for r in rows if r["backend"] == backend), None) or run_child(args, backend, 1)
        big = run_child(args, backend, args.scale)
        print(f"\npeak RSS after ingest, {backend}:")
        print(f"  1x corpus: {one['chunks']:6} chunks  {one['rss_mib']:6.0f} MiB")
        print(f"  {args.scale}x corpus: {big['chunks']:6} chunks  {big['rss_mib']:6.0f} MiB  ({big['ingest_s']:.0f} s)")
        print(f"  ratio {big['rss_mib'] / one['rss_mib']:.2f} for {args.scale}x the data", flush=True)


if __name__ == "__main__":
    main()
