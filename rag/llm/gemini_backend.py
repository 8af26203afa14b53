"""Gemini through ``google-genai`` (the supported SDK; ``google-generativeai`` ended on 2025-11-30)."""

from __future__ import annotations

from collections.abc import Iterator

from google import genai
from google.genai import errors, types

from rag.errors import LLMError, LLMRateLimitedError, LLMTimeoutError, LLMUnavailableError
from rag.llm.base import Completion, LLMRequest


def _mapped(exc: Exception) -> LLMError:
    if isinstance(exc, errors.APIError):
        if exc.code == 429:
            return LLMRateLimitedError(f"gemini: rate limited (429): {exc.message}")
        return LLMUnavailableError(f"gemini: HTTP {exc.code} {exc.status or ''}: {exc.message}".strip())
    if "timeout" in type(exc).__name__.lower():
        return LLMTimeoutError(f"gemini: no answer in time ({type(exc).__name__})")
    return LLMUnavailableError(f"gemini: {type(exc).__name__}: {exc}")


def _completion(text: str, response: types.GenerateContentResponse | None) -> Completion:
    meta = response.usage_metadata if response else None
    finish = response.candidates[0].finish_reason if response and response.candidates else None
    return Completion(
        text=text,
        input_tokens=(meta.prompt_token_count or 0) if meta else 0,
        # Thinking tokens are billed as output.
        output_tokens=((meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)) if meta else 0,
        truncated=finish == types.FinishReason.MAX_TOKENS,
    )


class GeminiBackend:
    """Gemini's generateContent API; structured output through ``responseJsonSchema``."""

    name = "gemini"

    def __init__(self, api_key: str, model: str, base_url: str | None = None) -> None:
        self.model = model
        # No SDK retries: the reranker retries only where its deadline allows.
        self._client = genai.Client(api_key=api_key, http_options=types.HttpOptions(base_url=base_url))

    def _config(self, request: LLMRequest) -> types.GenerateContentConfig:
        return types.GenerateContentConfig(
            system_instruction=request.system,
            temperature=0.0,
            max_output_tokens=request.max_tokens,
            response_mime_type="application/json" if request.json_schema else None,
            response_json_schema=request.json_schema,
            http_options=types.HttpOptions(timeout=max(1, int(request.timeout_s * 1000))),
        )

    def complete(self, request: LLMRequest) -> Completion:
        try:
            r = self._client.models.generate_content(
                model=self.model, contents=request.prompt, config=self._config(request)
            )
        except Exception as exc:
            raise _mapped(exc) from exc
        return _completion(r.text or "", r)

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        parts: list[str] = []
        last = None
        try:
            for chunk in self._client.models.generate_content_stream(
                model=self.model, contents=request.prompt, config=self._config(request)
            ):
                last = chunk
                if chunk.text:
                    parts.append(chunk.text)
                    yield chunk.text
        except Exception as exc:
            raise _mapped(exc) from exc
        yield _completion("".join(parts), last)

    def check(self) -> None:
        """Nothing to check without spending a call; a bad key shows on the first request."""
