"""A local model (Gemma by default) through the ``ollama`` client.

One client (one connection pool) for the life of the backend: the client's timeout is fixed when it is made,
so a call's own deadline is enforced around it, in a small pool of threads. ``num_ctx`` is sent on every call
(Ollama otherwise cuts long prompts silently, from the front); a prompt that still filled the window is
reported. Rerank calls ask for ``think: false``: thinking models would spend ``num_predict`` on thoughts.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import httpx
import ollama

from rag.errors import LLMError, LLMOutputError, LLMRateLimitedError, LLMTimeoutError, LLMUnavailableError
from rag.llm.base import Completion, LLMRequest
from rag.llm.error_body import error_text

# How long a first load may take: a cold model load runs 45-100 s.
_LOAD_TIMEOUT_S = 180.0


class OllamaBackend:
    """Ollama's /api/chat."""

    name = "ollama"
    images = True  # Gemma 3 (4b and up) reads images
    structured_output = True

    def __init__(
        self, host: str, model: str, *, num_ctx: int, keep_alive: str, timeout_s: float, max_concurrency: int
    ) -> None:
        self.host = host
        self.model = model
        self.num_ctx = num_ctx
        self.keep_alive = keep_alive
        # The longest any call may take; shorter deadlines are enforced by waiting on the pool.
        self._client = ollama.Client(host=host, timeout=timeout_s)
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="ollama")

    def _missing(self) -> LLMUnavailableError:
        return LLMUnavailableError(
            f"ollama: model {self.model!r} is not pulled on {self.host}; run: ollama pull {self.model}"
        )

    def _mapped(self, exc: Exception) -> LLMError:
        if isinstance(exc, ollama.ResponseError):
            if exc.status_code == 404 and "not found" in str(exc.error).lower():
                return self._missing()
            if exc.status_code == 429:
                return LLMRateLimitedError(f"ollama: busy (429): {error_text(exc.error)}")
            return LLMUnavailableError(f"ollama: HTTP {exc.status_code}: {error_text(exc.error, 'no reason given')}")
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
                {
                    "role": "user",
                    "content": request.prompt,
                    **({"images": list(request.images)} if request.images else {}),
                },
            ],
            "format": request.json_schema,
            "options": {"temperature": 0, "num_ctx": self.num_ctx, "num_predict": request.max_tokens, "seed": 1},
            "keep_alive": self.keep_alive,
            "think": False if request.purpose in ("rerank", "transcribe") else None,
        }

    def _prompt_filled(self, done: Any, request: LLMRequest) -> bool:
        """A prompt that filled the window was cut from the front: the instructions are gone."""
        return (done.prompt_eval_count or 0) >= self.num_ctx - request.max_tokens

    def _completion(self, text: str, done: Any, request: LLMRequest) -> Completion:
        return Completion(
            text=text,
            input_tokens=done.prompt_eval_count or 0,
            output_tokens=done.eval_count or 0,
            truncated=done.done_reason == "length" or self._prompt_filled(done, request),
        )

    def complete(self, request: LLMRequest) -> Completion:
        future = self._pool.submit(self._client.chat, **self._kwargs(request), stream=False)
        try:
            r = future.result(timeout=request.timeout_s)
        except FutureTimeout:
            future.cancel()  # a call already running finishes in the background; its answer is dropped
            raise LLMTimeoutError(f"ollama: no answer in {request.timeout_s:.2f} s") from None
        except Exception as exc:
            raise self._mapped(exc) from exc
        out = self._completion(r.message.content or "", r, request)
        if self._prompt_filled(r, request):
            raise LLMOutputError(
                f"ollama: the prompt filled num_ctx {self.num_ctx} (prompt_eval_count {r.prompt_eval_count}) "
                "and was cut; raise RAGLINE_OLLAMA_NUM_CTX",
                billed=out,
            )
        return out

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        """Pieces as they come, read on a pool thread so that the call's deadline holds for the whole stream."""
        deadline = time.monotonic() + request.timeout_s
        pieces: queue.Queue[Any] = queue.Queue()

        def produce() -> None:
            try:
                for part in self._client.chat(**self._kwargs(request), stream=True):
                    pieces.put(part)
                    if part.done:
                        return
                pieces.put(LLMUnavailableError("ollama: the stream ended before its final message"))
            except Exception as exc:
                pieces.put(self._mapped(exc))

        self._pool.submit(produce)
        parts: list[str] = []
        while True:
            try:
                part = pieces.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise LLMTimeoutError(f"ollama: no answer in {request.timeout_s:.2f} s") from None
            if isinstance(part, LLMError):
                raise part
            if part.message.content:
                parts.append(part.message.content)
                yield part.message.content
            if part.done:
                yield self._completion("".join(parts), part, request)
                return

    def check(self) -> None:
        """The model is pulled; then load it, so that the first search does not wait 45-100 s for it."""
        try:
            names = {m.model for m in self._client.list().models}
        except Exception as exc:
            raise self._mapped(exc) from exc
        # "gemma3" means "gemma3:latest" to Ollama.
        wanted = self.model if ":" in self.model else f"{self.model}:latest"
        if wanted not in names:
            raise self._missing()
        loading = self._pool.submit(self._client.generate, model=self.model, keep_alive=self.keep_alive)
        try:
            loading.result(timeout=_LOAD_TIMEOUT_S)
        except FutureTimeout:
            raise LLMTimeoutError(f"ollama: {self.model} did not load in {_LOAD_TIMEOUT_S:.0f} s") from None
        except Exception as exc:
            raise self._mapped(exc) from exc

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()
