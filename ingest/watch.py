"""The ingest worker: after a first full pass, apply file creations, changes and deletions as they happen."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, watch

from ingest.discovery import SourceFile, source_file
from ingest.loaders import is_supported
from ingest.pipeline import Ingestor, IngestReport


def _owner(path: Path, roots: list[Path]) -> Path | None:
    """The watched folder (or file) that ``path`` belongs to, skipping hidden entries."""
    for root in roots:
        if path == root:
            return root
        if root in path.parents and not any(p.startswith(".") for p in path.relative_to(root).parts):
            return root
    return None


def watch_paths(
    ingestor: Ingestor,
    paths: list[Path],
    on_report: Callable[[IngestReport], None],
    *,
    stop: threading.Event | None = None,
    debounce_ms: int = 400,
) -> None:
    """Mirror ``paths`` into the store until ``stop`` is set (or forever)."""
    roots = [p.absolute() for p in paths]
    on_report(ingestor.run(roots, prune=True))
    for changes in watch(*roots, stop_event=stop, debounce=debounce_ms, recursive=True):
        files: dict[Path, SourceFile] = {}
        gone: set[Path] = set()
        for change, raw in changes:
            path = Path(raw)
            root = _owner(path, roots)
            if root is None or not is_supported(path):
                continue
            if change == Change.deleted and not path.exists():
                gone.add(path)
                files.pop(path, None)
            elif path.is_file():
                files[path] = source_file(path, root)
                gone.discard(path)
        if not files and not gone:
            continue
        report = ingestor.ingest_files(sorted(files.values(), key=lambda f: f.path), distinct_ids=True)
        report.deleted += sum(ingestor.delete_source(p) for p in sorted(gone))
        on_report(report)
