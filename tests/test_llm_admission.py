"""The per-backend gate in front of every LLM call: cooldown after a 429, calls per minute, calls in flight."""

from __future__ import annotations

import threading
import time

import pytest

from rag.errors import LLMRateLimitedError, LLMTimeoutError
from rag.llm.admission import Admission


def soon(seconds: float = 0.2) -> float:
    return time.monotonic() + seconds


def test_nothing_is_let_through_while_a_providers_delay_runs() -> None:
    gate = Admission(max_concurrency=4, rpm=0)
    gate.cool_down(0.3)
    with pytest.raises(LLMRateLimitedError, match="asked to wait") as caught, gate.slot(soon(5)):
        pass
    assert 0 < caught.value.retry_after_s <= 0.3
    time.sleep(0.35)
    with gate.slot(soon()):
        pass


def test_calls_per_minute_are_capped() -> None:
    now = [1000.0]
    gate = Admission(max_concurrency=4, rpm=2, clock=lambda: now[0])
    for _ in range(2):
        with gate.slot(now[0] + 1):
            pass
    with pytest.raises(LLMRateLimitedError, match="RAGLINE_LLM_RPM"), gate.slot(now[0] + 1):
        pass  # the window frees up only 60 s after the first call: past this deadline
    now[0] += 61
    with gate.slot(now[0] + 1):
        pass


def test_calls_in_flight_are_capped_and_waiters_give_up_at_their_deadline() -> None:
    gate = Admission(max_concurrency=1, rpm=0)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with gate.slot(soon(5)):
            held.set()
            release.wait(5)

    threading.Thread(target=hold, daemon=True).start()
    held.wait(5)
    started = time.monotonic()
    with pytest.raises(LLMTimeoutError, match="RAGLINE_LLM_MAX_CONCURRENCY"), gate.slot(soon(0.2)):
        pass
    assert time.monotonic() - started < 1
    release.set()
