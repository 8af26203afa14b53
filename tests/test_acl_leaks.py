"""Property-based: over random corpora, ACLs, callers, filters, top_k and modes, no route ever shows a caller a
document it may not see — not in results, not in an answer's passages or citations, not in a prompt sent to
the LLM (read from the fake Gemini's request log) — and no document it may see goes missing: its results are
exactly those of an unrestricted caller filtered to the documents it may see."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.config import Settings
from rag.edges.api.app import create_app
from rag.embedding import Embedder
from rag.key_file import KeyEntry, key_hash, write_keys
from rag.service import Service
from testkit.gemini import gemini_server
from testkit.judges import judge, keyword_grade
from testkit.server import FakeServer

GROUPS = ("g1", "g2", "g3")
WORDS = ("walrus", "tusk", "ice", "calf", "seal", "krill", "arctic", "haul")
ROOT = "root-key"  # RAGLINE_API_KEYS: unrestricted, the reference
CALLERS = {  # key -> groups; each key's name is its key
    f"k-{'-'.join(g) or 'none'}": g for n in range(len(GROUPS) + 1) for g in itertools.combinations(GROUPS, n)
}
COUNTER = itertools.count()

doc = st.fixed_dictionaries(
    {
        "words": st.lists(st.sampled_from(WORDS), min_size=3, max_size=8),
        "acl": st.one_of(st.none(), st.lists(st.sampled_from([*GROUPS, "k-g1", "stranger"]), min_size=1, max_size=2)),
        "tag": st.sampled_from(["x", "y"]),
    }
)
query = st.fixed_dictionaries(
    {
        "query": st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
        "top_k": st.integers(1, 10),
        "mode": st.sampled_from(["dense", "sparse", "hybrid"]),
        "filter": st.sampled_from([None, {"tag": "x"}, {"tag": "y"}]),
    }
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[TestClient, FakeServer]]:
    root = tmp_path_factory.mktemp("leaks")
    keys = root / "keys.json"
    write_keys(
        keys,
        [
            KeyEntry(name=k, sha256=key_hash(k), scopes=("read",), collections=("*",), groups=g, rpm=0)
            for k, g in CALLERS.items()
        ],
    )
    with gemini_server() as llm:
        llm.fake.responder = judge(keyword_grade)
        s = Settings(
            data_dir=root / "data",
            api_keys=ROOT,
            api_keys_file=keys,
            gemini_api_key="k",
            gemini_base_url=llm.url,
            max_collections=1000,
            open_collections=4,
        )
        server = Service(s, embedder)
        with TestClient(create_app(s, server)) as client:
            yield client, llm
        server.close()


def _marker(n: int) -> str:
    return f"zq{n}zq"  # one word per document, so a leak into a prompt is found by its text


def _post(client: TestClient, key: str, path: str, body: dict) -> dict:
    r = client.post(path, json=body, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(corpus=st.lists(doc, min_size=1, max_size=8), caller=st.sampled_from(sorted(CALLERS)), ask=query)
def test_no_route_leaks_and_nothing_permitted_is_missing(served, corpus, caller, ask) -> None:
    client, llm = served
    collection = f"leak{next(COUNTER)}"
    records = [
        {
            "_id": f"d{n}",
            "text": " ".join([*d["words"], _marker(n)]),
            "tag": d["tag"],
            **({"acl": d["acl"]} if d["acl"] else {}),
        }
        for n, d in enumerate(corpus)
    ]
    assert _post(client, ROOT, "/v1/documents/records", {"records": records, "collection": collection})["added"] == len(
        records
    )
    identities = {caller, *CALLERS[caller]}
    visible = {f"d{n}" for n, d in enumerate(corpus) if not d["acl"] or identities & set(d["acl"])}
    hidden_markers = [_marker(n) for n in range(len(corpus)) if f"d{n}" not in visible]
    body = {**ask, "collection": collection, "rerank": True}
    seen_before = len(llm.fake.requests)

    results = _post(client, caller, "/v1/search", body)["results"]
    batch = _post(client, caller, "/v1/search/batch", {**body, "queries": [ask["query"]] * 2})["responses"]
    answer = _post(client, caller, "/v1/answer", {k: body[k] for k in ("query", "filter", "collection")})
    with client.stream(
        "POST",
        "/v1/answer",
        json={"query": ask["query"], "collection": collection, "stream": True},
        headers={"Authorization": f"Bearer {caller}"},
    ) as r:
        stream = r.read().decode()

    shown = [h["doc_id"] for h in results]
    shown += [h["doc_id"] for b in batch for h in b["results"]]
    shown += [h["doc_id"] for h in answer["results"]] + [c["doc_id"] for c in answer["citations"]]
    assert set(shown) <= visible
    prompts = json.dumps(llm.fake.requests[seen_before:])
    for text in (prompts, stream, json.dumps(answer)):
        assert not any(m in text for m in hidden_markers)

    # Nothing permitted goes missing: the same search by an unrestricted key, filtered to what may be seen.
    if visible:
        reference = {**body, "filter": {**(ask["filter"] or {}), "doc_id": sorted(visible)}}
        expected = [h["doc_id"] for h in _post(client, ROOT, "/v1/search", reference)["results"]]
        assert [h["doc_id"] for h in results] == expected
    else:
        assert results == []
