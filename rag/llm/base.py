"""The one protocol every LLM backend implements, and the values it exchanges."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """One call: instructions (kept apart from the data), the prompt, and how to answer."""

    system: str
    prompt: str
    json_schema: dict[str, Any] | None = None  # structured output where the backend supports it
    max_tokens: int = 256
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Completion:
    """What came back, with the token counts the backend itself reported."""

    text: str
    input_tokens: int
    output_tokens: int
    truncated: bool = False  # stopped by the output-token limit


class LLMBackend(Protocol):
    """A chat model reached over HTTP. Failures raise subclasses of ``rag.errors.LLMError``."""

    name: str  # "gemini" or "ollama"
    model: str

    def complete(self, request: LLMRequest) -> Completion:
        """The whole answer at once."""
        ...

    def stream(self, request: LLMRequest) -> Iterator[str | Completion]:
        """Text pieces as they arrive, then one ``Completion`` with the full text and usage."""
        ...

    def check(self) -> None:
        """Raise ``LLMUnavailableError`` when the backend cannot serve the model (e.g. not pulled)."""
        ...
