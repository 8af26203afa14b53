"""Typed errors of the ragline core.

    RaglineError
    ├── UsageError            bad input from the caller
    │   └── FilterError       a metadata filter that cannot be applied
    ├── ConfigError           settings that cannot work (a backend without its key, ...)
    ├── NotFoundError         unknown collection or document
    ├── StoreBusyError        the embedded store is held by another process
    ├── ServerUnavailableError  a ragline server that cannot be reached or is busy (``ingest --api``)
    ├── ModelMismatchError    the collection was built with another embedding model
    ├── LoaderError           one file or record that cannot be read (reported, never fatal)
    └── LLMError              an LLM call that did not give a usable answer (search degrades, never fails)
        ├── LLMNotConfiguredError  no backend chosen
        ├── LLMUnavailableError    connection refused, 5xx, or the model is not pulled
        ├── LLMRateLimitedError    429 from the backend
        ├── LLMTimeoutError        slower than the deadline
        └── LLMOutputError         output that cannot be parsed as asked

The core never imports its edges; the edges map these in one table each: HTTP status codes in
``rag/api/error_status.py``, exit codes in ``rag/exit_codes.py``.
"""


class RaglineError(Exception):
    """Base class of every error the core raises on purpose."""


class UsageError(RaglineError):
    """The caller asked for something that cannot be done as asked."""


class FilterError(UsageError):
    """A metadata filter names an unknown operator or carries a bad value."""


class ConfigError(RaglineError):
    """The settings ask for something that cannot work."""


class NotFoundError(RaglineError):
    """A collection or document that does not exist."""


class StoreBusyError(RaglineError):
    """The embedded store is opened by another process."""


class ServerUnavailableError(RaglineError):
    """A ragline server that cannot be reached, or that says it is busy (HTTP 503)."""


class ModelMismatchError(RaglineError):
    """Vectors of one embedding model would be mixed with another's."""


class LoaderError(RaglineError):
    """A file or record that cannot be turned into a document."""


class LLMError(RaglineError):
    """An LLM call that did not give a usable answer."""


class LLMNotConfiguredError(LLMError):
    """No LLM backend is configured."""


class LLMUnavailableError(LLMError):
    """The backend cannot be reached, failed on its side, or lacks the model."""


class LLMRateLimitedError(LLMError):
    """The backend refused the call for now (HTTP 429)."""


class LLMTimeoutError(LLMError):
    """The call did not finish in time."""


class LLMOutputError(LLMError):
    """The backend answered, but not in the form asked for."""
