"""RAGLINE_LLM=openai: the official openai client against fakes of vLLM and llama-cpp-python's server, and every
backend against error bodies that a gateway in front of the service sends instead of the service's own."""

from __future__ import annotations

import email.utils
import json
import time

import pytest
from fastapi.testclient import TestClient

from rag.config import Settings
from rag.errors import LLMAccessError, LLMRateLimitedError, LLMRequestTooLargeError, LLMUnavailableError
from rag.llm.admission import Admission
from rag.llm.backend_choice import make_llm
from rag.llm.base import LLMBackend, LLMRequest
from rag.llm.pricing import PriceTable
from rag.llm.usage import MeteredLLM, Usage, UsageMeter
from testkit.gemini import gemini_server
from testkit.judges import judge, keyword_grade
from testkit.ollama import ollama_server
from testkit.openai_server import BAD_KEY, openai_server
from testkit.server import Behaviour
from tests.test_rerank import candidates, make_reranker

GRADES = {"type": "object", "properties": {"grades": {"type": "array"}}, "required": ["grades"]}


def backend(url: str, **settings: object) -> LLMBackend:
    llm = make_llm(Settings(llm="openai", openai_base_url=url + "/v1", **settings))
    assert llm is not None
    return llm


def graded(prompt: str = "p", timeout_s: float = 5) -> LLMRequest:
    return LLMRequest("s", prompt, "rerank", 64, timeout_s, GRADES)


def test_llama_cpp_pythons_structured_form_is_found_once_and_kept() -> None:
    """llama-cpp-python's server answers json_schema with a 500 (a pydantic error body): the backend steps down
    to json_object with the schema, and sends that form from then on."""
    with openai_server(flavour="llama-cpp-python") as server:
        server.fake.responder = lambda s, p, schema: json.dumps({"grades": [3, 1]} if schema else {"x": 0})
        llm = backend(server.url, openai_model="anything")  # this server answers any model name
        assert json.loads(llm.complete(graded()).text) == {"grades": [3, 1]}
        assert json.loads(llm.complete(graded()).text) == {"grades": [3, 1]}
    formats = [r["body"]["response_format"] for r in server.fake.requests]
    # The refused first try is not recorded by the fake (refused before the model); both calls used json_object.
    assert formats == [{"type": "json_object", "schema": GRADES}] * 2


def test_structured_none_sends_no_format_and_grades_are_read_from_prose() -> None:
    with openai_server() as server:
        server.fake.responder = lambda s, p, schema: 'Sure! {"grades": [10, 0, 0]} Hope that helps.'
        rr = make_reranker(server, "openai", openai_structured="none", weight=6.0)
        out = rr.rerank("which birds hunt at night", candidates(3), Usage())
    assert "response_format" not in server.fake.requests[-1]["body"]
    assert out.status == "ok" and out.results[0] == candidates(3)[0]


def test_grades_out_of_range_fall_back_with_the_reason() -> None:
    """Seen with llama-cpp-python and a real Gemma 3 270M: the grammar does not enforce the schema's maximum."""
    with openai_server(flavour="llama-cpp-python") as server:
        server.fake.responder = lambda s, p, schema: json.dumps({"grades": [4000, 2, 1, 0, 7]})
        out = make_reranker(server, "openai").rerank("owls", candidates(5), Usage())
    assert out.status == "fallback" and "4000" in (out.reason or "") and out.results == candidates(5)


def test_reranks_and_streams_answers_with_the_servers_token_counts() -> None:
    with openai_server() as server:
        server.fake.responder = judge(keyword_grade)
        out = make_reranker(server, "openai").rerank("which birds hunt at night", candidates(8), Usage())
        assert out.status == "ok" and out.results[0].doc_id == "doc7"
        llm = backend(server.url, openai_model="gemma-3-270m")
        server.fake.responder = lambda s, p, schema: "Owls hunt at night [1]."
        *pieces, done = list(llm.stream(LLMRequest("s", "a question", "answer", 64, 5)))
    assert "".join(pieces) == "Owls hunt at night [1]." == done.text
    assert (done.input_tokens, done.output_tokens) == (4, 6)  # the usage chunk asked for with include_usage
    assert server.fake.requests[-1]["body"]["stream_options"] == {"include_usage": True}


