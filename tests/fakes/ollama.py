"""A fake Ollama server: ``/api/chat``, ``/api/generate`` (JSON or NDJSON streams) and ``/api/tags``."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.server import FakeHandler, FakeLLM, FakeServer


class OllamaHandler(FakeHandler):
    models: tuple[str, ...] = ("gemma3:4b",)

    def do_GET(self) -> None:
        if self.path != "/api/tags":
            self.send_json(404, {"error": "not found"})
            return
        self.send_json(200, {"models": [{"name": m, "model": m, "size": 3_300_000_000} for m in self.models]})

    def do_POST(self) -> None:
        body = self.read_json()
        if self.path not in ("/api/chat", "/api/generate"):
            self.send_json(404, {"error": "not found"})
            return
        if body.get("model") not in self.models:
            self.send_json(404, {"error": f"model '{body.get('model')}' not found, try pulling it first"})
            return
        behaviour = self.fake.next_behaviour(body, self.path)
        self.pause(behaviour)
        if behaviour.status:
            self.send_json(behaviour.status, {"error": f"fake error {behaviour.status}"})
            return
        chat = self.path == "/api/chat"
        if chat:
            messages = body.get("messages", [])
            system = "".join(m["content"] for m in messages if m["role"] == "system")
            prompt = "".join(m["content"] for m in messages if m["role"] == "user")
        else:
            system, prompt = body.get("system", ""), body.get("prompt", "")
        fmt = body.get("format")
        text, cut = self.fake.write(behaviour, system, prompt, fmt if isinstance(fmt, dict) else None)
        final = {
            "done": True,
            "done_reason": "length" if cut else "stop",
            "prompt_eval_count": self.fake.count_tokens(system) + self.fake.count_tokens(prompt),
            "eval_count": self.fake.count_tokens(text),
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
