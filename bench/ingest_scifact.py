"""Ingest benchmark: full SciFact through the pipeline vs a bare SentenceTransformer.encode of the same chunks.

    .venv/bin/python bench/ingest_scifact.py [--corpus ../shared/datasets/scifact]

Both are measured in one process with the same loaded model, batch size and thread settings.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import torch

from ingest.document import Document, Section
from ingest.pipeline import Ingestor
from rag.components import make_embedder, make_sparse
from rag.config import Settings
from rag.store import open_store

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        embedder = make_embedder(settings)
        embedder.encode(["warm up"] * 8)
        store = open_store(settings)
        ingestor = Ingestor(settings, store, embedder, make_sparse(settings))

        t0 = time.perf_counter()
        report = ingestor.run([args.corpus / "corpus.jsonl"])
        ingest_s = time.perf_counter() - t0
        store.close()

        records = [json.loads(line) for line in (args.corpus / "corpus.jsonl").open()]
        docs = [Document(r["_id"], r.get("title", ""), "jsonl", [Section(r["text"].strip())]) for r in records]
        texts = [c.embed_text for d in docs for c in ingestor.chunker.chunk(d)]
        t0 = time.perf_counter()
        embedder.model.encode(texts, batch_size=settings.embed_batch_size, normalize_embeddings=True)
        encode_s = time.perf_counter() - t0

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {settings.embed_batch_size}")
    print(f"documents {report.added}, chunks {report.chunks} (bare encode: {len(texts)} texts)")
    print(f"ingest end-to-end   {ingest_s:8.1f} s")
    print(f"bare encode         {encode_s:8.1f} s")
    print(f"ratio ingest/encode {ingest_s / encode_s:8.3f}  (target <= 1.15)")
    print(f"peak RSS            {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:8.0f} MiB")


if __name__ == "__main__":
    main()
