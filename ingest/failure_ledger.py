"""Files that failed, with the stamp they had then: an unchanged re-run neither reads them again nor counts
them as new failures, so its exit code speaks of what this run found.

One JSON file per collection on the ingesting machine (written whole, then renamed into place). A file
leaves the ledger when it is read again without failures, or when it no longer exists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


class FailureLedger:
    """``{source path: {"stamp": file stamp, "failures": [report entries]}}``, read once, saved once a run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}  # none yet, or unreadable: every file is read, as without a ledger
        self._entries: dict[str, dict] = data if isinstance(data, dict) else {}

    def known(self, source: str, stamp: str) -> list[dict[str, str]] | None:
        """The failures ``source`` had when its stamp was ``stamp``; None when it is not known to fail so."""
        entry = self._entries.get(source)
        if not stamp or not isinstance(entry, dict) or entry.get("stamp") != stamp:
            return None
        failures = entry.get("failures")
        # Written by this module, but a file on disk: anything else than report entries reads as unknown.
        if not isinstance(failures, list) or not all(_is_entry(f) for f in failures):
            return None
        return failures

    def record(self, files: list[tuple[str, str]], failures: list[dict[str, str]]) -> None:
        """After a run over ``files`` ((path, stamp) each): remember each file's failures (report entries, named
        by their ``file``, else their ``path``) at its stamp, forget the files that had none; then save."""
        by_file: dict[str, list[dict[str, str]]] = {}
        for failure in failures:
            by_file.setdefault(failure.get("file", failure["path"]), []).append(failure)
        for source, stamp in files:
            if by_file.get(source) and stamp:
                self._entries[source] = {"stamp": stamp, "failures": by_file[source]}
            else:
                self._entries.pop(source, None)
        self._save()

    def _save(self) -> None:
        self._entries = {source: e for source, e in self._entries.items() if Path(source).exists()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._entries), encoding="utf-8")
        os.replace(tmp, self.path)


def _is_entry(failure: object) -> bool:
    return (
        isinstance(failure, dict)
        and isinstance(failure.get("path"), str)
        and all(isinstance(v, str) for v in failure.values())
    )
