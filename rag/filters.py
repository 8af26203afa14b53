"""Metadata filters: the user's JSON parsed into the store's engine-neutral conditions.

``{"source": "a.md"}`` exact match; ``{"tag": ["x", "y"]}`` or ``{"tag": {"any": [...]}}`` any-of;
``{"year": {"gte": 2000, "lt": 2010}}`` numeric range; ``{"date": {"gte": "2024-01-01"}}`` date range.
Keys other than the chunk's own fields address the document's metadata (``metadata.<key>``).
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

from rag.errors import FilterError
from rag.store.base import Condition, Scalar
from rag.stored_chunk import CORE_FIELDS, METADATA

RANGE_OPS = ("gte", "gt", "lte", "lt")
OPERATORS = ("eq", "any", *RANGE_OPS)


# Qdrant stores integers as 64-bit; a larger one fails inside the engine instead of being refused here.
_INT64 = range(-(2**63), 2**63)
# RFC 3339 as Qdrant reads it: a date, optionally a time and offset (Python alone also takes "20240101").
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$"
_DATE = re.compile(DATE_PATTERN)
# A JSON path part Qdrant reads unquoted (its keys are Unicode alphanumerics, '_' and '-'; then array indexes).
_PLAIN_PART = re.compile(r"[\w-]+(\[[0-9]*\])*")


def payload_key(key: str) -> str:
    """Where a user-facing filter key lives in the payload, as a Qdrant JSON path: dots nest, and a part that
    is not plain (letters, digits, ``_``, ``-``, ``[n]``) is quoted, so metadata keys such as "Published on" work."""
    if key in CORE_FIELDS:
        return key
    name = key.removeprefix(f"{METADATA}.")
    parts = name.split(".")
    if not name.strip() or any(not part for part in parts):
        raise FilterError(f"filter key {key!r} does not name a field")
    return ".".join([METADATA, *(_path_part(key, part) for part in parts)])


def _path_part(key: str, part: str) -> str:
    if _PLAIN_PART.fullmatch(part):
        return part
    if '"' in part or "\\" in part:  # the path grammar has no escapes inside quotes
        raise FilterError(f"filter key {key!r}: a field name cannot hold '\"' or '\\'")
    return f'"{part}"'


def _scalar(key: str, value: Any) -> Scalar:
    if isinstance(value, float) and value.is_integer():  # JSON has one number type: 2020.0 is 2020
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT64:
        raise FilterError(f"filter {key!r}: integer {value} is outside the 64-bit range")
    if isinstance(value, (str, int, bool)) and not isinstance(value, float):
        return value
    raise FilterError(f"filter {key!r}: match values must be strings, integers or booleans, got {value!r}")


def _range_bound(key: str, op: str, value: Any) -> float | str:
    if isinstance(value, bool):
        raise FilterError(f"filter {key!r}: {op} needs a number or an ISO date, got {value!r}")
    if isinstance(value, (int, float)):
        bound = float(value)
        if not math.isfinite(bound):
            raise FilterError(f"filter {key!r}: {op} needs a finite number, got {value!r}")
        return bound
    if isinstance(value, str):
        try:
            if not _DATE.match(value):
                raise ValueError(value)
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise FilterError(f"filter {key!r}: {op} needs a number or an ISO date, got {value!r}") from None
        return value
    raise FilterError(f"filter {key!r}: {op} needs a number or an ISO date, got {value!r}")


def _one(key: str, value: Any) -> Condition:
    target = payload_key(key)
    if isinstance(value, list):
        value = {"any": value}
    if not isinstance(value, dict):
        return Condition(target, eq=_scalar(key, value))
    unknown = sorted(set(value) - set(OPERATORS))
    if unknown:
        raise FilterError(f"filter {key!r}: unknown operator {unknown[0]!r}; use one of {', '.join(OPERATORS)}")
    if not value:
        raise FilterError(f"filter {key!r}: no operator given; use one of {', '.join(OPERATORS)}")
    if "eq" in value:
        if len(value) > 1:
            raise FilterError(f"filter {key!r}: 'eq' cannot be combined with other operators")
        return Condition(target, eq=_scalar(key, value["eq"]))
    if "any" in value:
        if len(value) > 1:
            raise FilterError(f"filter {key!r}: 'any' cannot be combined with other operators")
        items = value["any"]
        if not isinstance(items, list) or not items:
            raise FilterError(f"filter {key!r}: 'any' needs a non-empty list")
        scalars = tuple(_scalar(key, v) for v in items)
        if len({type(v) for v in scalars}) > 1:
            raise FilterError(f"filter {key!r}: 'any' values must all be strings or all integers")
        return Condition(target, any=scalars)
    bounds = {op: _range_bound(key, op, v) for op, v in value.items()}
    if len({type(v) for v in bounds.values()}) > 1:
        raise FilterError(f"filter {key!r}: range bounds must all be numbers or all dates")
    return Condition(target, range=bounds)


def parse_filter(spec: dict[str, Any] | None) -> tuple[Condition, ...]:
    """All conditions of a filter object; every one must hold (AND)."""
    if not spec:
        return ()
    if not isinstance(spec, dict):
        raise FilterError("filter must be an object of field: condition")
    return tuple(_one(str(k), v) for k, v in spec.items())
