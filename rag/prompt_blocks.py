"""Delimited data blocks shared by the rerank and answer prompts: the query and passages are escaped so that
nothing inside them can open or close a block."""

from __future__ import annotations

import html

from rag.stored_chunk import SearchResult

# English prose runs about 4 tokens to 3 words, the ratio used to turn a token budget into words.
_WORDS_PER_TOKEN = 0.75


def escape(text: str) -> str:
    """Text that cannot open or close a block: ``<``, ``>`` and ``&`` become entities."""
    return html.escape(text, quote=False)


def clip(text: str, max_tokens: int) -> str:
    """The first ``max_tokens`` (estimated) of ``text``, cut between words."""
    words = text.split()
    keep = max(1, int(max_tokens * _WORDS_PER_TOKEN))
    return " ".join(words[:keep]) + (" …" if len(words) > keep else "")


def passage_block(pid: int, passage: SearchResult, max_tokens: int) -> str:
    title = f"Title: {escape(passage.title)}\n" if passage.title else ""
    return f'<passage id="{pid}">\n{title}{escape(clip(passage.text, max_tokens))}\n</passage>'


def query_block(query: str) -> str:
    return f"<query>{escape(query)}</query>"
