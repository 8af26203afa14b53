"""The real google-genai, ollama and openai clients against local fake servers that behave like the real services."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from google import genai
from google.genai import types

from rag.config import Settings
from rag.errors import (
    ConfigError,
    LLMAccessError,
    LLMBlockedError,
    LLMOutputError,
    LLMRateLimitedError,
    LLMTimeoutError,
    LLMUnavailableError,
)
from rag.llm.admission import Admission
from rag.llm.backend_choice import make_llm
from rag.llm.base import Completion, LLMBackend, LLMRequest
from rag.llm.pricing import PriceTable
from rag.llm.usage import MeteredLLM, Usage, UsageMeter
from rag.wiring import build_parts
from testkit.gemini import BAD_KEY, gemini_server
from testkit.ollama import ollama_server
from testkit.openai_server import openai_server
from testkit.server import Behaviour, FakeServer

SCHEMA = {"type": "object", "properties": {"relevance": {"type": "integer"}}, "required": ["relevance"]}


def gemini(url: str, **settings: object) -> LLMBackend:
    llm = make_llm(Settings(llm="gemini", gemini_api_key="test-key", gemini_base_url=url, **settings))
    assert llm is not None
    return llm


def ollama(url: str, **settings: object) -> LLMBackend:
    llm = make_llm(Settings(llm="ollama", ollama_host=url, **settings))
    assert llm is not None
    return llm


def openai_compatible(url: str, **settings: object) -> LLMBackend:
    llm = make_llm(Settings(llm="openai", openai_base_url=url + "/v1", openai_model="gemma-3-270m", **settings))
    assert llm is not None
    return llm


def rerank_request(prompt: str = "p", timeout_s: float = 5, max_tokens: int = 32) -> LLMRequest:
    return LLMRequest("s", prompt, "rerank", max_tokens, timeout_s, SCHEMA)


def answer_request(timeout_s: float = 5) -> LLMRequest:
    return LLMRequest("s", "p", "answer", 256, timeout_s)


BACKENDS = {
    "gemini": (gemini_server, gemini),
    "ollama": (ollama_server, ollama),
    "openai": (openai_server, openai_compatible),
}


@pytest.fixture(params=list(BACKENDS))
def backend(request: pytest.FixtureRequest):
    """(backend, its fake server) for each protocol."""
    make_server, make = BACKENDS[request.param]
    with make_server() as server:
        llm = make(server.url, ollama_num_ctx=4096, ollama_keep_alive="7m")
        yield llm, server
        llm.close()


def test_complete_reports_the_backends_own_token_counts(backend: tuple[LLMBackend, FakeServer]) -> None:
    llm, server = backend
    server.fake.responder = lambda system, prompt, schema: json.dumps({"relevance": 2})
    out = llm.complete(LLMRequest("judge this", "four words of prompt", "rerank", 32, 5, SCHEMA))
    assert json.loads(out.text) == {"relevance": 2}
    # About 4 characters a token: 10 + 20 characters in, 16 out.
    assert (out.input_tokens, out.output_tokens - out.thinking_tokens, out.truncated) == (3 + 5, 4, False)
    body = server.fake.requests[-1]["body"]
    if llm.name == "gemini":
        assert server.fake.requests[-1]["path"] == "/v1/models/gemini-3.1-flash-lite:generateContent"
        assert body["systemInstruction"]["parts"][0]["text"] == "judge this"
        config = body["generationConfig"]
        assert config["responseJsonSchema"] == SCHEMA
        # Minimal thinking for rerank; the cap leaves room for it on top of the 32 tokens asked for.
        thinking = {k.replace("_", "").lower(): v for k, v in config["thinkingConfig"].items()}
        assert thinking == {"thinkinglevel": "MINIMAL"} and config["maxOutputTokens"] == 32 + 256
        assert "temperature" not in config  # Gemini 3: keep the model's default
        assert out.thinking_tokens == 12 and out.output_tokens == 16
    elif llm.name == "openai":
        assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "answer", "schema": SCHEMA}}
        assert body["max_tokens"] == 32 and body["model"] == "gemma-3-270m"
        assert body["messages"][0] == {"role": "system", "content": "judge this"}
    else:
        assert body["options"]["num_ctx"] == 4096 and body["options"]["num_predict"] == 32
        assert body["keep_alive"] == "7m" and body["format"] == SCHEMA and body["think"] is False
        assert body["messages"][0] == {"role": "system", "content": "judge this"}


def test_stream_yields_pieces_then_the_completion(backend: tuple[LLMBackend, FakeServer]) -> None:
    llm, server = backend
    server.fake.responder = lambda s, p, schema: "one two three four five six seven"
    *texts, final = list(llm.stream(answer_request()))
    assert len(texts) == 3 and "".join(texts) == "one two three four five six seven"
    assert isinstance(final, Completion) and final.text == "".join(texts)
    assert final.output_tokens - final.thinking_tokens == 9  # 33 characters


def test_truncated_output_is_flagged(backend: tuple[LLMBackend, FakeServer]) -> None:
    llm, server = backend
    server.fake.default = Behaviour(output="truncate")
    server.fake.responder = lambda s, p, schema: '{"ranking": [1, 2, 3, 4]}'
    out = llm.complete(rerank_request())
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
    started = time.perf_counter()
    with pytest.raises(error):
        llm.complete(rerank_request(timeout_s=0.3))
    assert time.perf_counter() - started < 1.5  # the deadline holds, whatever the client's own timeout
    with pytest.raises(error):
        list(llm.stream(answer_request(timeout_s=0.3)))


@pytest.mark.parametrize("name", list(BACKENDS))
def test_unreachable_backend_is_unavailable(name: str) -> None:
    with gemini_server() as server:
        url = server.url  # a port that was just free, now closed
    llm = BACKENDS[name][1](url)
    with pytest.raises(LLMUnavailableError):
        llm.complete(rerank_request(timeout_s=2))


# -- Gemini as the real service behaves ------------------------------------------------------------------------


def test_the_fake_thinks_against_the_cap_like_gemini_3() -> None:
    """What the real service does to a caller that does not say how much to think (python-genai#2062)."""
    with gemini_server() as server:
        client = genai.Client(api_key="k", http_options=types.HttpOptions(base_url=server.url))
        r = client.models.generate_content(
            model="gemini-3.1-flash-lite", contents="p", config=types.GenerateContentConfig(max_output_tokens=32)
        )
        assert not r.text and r.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
        assert r.usage_metadata.thoughts_token_count == 32


def test_thinking_that_eats_the_cap_is_an_output_error_and_still_billed() -> None:
    meter = UsageMeter(PriceTable())
    with gemini_server() as server:
        server.fake.thoughts = 5000  # more than minimal thinking's allowance
        llm = MeteredLLM(gemini(server.url), meter, Admission(4, 0))
        usage = Usage()
        with pytest.raises(LLMOutputError, match=r"thoughtsTokenCount 288"):
            llm.complete(rerank_request(), "rerank", usage)
    assert usage.thinking_tokens == 288 and usage.output_tokens == 288 and usage.cost_usd > 0


@pytest.mark.parametrize(
    ("model", "rerank", "answer"),
    [
        ("gemini-3.1-flash-lite", {"thinkinglevel": "MINIMAL"}, {"thinkinglevel": "LOW"}),
        ("gemini-2.5-flash-lite", {"thinkingbudget": 0}, None),
    ],
)
def test_one_thinking_control_per_model_family(model: str, rerank: dict, answer: dict | None) -> None:
    with gemini_server() as server:
        llm = gemini(server.url, gemini_model=model, gemini_temperature=0.4)
        llm.complete(rerank_request())
        list(llm.stream(answer_request()))
        configs = [r["body"]["generationConfig"] for r in server.fake.requests]

    def thinking(config: dict) -> dict | None:
        sent = config.get("thinkingConfig")
        return None if sent is None else {k.replace("_", "").lower(): v for k, v in sent.items()}

    assert thinking(configs[0]) == rerank and thinking(configs[1]) == answer
    assert configs[0]["temperature"] == 0.4  # configurable, never forced
    assert configs[1]["maxOutputTokens"] == 256 + 1024  # the answer's cap plus low thinking's allowance


def test_blocked_prompts_and_answers_are_typed() -> None:
    with gemini_server() as server:
        llm = gemini(server.url)
        server.fake.default = Behaviour(blocked="SAFETY")
        with pytest.raises(LLMBlockedError, match="SAFETY"):
            llm.complete(rerank_request())
        with pytest.raises(LLMBlockedError, match="SAFETY"):
            list(llm.stream(answer_request()))
        server.fake.default = Behaviour(prompt_blocked="PROHIBITED_CONTENT")
        with pytest.raises(LLMBlockedError, match=r"prompt blocked .*PROHIBITED_CONTENT"):
            llm.complete(rerank_request())


def test_quota_errors_carry_the_providers_retry_delay() -> None:
    with gemini_server() as server:
        server.fake.default = Behaviour(status=429, retry_delay_s=37)
        with pytest.raises(LLMRateLimitedError, match="retry in 37 s") as caught:
            gemini(server.url).complete(rerank_request())
    assert caught.value.retry_after_s == 37


def test_bad_key_and_unknown_model_are_permanent_and_found_at_startup() -> None:
    with gemini_server() as server:
        gemini(server.url).check()  # models.get: no tokens spent
        assert server.fake.requests == []
        bad = make_llm(Settings(llm="gemini", gemini_api_key=BAD_KEY, gemini_base_url=server.url))
        with pytest.raises(LLMAccessError, match="API_KEY_INVALID"):
            bad.check()
        with pytest.raises(LLMAccessError, match="API_KEY_INVALID"):
            bad.complete(rerank_request())
        with pytest.raises(LLMAccessError, match="gemini-9-nano"):
            gemini(server.url, gemini_model="gemini-9-nano").check()


# -- Ollama as the real service behaves ------------------------------------------------------------------------


def test_ollama_keeps_one_connection_pool_whatever_the_deadlines() -> None:
    with ollama_server() as server:
        server.fake.responder = lambda s, p, schema: json.dumps({"relevance": 1})
        llm = ollama(server.url)
        for i in range(30):
            llm.complete(rerank_request(timeout_s=1 + i / 10))  # a different time left on every call
        llm.close()
    assert server.fake.connections <= 2


def test_ollama_reports_a_prompt_cut_to_fit_num_ctx() -> None:
    with ollama_server() as server:
        llm = ollama(server.url, ollama_num_ctx=512)
        long_prompt = "word " * 1000  # about 1,250 tokens
        with pytest.raises(LLMOutputError, match="num_ctx 512"):
            llm.complete(rerank_request(prompt=long_prompt))
        *_, final = list(llm.stream(LLMRequest("s", long_prompt, "answer", 64, 5)))
        assert final.truncated and final.input_tokens == 512


def test_ollama_thinking_models_are_told_not_to_think_when_reranking() -> None:
    with ollama_server(models=("qwen3:4b",)) as server:
        server.fake.responder = lambda s, p, schema: json.dumps({"relevance": 3})
        out = ollama(server.url, ollama_model="qwen3:4b").complete(rerank_request(max_tokens=32))
    assert json.loads(out.text) == {"relevance": 3}  # a thinking model left alone spends num_predict on thought


def test_ollama_check_finds_the_model_and_loads_it() -> None:
    with ollama_server(models=("gemma3:4b",)) as server:
        ollama(server.url).check()
        assert server.fake.loads == 1 and server.fake.requests == []  # the warm-up load, no generation
        missing = ollama(server.url, ollama_model="gemma3:27b")
        with pytest.raises(LLMUnavailableError, match=r"not pulled .* ollama pull gemma3:27b"):
            missing.check()
        with pytest.raises(LLMUnavailableError, match="ollama pull gemma3:27b"):
            missing.complete(rerank_request(timeout_s=2))


# -- metering --------------------------------------------------------------------------------------------------


def test_metered_calls_are_priced_counted_and_logged(tmp_path: Path) -> None:
    log = tmp_path / "usage.jsonl"
    meter = UsageMeter(PriceTable(), log)
    seen = []
    meter.listeners.append(seen.append)
    with gemini_server() as server:
        server.fake.responder = lambda s, p, schema: "w" * 4000  # 1,000 tokens
        llm = MeteredLLM(gemini(server.url), meter, Admission(4, 0))
        usage = Usage()
        llm.complete(LLMRequest("s", "p" * 15_996, "answer", 2000, 5), "answer", usage)  # 1 + 3,999 tokens in
        server.fake.default = Behaviour(status=500)
        with pytest.raises(LLMUnavailableError):
            llm.complete(rerank_request(), "rerank", usage)
    # 4,000 input tokens at $0.25/1M + 1,000 output and 180 thinking tokens at $1.50/1M
    assert usage.as_dict() == {
        "input_tokens": 4000,
        "output_tokens": 1180,
        "thinking_tokens": 180,
        "cost_usd": 0.00277,
        "calls": 2,
    }
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["outcome"] for r in lines] == ["ok", "LLMUnavailableError"] and len(seen) == 2
    total = meter.summary()["total"]
    assert total["input_tokens"] == 4000 and total["calls"] == 2 and total["thinking_tokens"] == 180


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
        ({"RAGLINE_OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}, "openai"),
        ({"RAGLINE_OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "OLLAMA_HOST": "http://127.0.0.1:1"}, "ollama"),
        ({"RAGLINE_LLM": "openai"}, "openai"),
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


def test_ollama_settings_whose_prompts_cannot_fit_num_ctx_are_refused_at_startup() -> None:
    too_small = Settings(llm="ollama", ollama_num_ctx=2048)
    with pytest.raises(ConfigError, match=r"rerank .* 2048"):
        build_parts(too_small, lambda _: None)  # type: ignore[arg-type, return-value]
    build_parts(Settings(llm="ollama"), lambda _: None)  # type: ignore[arg-type, return-value]  # the defaults fit
    with pytest.raises(ConfigError, match="answer"):
        build_parts(Settings(llm="ollama", answer_passage_tokens=2000), lambda _: None)  # type: ignore[arg-type]
