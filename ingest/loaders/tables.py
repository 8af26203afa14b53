"""Tables as Markdown rows: what DOCX, spreadsheet, CSV and slide tables become inside chunks."""

from __future__ import annotations

_TABLE_GROUP_CHARS = 800  # about 200 word pieces: a group of rows and its header fit one chunk


def markdown_rows(rows: list[list[str]], max_chars: int = _TABLE_GROUP_CHARS) -> list[str]:
    """A table as Markdown, in groups of rows of about ``max_chars``, each group under the header row again, so
    a table that spans chunks keeps its column names in each."""
    clean = [[" ".join(c.split()).replace("|", "\\|") for c in row] for row in rows if any(c.strip() for c in row)]
    if not clean:
        return []
    width = max(len(r) for r in clean)
    lines = ["| " + " | ".join(r + [""] * (width - len(r))) + " |" for r in clean]
    header = [lines[0], "|" + " --- |" * width]
    groups, current = [], []
    for line in lines[1:]:
        if current and sum(map(len, current)) + len(line) > max_chars:
            groups.append(current)
            current = []
        current.append(line)
    groups.append(current)
    return ["\n".join(header + g) for g in groups]
