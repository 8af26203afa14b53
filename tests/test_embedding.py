"""The shared embedder: one large request does not hold every other caller back."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from rag.embedding import Embedder
from rag.fair_lock import FairLock


def test_a_small_request_is_served_between_the_batches_of_a_large_one(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedder, "batch_size", 4)
    large = [f"passage number {n} about penguins and the southern ocean " * 6 for n in range(200)]
    finished: list[str] = []
    started = threading.Event()
    original = embedder.model.encode

    def encode_and_signal(*args, **kwargs):
        started.set()
        return original(*args, **kwargs)

    monkeypatch.setattr(embedder.model, "encode", encode_and_signal)
    big = threading.Thread(target=lambda: (embedder.encode(large), finished.append("large")))
    big.start()
    started.wait()
    embedder.encode(["where do penguins live"])
    finished.append("small")
    big.join()
    # Behind one batch of 4 rather than all 50 batches of the large request.
    assert finished == ["small", "large"]


def test_rows_come_back_in_the_callers_order(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["penguins", "lava flows from a volcano", "espresso", "the stock market fell", "a cat", "rainforests"]
    alone = np.vstack([embedder.encode([t]) for t in texts])
    monkeypatch.setattr(embedder, "batch_size", 2)
    together = embedder.encode(texts)
    # Each row is its own text's vector (int8 scales differ per batch, a little), not a neighbour's.
    assert np.array_equal((together @ alone.T).argmax(axis=1), np.arange(len(texts)))
    assert (np.sum(together * alone, axis=1) > 0.97).all()


def test_fair_lock_serves_in_arrival_order() -> None:
    lock = FairLock()
    order: list[int] = []
    gate = threading.Event()
    threads = []
    with lock:
        for n in range(5):
            t = threading.Thread(target=lambda n=n: (gate.wait(), _take(lock, order, n)))
            threads.append(t)
        for n, t in enumerate(threads):
            t.start()
            gate.set()
            while lock._next_ticket < n + 2:  # thread n holds its ticket before the next one starts
                pass
    for t in threads:
        t.join()
    assert order == [0, 1, 2, 3, 4]


def _take(lock: FairLock, order: list[int], n: int) -> None:
    with lock:
        order.append(n)
