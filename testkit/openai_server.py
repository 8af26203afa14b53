"""A fake OpenAI-compatible server (``/v1/models``, ``/v1/chat/completions``, plain and streamed) that behaves like
the real ones (``../shared/notes/llm-wire-formats.md``), in two flavours:

- ``vllm``: takes ``response_format`` ``json_schema``; an unknown model is a 404.
- ``llama-cpp-python`` (as its 0.3.36 server, seen here): ``json_schema`` is a 500 whose body is a pydantic
  validation error; ``{"type": "json_object", "schema": ...}`` is taken; any model name gets the loaded model.

Both: a reasoning model (``fake.thoughts`` set) writes ``<think>...</think>`` before its answer, counted against
``max_tokens``; a filtered answer (``Behaviour.blocked``) is empty with ``finish_reason: "content_filter"``; a bad
key is a 401; a prompt over the context a 400 "maximum context length"; a 429 carries
``Retry-After`` (seconds); output cut at ``max_tokens`` ends with ``finish_reason: "length"``; a streamed answer
sends usage in a last chunk only when ``stream_options.include_usage`` asks for it; images come as ``image_url``
data URLs and one that does not decode is a 400. Tokens are about 4 characters each.
"""

from __future__ import annotations

import json
import time
from typing import Any

from testkit.server import FakeHandler, FakeLLM, FakeServer, decode_images

BAD_KEY = "bad-key"
IMAGE_TOKENS = 256
_LLAMA_CPP_FORMAT_ERROR = {
    "detail": [
        {
            "type": "literal_error",
            "loc": ["body", "response_format", "type"],
            "msg": "Input should be 'text' or 'json_object'",
            "input": "json_schema",
        }
    ]
}


def _error(code: int, message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "code": code}}


class OpenAIHandler(FakeHandler):
    flavour = "vllm"
    models: tuple[str, ...] = ("gemma-3-270m",)
    context = 2048  # tokens

    def _refused_key(self) -> bool:
        if self.headers.get("authorization") == f"Bearer {BAD_KEY}":
            self.send_json(401, _error(401, "Incorrect API key provided", "authentication_error"))
            return True
        return False

    def do_GET(self) -> None:
        if self.gateway_answered() or self._refused_key():
            return
        if self.path.rstrip("/") != "/v1/models":
            self.send_json(404, _error(404, f"no route {self.path}"))
            return
        data = [{"id": m, "object": "model", "owned_by": "fake"} for m in self.models]
        self.send_json(200, {"object": "list", "data": data})

    def do_POST(self) -> None:
        if self.gateway_answered() or self._refused_key():
            return
        body = self.read_json()
        if self.path != "/v1/chat/completions":
            self.send_json(404, _error(404, f"no route {self.path}"))
            return
        if self.flavour == "vllm" and body.get("model") not in self.models:
            self.send_json(404, _error(404, f"The model `{body.get('model')}` does not exist.", "NotFoundError"))
            return
        fmt = body.get("response_format") or {}
        if self.flavour == "llama-cpp-python" and fmt.get("type") not in (None, "text", "json_object"):
            self.send_json(500, _LLAMA_CPP_FORMAT_ERROR)
            return
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else fmt.get("schema")
        system, prompt, images = self._read_messages(body.get("messages") or [])
        if isinstance(images, str):
            self.send_json(400, _error(400, f"Invalid image: cannot decode ({images})"))
            return
        prompt_tokens = self.fake.count_tokens(system) + self.fake.count_tokens(prompt) + IMAGE_TOKENS * len(images)
        if prompt_tokens > self.context:
            message = (
                f"This model's maximum context length is {self.context} tokens. However, you requested "
                f"{prompt_tokens} tokens in the messages. Please reduce the length of the messages."
            )
            self.send_json(400, _error(400, message))
            return
        behaviour = self.fake.next_behaviour(body, self.path)
        self.pause(behaviour)
        if behaviour.status:
            headers = {}
            if behaviour.status == 429 and behaviour.retry_delay_s is not None:
                headers["retry-after"] = f"{behaviour.retry_delay_s:g}"
            self.send_json(behaviour.status, _error(behaviour.status, f"fake error {behaviour.status}"), headers)
            return
        text, cut = self.fake.write(behaviour, system, prompt, schema, images or None)
        if self.fake.thoughts:  # a reasoning model served without a reasoning parser: its thinking comes first
            text = "<think>" + "Let me weigh each passage. " * self.fake.thoughts + "</think>\n" + text
        cap = body.get("max_tokens") or 10**9
        if self.fake.count_tokens(text) > cap:
            text, cut = text[: cap * 4], True
        finish = "content_filter" if behaviour.blocked else "length" if cut else "stop"
        if behaviour.blocked:
            text = ""
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": self.fake.count_tokens(text),
            "total_tokens": prompt_tokens + self.fake.count_tokens(text),
        }
        model = body.get("model") if self.flavour == "vllm" else self.models[0]
        if body.get("stream"):
            include_usage = (body.get("stream_options") or {}).get("include_usage")
            self._stream(text, finish, model, usage if include_usage else None)
            return
        message = {"role": "assistant", "content": text}
        choice = {"index": 0, "message": message, "finish_reason": finish}
        self.send_json(200, {**self._envelope(model, "chat.completion"), "choices": [choice], "usage": usage})

    def _read_messages(self, messages: list[dict[str, Any]]) -> tuple[str, str, list | str]:
        system, prompt, encoded = "", "", []
        for m in messages:
            content = m.get("content")
            parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
            for part in parts:
                if part.get("type") == "text":
                    if m.get("role") == "system":
                        system += part["text"]
                    else:
                        prompt += part["text"]
                elif part.get("type") == "image_url":
                    url = (part.get("image_url") or {}).get("url", "")
                    encoded.append(url.split(",", 1)[1] if url.startswith("data:image/") and "," in url else "")
        return system, prompt, decode_images(encoded) if encoded else []

    def _envelope(self, model: str, kind: str) -> dict[str, Any]:
        return {"id": "chatcmpl-fake", "object": kind, "created": int(time.time()), "model": model}

    def _stream(self, text: str, finish: str, model: str, usage: dict[str, int] | None) -> None:
        self.start_stream("text/event-stream")
        words = text.split(" ")
        pieces = [" ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "") for i in range(0, len(words), 3)]
        chunks = [{"index": 0, "delta": {"role": "assistant", "content": p}, "finish_reason": None} for p in pieces]
        chunks.append({"index": 0, "delta": {}, "finish_reason": finish})
        events = [{**self._envelope(model, "chat.completion.chunk"), "choices": [c]} for c in chunks]
        if usage is not None:
            events.append({**self._envelope(model, "chat.completion.chunk"), "choices": [], "usage": usage})
        for event in events:
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


def openai_server(fake: FakeLLM | None = None, flavour: str = "vllm") -> FakeServer:
    handler = type("OpenAIHandler", (OpenAIHandler,), {"flavour": flavour})
    return FakeServer(handler, fake)
