"""A fake Gemini API that behaves like the real one (``../shared/notes/llm-wire-formats.md``):
``/v1[beta]/models/{model}:generateContent``, ``:streamGenerateContent?alt=sse`` and ``GET /v1[beta]/models/{model}``.

- Gemini 3.x thinks unless told not to, and thought tokens count against ``maxOutputTokens``: with a small cap
  the reply has no text, ``finishReason: MAX_TOKENS`` and ``thoughtsTokenCount`` at the cap.
- ``thinkingLevel`` with ``thinkingBudget`` is a 400; so is ``thinkingLevel`` on a 2.5 model.
- A bad key is a 400 with ``ErrorInfo.reason: API_KEY_INVALID``; an unknown model a 404; a 429 may carry
  ``RetryInfo.retryDelay``; a blocked prompt has no candidates, a blocked answer a ``finishReason`` like SAFETY.
- Tokens are counted at about 4 characters each; an image (``inlineData``) costs 1,120 prompt tokens (Gemini 3's
  default media resolution for images), and one that does not decode is a 400 "Unable to process input image".
"""

from __future__ import annotations

import json
import re
from typing import Any

from testkit.server import Behaviour, FakeHandler, FakeLLM, FakeServer, decode_images

_ROUTE = re.compile(r"^/v1(?:beta)?/models/(?P<model>[^:/?]+)(?::(?P<method>generateContent|streamGenerateContent))?")
_STATUS = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
MODELS = ("gemini-3.1-flash-lite", "gemini-2.5-flash-lite")
BAD_KEY = "bad-key"
# Thought tokens a Gemini 3.x model spends per level (and with no thinkingConfig at all).
THOUGHTS = {"MINIMAL": 12, "LOW": 180, "MEDIUM": 700, "HIGH": 2400, None: 400}
IMAGE_TOKENS = 1120


def _texts(content: dict[str, Any] | None) -> str:
    return "".join(p.get("text", "") for p in (content or {}).get("parts", []))


def _error(code: int, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    status = _STATUS.get(code, "UNKNOWN")
    return {"error": {"code": code, "message": message, "status": status, "details": details or []}}


def _response(
    text: str, finish: str | None, prompt_tokens: int, out_tokens: int | None, thoughts: int = 0
) -> dict[str, Any]:
    body: dict[str, Any] = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}]}
    if finish:
        body["candidates"][0]["finishReason"] = finish
    if out_tokens is not None:
        body["usageMetadata"] = {
            "promptTokenCount": prompt_tokens,
            "candidatesTokenCount": out_tokens,
            "thoughtsTokenCount": thoughts,
            "totalTokenCount": prompt_tokens + out_tokens + thoughts,
        }
    return body


