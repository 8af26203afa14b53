"""Reasons read out of error bodies that may come from the service or from anything in front of it.

A gateway or proxy answers with its own body: ``{"error": "text"}``, an HTML 502 page, a bare string, nothing.
Every backend reads its errors through here, so that such a body is a reason to report, never an exception.
"""

from __future__ import annotations

import email.utils
import html
import re
import time
from typing import Any

_TAGS = re.compile(r"<[^>]*>")


def error_text(body: object, fallback: str = "") -> str:
    """A short, printable reason from any error body: ``{"error": {"message"}}``, ``{"error": "text"}``,
    ``{"detail": ...}``, a string or HTML page, or nothing."""
    if isinstance(body, dict):
        inner = body.get("error", body.get("detail", body.get("message")))
        if isinstance(inner, dict):
            inner = inner.get("message", inner)
        body = inner
    if body is None or body == "":
        return fallback
    text = html.unescape(_TAGS.sub(" ", body if isinstance(body, str) else str(body)))
    return " ".join(text.split())[:300] or fallback


def retry_after_s(headers: Any) -> float | None:
    """``Retry-After`` as seconds or an HTTP date; None when absent or unreadable."""
    value = headers.get("retry-after") if headers is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
