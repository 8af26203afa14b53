"""The one protocol every LLM backend implements, and the values it exchanges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

Purpose = Literal["rerank", "answer", "transcribe"]


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """One call: instructions (kept apart from the data), the prompt, and how to answer.

    ``max_tokens`` bounds the visible answer; a backend whose model thinks adds what its thinking setting for
    ``purpose`` may spend on top, since thought tokens count against the provider's output cap."""

    system: str
    prompt: str
    purpose: Purpose
    max_tokens: int
    timeout_s: float
    json_schema: dict[str, Any] | None = None  # structured output where the backend supports it
    images: tuple[bytes, ...] = ()  # PNG images sent with the prompt (page transcription)


@dataclass(frozen=True, slots=True)
class Completion:
    """What came back, with the token counts the backend itself reported."""

    text: str
    input_tokens: int
    output_tokens: int  # everything billed as output, thinking included
    truncated: bool = False  # stopped by the output-token limit (or, for Ollama, the prompt cut to fit num_ctx)
    thinking_tokens: int = 0  # of output_tokens, spent on thinking


class LLMBackend(Protocol):
    """A chat model reached over HTTP. Failures raise subclasses of ``rag.errors.LLMError``."""

    name: str  # "gemini", "ollama" or "openai"
    model: str
    images: bool  # reads PNG images sent with a prompt (RAGLINE_OCR=llm needs it)
    structured_output: bool  # can be asked for JSON that follows a schema (callers validate it regardless)

    def complete(self, request: LLMRequest) -> Completion:
        """The whole answer at once."""
        ...

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        """Text pieces as they arrive, then one ``Completion`` with the full text and usage."""
        ...

    def check(self) -> None:
        """Raise ``LLMUnavailableError`` (``LLMAccessError`` when permanent) unless the model can be served;
        costs no tokens, and loads a local model so that the first search does not wait for it."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
