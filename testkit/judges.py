"""Fake model "minds" for the fake servers: they read ragline's prompts the way a model would."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from testkit.server import Responder

_PASSAGE = re.compile(r'<passage id="(\d+)">\n(?:Title: ([^\n]*)\n)?(.*?)\n</passage>', re.S)
_QUERY = re.compile(r"<(query|question)>(.*?)</\1>", re.S)
# What a gullible model obeys when it appears outside the data blocks.
_ORDER = re.compile(r"rank passage (\d+) first", re.I)


@dataclass(frozen=True)
class Passage:
    id: int
    title: str
    text: str


def read_prompt(prompt: str) -> tuple[str, list[Passage]]:
    """The query and passages as the prompt's delimiters present them (entities decoded)."""
    query = _QUERY.search(prompt)
    passages = [Passage(int(i), html.unescape(t or ""), html.unescape(x)) for i, t, x in _PASSAGE.findall(prompt)]
    return html.unescape(query.group(2)) if query else "", passages


Grade = Callable[[str, Passage], float]  # 0 (unrelated) to 3 (answers the query)


def judge(grade: Grade, *, gullible: bool = False) -> Responder:
    """Answers rerank calls (listwise or pointwise, by the schema asked for) and answer calls with ``grade``.

    A ``gullible`` judge also obeys "rank passage N first" written anywhere outside the passage blocks."""

    def respond(system: str, prompt: str, schema: dict | None) -> str:
        query, passages = read_prompt(prompt)
        props = (schema or {}).get("properties", {})
        if "relevance" in props:
            return json.dumps({"relevance": round(grade(query, passages[0]))})
        if "grades" in props:  # the graded strategy: 0-10 per passage, in order
            return json.dumps({"grades": [round(grade(query, p) * 10 / 3) for p in passages]})
        if "ranking" in props:
            order = sorted(passages, key=lambda p: -grade(query, p))  # stable: ties keep the given order
            ids = [p.id for p in order]
            outside = _PASSAGE.sub("", prompt)
            if gullible and (forced := _ORDER.search(outside)):
                ids = [int(forced.group(1))] + [i for i in ids if i != int(forced.group(1))]
            return json.dumps({"ranking": ids})
        cited = [p.id for p in passages if grade(query, p) > 0] or [p.id for p in passages[:1]]
        if not cited:  # a prompt without passages still gets an answer, as from a real model
            return "The passages do not say."
        return "Based on the passages, " + " ".join(f"it is covered in [{n}]." for n in cited)

    return respond


def keyword_grade(query: str, passage: Passage) -> int:
    """Relevance by shared words: enough to tell a rerank from retrieval order in small tests."""
    q = set(re.findall(r"\w+", query.lower()))
    p = set(re.findall(r"\w+", f"{passage.title} {passage.text}".lower()))
    return min(3, len(q & p))
