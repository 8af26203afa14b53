"""/v1/chat/completions and /v1/models driven by the official `openai` client against a real uvicorn server (the
real store and MiniLM, a fake Gemini behind it): text with [n] markers, citations, usage, streaming."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from rag.embedding import Embedder
from testkit.server import Behaviour, FakeServer
from tests.live_server import served_with_gemini

KEY = "chat-key"


@pytest.fixture
def chat(tmp_path: Path, embedder: Embedder) -> Iterator[tuple[openai.OpenAI, FakeServer]]:
    records = [
        {"_id": "penguins", "title": "Penguins", "text": "Penguins live in the southern hemisphere."},
        {"_id": "owls", "title": "Owls", "text": "Owls hunt at night."},
    ]
    with served_with_gemini(tmp_path / "data", embedder, records, api_keys=KEY) as (base, llm):
        yield openai.OpenAI(base_url=f"{base}/v1", api_key=KEY, max_retries=0), llm


def test_models_are_the_collections(chat) -> None:
    client, _ = chat
    assert [m.id for m in client.models.list()] == ["ragline", "documents"]


def test_chat_completion_with_citations_and_usage(chat) -> None:
    client, llm = chat
    reply = client.chat.completions.create(
        model="ragline",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "I am writing about birds."},
            {"role": "assistant", "content": "Which birds?"},
            {"role": "user", "content": "where do penguins live"},
        ],
    )
    message = reply.choices[0].message
    assert "[1]" in message.content and reply.choices[0].finish_reason == "stop"
    assert message.model_extra["citations"][0]["doc_id"] == "penguins"
    assert reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    assert reply.model_extra["ragline"]["cost_usd"] > 0 and reply.model_extra["ragline"]["status"] == "ok"
    # Earlier turns reach the answer as context; retrieval used the last user message.
    answer_prompt = json.dumps(llm.fake.requests[-1]["body"])
    assert "I am writing about birds." in answer_prompt and "where do penguins live" in answer_prompt


def test_streamed_chat(chat) -> None:
    client, _ = chat
    stream = client.chat.completions.create(
        model="documents", messages=[{"role": "user", "content": "where do penguins live"}], stream=True
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "[1]" in text and len(chunks) > 3
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop" and last.choices[0].delta.model_extra["citations"]
    assert last.usage.completion_tokens > 0


def test_failures_read_as_openai_errors_or_flagged_answers(chat) -> None:
    client, llm = chat
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="ragline", messages=[{"role": "system", "content": "only a system turn"}])
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=str(client.base_url), api_key="wrong", max_retries=0).models.list()
    llm.fake.default = Behaviour(status=500)  # the LLM fails: the reply says so, the service does not
    reply = client.chat.completions.create(model="ragline", messages=[{"role": "user", "content": "penguins"}])
    assert reply.model_extra["ragline"]["status"] == "failed" and "no answer" in reply.choices[0].message.content
