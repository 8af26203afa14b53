"""The one table from core errors to HTTP status codes."""

from __future__ import annotations

from rag import errors

_STATUS: list[tuple[type[errors.RaglineError], int]] = [
    (errors.NotFoundError, 404),
    (errors.ModelMismatchError, 409),
    (errors.StoreBusyError, 503),
    (errors.StorageFullError, 507),
    (errors.OverloadedError, 503),
    (errors.LLMNotConfiguredError, 503),
    (errors.LLMUnavailableError, 503),
    (errors.LimitReachedError, 409),
    (errors.UsageError, 400),  # FilterError included
    (errors.ConfigError, 500),  # the server's own settings, not the caller's request
]


def status_for(exc: errors.RaglineError) -> int:
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 500)
