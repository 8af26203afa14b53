"""The OpenAI-compatible backend against a real model: llama.cpp's server (llama-cpp-python[server]) running the
real Gemma 3 270M, a base model that counts rather than grades and is slow on 2 cores — the kind of model that
must never make results worse. Needs the ``real-llm`` extra; skips, saying why, without it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.config import Settings
from rag.errors import LLMError
from rag.generation import AnswerGenerator
from rag.llm.backend_choice import make_llm
from rag.llm.base import Completion, LLMRequest
from rag.llm.pricing import PriceTable
from rag.llm.usage import Usage, UsageMeter
from rag.stored_chunk import SearchResult
from rag.wiring import make_metered, make_reranker
from testkit.real_llm import MODEL_ALIAS, llama_server, missing

pytestmark = pytest.mark.skipif(missing() is not None, reason=f"no real LLM here: {missing()}")

TOPICS = [
    "Volcanic lava flows cool into basalt over weeks.",
    "Honeybees tell each other where flowers are with a waggle dance.",
    "Owls hunt at night; their soft feathers make their flight silent.",
    "An espresso shot takes 25 to 30 seconds to pull.",
    "Tidal pools hold anemones, crabs and small fish at low tide.",
]


def passages() -> list[SearchResult]:
    return [
        SearchResult(f"doc{i}", f"c{i}", text, 1.0 - i / 10, f"f{i}.txt", text.split()[0], 0, {})
        for i, text in enumerate(TOPICS)
    ]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with llama_server(tmp_path_factory.mktemp("llama")) as running:
        yield running


def settings_for(url: str, **overrides: object) -> Settings:
    return Settings(llm="openai", openai_base_url=url, openai_model=MODEL_ALIAS, **overrides)


def test_readyz_lists_the_real_model(server, tmp_path: Path) -> None:
    from rag.edges.api.app import create_app

    settings = Settings(llm="openai", openai_base_url=server.url, data_dir=tmp_path)  # no model named: the listed one
    with TestClient(create_app(settings)) as client:
        ready = client.get("/readyz").json()
    assert ready["llm"] == {"backend": "openai", "model": MODEL_ALIAS, "status": "ok"}


def test_rerank_within_the_deadline_never_worse_than_retrieval(server) -> None:
    """The real model either grades (the order is then fused) or writes something that is not a grading of these
    passages — counting, the wrong number of grades, grades over 10 (its grammar does not enforce the range) —
    and retrieval order stands, with the reason. Either way the call is metered with the server's token counts."""
    settings = settings_for(server.url, rerank_timeout_ms=60_000, rerank_cache_size=0)
    meter = UsageMeter(PriceTable())
    llm = make_llm(settings)
    assert llm is not None
    reranker = make_reranker(settings, make_metered(settings, llm, meter))
    usage = Usage()
    out = reranker.rerank("Which birds hunt at night?", passages(), usage)
    reranker.close()
    assert sorted(r.doc_id for r in out.results) == sorted(p.doc_id for p in passages())
    assert out.status in ("ok", "fallback")
    if out.status == "fallback":
        assert out.reason and out.results == passages()
    assert usage.calls == 1 and usage.input_tokens > 100 and usage.output_tokens > 0
    assert meter.summary()["total"]["cost_usd"] == 0  # self-hosted, no GPU price set


def test_a_slow_call_falls_back_at_the_deadline(server) -> None:
    settings = settings_for(server.url, rerank_timeout_ms=300, rerank_retries=0, rerank_cache_size=0)
    llm = make_llm(settings)
    assert llm is not None
    reranker = make_reranker(settings, make_metered(settings, llm, UsageMeter(PriceTable())))
    out = reranker.rerank("Which birds hunt at night?", passages(), Usage())
    reranker.close()
    assert out.status == "fallback" and "deadline" in (out.reason or "") and out.results == passages()
    assert out.ms < 2000


def test_answers_plain_and_streamed_with_real_token_counts(server) -> None:
    settings = settings_for(server.url)
    llm = make_llm(settings)
    assert llm is not None
    plain = llm.complete(LLMRequest("Answer briefly.", "What do owls do at night?", "answer", 24, 60))
    assert plain.input_tokens > 5 and 0 < plain.output_tokens <= 24
    generator = AnswerGenerator(
        make_metered(settings, llm, UsageMeter(PriceTable())), max_tokens=24, passage_tokens=64, timeout_s=60
    )
    usage = Usage()
    *pieces, answer = list(generator.stream("What do owls do at night?", passages(), usage))
    assert "".join(p for p in pieces if isinstance(p, str)) == answer.text
    assert usage.input_tokens > 100 and 0 < usage.output_tokens <= 24  # from the usage chunk the server sent


def test_the_server_killed_mid_answer_is_a_typed_error_then_a_fallback(server) -> None:
    """Last in this module: it kills the shared server."""
    settings = settings_for(server.url, rerank_timeout_ms=5000, rerank_retries=1, rerank_cache_size=0)
    llm = make_llm(settings)
    assert llm is not None
    stream = llm.stream(LLMRequest("Answer at length.", "Tell me all about owls.", "answer", 400, 60))
    with pytest.raises(LLMError):
        for n, piece in enumerate(stream):
            assert not isinstance(piece, Completion), "the answer finished before the server was killed"
            if n == 2:
                server.process.kill()
                server.process.wait()
    reranker = make_reranker(settings, make_metered(settings, llm, UsageMeter(PriceTable())))
    out = reranker.rerank("owls", passages(), Usage())
    reranker.close()
    assert out.status == "fallback" and "cannot connect" in (out.reason or "") and out.results == passages()
