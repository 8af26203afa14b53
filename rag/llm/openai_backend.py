"""Any OpenAI-compatible server — vLLM, llama.cpp's server, SGLang, LM Studio, Ollama's ``/v1`` or OpenAI itself —
through the official ``openai`` client (``../shared/notes/llm-wire-formats.md``).

Structured output is where these servers differ: OpenAI, vLLM and SGLang take ``response_format`` ``json_schema``;
llama-cpp-python's server answers that with a 500 and takes ``json_object`` with a ``schema`` instead, and does not
enforce the schema's ranges. With ``structured="auto"`` the first refusal switches this backend to the next form
(json_schema → json_object → none, remembered for the process); callers validate the output whatever the form.
Error bodies are whatever the server or a proxy in front of it sent: JSON, a bare string, HTML or nothing.
"""

from __future__ import annotations

import base64
import math
import re
import threading
import time
from collections.abc import Iterator
from typing import Any, Literal

import openai

from rag.errors import (
    LLMAccessError,
    LLMBlockedError,
    LLMError,
    LLMOutputError,
    LLMRateLimitedError,
    LLMRequestTooLargeError,
    LLMTimeoutError,
    LLMUnavailableError,
)
from rag.llm.base import Completion, LLMRequest
from rag.llm.error_body import error_text, retry_after_s

Structured = Literal["auto", "json_schema", "json_object", "none"]
_NEXT_FORM: dict[str, str] = {"json_schema": "json_object", "json_object": "none"}
_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.S)  # a reasoning model served without a reasoning parser
_FORM_REFUSED = re.compile(r"response_format|json_schema|json_object|structured|grammar", re.I)
_CONTEXT = re.compile(r"context length|context window|maximum context|too many tokens|exceeds? the context", re.I)


