"""What one ingest run did: counts, failures, the files it read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class IngestReport:
    """Counts in documents, except ``chunks`` (chunks written), ``failed`` (one entry per bad file or record) and
    ``files`` (one entry per file read in this run; files skipped as unchanged are not read)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    known_failed: list[dict[str, str]] = field(default_factory=list)  # failed before, file unchanged: not read
    chunks: int = 0
    seconds: float = 0.0
    skipped: dict[str, int] = field(default_factory=dict)  # files a folder walk passed over, by extension or reason
    files: list[dict[str, Any]] = field(default_factory=list)  # per file read: ingest.coverage.file_coverage
    resumed: int = 0  # chunks a killed run had written already: found stored, not embedded again
    renamed: dict[str, str] = field(default_factory=dict)  # file -> the longer doc id it got (its name was taken)
    llm_usage: dict[str, Any] | None = None  # tokens and cost of LLM page transcription (RAGLINE_OCR=llm)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
