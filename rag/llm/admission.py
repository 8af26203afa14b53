"""Per-backend admission: calls in flight, calls per minute, and the cooldown a provider's 429 asked for.

Bursts wait inside the caller's deadline or are refused at once (the search then falls back); they never reach
the provider beyond the configured rate, and nothing is sent while a ``retryDelay`` runs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rag.errors import LLMRateLimitedError, LLMTimeoutError

_MINUTE = 60.0


class Admission:
    """At most ``max_concurrency`` calls at once and ``rpm`` starts per minute (0: no limit); none in a cooldown."""

    def __init__(self, max_concurrency: int, rpm: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._rpm = rpm
        self._clock = clock
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()
        self._cool_until = 0.0

    def cooldown_left(self) -> float:
        """Seconds until the provider's last ``retryDelay`` has passed (0 when none runs)."""
        return max(0.0, self._cool_until - self._clock())

    def cool_down(self, seconds: float) -> None:
        with self._lock:
            self._cool_until = max(self._cool_until, self._clock() + seconds)

    def _refuse_while_cooling(self) -> None:
        left = self.cooldown_left()
        if left > 0:
            raise LLMRateLimitedError(
                f"the LLM asked to wait after a 429 ({left:.1f} s left); not called", retry_after_s=left
            )

    def _start_within_rate(self, deadline: float) -> None:
        """Record a start, waiting for the per-minute window when that fits before ``deadline``."""
        if not self._rpm:
            return
        while True:
            with self._lock:
                now = self._clock()
                while self._starts and self._starts[0] <= now - _MINUTE:
                    self._starts.popleft()
                if len(self._starts) < self._rpm:
                    self._starts.append(now)
                    return
                free_at = self._starts[0] + _MINUTE
            if free_at > deadline:
                raise LLMRateLimitedError(f"RAGLINE_LLM_RPM ({self._rpm} a minute) reached; not called")
            time.sleep(max(0.0, free_at - self._clock()))

    @contextmanager
    def slot(self, deadline: float) -> Iterator[None]:
        """Hold one call's place; refused when the cooldown runs or no place frees up before ``deadline``."""
        self._refuse_while_cooling()
        if not self._slots.acquire(timeout=max(0.0, deadline - self._clock())):
            raise LLMTimeoutError("no free LLM slot before the deadline (RAGLINE_LLM_MAX_CONCURRENCY)")
        try:
            self._refuse_while_cooling()  # a 429 may have come in while this call waited
            self._start_within_rate(deadline)
            yield
        finally:
            self._slots.release()
