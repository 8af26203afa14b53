"""The one table from core errors to HTTP status codes."""

from __future__ import annotations

from rag.errors import (
    ConfigError,
    LLMNotConfiguredError,
    LLMUnavailableError,
    ModelMismatchError,
    NotFoundError,
    RaglineError,
    StoreBusyError,
    UsageError,
)

_STATUS: list[tuple[type[RaglineError], int]] = [
    (NotFoundError, 404),
    (ModelMismatchError, 409),
    (StoreBusyError, 503),
    (LLMNotConfiguredError, 503),
    (LLMUnavailableError, 503),
    (UsageError, 400),  # FilterError included
    (ConfigError, 500),  # the server's own settings, not the caller's request
]


def status_for(exc: RaglineError) -> int:
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
