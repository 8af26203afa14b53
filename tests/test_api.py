"""The real app over a real embedded store and real MiniLM embeddings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.config import Settings
from rag.edges.api.app import create_app
from rag.embedding import Embedder
from rag.errors import UsageError
from rag.service import Service
from rag.upload_staging import upload_parts
from tests.test_ingest import make_folder

KEY = "s3cret-key"


@pytest.fixture
def client(tmp_path: Path, embedder: Embedder):
    settings = Settings(data_dir=tmp_path / "data", api_keys=KEY, max_upload_bytes=64_000)
    docs = make_folder(tmp_path)
    server = Service(settings, embedder)
    with TestClient(create_app(settings, server), headers={"Authorization": f"Bearer {KEY}"}) as c:
        files = [
            ("files", (p.name, p.read_bytes()))
            for p in sorted(docs.rglob("*"))
            if p.is_file() and not p.name.startswith(".") and p.suffix != ".xyz"
        ]
        r = c.post("/v1/documents", files=files)
        assert r.status_code == 200, r.text
        assert r.json()["added"] == 6
        yield c
    server.close()


def search(c: TestClient, **body) -> dict:
    r = c.post("/v1/search", json=body)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("mode", ["dense", "sparse", "hybrid"])
def test_modes_find_the_passage(client: TestClient, mode: str) -> None:
    body = search(client, query="penguins southern hemisphere", mode=mode, top_k=3)
    assert body["results"][0]["doc_id"] == "d.pdf"
    assert body["rerank"]["status"] == "skipped"  # no LLM configured
    assert set(body["timings_ms"]) >= {"embed", "retrieve", "rerank", "total"}
    assert set(body["results"][0]) >= {"doc_id", "chunk_id", "text", "score", "source", "title", "metadata"}


def test_fusion_default_and_weights(client: TestClient) -> None:
    # DBSF sums scores normalised to about [0, 1]; RRF (k=60, ranks from 0 in Qdrant) at most 2 / 60.
    dbsf = search(client, query="penguins southern hemisphere", top_k=3)["results"]
    rrf = search(client, query="penguins southern hemisphere", top_k=3, weights=[1, 1])["results"]
    assert dbsf[0]["doc_id"] == rrf[0]["doc_id"] == "d.pdf"
    assert dbsf[0]["score"] > 0.1
    assert rrf[0]["score"] == pytest.approx(2 / 60)  # first in both lists


def test_filters_and_grouping(client: TestClient) -> None:
    body = search(client, query="moons", filter={"doc_id": ["r1", "b.md"]}, top_k=10)
    assert {r["doc_id"] for r in body["results"]} == {"r1", "b.md"}
    body = search(client, query="owls", filter={"format": "docx"}, top_k=10)
    assert {r["doc_id"] for r in body["results"]} == {"e.docx"}  # grouped: one result per doc
    ungrouped = search(client, query="owls", filter={"format": "docx"}, top_k=10, group_by_doc=False)
    assert len(ungrouped["results"]) == 2  # the docx has two sections → two chunks
    body = search(client, query="penguins", filter={"page": 1})
    assert [r["doc_id"] for r in body["results"]] == ["d.pdf"]


def test_batch(client: TestClient) -> None:
    r = client.post("/v1/search/batch", json={"queries": ["lava", "honeybees dance"], "top_k": 1})
    assert r.status_code == 200
    assert [x["results"][0]["doc_id"] for x in r.json()["responses"]] == ["a.txt", "c.html"]


def test_records_and_delete(client: TestClient) -> None:
    r = client.post("/v1/documents/records", json={"records": [{"_id": "z1", "text": "Zebras have stripes."}]})
    assert r.json()["added"] == 1
    assert search(client, query="striped animals", top_k=1)["results"][0]["doc_id"] == "z1"
    assert client.delete("/v1/documents/z1").status_code == 204
    assert "z1" not in {x["doc_id"] for x in search(client, query="striped animals")["results"]}
    assert client.delete("/v1/documents/z1").status_code == 404


def test_records_and_files_never_replace_each_other(client: TestClient, tmp_path: Path) -> None:
    # "a.txt" is an uploaded file: a record with that id is refused, not a silent replacement.
    r = client.post("/v1/documents/records", json={"records": [{"_id": "a.txt", "text": "Fake lava facts."}]})
    failed = r.json()["failed"][0]
    assert r.json()["added"] == 0 and "already belongs to another source ('a.txt')" in failed["error"]
    assert failed["path"] == "records" and str(tmp_path) not in r.text  # no server paths in replies
    assert r.json()["files"][0]["path"] == "records" and r.json()["files"][0]["documents"] == 1
    assert search(client, query="lava", top_k=1)["results"][0]["text"].endswith("lava from the mantle.")
    # Each source still updates its own: a record replaced by a later records call, a file by its re-upload.
    for text in ("Kiwis are flightless.", "Kiwis are flightless birds of New Zealand."):
        client.post("/v1/documents/records", json={"records": [{"_id": "kiwi", "text": text}]})
    assert search(client, query="kiwi", top_k=1)["results"][0]["text"].endswith("New Zealand.")
    r = client.post("/v1/documents", files=[("files", ("a.txt", b"Lava cools into basalt."))])
    assert r.json()["updated"] == 1
    # And a file named like a record is refused the same way.
    client.post("/v1/documents/records", json={"records": [{"_id": "kiwi.txt", "text": "Kiwi fruit."}]})
    r = client.post("/v1/documents", files=[("files", ("kiwi.txt", b"text"))])
    assert r.json()["failed"] and "already belongs to another source" in r.json()["failed"][0]["error"]


def test_a_doc_id_with_a_line_break_can_be_deleted(client: TestClient) -> None:
    r = client.post("/v1/documents/records", json={"records": [{"_id": "two\nlines", "text": "Puffins nest."}]})
    assert r.json()["added"] == 1
    assert client.delete("/v1/documents/two%0Alines").status_code == 204
    assert client.delete("/v1/documents/two%0Alines").status_code == 404


def test_collections_health_metrics(client: TestClient) -> None:
    cols = client.get("/v1/collections").json()["collections"]
    assert cols[0]["name"] == "documents" and cols[0]["points"] >= 6 and cols[0]["dimension"] == 384
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    search(client, query="lava")
    metrics = client.get("/metrics", headers={"Authorization": ""}).text
    assert 'ragline_requests_total{method="POST",route="/v1/search",status="200"}' in metrics
    assert 'ragline_stage_seconds_count{stage="embed"}' in metrics


def test_auth(client: TestClient) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        r = client.post("/v1/search", json={"query": "x"}, headers=headers)
        assert r.status_code == 401
        assert KEY not in r.text
    assert client.get("/healthz", headers={"Authorization": ""}).status_code == 200
    assert "X-Request-ID" in client.get("/healthz").headers


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        ({"query": ""}, 422, "query"),
        ({"query": "   "}, 422, "query"),
        ({"query": "x" * 2001}, 422, "query"),
        ({"query": "x", "top_k": 0}, 422, "top_k"),
        ({"query": "x", "top_k": 101}, 422, "top_k"),
        ({"query": "x", "mode": "fuzzy"}, 422, "mode"),
        ({"query": "x", "filter": {"year": {"near": 3}}}, 400, "near"),
        ({"query": "x", "collection": "nope"}, 404, "nope"),
        ({"query": "x", "collection": "../etc"}, 400, "collection"),
        ({"query": "x", "collection": ""}, 400, "collection"),  # not "the default": found by schemathesis
        ({"query": "x", "group_by_doc": 0.0}, 422, "group_by_doc"),
        ({"query": "x", "fusion": "dbsf", "weights": [1, 2]}, 400, "weights"),
        # Each of these was a 500 (the engine or the tokenizer failed on it), never a 400 naming the problem.
        ({"query": "x", "filter": {"year": 9223372036854775808}}, 400, "64-bit"),
        ({"query": "x", "filter": {"year": {"any": [10**30]}}}, 400, "64-bit"),
        ({"query": "x", "filter": {"": "a"}}, 400, "does not name a field"),
        ({"query": "x", "filter": {"metadata.": "a"}}, 400, "does not name a field"),
        ({"query": "x", "filter": {"date": {"gte": "20240101"}}}, 400, "ISO date"),
        ({"query": "x\ud800"}, 422, "query"),
    ],
)
def test_bad_input(client: TestClient, body: dict, status: int, names: str) -> None:
    # As a client sends it: JSON escapes what UTF-8 cannot carry (the lone surrogate as \\ud800).
    r = client.post("/v1/search", content=json.dumps(body), headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    assert names in json.dumps(r.json())
    if status == 422:  # always a list of errors, as the OpenAPI schema says
        assert isinstance(r.json()["detail"], list)


def test_batch_queries_are_checked_one_by_one(client: TestClient) -> None:
    r = client.post("/v1/search/batch", json={"queries": ["lava", "  ", "x" * 2001]})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "queries", 1]


def test_metrics_are_documented_as_text(client: TestClient) -> None:
    content = client.get("/openapi.json").json()["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert all(kind.startswith("text/plain") for kind in content)


def test_a_collection_name_is_checked_before_anything_is_written(client: TestClient, tmp_path: Path) -> None:
    for name in ("../../escape", str(tmp_path / "abs")):
        files = [("files", ("x.txt", b"Some text."))]
        r = client.post("/v1/documents", files=files, data={"collection": name})
        assert r.status_code == 400 and "collection" in r.json()["detail"]
        r = client.post("/v1/documents/records", json={"records": [{"_id": "r", "text": "t"}], "collection": name})
        assert r.status_code == 400
    assert not (tmp_path / "escape").exists() and not (tmp_path / "abs").exists()
    assert not any(p.name == "x.txt" for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("names", [["x" * 300 + ".txt"], ["a.txt", "a.txt/b.txt"], ["a\\b.txt"]])
def test_bad_upload_names_are_400s(client: TestClient, names: list[str]) -> None:
    r = client.post("/v1/documents", files=[("files", (n, b"Some text.")) for n in names])
    assert r.status_code == 400, r.text
    assert "files" in r.json()["detail"]


def test_records_that_would_break_the_store_are_reported_and_the_rest_stored(client: TestClient) -> None:
    deep: dict = {"leaf": 1}
    for _ in range(130):
        deep = {"next": deep}
    good = [{"_id": f"ok{i}", "text": f"Good record number {i} about walruses."} for i in range(600)]
    bad = [{"_id": "nan", "text": "t", "score": float("nan")}, {"_id": "deep", "text": "t", "meta": deep}]
    body = json.dumps({"records": good + bad})  # NaN travels as the bare token NaN, which JSON parsers accept
    r = client.post("/v1/documents/records", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["added"] == 600 and {f["error"].split(":")[0] for f in report["failed"]} == {
        "record 'nan'",
        "record 'deep'",
    }
    assert search(client, query="walruses", top_k=1)["results"][0]["doc_id"].startswith("ok")
    more = client.post("/v1/documents/records", json={"records": [{"_id": "later", "text": "Seals bark."}]})
    assert more.status_code == 200 and more.json()["added"] == 1  # the collection still takes writes


def test_an_upload_cannot_follow_a_symlink_out_of_the_data_dir(client: TestClient, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    uploads = tmp_path / "data" / "uploads" / "documents"
    uploads.mkdir(parents=True, exist_ok=True)
    (uploads / "evil").symlink_to(outside, target_is_directory=True)
    r = client.post("/v1/documents", files=[("files", ("evil/x.txt", b"Some text."))])
    assert r.status_code == 400 and "outside" in r.json()["detail"]
    assert list(outside.iterdir()) == []


def test_an_upload_name_that_is_not_unicode_is_refused() -> None:
    with pytest.raises(UsageError, match="invalid file name"):
        upload_parts("a\udc80.txt")


def test_a_nul_in_an_upload_name_is_a_400(client: TestClient) -> None:
    # Raw multipart: httpx would percent-encode the NUL, a hostile client does not.
    body = b'--B\r\nContent-Disposition: form-data; name="files"; filename="a\x00b.txt"\r\n\r\nx\r\n--B--\r\n'
    r = client.post("/v1/documents", content=body, headers={"content-type": "multipart/form-data; boundary=B"})
    assert r.status_code == 400, r.text


def test_uploads_are_not_kept_once_ingested(client: TestClient, tmp_path: Path) -> None:
    r = client.post("/v1/documents", files=[("files", ("notes/kept.txt", b"Otters hold hands while they sleep."))])
    assert r.status_code == 200 and r.json()["added"] == 1
    assert not [p for p in (tmp_path / "data" / "uploads").rglob("*") if p.is_file()]
    assert search(client, query="otters sleeping", top_k=1)["results"][0]["doc_id"] == "notes/kept.txt"


def test_request_ids_cannot_forge_log_lines(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("INFO", logger="ragline.api"):
        r = client.get("/healthz", headers={"X-Request-ID": "abc\r\nstatus=200 forged=1"})
    echoed = r.headers["x-request-id"]
    assert len(echoed) == 32 and echoed.isalnum()  # replaced by a fresh id
    assert not any("forged" in rec.getMessage() for rec in caplog.records)
    assert client.get("/healthz", headers={"X-Request-ID": "req-42.a_b"}).headers["x-request-id"] == "req-42.a_b"


def test_oversized_upload(client: TestClient) -> None:
    r = client.post("/v1/documents", files=[("files", ("big.txt", b"word " * 20_000))])
    assert r.status_code == 413 and "RAGLINE_MAX_UPLOAD_BYTES" in r.json()["detail"]
    # The limit is for the whole request: two files under it each, over it together.
    halves = [("files", (f"half{n}.txt", b"word " * 7_000)) for n in range(2)]
    assert client.post("/v1/documents", files=halves[:1]).status_code == 200
    assert client.post("/v1/documents", files=halves).status_code == 413
    assert search(client, query="lava", top_k=1)["results"][0]["doc_id"] == "a.txt"  # nothing lost