class GeminiHandler(FakeHandler):
    def _refusal(self, model: str) -> tuple[int, dict[str, Any]] | None:
        key = self.headers.get("x-goog-api-key")
        if not key:
            return 403, _error(403, "API key missing")
        if key == BAD_KEY:
            info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}
            return 400, _error(400, "API key not valid. Please pass a valid API key.", [info])
        if model not in MODELS:
            return 404, _error(404, f"models/{model} is not found for API version v1")
        return None

    def do_GET(self) -> None:
        if self.gateway_answered():
            return
        route = _ROUTE.match(self.path)
        if route is None or route["method"]:
            self.send_json(404, _error(404, f"no route {self.path}"))
            return
        refusal = self._refusal(route["model"])
        if refusal:
            self.send_json(*refusal)
            return
        self.send_json(200, {"name": f"models/{route['model']}", "outputTokenLimit": 65536})

    def _thinking(self, model: str, config: dict[str, Any]) -> int | str:
        """Thought tokens this call will spend, or why the request is invalid."""
        thinking = config.get("thinkingConfig") or {}
        # Proto JSON takes a field's camelCase or its proto name; the SDK sends thinking_level.
        level = thinking.get("thinkingLevel", thinking.get("thinking_level"))
        budget = thinking.get("thinkingBudget", thinking.get("thinking_budget"))
        if level is not None and budget is not None:
            return "thinking_level and thinking_budget cannot both be set"
        if "2.5" in model:
            if level is not None:
                return "thinking_level is not supported by this model"
            return 0 if budget in (None, 0) else int(budget)
        if self.fake.thoughts is not None:
            return self.fake.thoughts
        return THOUGHTS[str(level).upper()] if level is not None else THOUGHTS[None]

    def do_POST(self) -> None:
        if self.gateway_answered():
            return
        route = _ROUTE.match(self.path)
        body = self.read_json()
        if route is None or not route["method"]:
            self.send_json(404, _error(404, f"no route {self.path}"))
            return
        refusal = self._refusal(route["model"])
        if refusal:
            with self.fake.lock:
                self.fake.requests.append({"path": self.path, "body": body, "refused": refusal[0]})
            self.send_json(*refusal)
            return
        config = body.get("generationConfig", {})
        thoughts = self._thinking(route["model"], config)
        if isinstance(thoughts, str):
            self.send_json(400, _error(400, thoughts))
            return
        behaviour = self.fake.next_behaviour(body, self.path)
        self.pause(behaviour)
        if behaviour.status:
            self.send_json(behaviour.status, self._failure(behaviour))
            return
        system = _texts(body.get("systemInstruction"))
        prompt = "".join(_texts(c) for c in body.get("contents", []))
        # Proto JSON takes camelCase or proto field names (the SDK sends inlineData with mime_type).
        parts = [p for c in body.get("contents", []) for p in c.get("parts", [])]
        inline = [
            p.get("inlineData", p.get("inline_data")) or {} for p in parts if {"inlineData", "inline_data"} & set(p)
        ]
        images = decode_images([i.get("data", "") for i in inline], proto_json=True)
        mime_types = [str(i.get("mimeType", i.get("mime_type", ""))) for i in inline]
        if isinstance(images, str) or not all(m.startswith("image/") for m in mime_types):
            self.send_json(
                400,
                _error(
                    400,
                    "Unable to process input image. Please retry or report in "
                    "https://developers.generativeai.google/guide/troubleshooting",
                ),
            )
            return
        prompt_tokens = self.fake.count_tokens(system) + self.fake.count_tokens(prompt) + IMAGE_TOKENS * len(images)
        if behaviour.prompt_blocked:
            feedback = {"blockReason": behaviour.prompt_blocked}
            self.send_json(200, {"promptFeedback": feedback, "usageMetadata": {"promptTokenCount": prompt_tokens}})
            return
        text, cut = self.fake.write(behaviour, system, prompt, config.get("responseJsonSchema"), images)
        text, finish, thoughts = self._within_cap(text, cut, thoughts, config.get("maxOutputTokens"))
        if behaviour.blocked:
            text, finish = "", behaviour.blocked
        if route["method"] == "generateContent":
            self.send_json(200, _response(text, finish, prompt_tokens, self.fake.count_tokens(text), thoughts))
            return
        self._stream(text, finish, prompt_tokens, thoughts)

    def _within_cap(self, text: str, cut: bool, thoughts: int, cap: int | None) -> tuple[str, str, int]:
        """Thinking comes first and counts against the cap; the text gets what is left."""
        cap = cap or 65536
        thoughts = min(thoughts, cap)
        room = cap - thoughts
        if self.fake.count_tokens(text) > room:
            return text[: room * 4], "MAX_TOKENS", thoughts
        return text, "MAX_TOKENS" if cut else "STOP", thoughts

    def _failure(self, behaviour: Behaviour) -> dict[str, Any]:
        code = behaviour.status or 500
        details = []
        if code == 429:
            details.append({"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []})
            if behaviour.retry_delay_s is not None:
                delay = f"{behaviour.retry_delay_s:g}s"
                details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay})
        return _error(code, f"fake error {code}", details)

    def _stream(self, text: str, finish: str, prompt_tokens: int, thoughts: int) -> None:
        self.start_stream("text/event-stream")
        words = text.split(" ")
        pieces = [" ".join(words[i : i + 3]) + (" " if i + 3 < len(words) else "") for i in range(0, len(words), 3)]
        for n, piece in enumerate(pieces):
            last = n == len(pieces) - 1
            out_tokens = self.fake.count_tokens(text) if last else None
            chunk = _response(piece, finish if last else None, prompt_tokens, out_tokens, thoughts)
            self.wfile.write(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
            self.wfile.flush()


def gemini_server(fake: FakeLLM | None = None) -> FakeServer:
    return FakeServer(GeminiHandler, fake)
