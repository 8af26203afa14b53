"""Delimited data blocks shared by the rerank and answer prompts. Only what could open or close a block is
escaped, so ``p<0.05`` reaches the model as written while ``</passage>`` in a document cannot end its block."""

from __future__ import annotations

import re

from rag.stored_chunk import SearchResult

# Gemini and Gemma tokenizers average about 4 characters a token on English prose.
CHARS_PER_TOKEN = 4
_BLOCK_TAG = re.compile(r"<(\s*/?\s*(?:query|question|passage)\b)", re.IGNORECASE)


def escape(text: str) -> str:
    """``text`` with every tag that could open or close a block defused (``<`` becomes ``&lt;`` there only)."""
    return _BLOCK_TAG.sub(r"&lt;\1", text)


def clip(text: str, max_tokens: int) -> str:
    """About the first ``max_tokens`` tokens of ``text`` (4 characters a token), cut between words."""
    limit = max(1, max_tokens * CHARS_PER_TOKEN)
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit] + " …"


def title_budget(passage_tokens: int) -> int:
    """Tokens a passage's title may take: a quarter of the passage's, at least 16."""
    return max(16, passage_tokens // 4)


def block_tokens(passage_tokens: int) -> int:
    """The most one passage block can take: text, title, and the tags around them."""
    return passage_tokens + title_budget(passage_tokens) + 12


def passage_block(pid: int, passage: SearchResult, max_tokens: int) -> str:
    """One passage, its text cut to ``max_tokens`` and its title to ``title_budget``."""
    title = f"Title: {escape(clip(passage.title, title_budget(max_tokens)))}\n" if passage.title else ""
    return f'<passage id="{pid}">\n{title}{escape(clip(passage.text, max_tokens))}\n</passage>'


def query_block(query: str) -> str:
    return f"<query>{escape(query)}</query>"
