"""Word-processor documents (DOCX, ODT) as sections: paragraphs and tables in document order, a new section at
each heading, every section with its heading path, tables as Markdown row groups under their header."""

from __future__ import annotations

from ingest.document import Coverage, Section
from ingest.loaders.tables import markdown_rows


class HeadingSections:
    """Fed blocks in document order; ``sections`` and ``coverage`` once ``finish`` is called."""

    def __init__(self) -> None:
        self.sections: list[Section] = []
        self.coverage = Coverage()
        self.first_heading = ""
        self._stack: list[tuple[int, str]] = []  # (level, heading) of the headings above
        self._lines: list[str] = []

    def _meta(self) -> dict:
        return {"headings": [h for _, h in self._stack]} if self._stack else {}

    def _close(self) -> None:
        if self._lines:
            self.sections.append(Section("\n".join(self._lines), self._meta()))
            self._lines.clear()

    def paragraph(self, text: str, heading_level: int | None = None) -> None:
        """A paragraph, or a heading of ``heading_level`` (0 is a title), which starts a section."""
        if heading_level is not None:
            self._close()
            self.first_heading = self.first_heading or text
            self._stack = [(lv, h) for lv, h in self._stack if lv < heading_level] + [(heading_level, text)]
        self._lines.append(text)

    def table(self, rows: list[list[str]]) -> None:
        self._close()
        groups = markdown_rows(rows)
        self.sections.extend(Section(group, {**self._meta(), "table": True}) for group in groups)
        self.coverage.tables += 1 if groups else 0

    def finish(self) -> list[Section]:
        self._close()
        return self.sections