class OpenAIBackend:
    """``/v1/chat/completions`` and ``/v1/models`` of an OpenAI-compatible server."""

    name = "openai"
    structured_output = True

    def __init__(
        self,
        base_url: str,
        model: str | None,
        *,
        api_key: str | None,
        timeout_s: float,
        structured: Structured,
        images: bool,
    ) -> None:
        self.base_url = base_url
        self.model = model or ""  # empty: the first model the server lists (resolved by check or the first call)
        self.images = images
        self._form = "json_schema" if structured == "auto" else structured
        self._adapt = structured == "auto"
        self._lock = threading.Lock()
        # One client, one connection pool; no SDK retries: the reranker retries only where its deadline allows.
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key or "none", timeout=timeout_s, max_retries=0)

    # -- errors ------------------------------------------------------------------------------------------------

    def _mapped(self, exc: Exception) -> LLMError:
        where = f"openai-compatible server {self.base_url}"
        if isinstance(exc, openai.APITimeoutError):
            return LLMTimeoutError(f"{where}: no answer in time")
        if isinstance(exc, openai.APIConnectionError):
            return LLMUnavailableError(f"{where}: cannot connect ({error_text(str(exc.__cause__ or exc))})")
        if isinstance(exc, openai.APIStatusError):
            code = exc.status_code
            reason = error_text(exc.body, fallback=exc.response.reason_phrase or "no reason given")
            what = f"{where}: HTTP {code}: {reason}"
            if code == 429:
                delay = retry_after_s(exc.response.headers)
                return LLMRateLimitedError(
                    f"{where}: rate limited (429){f', retry in {delay:g} s' if delay is not None else ''}: {reason}",
                    retry_after_s=delay,
                )
            if code == 400 and _CONTEXT.search(reason):
                return LLMRequestTooLargeError(f"{where}: the prompt is over the model's context: {reason}")
            if code in (401, 403, 404):
                hint = f" (model {self.model!r})" if code == 404 else ""
                return LLMAccessError(what + hint)
            if 400 <= code < 500:
                return LLMAccessError(what)
            return LLMUnavailableError(what)
        return LLMUnavailableError(f"{where}: {type(exc).__name__}: {error_text(str(exc))}")

    # -- requests ----------------------------------------------------------------------------------------------

    def _resolved_model(self) -> str:
        if not self.model:
            self.check()
        return self.model

    def _messages(self, request: LLMRequest) -> list[dict[str, Any]]:
        user: Any = request.prompt
        if request.images:
            user = [
                {"type": "text", "text": request.prompt},
                *(
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(i).decode()}}
                    for i in request.images
                ),
            ]
        return [{"role": "system", "content": request.system}, {"role": "user", "content": user}]

    def _response_format(self, form: str, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is None or form == "none":
            return None
        if form == "json_object":  # llama-cpp-python's form; servers that know only json_object ignore "schema"
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}

    def _create(self, request: LLMRequest, stream: bool) -> Any:
        """The call, stepping down the structured-output forms the server refuses (``structured="auto"``)."""
        model = self._resolved_model()
        while True:
            form = self._form
            extra: dict[str, Any] = {"stream_options": {"include_usage": True}} if stream else {}
            response_format = self._response_format(form, request.json_schema)
            if response_format is not None:
                extra["response_format"] = response_format
            try:
                return self._client.chat.completions.create(
                    model=model,
                    messages=self._messages(request),  # type: ignore[arg-type]
                    max_tokens=request.max_tokens,
                    temperature=0,
                    seed=1,
                    stream=stream,
                    timeout=request.timeout_s,
                    **extra,
                )
            except openai.APIStatusError as exc:
                if not self._step_down(form, exc):
                    raise self._mapped(exc) from exc
            except Exception as exc:
                raise self._mapped(exc) from exc

    def _step_down(self, form: str, exc: openai.APIStatusError) -> bool:
        """Whether the server refused this structured-output form and a next one is there to try."""
        refused = exc.status_code in (400, 422, 500) and _FORM_REFUSED.search(error_text(exc.body))
        if not (self._adapt and refused and form in _NEXT_FORM):
            return False
        with self._lock:
            if self._form == form:
                self._form = _NEXT_FORM[form]
        return True

    def complete(self, request: LLMRequest) -> Completion:
        r = self._create(request, stream=False)
        choice = r.choices[0] if r.choices else None
        text = (choice.message.content or "") if choice else ""
        return self._completion(request, text, r.usage, choice.finish_reason if choice else None)

    def _completion(self, request: LLMRequest, raw: str, usage: Any, finish: str | None) -> Completion:
        """The answer without a reasoning model's ``<think>`` block, or the typed error it amounts to (billed)."""
        text = _THINK.sub("", raw, count=1) if raw.lstrip().startswith("<think>") else raw
        done = Completion(
            text=text,
            input_tokens=usage.prompt_tokens if usage else _estimate(request.system + request.prompt),
            output_tokens=usage.completion_tokens if usage else _estimate(raw),
            truncated=finish == "length",
        )
        where = f"openai-compatible server {self.base_url}"
        if finish == "content_filter":
            raise LLMBlockedError(f"{where}: answer stopped (content_filter)", billed=done)
        if raw.lstrip().startswith("<think>") and "</think>" not in raw:
            raise LLMOutputError(f"{where}: the output cap was spent thinking, before any answer", billed=done)
        return done

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        """Pieces as they come; the call's deadline holds for the whole stream. Servers that send no usage
        chunk get their tokens estimated (about 4 characters each)."""
        deadline = time.monotonic() + request.timeout_s
        parts: list[str] = []
        shown = 0  # characters of the answer yielded so far (a leading <think> block is never shown)
        usage = None
        finish = None
        response = self._create(request, stream=True)
        try:
            for chunk in response:
                if time.monotonic() > deadline:
                    raise LLMTimeoutError(f"openai-compatible server {self.base_url}: no answer in time")
                usage = chunk.usage or usage
                if chunk.choices:
                    delta = chunk.choices[0].delta
                    finish = chunk.choices[0].finish_reason or finish
                    if delta is not None and delta.content:
                        parts.append(delta.content)
                        answer = _visible("".join(parts))
                        if answer is not None and len(answer) > shown:
                            yield answer[shown:]
                            shown = len(answer)
        except LLMError:
            raise
        except Exception as exc:
            raise self._mapped(exc) from exc
        finally:
            response.close()
        yield self._completion(request, "".join(parts), usage, finish)

    def check(self) -> None:
        """The server answers ``/v1/models`` and serves the model (or, with none named, the first it lists)."""
        try:
            served = [m.id for m in self._client.models.list()]
        except Exception as exc:
            raise self._mapped(exc) from exc
        if not self.model:
            if not served:
                raise LLMAccessError(f"openai-compatible server {self.base_url} lists no model")
            self.model = served[0]
        elif served and self.model not in served:
            raise LLMAccessError(
                f"openai-compatible server {self.base_url} does not serve model {self.model!r}; "
                f"it serves {served[:5]} (set RAGLINE_OPENAI_MODEL)"
            )

    def close(self) -> None:
        self._client.close()


def _visible(text: str) -> str | None:
    """The answer so far of a stream that may open with a reasoning model's ``<think>`` block (None: inside it)."""
    head = text.lstrip()
    if not head.startswith("<think>"):
        return None if "<think>".startswith(head) else text
    end = head.find("</think>")
    return None if end < 0 else head[end + len("</think>") :].lstrip()


def _estimate(text: str) -> int:
    return math.ceil(len(text) / 4)