def test_429_retry_after_opens_the_delay_it_names() -> None:
    with openai_server() as server:
        server.fake.default = Behaviour(status=429, retry_delay_s=7)
        with pytest.raises(LLMRateLimitedError, match="retry in 7 s") as caught:
            backend(server.url, openai_model="gemma-3-270m").complete(graded())
    assert caught.value.retry_after_s == 7


def test_retry_after_reads_seconds_or_an_http_date() -> None:
    from rag.llm.error_body import retry_after_s

    assert retry_after_s({"retry-after": "7"}) == 7
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after_s({"retry-after": when}) or 0) <= 31
    assert retry_after_s({"retry-after": "soon"}) is None and retry_after_s({}) is None


def test_bad_key_and_unknown_model_are_permanent_and_named() -> None:
    with openai_server() as server:
        with pytest.raises(LLMAccessError, match="401"):
            backend(server.url, openai_model="gemma-3-270m", openai_api_key=BAD_KEY).complete(graded())
        with pytest.raises(LLMAccessError, match=r"does not serve model 'nope'.*gemma-3-270m"):
            backend(server.url, openai_model="nope").check()
        with pytest.raises(LLMAccessError, match="404"):
            backend(server.url, openai_model="nope").complete(graded())
        unnamed = backend(server.url)
        unnamed.check()  # no model named: the first one the server lists
        assert unnamed.model == "gemma-3-270m"


def test_a_prompt_over_the_context_is_reported_not_retried() -> None:
    with openai_server() as server:
        server.fake.responder = judge(keyword_grade)
        llm = backend(server.url, openai_model="gemma-3-270m")
        with pytest.raises(LLMRequestTooLargeError, match="maximum context length"):
            llm.complete(graded(prompt="word " * 3000))
        rr = make_reranker(server, "openai", passage_tokens=4000, retries=2)
        many_words = [
            type(c)(c.doc_id, c.chunk_id, "owls " * 3000, c.score, c.source, c.title, 0, {}) for c in candidates(3)
        ]
        sent = len(server.fake.requests)
        out = rr.rerank("owls", many_words, Usage())
    assert out.status == "fallback" and "context" in (out.reason or "")
    assert len(server.fake.requests) == sent  # refused before the model, and not retried


def test_self_hosted_calls_cost_gpu_time_unless_the_model_has_a_price() -> None:
    prices = PriceTable({"gpt-4.1-mini": (0.4, 1.6)}, gpu_hour_usd=3.6)
    assert prices.cost("openai", "gemma-3-270m", 1000, 100, seconds=2.0) == pytest.approx(0.002)
    assert prices.cost("openai", "gpt-4.1-mini", 1000, 100, seconds=2.0) == pytest.approx(0.00056)


def test_openai_usage_is_metered() -> None:
    with openai_server() as server:
        server.fake.responder = lambda s, p, schema: json.dumps({"grades": [1]})
        meter = UsageMeter(PriceTable())
        llm = MeteredLLM(backend(server.url, openai_model="gemma-3-270m"), meter, Admission(2, 0))
        usage = Usage()
        llm.complete(graded(), "rerank", usage)
    total = meter.summary()["total"]
    assert total["calls"] == 1 and total["input_tokens"] == 2 and total["output_tokens"] > 0


# -- error bodies that are not the service's own -----------------------------------------------------------------

GATEWAY_BODIES = [
    (502, "text/html", "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"),
    (503, "application/json", '{"error": "upstream connect error or disconnect/reset before headers"}'),
    (500, "application/json", '"internal"'),
    (502, "text/plain", ""),
    (403, "application/json", '{"error": "some text"}'),
    (500, "application/json", '{"error": {"code": 500, "details": "not a list"}}'),
    (429, "application/json", '["a", "list"]'),
]
SERVERS = {"gemini": gemini_server, "ollama": ollama_server, "openai": openai_server}


