"""Strict reading of rerank output: nothing the model writes can drop, duplicate or invent a passage."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Sequence

from rag.errors import LLMOutputError

# Output cut at the token limit: '{"ranking": [3, 1, 4' — the ids completed so far (followed by , or ]).
_PARTIAL = re.compile(r'^\s*(?:```(?:json)?\s*)?\{\s*"ranking"\s*:\s*\[((?:\s*\d+\s*[,\]])*)')
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


def _json(text: str) -> object:
    """The JSON of the output: all of it, inside a code fence, or (from a server that was not asked for structured
    output) the outermost ``{...}`` among other words."""
    fenced = _FENCE.match(text)
    try:
        return json.loads(fenced.group(1) if fenced else text)
    except ValueError:
        pass
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        try:
            return json.loads(text[start : end + 1])
        except ValueError:
            return None
    return None


def _ranked_ids(text: str) -> list[int]:
    data = _json(text)
    if isinstance(data, dict):
        data = data.get("ranking")
    if isinstance(data, list):
        return [x for x in data if isinstance(x, int) and not isinstance(x, bool)]
    partial = _PARTIAL.match(text)
    if partial:
        return [int(x) for x in re.findall(r"\d+", partial.group(1))]
    raise LLMOutputError(f"rerank: output is not the JSON ranking asked for: {text[:80]!r}")


def parse_ranking(text: str, ids: Sequence[int]) -> list[int]:
    """``ids`` in the model's order: unknown and repeated ids ignored, omitted ones after, in their given order."""
    valid = set(ids)
    seen: set[int] = set()
    order = []
    for i in _ranked_ids(text):
        if i in valid and i not in seen:
            seen.add(i)
            order.append(i)
    if not order:
        raise LLMOutputError(f"rerank: no known passage id in the output: {text[:80]!r}")
    return order + [i for i in ids if i not in seen]


def parse_grades(text: str, count: int) -> list[float]:
    """The 0-10 grades of a graded judgement, one per passage in prompt order, as fractions of 10."""
    data = _json(text)
    grades = data.get("grades") if isinstance(data, dict) else None
    if not isinstance(grades, list) or len(grades) != count:
        raise LLMOutputError(f"rerank: output is not the JSON grades asked for ({count}): {text[:80]!r}")
    out = []
    for g in grades:
        if isinstance(g, bool) or not isinstance(g, int | float) or not 0 <= g <= 10:
            raise LLMOutputError(f"rerank: grade {g!r} is not between 0 and 10: {text[:80]!r}")
        out.append(float(g) / 10)
    if count >= 4 and _counts(grades):
        raise LLMOutputError(f"rerank: the grades count the passages instead of grading them: {text[:80]!r}")
    return out


def _counts(values: list) -> bool:
    """0, 1, 2, 3, ... (or down by one): what a base model writes when it continues a list instead of judging."""
    steps = {b - a for a, b in itertools.pairwise(values)}
    return steps in ({1}, {-1})


def parse_relevance(text: str) -> float:
    """The 0-3 grade of a pointwise judgement."""
    data = _json(text)
    value = data.get("relevance") if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3:
        raise LLMOutputError(f"rerank: output is not the JSON grade asked for: {text[:80]!r}")
    return float(value)
