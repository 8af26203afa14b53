"""OpenAI-compatible chat: ``POST /v1/chat/completions`` (stream or not) and ``GET /v1/models``, so OpenAI SDK
clients and chat front-ends get cited answers unchanged. ``model`` names a collection (``ragline``: the
default one); the last user message is the query, earlier turns are context for the answer. The reply's text
carries ``[n]`` markers; the message's extra ``citations`` field maps them to documents and ``claims`` checks
each claim against what it cites; ``usage`` is the standard one, and ``ragline`` carries the cost, status and
rerank outcome. Same query pipeline, deadlines, fallbacks, usage accounting and permissions as ``/v1/answer``."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from rag.access import Principal
from rag.edges.api.deps import State
from rag.edges.api.permissions import allowed, caller
from rag.edges.api.schemas import ERROR_RESPONSES
from rag.errors import UsageError
from rag.query_pipeline import Event
from rag.service import Service

DEFAULT_MODEL = "ragline"
router = APIRouter(tags=["openai"])


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool calls, ...: accepted and ignored

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: the text ones
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, top_p, ...: the server's settings decide

    model: str = Field(DEFAULT_MODEL, description=f"A collection name, or {DEFAULT_MODEL!r} for the default one.")
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: StrictBool = False


def _conversation(body: ChatRequest, limit: int) -> tuple[str, str]:
    """(the query: the last user message, the question for the answer: earlier turns as context, clipped)."""
    users = [m for m in body.messages if m.role == "user" and m.text().strip()]
    if not users:
        raise UsageError("messages: no user message to answer")
    query = users[-1].text().strip()
    if len(query) > limit:
        raise UsageError(f"messages: the last user message is longer than {limit} characters")
    earlier = [f"{m.role}: {m.text().strip()}" for m in body.messages[: body.messages.index(users[-1])] if m.text()]
    context = "\n".join(earlier)[-(limit - len(query) - 40) :] if earlier else ""
    return query, (f"Conversation so far:\n{context}\n\nQuestion: {query}" if context else query)


def _collection(body: ChatRequest) -> str | None:
    return None if body.model == DEFAULT_MODEL else body.model


def _usage(done: dict[str, Any]) -> dict[str, int]:
    u = done["usage"]
    return {
        "prompt_tokens": u["input_tokens"],
        "completion_tokens": u["output_tokens"],
        "total_tokens": u["input_tokens"] + u["output_tokens"],
    }


def _extra(done: dict[str, Any]) -> dict[str, Any]:
    return {
        "cost_usd": done["usage"]["cost_usd"],
        "status": done["status"],
        "reason": done["reason"],
        "rerank": done["rerank"],
    }


def _content(done: dict[str, Any]) -> str:
    if done["status"] in ("failed", "blocked") and not done["answer"]:
        return f"[ragline: no answer could be written ({done['status']}): {done['reason']}]"
    return done["answer"]


def _finish(done: dict[str, Any]) -> str:
    return "length" if done["status"] == "truncated" else "stop"


def _answer_events(request: Request, state: Service, body: ChatRequest) -> Iterator[Event]:
    who: Principal = allowed(request, "read", _collection(body))
    query, question = _conversation(body, request.app.state.settings.max_query_chars)
    opts = state.pipeline.answer_options(None, (), who.identities)
    # Retrieval runs on the last user message; the answer sees the conversation.
    return state.pipeline.answer(query, opts, _collection(body), conversation=question)


@router.post(
    "/chat/completions",
    summary="OpenAI-compatible chat: a cited answer from the collection `model`.",
    # `stream: true` answers with Server-Sent Events of chat.completion.chunk objects.
    responses={**ERROR_RESPONSES, 200: {"content": {"application/json": {}, "text/event-stream": {}}}},
)
def chat_completions(body: ChatRequest, request: Request, state: State):
    events = _answer_events(request, state, body)
    next(events)  # the passages; retrieval errors (404, 400, 503) surface here, before any byte is sent
    reply_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    base = {"id": reply_id, "created": created, "model": body.model}
    if not body.stream:
        done = next(e for e in events if e.name == "done").data
        message = {"role": "assistant", "content": _content(done), **_checked_citations(done)}
        choice = {"index": 0, "message": message, "finish_reason": _finish(done), "logprobs": None}
        return {
            **base,
            "object": "chat.completion",
            "choices": [choice],
            "usage": _usage(done),
            "ragline": _extra(done),
        }

    def chunks() -> Iterator[str]:
        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            return f"data: {json.dumps({**base, 'object': 'chat.completion.chunk', 'choices': [choice], **extra})}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        for event in events:  # after the passages: token pieces, then done
            if event.name == "token":
                yield chunk({"content": event.data["text"]})
            elif event.name == "done":
                done = event.data
                if done["status"] in ("failed", "blocked") and not done["answer"]:
                    yield chunk({"content": _content(done)})
                yield chunk(_checked_citations(done), _finish(done), usage=_usage(done), ragline=_extra(done))
        yield "data: [DONE]\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(chunks(), media_type="text/event-stream", headers=headers)


@router.get(
    "/models",
    summary="OpenAI-compatible model list: the collections this key may use, and `ragline`.",
    responses=ERROR_RESPONSES,
)
def models(request: Request, state: State) -> dict[str, Any]:
    who = caller(request)
    names = [c["name"] for c in state.collections() if who.can("admin") or who.may_use(c["name"])]
    data = [{"id": n, "object": "model", "created": 0, "owned_by": "ragline"} for n in [DEFAULT_MODEL, *names]]
    return {"object": "list", "data": data}


def _checked_citations(done: dict[str, Any]) -> dict[str, Any]:
    """The message's extra fields: what ``[n]`` maps to, and each claim checked against what it cites."""
    return {k: done[k] for k in ("citations", "claims", "unsupported_claims")}
