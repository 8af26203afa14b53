"""A local model (Gemma by default) through the ``ollama`` client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import ollama

from rag.errors import LLMError, LLMRateLimitedError, LLMTimeoutError, LLMUnavailableError
from rag.llm.base import Completion, LLMRequest


class OllamaBackend:
    """Ollama's /api/chat; ``num_ctx`` is always sent (Ollama silently truncates at its default)."""

    name = "ollama"

    def __init__(self, host: str, model: str, *, num_ctx: int, keep_alive: str) -> None:
        self.host = host
        self.model = model
        self.num_ctx = num_ctx
        self.keep_alive = keep_alive
        self._clients: dict[float, ollama.Client] = {}
        self._lock = threading.Lock()

    def _client(self, timeout_s: float) -> ollama.Client:
        # The client's timeout is fixed at construction; one client per distinct timeout (rerank, answer).
        with self._lock:
            if timeout_s not in self._clients:
                self._clients[timeout_s] = ollama.Client(host=self.host, timeout=timeout_s)
            return self._clients[timeout_s]

    def _missing(self) -> LLMUnavailableError:
        return LLMUnavailableError(
            f"ollama: model {self.model!r} is not pulled on {self.host}; run: ollama pull {self.model}"
        )

    def _mapped(self, exc: Exception) -> LLMError:
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404 and "not found" in str(exc.error).lower():
                return self._missing()
            if exc.status_code == 429:
                return LLMRateLimitedError(f"ollama: busy (429): {exc.error}")
            return LLMUnavailableError(f"ollama: HTTP {exc.status_code}: {exc.error}")
        if isinstance(exc, httpx.TimeoutException):
            return LLMTimeoutError(f"ollama: no answer in time ({type(exc).__name__})")
        if isinstance(exc, ConnectionError | httpx.TransportError):
            return LLMUnavailableError(f"ollama: cannot reach {self.host}: {exc}")
        return LLMUnavailableError(f"ollama: {type(exc).__name__}: {exc}")

    def _kwargs(self, request: LLMRequest) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.prompt},
            ],
            "format": request.json_schema,
            "options": {"temperature": 0, "num_ctx": self.num_ctx, "num_predict": request.max_tokens, "seed": 1},
            "keep_alive": self.keep_alive,
        }

    def complete(self, request: LLMRequest) -> Completion:
        try:
            r = self._client(request.timeout_s).chat(**self._kwargs(request), stream=False)
        except Exception as exc:
            raise self._mapped(exc) from exc
        return Completion(
            text=r.message.content or "",
            input_tokens=r.prompt_eval_count or 0,
            output_tokens=r.eval_count or 0,
            truncated=r.done_reason == "length",
        )

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        parts: list[str] = []
        try:
            for part in self._client(request.timeout_s).chat(**self._kwargs(request), stream=True):
                if part.message.content:
                    parts.append(part.message.content)
                    yield part.message.content
                if part.done:
                    yield Completion(
                        text="".join(parts),
                        input_tokens=part.prompt_eval_count or 0,
                        output_tokens=part.eval_count or 0,
                        truncated=part.done_reason == "length",
                    )
                    return
        except Exception as exc:
            raise self._mapped(exc) from exc
        raise LLMUnavailableError("ollama: the stream ended before its final message")

    def check(self) -> None:
        try:
            names = {m.model for m in self._client(10.0).list().models}
        except Exception as exc:
            raise self._mapped(exc) from exc
        # "gemma3" means "gemma3:latest" to Ollama.
        wanted = self.model if ":" in self.model else f"{self.model}:latest"
        if wanted not in names:
            raise self._missing()
