"""Typed errors of the ragline core.

    RaglineError
    ├── UsageError            bad input from the caller
    │   ├── FilterError       a metadata filter that cannot be applied
    │   └── LimitReachedError a configured cap would be passed (RAGLINE_MAX_COLLECTIONS, ...)
    ├── ConfigError           settings that cannot work (a backend without its key, ...)
    ├── NotFoundError         unknown collection or document
    ├── StoreBusyError        the embedded store is held by another process
    ├── StorageFullError      too little free disk to write safely (or a write found the disk full)
    ├── ServerUnavailableError  a ragline server that cannot be reached or is busy (``ingest --api``)
    ├── OverloadedError       as much of this work is in flight as the settings allow: retry shortly
    ├── ModelMismatchError    the collection was built with another embedding model
    ├── LoaderError           one file or record that cannot be read (reported, never fatal)
    └── LLMError              an LLM call that did not give a usable answer (search degrades, never fails)
        ├── LLMNotConfiguredError  no backend chosen
        ├── LLMUnavailableError    connection refused, 5xx, or the model is not pulled
        ├── LLMAccessError         bad key, no permission, unknown model: permanent, never retried
        ├── LLMRateLimitedError    429 from the backend, with the delay it asked for when it said
        ├── LLMBlockedError        the provider's safety, recitation or blocklist filters stopped it
        ├── LLMTimeoutError        slower than the deadline
        ├── LLMRequestTooLargeError  the prompt is over the model's context: reported, never retried
        └── LLMOutputError         output that cannot be parsed as asked (or none: all spent on thinking)

The core never imports its edges; the edges map these in one table each: HTTP status codes in
``rag/edges/api/error_status.py``, exit codes in ``rag/edges/exit_codes.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.llm.base import Completion


class RaglineError(Exception):
    """Base class of every error the core raises on purpose."""


class UsageError(RaglineError):
    """The caller asked for something that cannot be done as asked."""


class FilterError(UsageError):
    """A metadata filter names an unknown operator or carries a bad value."""


class LimitReachedError(UsageError):
    """Doing this would pass a configured cap (the number of collections, ...)."""


class ConfigError(RaglineError):
    """The settings ask for something that cannot work."""


class NotFoundError(RaglineError):
    """A collection or document that does not exist."""


class StoreBusyError(RaglineError):
    """The embedded store is opened by another process."""


class StorageFullError(RaglineError):
    """The disk holding the data dir is (nearly) full: nothing is written."""


class ServerUnavailableError(RaglineError):
    """A ragline server that cannot be reached, or that says it is busy (HTTP 503)."""


class OverloadedError(RaglineError):
    """The process already runs as many of these requests as it may (answers waiting on the LLM, ...)."""


class ModelMismatchError(RaglineError):
    """Vectors of one embedding model would be mixed with another's."""


class LoaderError(RaglineError):
    """A file or record that cannot be turned into a document."""


class LLMError(RaglineError):
    """An LLM call that did not give a usable answer. ``billed`` holds the tokens it still cost, if any."""

    def __init__(self, message: str, *, billed: Completion | None = None) -> None:
        super().__init__(message)
        self.billed = billed


class LLMNotConfiguredError(LLMError):
    """No LLM backend is configured."""


class LLMUnavailableError(LLMError):
    """The backend cannot be reached, failed on its side, or lacks the model."""


class LLMAccessError(LLMUnavailableError):
    """The key is invalid, lacks permission, or the model does not exist: retrying cannot help."""


class LLMRateLimitedError(LLMError):
    """The backend refused the call for now (HTTP 429); ``retry_after_s`` is the delay it asked for."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class LLMBlockedError(LLMError):
    """The provider stopped the prompt or the answer (safety, recitation, prohibited content, blocklist)."""


class LLMTimeoutError(LLMError):
    """The call did not finish in time."""


class LLMRequestTooLargeError(LLMError):
    """The server refused the prompt as longer than the model's context: retrying cannot help."""


class LLMOutputError(LLMError):
    """The backend answered, but not in the form asked for."""
