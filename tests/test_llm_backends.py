"""The real google-genai and ollama clients against local servers that speak their wire protocols."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import ConfigError, LLMRateLimitedError, LLMTimeoutError, LLMUnavailableError
from rag.llm.backend_choice import make_llm
from rag.llm.base import Completion, LLMBackend, LLMRequest
from rag.llm.gemini_backend import GeminiBackend
from rag.llm.ollama_backend import OllamaBackend
from rag.llm.pricing import PriceTable
from rag.llm.usage import MeteredLLM, Usage, UsageMeter
from tests.fakes.gemini import gemini_server
from tests.fakes.ollama import ollama_server
from tests.fakes.server import Behaviour, FakeServer

SCHEMA = {"type": "object", "properties": {"relevance": {"type": "integer"}}, "required": ["relevance"]}


@pytest.fixture(params=["gemini", "ollama"])
def backend(request: pytest.FixtureRequest):
    """(backend, its fake server) for each protocol."""
    if request.param == "gemini":
        with gemini_server() as server:
            yield GeminiBackend("test-key", "gemini-3.1-flash-lite", server.url), server
    else:
        with ollama_server() as server:
            yield OllamaBackend(server.url, "gemma3:4b", num_ctx=4096, keep_alive="7m"), server


def test_complete_reports_the_backends_own_token_counts(backend: tuple[LLMBackend, FakeServer]) -> None:
    llm, server = backend
    server.fake.responder = lambda system, prompt, schema: json.dumps({"relevance": 2})
    out = llm.complete(LLMRequest("judge this", "four words of prompt", SCHEMA, max_tokens=32, timeout_s=5))
    assert json.loads(out.text) == {"relevance": 2}
    assert (out.input_tokens, out.output_tokens, out.truncated) == (6, 2, False)  # the fake counts words
    body = server.fake.requests[-1]["body"]
    if llm.name == "gemini":
        assert server.fake.requests[-1]["path"] == "/v1/models/gemini-3.1-flash-lite:generateContent"
        assert body["systemInstruction"]["parts"][0]["text"] == "judge this"
        assert body["generationConfig"]["responseJsonSchema"] == SCHEMA
        assert body["generationConfig"]["maxOutputTokens"] == 32
    else:
        assert body["options"]["num_ctx"] == 4096 and body["options"]["num_predict"] == 32
        assert body["keep_alive"] == "7m" and body["format"] == SCHEMA
        assert body["messages"][0] == {"role": "system", "content": "judge this"}


def test_stream_yields_pieces_then_the_completion(backend: tuple[LLMBackend, FakeServer]) -> None:
    llm, server = backend
    server.fake.responder = lambda s, p, schema: "one two three four five six seven"
    pieces = list(llm.stream(LLMRequest("s", "p", timeout_s=5)))
    *texts, final = pieces
    assert len(texts) == 3 and "".join(texts) == "one two three four five six seven"
    assert isinstance(final, Completion) and final.text == "".join(texts) and final.output_tokens == 7


def test_truncated_output_is_flagged(backend: tuple[LLMBackend, FakeServer]) -> None:
    llm, server = backend
    server.fake.default = Behaviour(output="truncate")
    server.fake.responder = lambda s, p, schema: '{"ranking": [1, 2, 3, 4]}'
    out = llm.complete(LLMRequest("s", "p", timeout_s=5))
    assert out.truncated and out.text == '{"ranking": '


@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        (Behaviour(status=429), LLMRateLimitedError),
        (Behaviour(status=500), LLMUnavailableError),
        (Behaviour(status=503), LLMUnavailableError),
        (Behaviour(delay_s=2), LLMTimeoutError),
    ],
)
def test_failures_become_typed_errors(backend: tuple[LLMBackend, FakeServer], behaviour: Behaviour, error) -> None:
    llm, server = backend
    server.fake.default = behaviour
    with pytest.raises(error):
        llm.complete(LLMRequest("s", "p", timeout_s=0.3))
    with pytest.raises(error):
        list(llm.stream(LLMRequest("s", "p", timeout_s=0.3)))


@pytest.mark.parametrize("name", ["gemini", "ollama"])
def test_unreachable_backend_is_unavailable(name: str) -> None:
    with gemini_server() as server:
        url = server.url  # a port that was just free, now closed
    llm: LLMBackend = (
        GeminiBackend("k", "m", url)
        if name == "gemini"
        else OllamaBackend(url, "gemma3:4b", num_ctx=8192, keep_alive="30m")
    )
    with pytest.raises(LLMUnavailableError):
        llm.complete(LLMRequest("s", "p", timeout_s=2))


def test_ollama_says_how_to_pull_a_missing_model() -> None:
    with ollama_server(models=("gemma3:4b",)) as server:
        OllamaBackend(server.url, "gemma3:4b", num_ctx=8192, keep_alive="30m").check()
        missing = OllamaBackend(server.url, "gemma3:27b", num_ctx=8192, keep_alive="30m")
        with pytest.raises(LLMUnavailableError, match=r"not pulled .* ollama pull gemma3:27b"):
            missing.check()
        with pytest.raises(LLMUnavailableError, match="ollama pull gemma3:27b"):
            missing.complete(LLMRequest("s", "p", timeout_s=2))


def test_metered_calls_are_priced_counted_and_logged(tmp_path: Path) -> None:
    log = tmp_path / "usage.jsonl"
    meter = UsageMeter(PriceTable(), log)
    seen = []
    meter.listeners.append(seen.append)
    with gemini_server() as server:
        server.fake.responder = lambda s, p, schema: " ".join(["w"] * 1000)
        llm = MeteredLLM(GeminiBackend("k", "gemini-3.1-flash-lite", server.url), meter)
        usage = Usage()
        llm.complete(LLMRequest("s", " ".join(["p"] * 3999), timeout_s=5), "rerank", usage)
        server.fake.default = Behaviour(status=500)
        with pytest.raises(LLMUnavailableError):
            llm.complete(LLMRequest("s", "p", timeout_s=5), "rerank", usage)
    # 4,000 input tokens at $0.25/1M + 1,000 output tokens at $1.50/1M
    assert usage.as_dict() == {"input_tokens": 4000, "output_tokens": 1000, "cost_usd": 0.0025, "calls": 2}
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["outcome"] for r in lines] == ["ok", "LLMUnavailableError"] and len(seen) == 2
    total = meter.summary()["total"]
    assert total["input_tokens"] == 4000 and total["calls"] == 2


def test_prices_local_models_by_gpu_time_and_accept_overrides() -> None:
    table = PriceTable.from_json('{"gemini-9-pro": [1, 10]}', gpu_hour_usd=3.6)
    assert table.cost("ollama", "gemma3:4b", 10_000, 10_000, seconds=2.0) == pytest.approx(0.002)
    assert table.cost("gemini", "gemini-9-pro", 1_000_000, 100_000, 1) == pytest.approx(2.0)
    assert table.cost("gemini", "models/gemini-3.1-flash-lite-preview-11", 1_000_000, 0, 1) == pytest.approx(0.25)
    assert PriceTable().cost("ollama", "gemma3:4b", 10_000, 10_000, 2.0) == 0.0
    with pytest.raises(ConfigError, match="RAGLINE_LLM_PRICES"):
        PriceTable.from_json("[1, 2]")


@pytest.mark.parametrize(
    ("env", "chosen"),
    [
        ({}, None),
        ({"GEMINI_API_KEY": "k"}, "gemini"),
        ({"GOOGLE_API_KEY": "k", "OLLAMA_HOST": "http://127.0.0.1:1"}, "gemini"),
        ({"OLLAMA_HOST": "http://127.0.0.1:1"}, "ollama"),
        ({"RAGLINE_LLM": "ollama"}, "ollama"),
        ({"GEMINI_API_KEY": "k", "RAGLINE_LLM": "none"}, None),
    ],
)
def test_backend_choice(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], chosen: str | None) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    llm = make_llm(Settings())
    assert (llm.name if llm else None) == chosen


def test_gemini_without_a_key_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        make_llm(Settings(llm="gemini"))
