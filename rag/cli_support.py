"""Exit codes and error printing shared by the ``ingest`` and ``rag`` commands."""

from __future__ import annotations

import sys

from rag.errors import (
    LLMNotConfiguredError,
    LLMUnavailableError,
    ModelMismatchError,
    NotFoundError,
    StoreBusyError,
    UsageError,
)

EXIT_OK = 0
EXIT_FAILED = 1  # ran, but some inputs failed
EXIT_USAGE = 2  # bad arguments or a request that cannot be done as asked
EXIT_UNAVAILABLE = 3  # the store is busy, or the LLM is missing or unreachable


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, (StoreBusyError, LLMNotConfiguredError, LLMUnavailableError)):
        return EXIT_UNAVAILABLE
    if isinstance(exc, (UsageError, ModelMismatchError, NotFoundError, ValueError)):
        return EXIT_USAGE
    return EXIT_FAILED


def fail(exc: BaseException, prog: str | None = None) -> int:
    """Print a one-line error (no stack trace) and return the exit code for it."""
    name = prog or (sys.argv[0].rsplit("/", 1)[-1] if sys.argv and sys.argv[0] else "ragline")
    print(f"{name}: error: {exc}", file=sys.stderr)
    return exit_code_for(exc)
