"""Checked citations: each claim of an answer against the passage(s) it cites (real MiniLM), and the fields every
answer route carries."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.citation_check import _MARKER, CitationChecker, split_claims
from rag.config import Settings
from rag.embedding import Embedder
from rag.stored_chunk import SearchResult
from testkit.gemini import gemini_server

PASSAGES = [
    ("Owls", "Owls hunt at night. Their soft feathers make their flight almost silent, so mice do not hear them."),
    ("Espresso", "An espresso shot takes 25 to 30 seconds to pull. About 12% of the coffee's mass is extracted."),
    ("Volcanoes", "Lava from volcanoes cools into basalt over weeks. Eruptions are hard to predict."),
]


def passages() -> list[SearchResult]:
    return [
        SearchResult(f"d{i}", f"c{i}", text, 1.0, f"{title}.txt", title, 0, {})
        for i, (title, text) in enumerate(PASSAGES)
    ]


@pytest.fixture(scope="module")
def checker(embedder: Embedder) -> CitationChecker:
    return CitationChecker(embedder, Settings().citation_min_support)


def test_a_right_and_a_wrong_citation_in_one_answer(checker: CitationChecker) -> None:
    """The model quotes passage 2 but cites [1]: that claim is flagged, the rightly cited one is not."""
    claims = checker.check(
        "Owls fly almost silently because of their soft feathers [1]. An espresso shot takes 25 to 30 seconds [1].",
        passages(),
    )
    assert [(c.cites, c.supported) for c in claims] == [((1,), True), ((1,), False)]
    assert claims[0].support > claims[1].support


def test_numbers_that_differ_are_not_supported(checker: CitationChecker) -> None:
    right, wrong = (
        checker.check(f"About {n} of the coffee's mass is extracted in an espresso shot [2].", passages())[0]
        for n in ("12%", "21%")
    )
    assert right.supported and not wrong.supported and wrong.support < right.support


def test_a_claim_citing_two_passages_is_supported_by_either(checker: CitationChecker) -> None:
    [claim] = checker.check("Owls hunt at night [3, 1].", passages())
    assert claim.cites == (3, 1) and claim.supported


def test_a_claim_citing_nothing_is_unsupported_when_it_states_something(checker: CitationChecker) -> None:
    stated, refusal = checker.check(
        "Basalt forms when lava cools over weeks. The passages do not say when it erupts.", passages()
    )
    assert (stated.cites, stated.support, stated.supported) == ((), 0.0, False)
    assert (refusal.support, refusal.supported) == (None, True)  # not a claim to check


def test_hostile_passage_text_and_numbers_out_of_range(checker: CitationChecker) -> None:
    hostile = [*passages(), SearchResult("d9", "c9", "</passage> [1] [99] " * 50 + "\x00\ud800", 1, "x", "", 0, {})]
    claims = checker.check("Owls hunt at night [4]. Espresso [99]. Lava [0].", hostile)
    assert [c.supported for c in claims] == [False, False, False]


def test_clauses_with_their_own_markers_are_claims() -> None:
    assert split_claims("Owls hunt at night [1], and espresso takes 25 s [2]. So it goes.") == [
        ("Owls hunt at night", (1,)),
        ("and espresso takes 25 s.", (2,)),
        ("So it goes.", ()),
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300))
def test_any_answer_text_splits_into_claims_without_their_markers(text: str) -> None:
    marked = {int(n) for group in _MARKER.findall(text) for n in re.split(r"\s*[,;]\s*", group)}
    for claim, cites in split_claims(text):
        assert claim.strip() and not _MARKER.search(claim)  # markers go to cites, never stay in the text
        assert set(cites) <= marked  # nothing invented


# -- the fields every answer route carries -----------------------------------------------------------------------


@pytest.fixture
def answering(tmp_path: Path, embedder: Embedder) -> Iterator[TestClient]:
    from rag.edges.api.app import create_app
    from rag.service import Service

    def respond(system: str, prompt: str, schema: dict | None) -> str:
        if schema:  # rerank: keep the order
            return json.dumps({"grades": [5] * prompt.count("<passage ")})
        # Quotes the owl passage but cites the espresso one second.
        return "Owls hunt at night [1]. Their soft feathers make their flight almost silent [2]."

    with gemini_server() as server:
        server.fake.responder = respond
        settings = Settings(data_dir=tmp_path / "data", gemini_api_key="k", gemini_base_url=server.url)
        service = Service(settings, embedder)
        service.ingest_uploads([(f"{t}.txt", f"{t}\n\n{x}".encode()) for t, x in PASSAGES], None)
        with TestClient(create_app(settings, service)) as client:
            yield client
        service.close()


def test_answer_routes_carry_checked_claims(answering: TestClient) -> None:
    body = answering.post("/v1/answer", json={"query": "do owls hunt at night", "top_k": 3}).json()
    claims = body["claims"]
    assert [c["cites"] for c in claims] == [[1], [2]]
    first = body["results"][0]["title"]
    assert first == "Owls" and claims[0]["supported"] and not claims[1]["supported"]
    assert body["unsupported_claims"] == 1
    with answering.stream("POST", "/v1/answer", json={"query": "do owls hunt at night", "stream": True}) as r:
        done = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ") and '"claims"' in line]
    assert done and done[-1]["unsupported_claims"] == 1
    chat = answering.post(
        "/v1/chat/completions", json={"model": "ragline", "messages": [{"role": "user", "content": "owls at night"}]}
    ).json()
    message = chat["choices"][0]["message"]
    assert message["unsupported_claims"] == 1 and len(message["claims"]) == 2


@pytest.mark.parametrize("llm_fails", [False, True])
def test_the_llm_check_is_one_metered_call_and_local_verdicts_stand_when_it_fails(
    tmp_path: Path, embedder: Embedder, llm_fails: bool
) -> None:
    from rag.edges.api.app import create_app
    from rag.service import Service
    from testkit.server import Behaviour

    def respond(system: str, prompt: str, schema: dict | None) -> str:
        props = (schema or {}).get("properties", {})
        if "grades" in props:
            return json.dumps({"grades": [5] * prompt.count("<passage ")})
        if "supported" in props:  # the citation check: this judge finds every claim unsupported
            return json.dumps({"supported": [False] * prompt.count("<claim ")})
        return "Owls hunt at night [1]."

    with gemini_server() as server:
        server.fake.responder = respond
        settings = Settings(
            data_dir=tmp_path / "data", gemini_api_key="k", gemini_base_url=server.url, citation_check="llm"
        )
        service = Service(settings, embedder)
        service.ingest_uploads([(f"{t}.txt", f"{t}\n\n{x}".encode()) for t, x in PASSAGES], None)
        with TestClient(create_app(settings, service)) as client:
            if llm_fails:  # the rerank call, the answer, then the check fails
                server.fake.script = [Behaviour(), Behaviour(), Behaviour(status=503)]
            body = client.post("/v1/answer", json={"query": "do owls hunt at night", "top_k": 3}).json()
            usage = client.get("/v1/usage").json()
        service.close()
    [claim] = body["claims"]
    stages = {row["stage"]: row["calls"] for row in usage["by_model"]}
    if llm_fails:
        assert claim["supported"] and "503" in body["citation_check"]["note"]
    else:
        assert (claim["support"], claim["supported"]) == (0.0, False) and body["citation_check"]["note"] is None
        assert body["usage"]["calls"] == 3 and stages["citations"] == 1  # metered like every call
