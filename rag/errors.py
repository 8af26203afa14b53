"""Typed errors of the ragline core.

    RaglineError
    ├── UsageError            bad input from the caller (HTTP 400/422, exit code 2)
    │   └── FilterError       a metadata filter that cannot be applied
    ├── NotFoundError         unknown collection or document (HTTP 404)
    ├── StoreBusyError        the embedded store is held by another process (HTTP 503, exit 3)
    ├── ModelMismatchError    the collection was built with another embedding model (HTTP 409, exit 2)
    ├── LoaderError           one file or record that cannot be read (reported, never fatal)
    └── LLMError              an LLM call that did not give a usable answer (search degrades, never fails)
        ├── LLMNotConfiguredError  no backend chosen (HTTP 503 on /v1/answer, exit 3)
        ├── LLMUnavailableError    connection refused, 5xx, or the model is not pulled (HTTP 503, exit 3)
        ├── LLMRateLimitedError    429 from the backend
        ├── LLMTimeoutError        slower than the deadline
        └── LLMOutputError         output that cannot be parsed as asked

The edges (API, CLI) map these to status codes; the core never imports either.
"""


class RaglineError(Exception):
    """Base class of every error the core raises on purpose."""


class UsageError(RaglineError):
    """The caller asked for something that cannot be done as asked."""


class FilterError(UsageError):
    """A metadata filter names an unknown operator or carries a bad value."""


class NotFoundError(RaglineError):
    """A collection or document that does not exist."""


class StoreBusyError(RaglineError):
    """The embedded store is opened by another process."""


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
