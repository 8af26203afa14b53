"""A fake Gemini API: ``/v1[beta]/models/{model}:generateContent`` and ``:streamGenerateContent?alt=sse``."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.fakes.server import FakeHandler, FakeLLM, FakeServer

_ROUTE = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^:/]+):(?P<method>generateContent|streamGenerateContent)")
_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def _texts(content: dict[str, Any] | None) -> str:
    return "".join(p.get("text", "") for p in (content or {}).get("parts", []))


def _response(text: str, finish: str | None, prompt_tokens: int, out_tokens: int | None) -> dict[str, Any]:
    body: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}]}
    if finish:
        body["candidates"][0]["finishReason"] = finish
    if out_tokens is not None:
        body["usageMetadata"] = {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": out_tokens,
            "totalTokenCount": prompt_tokens + out_tokens,
        }
    return body


class GeminiHandler(FakeHandler):
    def do_POST(self) -> None:
        route = _ROUTE.match(self.path)
        body = self.read_json()
        if route is None:
            self.send_json(404, {"error": {"code": 404, "message": f"no route {self.path}", "status": "NOT_FOUND"}})
            return
        if not self.headers.get("x-goog-api-key"):
            self.send_json(403, {"error": {"code": 403, "message": "API key missing", "status": "PERMISSION_DENIED"}})
            return
        behaviour = self.fake.next_behaviour(body, self.path)
        self.pause(behaviour)
        if behaviour.status:
            code = behaviour.status
            error = {"code": code, "message": f"fake error {code}", "status": _STATUS.get(code, "UNKNOWN")}
            self.send_json(code, {"error": error})
            return
        system = _texts(body.get("systemInstruction"))
        prompt = "".join(_texts(c) for c in body.get("contents", []))
        config = body.get("generationConfig", {})
        text, cut = self.fake.write(behaviour, system, prompt, config.get("responseJsonSchema"))
        finish = "MAX_TOKENS" if cut else "STOP"
        prompt_tokens = self.fake.count_tokens(system) + self.fake.count_tokens(prompt)
        if route["method"] == "generateContent":
            self.send_json(200, _response(text, finish, prompt_tokens, self.fake.count_tokens(text)))
            return
        self.start_stream("text/event-stream")
        words = text.split(" ")
        pieces = [" ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "") for i in range(0, len(words), 3)]
        for n, piece in enumerate(pieces):
            last = n == len(pieces) - 1
            chunk = _response(
                piece, finish if last else None, prompt_tokens, self.fake.count_tokens(text) if last else None
            )
            self.wfile.write(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
            self.wfile.flush()


def gemini_server(fake: FakeLLM | None = None) -> FakeServer:
    return FakeServer(GeminiHandler, fake)
