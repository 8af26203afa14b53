"""A sentence-transformers model exported to ONNX, run with ONNX Runtime and the ``tokenizers`` library alone.

Serving needs no torch: sentence-transformers (which imports torch, scipy and transformers, about 700 MB of
resident memory) is only needed to export the ONNX file once (``rag.onnx_export``). This reads the same files
the export wrote and reproduces what sentence-transformers computes from them: its tokenizer call (stripped
texts, truncation at ``max_seq_length``, padding to the longest text of the batch), the Transformer's
``last_hidden_state``, then mean or CLS pooling and L2 normalisation (tested equal to sentence-transformers'
vectors).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

_POOLINGS = {"mean", "cls"}


class UnsupportedModel(Exception):
    """The folder holds a model this encoder does not reproduce (another pooling, extra modules)."""


def _pooling(folder: Path) -> str:
    modules = json.loads((folder / "modules.json").read_text())
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    if kinds[:2] != ["Transformer", "Pooling"] or any(k != "Normalize" for k in kinds[2:]):
        raise UnsupportedModel(f"modules {kinds}")
    config = json.loads((folder / modules[1]["path"] / "config.json").read_text())
    # sentence-transformers 5.7 writes "pooling_mode"; earlier versions one flag per mode.
    flags = {"mean": config.get("pooling_mode_mean_tokens"), "cls": config.get("pooling_mode_cls_token")}
    mode = config.get("pooling_mode") or next((m for m, on in flags.items() if on), None)
    if mode not in _POOLINGS:
        raise UnsupportedModel(f"pooling {mode!r}")
    return str(mode)


def max_seq_length(*folders: Path) -> int:
    """``max_seq_length`` as sentence-transformers takes it: its own config, else the tokenizer's limit."""
    for folder in folders:
        config = folder / "sentence_bert_config.json"
        if config.is_file() and (value := json.loads(config.read_text()).get("max_seq_length")):
            return int(value)
    for folder in folders:
        config = folder / "tokenizer_config.json"
        value = json.loads(config.read_text()).get("model_max_length") if config.is_file() else None
        if value and int(value) < 100_000:  # transformers writes a huge number for "no limit"
            return int(value)
    raise UnsupportedModel("no max_seq_length")


class OnnxEncoder:
    """Embeds texts with one ONNX file of an exported sentence-transformers folder."""

    def __init__(self, folder: Path, file_name: str, *, max_length: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.pooling = _pooling(folder)
        self.max_seq_length = max_length
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_length)
        pad = self._tokenizer.padding or {}
        self._tokenizer.enable_padding(pad_id=pad.get("pad_id", 0), pad_token=pad.get("pad_token", "[PAD]"))
        self.counter = Tokenizer.from_file(str(folder / "tokenizer.json"))  # no truncation, no padding
        self.counter.no_truncation()
        self.counter.no_padding()
        options = onnxruntime.SessionOptions()
        self._session = onnxruntime.InferenceSession(
            str(folder / file_name), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        width = self._session.get_outputs()[0].shape[-1]
        self.dimension = width if isinstance(width, int) else int(self.encode(["dimension"]).shape[1])

    def encode(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 embeddings of one batch."""
        encodings = self._tokenizer.encode_batch([t.strip() for t in texts])
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.array([e.type_ids for e in encodings], dtype=np.int64)
        tokens = self._session.run(None, feeds)[0]
        if self.pooling == "cls":
            pooled = tokens[:, 0]
        else:
            weights = mask[..., None].astype(tokens.dtype)
            pooled = (tokens * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
