"""The ingest worker applies creations, changes and deletions as they happen."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from ingest.pipeline import IngestReport
from ingest.watch import watch_paths


def test_watch_applies_changes(tmp_path: Path, make_ingestor) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "one.txt").write_text("The first note is about otters.")
    ing = make_ingestor()
    reports: queue.Queue[IngestReport] = queue.Queue()
    stop = threading.Event()
    worker = threading.Thread(target=watch_paths, args=(ing, [inbox], reports.put), kwargs={"stop": stop})
    worker.start()
    try:
        assert reports.get(timeout=60).added == 1

        (inbox / "two.md").write_text("# Badgers\nBadgers dig setts.")
        assert reports.get(timeout=30).added == 1

        (inbox / "one.txt").write_text("The first note is now about beavers.")
        assert reports.get(timeout=30).updated == 1

        (inbox / "two.md").unlink()
        assert reports.get(timeout=30).deleted == 1

        (inbox / ".swap.txt").write_text("hidden files are ignored")
        (inbox / "three.txt").write_text("Herons stand still in rivers.")
        r = reports.get(timeout=30)
        assert (r.added, r.failed) == (1, [])
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
    assert set(ing.store.doc_states()) == {"one.txt", "three.txt"}
