"""A first-come, first-served lock: a thread that releases and re-acquires it goes behind those waiting."""

from __future__ import annotations

import threading


class FairLock:
    """A ticket lock. ``threading.Lock`` makes no order promise, so a thread looping over many slices of work
    could take it again and again while another waits; here each acquire waits its turn."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next_ticket = 0
        self._serving = 0

    def __enter__(self) -> None:
        with self._cond:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._cond.wait_for(lambda: self._serving == ticket)

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._serving += 1
            self._cond.notify_all()
