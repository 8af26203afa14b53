"""Local ONNX exports of a sentence-transformers model folder (no hub): plain, and int8-quantized for this CPU."""

from __future__ import annotations

import hashlib
import logging
import platform
import shutil
import warnings
from pathlib import Path

from filelock import FileLock

PLAIN_FILE = "onnx/model.onnx"


def quantization_config() -> str:
    """The dynamic-quantization preset of ``sentence_transformers.backend`` that suits this CPU."""
    if platform.machine().lower() in ("arm64", "aarch64"):
        return "arm64"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "avx2"
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    return "avx512" if "avx512f" in flags else "avx2"


def _export_dir(model_dir: Path, cache_dir: Path) -> Path:
    weights = model_dir / "model.safetensors"
    stamp = f"{model_dir.resolve()}:{weights.stat().st_size if weights.exists() else 0}"
    return cache_dir / "onnx" / f"{model_dir.name}-{hashlib.sha256(stamp.encode()).hexdigest()[:12]}"


def prepare_onnx(model_dir: Path, cache_dir: Path, quantized: bool) -> tuple[Path, str]:
    """(folder, file name) of the ONNX model to load, exporting it on first use; safe across processes."""
    target = _export_dir(model_dir, cache_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    config = quantization_config()
    wanted = f"onnx/model_qint8_{config}.onnx" if config != "avx2" else "onnx/model_quint8_avx2.onnx"
    # The libraries log advice meant for interactive use (and a deprecation notice of their own), and torch's
    # tracer flags constants in the attention mask: none of it concerns a user, the export is saved here.
    loggers = [logging.getLogger(name) for name in ("sentence_transformers", "transformers")]
    levels = [log.level for log in loggers]
    for log in loggers:
        log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="torch.tensor results are registered as constants")
            _export(model_dir, target, quantized, config, wanted)
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)
    return target, wanted if quantized else PLAIN_FILE


def _export(model_dir: Path, target: Path, quantized: bool, config: str, wanted: str) -> None:
    if (target / PLAIN_FILE).exists() and (not quantized or (target / wanted).exists()):
        return  # exported before: serving never imports sentence-transformers (nor torch)
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.backend import export_dynamic_quantized_onnx_model

    with FileLock(str(target) + ".lock"):
        if not (target / PLAIN_FILE).exists():
            staging = target.with_name(target.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(model_dir, staging)
            SentenceTransformer(str(staging), backend="onnx", device="cpu").save_pretrained(str(staging))
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)  # a crash mid-export leaves only the staging folder
        if quantized and not (target / wanted).exists():
            plain = SentenceTransformer(
                str(target), backend="onnx", device="cpu", model_kwargs={"file_name": PLAIN_FILE}
            )
            export_dynamic_quantized_onnx_model(plain, config, str(target))
