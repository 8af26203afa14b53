"""Markdown, split into sections at headings; each section keeps its heading path."""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt

from ingest.document import Document, Section
from ingest.loaders.text import encoding_note, read_text

_md = MarkdownIt("commonmark")


def load_markdown(path: Path, doc_id: str) -> list[Document]:
    text, encoding = read_text(path)
    lines = text.splitlines()
    tokens = _md.parse(text)
    # (line where the heading starts, level, heading text)
    headings = [
        (tok.map[0], int(tok.tag[1]), tokens[i + 1].content.strip())
        for i, tok in enumerate(tokens)
        if tok.type == "heading_open" and tok.map
    ]
    title = next((h for _, level, h in headings if level == 1), path.stem)
    sections: list[Section] = []
    path_stack: list[tuple[int, str]] = []
    starts = [0] + [line for line, _, _ in headings]
    ends = [line for line, _, _ in headings] + [len(lines)]
    for n, (start, end) in enumerate(zip(starts, ends, strict=True)):
        if n > 0:
            _, level, heading = headings[n - 1]
            path_stack = [(lv, h) for lv, h in path_stack if lv < level] + [(level, heading)]
        body = "\n".join(lines[start:end]).strip()
        if body:
            sections.append(Section(body, {"headings": [h for _, h in path_stack]} if path_stack else {}))
    body = sections or [Section(text.strip())]
    return [Document(doc_id=doc_id, title=title, format="md", sections=body, metadata=encoding_note(encoding))]