def _backend(name: str, url: str) -> LLMBackend:
    settings = {
        "gemini": {"llm": "gemini", "gemini_api_key": "k", "gemini_base_url": url},
        "ollama": {"llm": "ollama", "ollama_host": url},
        "openai": {"llm": "openai", "openai_base_url": url + "/v1", "openai_model": "m"},
    }[name]
    llm = make_llm(Settings(**settings))
    assert llm is not None
    return llm


@pytest.mark.parametrize("name", list(SERVERS))
@pytest.mark.parametrize(("status", "content_type", "body"), GATEWAY_BODIES)
def test_any_error_body_is_a_reason_never_an_exception(name: str, status: int, content_type: str, body: str) -> None:
    """A gateway's own error (a string, HTML, nothing) at startup and on a call: a typed error with a readable
    reason. (Gemini's check crashed with AttributeError on {"error": "some text"}.)"""
    with SERVERS[name]() as server:
        server.fake.gateway = (status, content_type, body)
        llm = _backend(name, server.url)
        for call in (llm.check, lambda: llm.complete(graded(timeout_s=3))):
            with pytest.raises((LLMUnavailableError, LLMRateLimitedError)) as caught:
                call()
            reason = str(caught.value)
            assert "<" not in reason and len(reason) < 500
            if "Bad Gateway" in body:
                assert "Bad Gateway" in reason


def test_a_gateway_error_at_startup_leaves_the_service_up_and_not_ready_for_the_llm(tmp_path) -> None:
    from rag.edges.api.app import create_app

    with gemini_server() as server:
        server.fake.gateway = (403, "application/json", '{"error": "some text"}')
        settings = Settings(data_dir=tmp_path, gemini_api_key="k", gemini_base_url=server.url, llm="gemini")
        with TestClient(create_app(settings)) as client:
            ready = client.get("/readyz")
    assert ready.status_code in (200, 503)
    assert "some text" in ready.text


def test_a_reasoning_model_thinks_first_its_answer_is_kept_and_a_cap_spent_thinking_is_said() -> None:
    """A reasoning model (Qwen3, DeepSeek-R1, gemma4 ...) behind a server without a reasoning parser writes
    <think>...</think> before its answer, and spends max_tokens on it."""
    from rag.errors import LLMOutputError

    with openai_server() as server:
        server.fake.thoughts = 3
        server.fake.responder = lambda s, p, schema: json.dumps({"grades": [10, 0]}) if schema else "Owls [1]."
        llm = backend(server.url, openai_model="gemma-3-270m")
        out = llm.complete(LLMRequest("s", "p", "rerank", 200, 5, GRADES))
        assert json.loads(out.text) == {"grades": [10, 0]} and out.output_tokens > 20  # thinking is billed
        *pieces, done = list(llm.stream(LLMRequest("s", "a question", "answer", 200, 5)))
        assert "".join(pieces) == done.text == "Owls [1]."  # the thinking is never shown
        server.fake.thoughts = 40
        with pytest.raises(LLMOutputError, match="spent thinking") as caught:
            llm.complete(graded())
        assert caught.value.billed is not None and caught.value.billed.output_tokens > 0
        out = make_reranker(server, "openai").rerank("owls", candidates(2), Usage())
    assert out.status == "fallback" and "spent thinking" in (out.reason or "")


def test_an_answer_stopped_by_the_servers_content_filter_is_blocked() -> None:
    from rag.errors import LLMBlockedError

    with openai_server() as server:
        server.fake.default = Behaviour(blocked="content_filter")
        llm = backend(server.url, openai_model="gemma-3-270m")
        with pytest.raises(LLMBlockedError, match="content_filter"):
            llm.complete(graded())
        with pytest.raises(LLMBlockedError, match="content_filter"):
            list(llm.stream(LLMRequest("s", "a question", "answer", 64, 5)))
