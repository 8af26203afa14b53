"""Markdown, split into sections at headings; each section keeps its heading path. YAML front matter becomes the
document's metadata (``title`` and ``acl`` taken from it), raw HTML blocks and ``{ #anchor }`` markers are
dropped."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt

from ingest.document import Document, Section
from ingest.loaders.text import encoding_note, read_text
from rag.access import parse_acl
from rag.errors import LoaderError

_md = MarkdownIt("commonmark")


_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_YAML_ALIAS = re.compile(r"(^|[\s\[{,])[&*][\w-]+")  # anchors and aliases: how YAML "billion laughs" grow
_ANCHOR = re.compile(r"[ \t]*\{[ \t]*#[\w:.-]+[^}]*\}[ \t]*$", re.MULTILINE)  # "## Install { #install }"
_MAX_FRONT_MATTER = 64 * 1024


def front_matter(text: str) -> tuple[dict[str, Any], str]:
    """YAML front matter (a mapping of plain values, no anchors or aliases) and the text after it."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    rest = text[match.end() :]
    raw = match.group(1)
    if len(raw) > _MAX_FRONT_MATTER or _YAML_ALIAS.search(raw):
        return {}, rest
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError:
        return {}, rest
    if not isinstance(data, dict):
        return {}, rest
    # Dates and other YAML types become strings a JSON payload can hold.
    return json.loads(json.dumps({str(k): v for k, v in data.items()}, default=str)), rest


def _without_raw_html(text: str) -> str:
    """Lines of raw HTML blocks (<style>, <div> wrappers, comments) removed; Markdown around them kept."""
    lines = text.splitlines()
    drop = set()
    for tok in _md.parse(text):
        if tok.type == "html_block" and tok.map:
            drop.update(range(*tok.map))
    return "\n".join(line for n, line in enumerate(lines) if n not in drop)


def load_markdown(path: Path, doc_id: str) -> list[Document]:
    raw, encoding = read_text(path)
    meta, raw = front_matter(raw)
    text = _ANCHOR.sub("", _without_raw_html(raw))
    lines = text.splitlines()
    tokens = _md.parse(text)
    # (line where the heading starts, level, heading text)
    headings = [
        (tok.map[0], int(tok.tag[1]), tokens[i + 1].content.strip())
        for i, tok in enumerate(tokens)
        if tok.type == "heading_open" and tok.map
    ]
    title = str(meta.pop("title", "") or "") or next((h for _, level, h in headings if level == 1), path.stem)
    try:
        acl = parse_acl(meta.pop("acl")) if meta.get("acl") is not None else ()
    except ValueError as exc:
        raise LoaderError(f"front matter: {exc}") from None
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
    if not sections and not text.strip():
        raise LoaderError("no text in Markdown (front matter or HTML only)")
    body = sections or [Section(text.strip())]
    metadata = meta | encoding_note(encoding)
    return [Document(doc_id=doc_id, title=title, format="md", sections=body, metadata=metadata, acl=acl)]
