"""A fake Ollama server that behaves like the real one (``../shared/notes/llm-wire-formats.md``): ``/api/chat``,
``/api/generate`` (JSON or NDJSON streams; an empty generate loads the model) and ``/api/tags``.

- A prompt longer than ``num_ctx`` is cut from the front (the system prompt first), silently:
  ``prompt_eval_count`` then sits at the limit.
- Thinking models (qwen3) think unless ``think: false`` and spend ``num_predict`` on it; ``think: true`` on a
  model that cannot think is a 400.
- Images (base64 in a message's ``images``) cost 256 prompt tokens each (Gemma 3); bad base64 is a 400, bytes
  that are no image a 500.
"""

from __future__ import annotations

import json
from typing import Any

from testkit.server import FakeHandler, FakeLLM, FakeServer, decode_images

THINKING_MODELS = ("qwen3:4b",)
THOUGHTS = 300  # tokens a thinking model spends before its answer
IMAGE_TOKENS = 256


class OllamaHandler(FakeHandler):
    models: tuple[str, ...] = ("gemma3:4b",)

    def do_GET(self) -> None:
        if self.gateway_answered():
            return
        if self.path != "/api/tags":
            self.send_json(404, {"error": "not found"})
            return
        self.send_json(200, {"models": [{"name": m, "model": m, "size": 3_300_000_000} for m in self.models]})

    def do_POST(self) -> None:
        if self.gateway_answered():
            return
        body = self.read_json()
        if self.path not in ("/api/chat", "/api/generate"):
            self.send_json(404, {"error": "not found"})
            return
        if body.get("model") not in self.models:
            self.send_json(404, {"error": f"model '{body.get('model')}' not found, try pulling it first"})
            return
        thinks = body["model"] in THINKING_MODELS
        if body.get("think") is True and not thinks:
            self.send_json(400, {"error": f'"{body["model"]}" does not support thinking'})
            return
        chat = self.path == "/api/chat"
        if not chat and not body.get("prompt"):  # an empty generate only loads the model
            with self.fake.lock:
                self.fake.loads += 1
            loaded = {"model": body["model"], "created_at": "2026-11-24T00:00:00Z", "response": ""}
            self.send_json(200, {**loaded, "done": True, "done_reason": "load"})
            return
        behaviour = self.fake.next_behaviour(body, self.path)
        self.pause(behaviour)
        if behaviour.status:
            self.send_json(behaviour.status, {"error": f"fake error {behaviour.status}"})
            return
        if chat:
            messages = body.get("messages", [])
            system = "".join(m["content"] for m in messages if m["role"] == "system")
            prompt = "".join(m["content"] for m in messages if m["role"] == "user")
            images = decode_images([i for m in messages for i in m.get("images") or []])
        else:
            system, prompt = body.get("system", ""), body.get("prompt", "")
            images = decode_images(body.get("images") or [])
        if images == "base64":
            self.send_json(400, {"error": "illegal base64 data at input byte 0"})
            return
        if isinstance(images, str):
            self.send_json(500, {"error": "failed to process inputs: image: unknown format"})
            return
        options = body.get("options") or {}
        num_ctx, num_predict = int(options.get("num_ctx", 2048)), int(options.get("num_predict", 128))
        prompt_tokens = self.fake.count_tokens(system) + self.fake.count_tokens(prompt) + IMAGE_TOKENS * len(images)
        if prompt_tokens > num_ctx:  # cut from the front, system prompt first, without a word
            system, prompt = "", prompt[-num_ctx * 4 :]
            prompt_tokens = num_ctx
        fmt = body.get("format")
        text, cut = self.fake.write(behaviour, system, prompt, fmt if isinstance(fmt, dict) else None, images)
        thoughts = min(THOUGHTS, num_predict) if thinks and body.get("think") is not False else 0
        if self.fake.count_tokens(text) > num_predict - thoughts:
            text, cut = text[: max(0, num_predict - thoughts) * 4], True
        final = {
            "done": True,
            "done_reason": "length" if cut else "stop",
            "prompt_eval_count": prompt_tokens,
            "eval_count": self.fake.count_tokens(text) + thoughts,
        }

        def message(piece: str) -> dict[str, Any]:
            base = {"model": body["model"], "created_at": "2026-11-24T00:00:00Z"}
            return {**base, "message": {"role": "assistant", "content": piece}} if chat else {**base, "response": piece}

        if not body.get("stream", True):
            self.send_json(200, {**message(text), **final})
            return
        self.start_stream("application/x-ndjson")
        words = text.split(" ")
        for i in range(0, len(words), 3):
            piece = " ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "")
            self.wfile.write((json.dumps({**message(piece), "done": False}) + "\n").encode())
            self.wfile.flush()
        self.wfile.write((json.dumps({**message(""), **final}) + "\n").encode())


def ollama_server(fake: FakeLLM | None = None, models: tuple[str, ...] = ("gemma3:4b",)) -> FakeServer:
    handler = type("OllamaModels", (OllamaHandler,), {"models": models})
    return FakeServer(handler, fake)
