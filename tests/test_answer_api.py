"""Rerank and cited answers over HTTP: the real app, store and MiniLM, with fake LLM servers behind the SDKs."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag import cost
from rag.config import Settings, get_settings
from rag.edges.api.app import create_app
from rag.edges.cli import main as rag_main
from rag.embedding import Embedder
from rag.service import Service
from testkit.gemini import BAD_KEY, gemini_server
from testkit.judges import judge, keyword_grade
from testkit.ollama import ollama_server
from testkit.server import Behaviour, FakeServer
from tests.test_ingest import folder_uploads, make_folder


def _serve(settings: Settings, embedder: Embedder, docs: Path) -> Iterator[TestClient]:
    server = Service(settings, embedder)
    server.ingest_uploads(folder_uploads(docs), None)
    with TestClient(create_app(settings, server)) as client:
        yield client
    server.close()


@pytest.fixture
def gemini(tmp_path: Path, embedder: Embedder) -> Iterator[tuple[TestClient, FakeServer]]:
    with gemini_server() as server:
        server.fake.responder = judge(keyword_grade)
        settings = Settings(
            data_dir=tmp_path / "data",
            gemini_api_key="test-key",
            gemini_base_url=server.url,
            usage_log=tmp_path / "usage.jsonl",
            rerank_timeout_ms=2000,
        )
        for client in _serve(settings, embedder, make_folder(tmp_path)):
            yield client, server


def search(client: TestClient, **body) -> dict:
    r = client.post("/v1/search", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def sse(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in filter(None, text.split("\n\n")):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_search_is_reranked_and_priced(gemini) -> None:
    client, server = gemini
    body = search(client, query="penguins in the southern hemisphere", top_k=3)
    trust = body["rerank"].pop("trust")
    assert body["rerank"] == {"status": "ok", "backend": "gemini", "reason": None, "cached": False}
    assert 0 < trust <= 1  # a new process's judge: trusted, not yet in full
    assert body["results"][0]["doc_id"] == "d.pdf" and len(body["results"]) == 3
    usage = body["usage"]
    assert usage["calls"] == len(server.fake.requests) == 1  # graded: one call grades every candidate
    assert usage["input_tokens"] > 0 and usage["cost_usd"] > 0 and body["timings_ms"]["rerank"] > 0
    again = search(client, query="penguins in the southern hemisphere", top_k=3)
    assert again["rerank"]["cached"] and again["usage"]["calls"] == 0 and len(server.fake.requests) == 1
    plain = search(client, query="penguins in the southern hemisphere", rerank=False)
    assert plain["rerank"]["status"] == "disabled" and plain["usage"]["calls"] == 0


@pytest.mark.parametrize("behaviour", [Behaviour(delay_s=5), Behaviour(status=429), Behaviour(output="babble")])
def test_search_falls_back_to_retrieval_order(gemini, behaviour: Behaviour) -> None:
    client, server = gemini
    server.fake.default = behaviour
    body = search(client, query="honeybees", top_k=4)
    plain = search(client, query="honeybees", top_k=4, rerank=False)
    assert body["rerank"]["status"] == "fallback" and body["rerank"]["reason"]
    assert [r["chunk_id"] for r in body["results"]] == [r["chunk_id"] for r in plain["results"]]
    assert body["timings_ms"]["total"] < 4000  # answered at the 2 s deadline, not after the 5 s call


def test_answer_cites_the_passages_it_was_given(gemini) -> None:
    client, server = gemini
    r = client.post("/v1/answer", json={"query": "where do penguins live", "top_k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and "[1]" in body["answer"]
    assert len(body["results"]) == 3 and body["results"][0]["doc_id"] == "d.pdf"
    first = body["citations"][0]
    assert (first["n"], first["doc_id"], first["chunk_id"]) == (1, "d.pdf", body["results"][0]["chunk_id"])
    assert body["usage"]["calls"] == 1 + 1  # one graded rerank call, then the answer
    assert "generate" in body["timings_ms"]
    answer_call = server.fake.requests[-1]
    assert answer_call["path"].endswith(":streamGenerateContent?alt=sse")
    assert "Penguins live in the southern hemisphere." in answer_call["body"]["contents"][0]["parts"][0]["text"]


def test_answer_streams_tokens_then_citations(gemini) -> None:
    client, _ = gemini
    with client.stream("POST", "/v1/answer", json={"query": "where do penguins live", "stream": True}) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-cache"
        events = sse(r.read().decode())
    names = [name for name, _ in events]
    assert names[0] == "passages" and names[-1] == "done" and names.count("token") >= 2
    done = events[-1][1]
    assert "".join(d["text"] for n, d in events if n == "token") == done["answer"]
    assert done["status"] == "ok" and done["citations"] and done["usage"]["output_tokens"] > 0


def test_a_failing_llm_degrades_the_answer_not_the_service(gemini) -> None:
    client, server = gemini
    server.fake.default = Behaviour(status=500)
    body = client.post("/v1/answer", json={"query": "where do penguins live"}).json()
    assert body["status"] == "failed" and "500" in body["reason"] and body["answer"] == ""
    assert body["rerank"]["status"] == "fallback" and body["results"][0]["doc_id"] == "d.pdf"
    with client.stream("POST", "/v1/answer", json={"query": "penguins", "stream": True}) as r:
        events = sse(r.read().decode())
    assert [n for n, _ in events] == ["passages", "done"] and events[-1][1]["status"] == "failed"


def test_batch_searches_are_reranked_concurrently_with_usage_per_query_and_in_total(gemini) -> None:
    client, server = gemini
    queries = ["penguins in the southern hemisphere", "honeybees dance", "lava flows"]
    r = client.post("/v1/search/batch", json={"queries": queries, "top_k": 2})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [resp["rerank"]["status"] for resp in body["responses"]] == ["ok"] * 3
    assert [resp["usage"]["calls"] for resp in body["responses"]] == [1, 1, 1]
    assert body["usage"]["calls"] == len(server.fake.requests) == 3
    assert body["usage"]["input_tokens"] == sum(resp["usage"]["input_tokens"] for resp in body["responses"])
    assert body["responses"][0]["results"][0]["doc_id"] == "d.pdf"
    plain = client.post("/v1/search/batch", json={"queries": queries, "rerank": False}).json()
    assert {resp["rerank"]["status"] for resp in plain["responses"]} == {"disabled"} and plain["usage"]["calls"] == 0


def test_a_blocked_answer_says_so(gemini) -> None:
    client, server = gemini
    server.fake.script = [Behaviour(), Behaviour(blocked="SAFETY")]  # the rerank call passes, the answer not
    body = client.post("/v1/answer", json={"query": "where do penguins live"}).json()
    assert body["status"] == "blocked" and "SAFETY" in body["reason"] and body["answer"] == ""
    assert body["rerank"]["status"] == "ok" and body["usage"]["calls"] == 2


def test_readyz_reports_the_llm_without_holding_search_back(tmp_path: Path, embedder: Embedder) -> None:
    with gemini_server() as server:
        settings = Settings(data_dir=tmp_path / "data", gemini_api_key=BAD_KEY, gemini_base_url=server.url)
        for client in _serve(settings, embedder, make_folder(tmp_path)):
            ready = client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["status"] == "ready"
            llm = ready.json()["llm"]
            assert llm["status"] == "unavailable" and "API_KEY_INVALID" in llm["reason"]
            assert search(client, query="penguins")["results"][0]["doc_id"] == "d.pdf"


def test_usage_totals_metrics_and_log(gemini, tmp_path: Path) -> None:
    client, server = gemini
    spent = [search(client, query="tides and the moon")["usage"]]
    spent.append(client.post("/v1/answer", json={"query": "what is lava"}).json()["usage"])
    totals = client.get("/v1/usage").json()
    assert totals["total"]["calls"] == sum(u["calls"] for u in spent) == len(server.fake.requests)
    assert totals["total"]["input_tokens"] == sum(u["input_tokens"] for u in spent)
    assert {(row["stage"], row["model"]) for row in totals["by_model"]} == {
        ("rerank", "gemini-3.1-flash-lite"),
        ("answer", "gemini-3.1-flash-lite"),
    }
    metrics = client.get("/metrics").text
    labels = 'backend="gemini",model="gemini-3.1-flash-lite",outcome="ok",stage="answer"'
    assert f"ragline_llm_calls_total{{{labels}}} 1.0" in metrics
    assert "ragline_llm_tokens_total" in metrics and "ragline_llm_cost_usd_total" in metrics
    lines = (tmp_path / "usage.jsonl").read_text().splitlines()
    assert len(lines) == totals["total"]["calls"] and json.loads(lines[-1])["stage"] == "answer"


@pytest.mark.parametrize("body", [{"query": ""}, {"query": "x", "top_k": 50}, {"query": "x" * 2001}])
def test_answer_bad_input(gemini, body: dict) -> None:
    r = gemini[0].post("/v1/answer", json=body)
    assert r.status_code == 422 and ("query" in r.text or "top_k" in r.text)


def test_without_an_llm_answers_are_503_and_search_says_why(tmp_path: Path, embedder: Embedder) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    for client in _serve(settings, embedder, make_folder(tmp_path)):
        r = client.post("/v1/answer", json={"query": "where do penguins live"})
        assert r.status_code == 503 and "GEMINI_API_KEY" in r.json()["detail"]
        body = search(client, query="penguins")
        assert body["rerank"]["status"] == "skipped" and "no LLM" in body["rerank"]["reason"]
        assert body["results"][0]["doc_id"] == "d.pdf"


def test_ollama_model_not_pulled_is_named(tmp_path: Path, embedder: Embedder) -> None:
    with ollama_server(models=("llama3:8b",)) as server:
        settings = Settings(data_dir=tmp_path / "data", llm="ollama", ollama_host=server.url)
        for client in _serve(settings, embedder, make_folder(tmp_path)):
            body = search(client, query="penguins")
            assert body["rerank"]["status"] == "fallback" and "ollama pull gemma3:4b" in body["rerank"]["reason"]
            answer = client.post("/v1/answer", json={"query": "penguins"}).json()
            assert answer["status"] == "failed" and "ollama pull gemma3:4b" in answer["reason"]


def test_rag_cost_projects_measured_usage(
    gemini, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client, _ = gemini
    search(client, query="penguins in the southern hemisphere")
    search(client, query="honeybees dance")
    client.post("/v1/answer", json={"query": "what is lava"})
    monkeypatch.setenv("RAGLINE_USAGE_LOG", str(tmp_path / "usage.jsonl"))
    get_settings.cache_clear()
    try:
        assert rag_main(["cost", "--queries-per-month", "2000000", "--json"]) == 0
    finally:
        get_settings.cache_clear()
    p = json.loads(capsys.readouterr().out)
    measured = p["measured"]
    assert measured["queries"] == 3  # two searches and an answer; the answer's rerank and answer calls are one
    per_query = client.get("/v1/usage").json()["total"]["cost_usd"] / 3
    assert measured["cost_usd"] == pytest.approx(per_query)
    assert p["api_usd_per_month"] == pytest.approx(per_query * 2_000_000, abs=0.01)
    # 0.80 $/h around the clock against the API's price per query.
    assert p["self_hosted_usd_per_month"] == pytest.approx(0.80 * 730) and p["gpus"] == 1
    assert p["break_even_queries_per_month"] == math.ceil(0.80 * 730 / per_query)
    from_server = cost.from_summary(client.get("/v1/usage").json())
    assert from_server.queries == 3 and from_server.cost_usd == pytest.approx(per_query)


def test_answers_waiting_on_a_hanging_llm_are_bounded(tmp_path: Path, embedder: Embedder) -> None:
    with gemini_server() as server:
        server.fake.default = Behaviour(delay_s=3)
        settings = Settings(
            data_dir=tmp_path / "data",
            gemini_api_key="test-key",
            gemini_base_url=server.url,
            rerank=False,
            max_concurrent_answers=2,
        )
        for client in _serve(settings, embedder, make_folder(tmp_path)):
            with ThreadPoolExecutor(2) as pool:
                hanging = [pool.submit(client.post, "/v1/answer", json={"query": "penguins"}) for _ in range(2)]
                while len(server.fake.requests) < 2:  # both are waiting on the LLM now
                    time.sleep(0.05)
                third = client.post("/v1/answer", json={"query": "penguins"})
                assert third.status_code == 503 and third.headers["retry-after"] == "1"
                assert "RAGLINE_MAX_CONCURRENT_ANSWERS" in third.json()["detail"]
                assert client.get("/healthz").status_code == 200
                assert search(client, query="penguins", top_k=1)["results"][0]["doc_id"] == "d.pdf"
                assert [f.result().json()["status"] for f in hanging] == ["ok", "ok"]
            # The slots come back: answers are taken again once those finished.
            assert client.post("/v1/answer", json={"query": "penguins"}).status_code == 200
