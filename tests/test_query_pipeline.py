"""The one query path: the same candidates reach the LLM from the API and from `rag eval`, the candidate cap and
the mode setting hold on every route, and grouping by document fills `top_k`."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.edges.api.app import create_app
from rag.embedding import Embedder
from rag.ingest_wiring import ingest_options
from rag.retrieval import group_best_per_doc
from rag.service import Service
from rag.store.base import QuerySpec
from rag.wiring import OpenStores, build_parts, make_sparse
from testkit.gemini import gemini_server
from testkit.judges import judge, keyword_grade, read_prompt
from testkit.server import FakeServer
from tests.test_ask_cli import rag
from tests.test_ingest import cli_env

TOPICS = [
    "volcanoes erupt lava and ash",
    "honeybees dance to share where flowers are",
    "espresso is brewed with hot water under pressure",
    "penguins live in the southern hemisphere",
    "glaciers carve valleys as they move",
    "owls hunt at night with silent feathers",
    "tides follow the pull of the moon",
    "coral reefs grow in warm shallow seas",
]
QUERIES = {"q1": "where do penguins live", "q2": "how is espresso made", "q3": "what do volcanoes erupt"}


def passages_sent(server: FakeServer) -> dict[str, list[str]]:
    """Per query, the passages the LLM was shown, in the order the calls arrived (sorted: calls run concurrently)."""
    sent: dict[str, list[str]] = defaultdict(list)
    for request in server.fake.requests:
        prompt = "".join(p.get("text", "") for c in request["body"].get("contents", []) for p in c.get("parts", []))
        query, passages = read_prompt(prompt)
        sent[query] += [p.text for p in passages]
    return {q: sorted(v) for q, v in sent.items()}


@pytest.fixture
def beir(tmp_path: Path) -> Path:
    """A small BEIR folder: 24 records on 8 topics, three judged queries."""
    folder = tmp_path / "tiny"
    (folder / "qrels").mkdir(parents=True)
    records = [
        {"_id": f"d{i}", "title": f"Note {i}", "text": f"{TOPICS[i % 8]}. Entry {i} adds detail number {i * 7}."}
        for i in range(24)
    ]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": q, "text": t}) + "\n" for q, t in QUERIES.items()))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td3\t1\nq2\td2\t1\nq3\td0\t1\n")
    return folder


def test_eval_and_the_api_send_the_same_capped_candidates(beir: Path, tmp_path: Path, embedder: Embedder) -> None:
    data = tmp_path / "data"
    with gemini_server() as server:
        server.fake.responder = judge(keyword_grade)
        env = {"GEMINI_API_KEY": "k", "RAGLINE_GEMINI_BASE_URL": server.url, "RAGLINE_RERANK_CANDIDATES": "5"}
        p = rag(["eval", str(beir), "--rerank", "--json"], cli_env(data, **env))
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["rerank"]["calls_per_1k"] == 1000  # one graded call per query
        from_eval = passages_sent(server)
        server.fake.requests.clear()

        settings = Settings(
            data_dir=data,
            collection="beir-tiny",
            gemini_api_key="k",
            gemini_base_url=server.url,
            rerank_candidates=5,
        )
        state = Service(settings, embedder)
        with TestClient(create_app(settings, state)) as client:
            for query in QUERIES.values():
                r = client.post("/v1/search", json={"query": query, "top_k": 20})
                assert r.status_code == 200, r.text
                body = r.json()
                # Never more than the cap goes to the LLM, however many results are asked for.
                assert body["rerank"]["status"] == "ok" and body["usage"]["calls"] == 1
                assert len(body["results"]) == 20
        state.close()
        from_api = passages_sent(server)
    assert set(from_eval) == set(QUERIES.values())
    assert all(len(passages) == 5 for passages in from_eval.values())  # never more than the cap
    assert from_api == from_eval


@pytest.fixture
def dense_default(tmp_path: Path, embedder: Embedder) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path / "data", mode="dense")
    state = Service(settings, embedder)
    records = [{"_id": f"d{i}", "text": f"{TOPICS[i % 8]} (note {i})"} for i in range(16)]
    state.ingest_records(records, None)
    with TestClient(create_app(settings, state)) as client:
        yield client
    state.close()


def test_the_mode_setting_applies_to_search_and_batch(dense_default: TestClient) -> None:
    def scores(route: str, **body) -> list[float]:
        r = dense_default.post(route, json=body)
        assert r.status_code == 200, r.text
        out = r.json()
        results = out["responses"][0]["results"] if route.endswith("batch") else out["results"]
        return [x["score"] for x in results]

    query = "penguins in the cold south"
    dense = scores("/v1/search", query=query, mode="dense")
    hybrid = scores("/v1/search", query=query, mode="hybrid")
    assert dense != hybrid
    assert scores("/v1/search", query=query) == dense
    assert scores("/v1/search/batch", queries=[query]) == dense
    assert len(dense) == 10  # RAGLINE_TOP_K


def _long_text(topic: str, words: int) -> str:
    sentences = [f"{topic} in passage {i}, observation {i * 3} of the survey." for i in range(words // 10)]
    return " ".join(sentences)


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_grouping_returns_top_k_documents_when_documents_are_long(
    mode: str, tmp_path: Path, embedder: Embedder
) -> None:
    """Three long documents fill the first chunks a query finds; top_k documents must still come back."""
    settings = Settings(data_dir=tmp_path / "data", prefetch_limit=40)
    records = [{"_id": f"long{i}", "text": _long_text("Volcanic lava flows and eruptions", 6000)} for i in range(3)]
    shorts = [f"A note on {t}; volcanic lava is mentioned once." for t in TOPICS]
    records += [{"_id": f"short{i}", "text": text} for i, text in enumerate(shorts)]
    source = tmp_path / "records.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    stores = OpenStores(settings)
    try:
        parts = build_parts(settings, stores, embedder, with_llm=False)
        report = Ingestor(ingest_options(settings), stores(None), embedder, make_sparse(settings)).run([source])
        assert report.chunks > 3 * 25  # the long documents hold most chunks
        query = "volcanic lava eruptions"
        reply = parts.pipeline.search(query, parts.pipeline.options(top_k=5, mode=mode))
        docs = [r.doc_id for r in reply.results]
        assert len(docs) == 5 == len(set(docs))
        if mode != "hybrid":  # fusion scores depend on the prefetch size; single modes can be checked exactly
            dense = embedder.encode([query])[0].tolist()
            sparse = parts.sparse.query(query)
            spec = QuerySpec(
                limit=1000, mode=mode, prefetch_limit=1000, fusion="rrf", dense=dense, sparse=sparse, exact=True
            )
            everything = group_best_per_doc(stores(None).query(spec), 5)
            assert docs == [h.payload["doc_id"] for h in everything]
    finally:
        stores.close()
