"""Gemini through ``google-genai`` (the supported SDK; ``google-generativeai`` ended on 2025-11-30).

What the real service does and this code answers (``../shared/notes/llm-wire-formats.md``): Gemini 3.x thinks
unless told not to, and thought tokens count against ``maxOutputTokens``; a 429 carries a ``RetryInfo`` delay
the SDK ignores; a bad key, a missing permission or an unknown model is permanent; a blocked prompt comes back
with no candidates, a blocked answer with a ``finishReason`` other than STOP or MAX_TOKENS.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from google import genai
from google.genai import errors, types

from rag.errors import (
    LLMAccessError,
    LLMBlockedError,
    LLMError,
    LLMOutputError,
    LLMRateLimitedError,
    LLMTimeoutError,
    LLMUnavailableError,
)
from rag.llm.base import Completion, LLMRequest, Purpose
from rag.llm.error_body import error_text

# Output tokens a thinking level may spend before the answer starts; added to the caller's cap.
THINKING_ALLOWANCE = {"minimal": 256, "low": 1024, "medium": 4096, "high": 16384}
_BLOCKED = {"SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "LANGUAGE", "OTHER"}
_PERMANENT = {400, 401, 403, 404}
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def _is_gemini_2_5(model: str) -> bool:
    return "gemini-2.5" in model


def _details(exc: errors.APIError) -> list[dict[str, Any]]:
    """The ``error.details`` of a Google API error body (RetryInfo, ErrorInfo, QuotaFailure, ...); none when a
    gateway in front answered with its own body (``{"error": "text"}``, HTML, a list, nothing)."""
    body: Any = exc.details if isinstance(exc.details, dict) else {}
    error = body.get("error")
    details = error.get("details") if isinstance(error, dict) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def _retry_delay(exc: errors.APIError) -> float | None:
    """The ``google.rpc.RetryInfo`` delay of a 429, in seconds (the SDK does not act on it)."""
    for detail in _details(exc):
        match = _DELAY.match(str(detail.get("retryDelay", "")))
        if detail.get("@type", "").endswith("google.rpc.RetryInfo") and match:
            return float(match.group(1))
    return None


def _error_reason(exc: errors.APIError) -> str:
    """``ErrorInfo.reason`` (e.g. API_KEY_INVALID), else the status."""
    return next((str(d["reason"]) for d in _details(exc) if d.get("reason")), exc.status or "")


def _mapped(exc: Exception, model: str) -> LLMError:
    if isinstance(exc, errors.APIError):
        message = error_text(exc.message) or error_text(exc.details, "no reason given")
        what = f"gemini: HTTP {exc.code} {_error_reason(exc)}: {message}"
        if exc.code == 429:
            delay = _retry_delay(exc)
            return LLMRateLimitedError(
                f"gemini: rate limited (429){f', retry in {delay:g} s' if delay else ''}: {message}",
                retry_after_s=delay,
            )
        if exc.code in _PERMANENT:
            hint = f" (model {model!r})" if exc.code == 404 else ""
            return LLMAccessError(what + hint)
        return LLMUnavailableError(what)
    if "timeout" in type(exc).__name__.lower():
        return LLMTimeoutError(f"gemini: no answer in time ({type(exc).__name__})")
    return LLMUnavailableError(f"gemini: {type(exc).__name__}: {exc}")


class GeminiBackend:
    """Gemini's generateContent API; structured output through ``responseJsonSchema``."""

    name = "gemini"
    images = True
    structured_output = True

    def __init__(
        self,
        api_key: str,
        model: str,
        *,
        base_url: str | None,
        thinking: dict[Purpose, str],
        temperature: float | None,
    ) -> None:
        self.model = model
        self.thinking = thinking
        self.temperature = temperature
        # No SDK retries: the reranker retries only where its deadline allows.
        self._client = genai.Client(api_key=api_key, http_options=types.HttpOptions(base_url=base_url))

    def _thinking_config(self, purpose: Purpose) -> tuple[types.ThinkingConfig | None, int]:
        """What to send for ``purpose``, and how many output tokens thinking may take on top of the answer.
        Gemini 2.5 knows only a budget (0 = off); 3.x only a level. Sending both is a 400."""
        level = self.thinking[purpose]
        if _is_gemini_2_5(self.model):
            if level == "minimal":
                return types.ThinkingConfig(thinking_budget=0), 0
            return None, THINKING_ALLOWANCE[level]
        return types.ThinkingConfig(thinking_level=types.ThinkingLevel(level.upper())), THINKING_ALLOWANCE[level]

    def _config(self, request: LLMRequest) -> types.GenerateContentConfig:
        thinking, allowance = self._thinking_config(request.purpose)
        return types.GenerateContentConfig(
            system_instruction=request.system,
            temperature=self.temperature,
            max_output_tokens=request.max_tokens + allowance,
            thinking_config=thinking,
            response_mime_type="application/json" if request.json_schema else None,
            response_json_schema=request.json_schema,
            http_options=types.HttpOptions(timeout=max(1, int(request.timeout_s * 1000))),
        )

    def complete(self, request: LLMRequest) -> Completion:
        try:
            r = self._client.models.generate_content(
                model=self.model, contents=_contents(request), config=self._config(request)
            )
        except Exception as exc:
            raise _mapped(exc, self.model) from exc
        return _checked(r.text or "", r)

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        parts: list[str] = []
        last = None
        try:
            for chunk in self._client.models.generate_content_stream(
                model=self.model, contents=_contents(request), config=self._config(request)
            ):
                last = chunk
                if chunk.text:
                    parts.append(chunk.text)
                    yield chunk.text
        except Exception as exc:
            raise _mapped(exc, self.model) from exc
        yield _checked("".join(parts), last)

    def check(self) -> None:
        """Key and model, through ``models.get`` (no tokens spent)."""
        try:
            self._client.models.get(model=self.model)
        except Exception as exc:
            raise _mapped(exc, self.model) from exc

    def close(self) -> None:
        self._client.close()


def _contents(request: LLMRequest) -> str | list[types.Part | str]:
    """The prompt, after its images as ``inlineData`` parts when it has any."""
    if not request.images:
        return request.prompt
    return [*(types.Part.from_bytes(data=image, mime_type="image/png") for image in request.images), request.prompt]


def _checked(text: str, response: types.GenerateContentResponse | None) -> Completion:
    """The completion, or the typed error a blocked or thought-out response is (with what it still cost)."""
    meta = response.usage_metadata if response else None
    thoughts = (meta.thoughts_token_count or 0) if meta else 0
    candidates = response.candidates if response else None
    finish = candidates[0].finish_reason if candidates else None
    done = Completion(
        text=text,
        input_tokens=(meta.prompt_token_count or 0) if meta else 0,
        # Thinking is billed as output.
        output_tokens=((meta.candidates_token_count or 0) + thoughts) if meta else 0,
        truncated=finish == types.FinishReason.MAX_TOKENS,
        thinking_tokens=thoughts,
    )
    feedback = response.prompt_feedback if response else None
    if not candidates and feedback is not None and feedback.block_reason:
        raise LLMBlockedError(f"gemini: prompt blocked ({_name(feedback.block_reason)})", billed=done)
    if finish is not None and _name(finish) in _BLOCKED:
        raise LLMBlockedError(f"gemini: answer stopped ({_name(finish)})", billed=done)
    if done.truncated and not text:
        raise LLMOutputError(
            f"gemini: the output cap was spent before any text (thoughtsTokenCount {thoughts})", billed=done
        )
    return done


def _name(value: object) -> str:
    return str(getattr(value, "value", value))
