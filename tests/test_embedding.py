"""The shared embedder: one large request does not hold every other caller back; the ONNX file run directly gives
sentence-transformers' vectors without torch in the process."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.embedding import Embedder
from rag.fair_lock import FairLock


def test_a_small_request_is_served_between_the_batches_of_a_large_one(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedder, "batch_size", 4)
    large = [f"passage number {n} about penguins and the southern ocean " * 6 for n in range(200)]
    finished: list[str] = []
    started = threading.Event()
    encoder = embedder._direct  # the default ONNX int8 file, run by ONNX Runtime directly
    assert encoder is not None
    original = encoder.encode

    def encode_and_signal(*args, **kwargs):
        started.set()
        return original(*args, **kwargs)

    monkeypatch.setattr(encoder, "encode", encode_and_signal)
    big = threading.Thread(target=lambda: (embedder.encode(large), finished.append("large")))
    big.start()
    started.wait()
    embedder.encode(["where do penguins live"])
    finished.append("small")
    big.join()
    # Behind one batch of 4 rather than all 50 batches of the large request.
    assert finished == ["small", "large"]


def test_rows_come_back_in_the_callers_order(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["penguins", "lava flows from a volcano", "espresso", "the stock market fell", "a cat", "rainforests"]
    alone = np.vstack([embedder.encode([t]) for t in texts])
    monkeypatch.setattr(embedder, "batch_size", 2)
    together = embedder.encode(texts)
    # Each row is its own text's vector (int8 scales differ per batch, a little), not a neighbour's.
    assert np.array_equal((together @ alone.T).argmax(axis=1), np.arange(len(texts)))
    assert (np.sum(together * alone, axis=1) > 0.97).all()


def test_fair_lock_serves_in_arrival_order() -> None:
    lock = FairLock()
    order: list[int] = []
    gate = threading.Event()
    threads = []
    with lock:
        for n in range(5):
            t = threading.Thread(target=lambda n=n: (gate.wait(), _take(lock, order, n)))
            threads.append(t)
        for n, t in enumerate(threads):
            t.start()
            gate.set()
            while lock._next_ticket < n + 2:  # thread n holds its ticket before the next one starts
                pass
    for t in threads:
        t.join()
    assert order == [0, 1, 2, 3, 4]


def _take(lock: FairLock, order: list[int], n: int) -> None:
    with lock:
        order.append(n)


def test_the_direct_onnx_path_gives_sentence_transformers_vectors(embedder: Embedder) -> None:
    """Same ONNX file, same batches: ONNX Runtime with the tokenizers library alone reproduces what
    sentence-transformers computes (tokenizer call, mean pooling, normalisation)."""
    from sentence_transformers import SentenceTransformer

    corpus = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact" / "corpus.jsonl"
    texts = ["  owls hunt at night  ", "a", "espresso " * 400]  # padding, stripping, truncation at 256 pieces
    if corpus.is_file():
        texts += [json.loads(line)["text"] for line, _ in zip(corpus.open(), range(20), strict=False)]
    encoder = embedder._direct
    assert encoder is not None
    folder, file_name = embedder._export
    reference = SentenceTransformer(str(folder), backend="onnx", model_kwargs={"file_name": file_name})
    for start in range(0, len(texts), 8):
        batch = texts[start : start + 8]
        expected = reference.encode(batch, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)
        order = np.argsort([-len(t) for t in batch])  # sentence-transformers sorts a call's texts by length
        got = encoder.encode([batch[i] for i in order])[np.argsort(order)]
        assert np.abs(got - expected).max() < 1e-5
    assert encoder.max_seq_length == reference.max_seq_length == embedder.max_tokens


def test_serving_imports_neither_torch_nor_unused_parsers(tmp_path: Path) -> None:
    """A serving process over the default ONNX int8 embedder: no torch, sentence-transformers, transformers or
    scipy; no document parser until a file of its kind arrives."""
    script = f"""
import sys
from fastapi.testclient import TestClient
from rag.config import Settings
from rag.edges.api.app import create_app
with TestClient(create_app(Settings(data_dir={str(tmp_path)!r}, llm="none"))) as client:
    client.post("/v1/documents", files={{"files": ("a.txt", b"Owls hunt at night.")}})
    assert client.post("/v1/search", json={{"query": "owls"}}).json()["results"]
heavy = ("torch", "sentence_transformers", "transformers", "scipy", "pypdf", "docx", "pptx", "openpyxl",
         "selectolax", "rapidocr_onnxruntime", "pdfplumber", "PIL")
print(",".join(m for m in heavy if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == ""


def test_the_int8_file_stays_close_to_the_float_one(embedder: Embedder) -> None:
    """The shipped int8 file (attention fused before quantizing, so its inner products stay float) gives nearly the
    float file's vectors."""
    from rag.onnx_encoder import OnnxEncoder

    folder, file_name = embedder._export
    assert "int8" in file_name
    corpus = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "scifact" / "corpus.jsonl"
    texts = ["owls hunt at night", "espresso takes 25 seconds", "the stock market fell", "a volcano erupted"]
    if corpus.is_file():
        texts += [json.loads(line)["text"] for line, _ in zip(corpus.open(), range(60), strict=False)]
    int8 = embedder._direct.encode(texts)
    plain = OnnxEncoder(folder, "onnx/model.onnx", max_length=embedder.max_tokens).encode(texts)
    cosines = np.sum(int8 * plain, axis=1)
    # The unfused graph quantized (attention's inner products in int8 too): lowest 0.975, mean 0.989 on these texts.
    assert cosines.min() >= 0.98 and cosines.mean() >= 0.99, (cosines.min(), cosines.mean())


def test_an_int8_file_far_from_the_float_one_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the fused graph's int8 vectors stray from the float file's on the probes, the graph as exported is
    quantized instead (no fused attention in it)."""
    import onnx

    from rag import onnx_export
    from rag.embedding import resolve_model_path

    monkeypatch.setattr(onnx_export, "MIN_PROBE_COSINE", 1.01)  # no int8 file can pass
    folder, file_name = onnx_export.prepare_onnx(Path(resolve_model_path(Settings().embed_model)), tmp_path, True)
    ops = {n.op_type for n in onnx.load(str(folder / file_name)).graph.node}
    assert "MatMulInteger" in ops and "QAttention" not in ops
    assert not (folder / onnx_export.FUSED_FILE).exists()
    assert sorted(p.name for p in (folder / "onnx").iterdir()) == sorted(["model.onnx", Path(file_name).name])
