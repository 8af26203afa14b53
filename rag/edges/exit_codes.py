"""Exit codes of the ``ingest`` and ``rag`` commands: the one table from error to code, and error printing."""

from __future__ import annotations

import sys

from rag.errors import (
    ConfigError,
    LLMNotConfiguredError,
    LLMUnavailableError,
    ModelMismatchError,
    NotFoundError,
    OverloadedError,
    RaglineError,
    ServerUnavailableError,
    StorageFullError,
    StoreBusyError,
    UsageError,
)

EXIT_OK = 0
EXIT_FAILED = 1  # ran, but some inputs failed; or an error of no known kind
EXIT_USAGE = 2  # bad arguments, bad settings, or a request that cannot be done as asked
EXIT_UNAVAILABLE = 3  # store or server busy, unreachable or out of disk; the LLM missing or unreachable

_EXIT: list[tuple[type[RaglineError], int]] = [
    (StoreBusyError, EXIT_UNAVAILABLE),
    (StorageFullError, EXIT_UNAVAILABLE),
    (ServerUnavailableError, EXIT_UNAVAILABLE),
    (OverloadedError, EXIT_UNAVAILABLE),
    (LLMNotConfiguredError, EXIT_UNAVAILABLE),
    (LLMUnavailableError, EXIT_UNAVAILABLE),
    (UsageError, EXIT_USAGE),
    (ConfigError, EXIT_USAGE),
    (ModelMismatchError, EXIT_USAGE),
    (NotFoundError, EXIT_USAGE),
]


def exit_code_for(exc: RaglineError) -> int:
    return next((code for kind, code in _EXIT if isinstance(exc, kind)), EXIT_FAILED)


def fail(exc: RaglineError, prog: str) -> int:
    """Print a one-line error (no stack trace) and return the exit code for it."""
    print(f"{prog}: error: {exc}", file=sys.stderr)
    return exit_code_for(exc)
