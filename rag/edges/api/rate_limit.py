"""Requests a minute per API key, over a sliding window."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

_MINUTE = 60.0


class PerKeyRate:
    """``admit`` records a request of one key, or says how many seconds until one more fits its ``rpm``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._starts: dict[str, deque[float]] = {}  # bounded by the keys in the key file
        self._lock = threading.Lock()

    def admit(self, name: str, rpm: int) -> float | None:
        if rpm <= 0:
            return None
        with self._lock:
            now = self._clock()
            starts = self._starts.setdefault(name, deque())
            while starts and starts[0] <= now - _MINUTE:
                starts.popleft()
            if len(starts) < rpm:
                starts.append(now)
                return None
            return starts[0] + _MINUTE - now
