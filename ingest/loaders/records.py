"""JSON and JSONL records (``_id``/``id``, ``title``, ``text``, ``acl``, anything else as metadata): BEIR corpora
as-is."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ingest.document import Document, RecordFailure, Section
from ingest.loaders.text import read_text
from rag.access import parse_acl
from rag.errors import LoaderError

# Metadata becomes a Qdrant payload: deeper nesting than this, or a NaN or infinite number, is refused here
# (reported per record) instead of failing inside the engine half-way through a batch.
MAX_METADATA_DEPTH = 8


def _check_metadata(value: Any, rid: object, depth: int = 0) -> None:
    if depth > MAX_METADATA_DEPTH:
        raise LoaderError(f"record {rid!r}: metadata nests deeper than {MAX_METADATA_DEPTH} levels")
    if isinstance(value, float) and not math.isfinite(value):
        raise LoaderError(f"record {rid!r}: metadata holds {value}, which JSON payloads cannot store")
    if isinstance(value, dict):
        for v in value.values():
            _check_metadata(v, rid, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_metadata(v, rid, depth + 1)


def _record(obj: Any, fmt: str) -> Document:
    if not isinstance(obj, dict):
        raise LoaderError("record is not a JSON object")
    rid = obj.get("_id", obj.get("id"))
    if rid is None or (isinstance(rid, str) and not rid.strip()) or isinstance(rid, (dict, list, bool)):
        raise LoaderError("record has no '_id' or 'id'")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise LoaderError(f"record {rid!r} has no 'text'")
    title = obj.get("title") or ""
    try:
        acl = parse_acl(obj["acl"]) if obj.get("acl") is not None else ()
    except ValueError as exc:
        raise LoaderError(f"record {rid!r}: {exc}") from None
    metadata = {k: v for k, v in obj.items() if k not in {"_id", "id", "text", "title", "acl"}}
    _check_metadata(metadata, rid)
    return Document(
        doc_id=str(rid), title=str(title), format=fmt, sections=[Section(text.strip())], metadata=metadata, acl=acl
    )


def _collect(items: list[tuple[str, Any]], fmt: str, unreadable: int = 0) -> list[Document | RecordFailure]:
    """One document per record, one failure per bad record; a file none of whose items is a record (a
    configuration, a fixture) is one failure, not one per item."""
    out: list[Document | RecordFailure] = []
    for where, obj in items:
        try:
            out.append(_record(obj, fmt))
        except LoaderError as exc:
            out.append(RecordFailure(where, str(exc)))
    if (items or unreadable) and not any(isinstance(item, Document) for item in out):
        count = len(items) + unreadable
        raise LoaderError(
            f"not a records file: none of its {count} items is an object with an '_id' (or 'id') and a 'text'"
        )
    return out


def load_jsonl(path: Path, doc_id: str) -> list[Document | RecordFailure]:
    items: list[tuple[str, Any]] = []
    out: list[Document | RecordFailure] = []
    for n, line in enumerate(read_text(path)[0].splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append((f"{path}:{n}", json.loads(line)))
        except json.JSONDecodeError as exc:
            out.append(RecordFailure(f"{path}:{n}", f"invalid JSON: {exc.msg}"))
    return _collect(items, "jsonl", unreadable=len(out)) + out


def load_json(path: Path, doc_id: str) -> list[Document | RecordFailure]:
    try:
        data = json.loads(read_text(path)[0])
    except json.JSONDecodeError as exc:
        raise LoaderError(f"invalid JSON: {exc.msg} at line {exc.lineno}") from None
    records = data if isinstance(data, list) else [data]
    return _collect([(f"{path}[{i}]", obj) for i, obj in enumerate(records)], "json")
