"""Scoped keys and per-document ACLs on the real app, store and MiniLM: each scope and status code, the key file
and its CLI, rate limits, and ACLs applied as a Qdrant filter (zero leaks: tests/test_acl_leaks.py)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.config import Settings
from rag.edges.api.app import create_app
from rag.edges.cli import main as rag_main
from rag.embedding import Embedder
from rag.errors import ConfigError, UsageError
from rag.key_file import KeyEntry, key_hash, read_keys, write_keys
from rag.service import Service

KEYS = {  # name: (key, scopes, collections, groups)
    "reader": ("k-reader", ("read",), ("documents",), ("team-a",)),
    "writer": ("k-writer", ("read", "write"), ("documents",), ()),
    "admin": ("k-admin", ("read", "write", "admin"), ("*",), ()),
    "elsewhere": ("k-else", ("read",), ("other",), ()),
    "b-writer": ("k-bw", ("write",), ("documents",), ("team-b",)),
}


def entry(name: str, key: str, scopes, collections, groups=(), rpm=None) -> KeyEntry:
    return KeyEntry(name=name, sha256=key_hash(key), scopes=scopes, collections=collections, groups=groups, rpm=rpm)


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name][0]}"}


@pytest.fixture
def keyed(tmp_path: Path, embedder: Embedder) -> Iterator[tuple[TestClient, Path]]:
    keys = tmp_path / "keys.toml"
    write_keys(keys, [entry(n, *spec) for n, spec in KEYS.items()])
    settings = Settings(data_dir=tmp_path / "data", api_keys_file=keys)
    server = Service(settings, embedder)
    with TestClient(create_app(settings, server)) as client:
        records = [
            {"_id": "public", "text": "Walruses haul out on sea ice."},
            {"_id": "team-a-only", "text": "Walrus tusks grow for life.", "acl": ["team-a"]},
            {"_id": "team-b-only", "text": "Walrus calves nurse for two years.", "acl": "team-b"},
        ]
        r = client.post("/v1/documents/records", json={"records": records}, headers=auth("admin"))
        assert r.status_code == 200 and r.json()["added"] == 3, r.text
        yield client, keys
    server.close()


def seen(client: TestClient, who: str, **body) -> set[str]:
    r = client.post("/v1/search", json={"query": "walrus", "top_k": 10, **body}, headers=auth(who))
    assert r.status_code == 200, r.text
    return {hit["doc_id"] for hit in r.json()["results"]}


def test_each_key_sees_public_documents_and_its_groups_only(keyed) -> None:
    client, _ = keyed
    assert seen(client, "reader") == {"public", "team-a-only"}
    assert seen(client, "writer") == {"public"}
    assert seen(client, "admin") == {"public"}  # admin is a scope, not a way around ACLs
    assert seen(client, "reader", filter={"doc_id": "team-b-only"}) == set()  # a filter cannot widen it


def test_status_codes(keyed, caplog: pytest.LogCaptureFixture) -> None:
    client, _ = keyed
    with caplog.at_level(logging.WARNING, logger="ragline.auth"):
        assert client.post("/v1/search", json={"query": "x"}).status_code == 401
        assert (
            client.post("/v1/search", json={"query": "x"}, headers={"Authorization": "Bearer nope"}).status_code == 401
        )
        up = client.post("/v1/documents", files=[("files", ("a.txt", b"Seals."))], headers=auth("reader"))
        assert up.status_code == 403 and "'write'" in up.json()["detail"]
        hidden = client.post("/v1/search", json={"query": "x", "collection": "documents"}, headers=auth("elsewhere"))
        missing = client.post("/v1/search", json={"query": "x", "collection": "other"}, headers=auth("elsewhere"))
        # A collection the key may not use reads exactly like one that does not exist.
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["detail"].replace("'documents'", "'other'") == missing.json()["detail"]
        assert client.get("/v1/usage", headers=auth("reader")).status_code == 403
        assert client.get("/v1/usage", headers=auth("admin")).status_code == 200
        assert client.delete("/v1/documents/team-a-only", headers=auth("writer")).status_code == 404  # cannot see it
    refusals = [r.getMessage() for r in caplog.records]
    assert any("'reader'" in m and "'write' scope" in m for m in refusals)
    assert not any(spec[0] in m for m in refusals for spec in KEYS.values())  # names logged, never keys
    names = lambda who: [c["name"] for c in client.get("/v1/collections", headers=auth(who)).json()["collections"]]  # noqa: E731
    assert names("elsewhere") == [] and names("admin") == ["documents"]
    assert client.delete("/v1/documents/public", headers=auth("writer")).status_code == 204


def test_acl_change_updates_the_payload_only(keyed) -> None:
    client, _ = keyed
    body = {"records": [{"_id": "team-b-only", "text": "Walrus calves nurse for two years.", "acl": ["team-a"]}]}
    # Only a key that may see it may relabel it (admin is a scope, not a way around ACLs).
    refused = client.post("/v1/documents/records", json=body, headers=auth("admin")).json()
    assert "cannot be written by this key" in refused["failed"][0]["error"]
    r = client.post("/v1/documents/records", json=body, headers=auth("b-writer")).json()
    assert (r["updated"], r["chunks"]) == (1, 0)  # nothing re-embedded
    assert "team-b-only" in seen(client, "reader")
    # A writer may not replace a document it cannot see.
    r = client.post(
        "/v1/documents/records", json={"records": [{"_id": "team-a-only", "text": "x"}]}, headers=auth("writer")
    )
    assert r.json()["added"] == 0 and "cannot be written by this key" in r.json()["failed"][0]["error"]


def test_upload_acl_from_the_form(keyed) -> None:
    client, _ = keyed
    files = [("files", ("tusks.txt", b"Walrus tusks are elongated canines."))]
    r = client.post("/v1/documents", files=files, data={"acl": "team-a, team-c"}, headers=auth("admin"))
    assert r.status_code == 200 and r.json()["added"] == 1
    assert "tusks.txt" in seen(client, "reader") and "tusks.txt" not in seen(client, "writer")
    bad = client.post("/v1/documents", files=files, data={"acl": "x" * 200}, headers=auth("admin"))
    assert bad.status_code == 400 and "acl" in bad.json()["detail"]


def test_rate_limit_per_key(tmp_path: Path, embedder: Embedder) -> None:
    keys = tmp_path / "keys.json"
    write_keys(keys, [entry("slow", "k-slow", ("read",), ("*",), rpm=2), entry("fast", "k-fast", ("read",), ("*",))])
    settings = Settings(data_dir=tmp_path / "data", api_keys_file=keys)
    server = Service(settings, embedder)
    with TestClient(create_app(settings, server)) as client:
        codes = [
            client.get("/v1/collections", headers={"Authorization": "Bearer k-slow"}).status_code for _ in range(3)
        ]
        assert codes == [200, 200, 429]
        r = client.get("/v1/collections", headers={"Authorization": "Bearer k-slow"})
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert client.get("/v1/collections", headers={"Authorization": "Bearer k-fast"}).status_code == 200
    server.close()


def test_the_key_file_is_reread_when_it_changes(keyed) -> None:
    client, keys = keyed
    write_keys(keys, [*read_keys(keys), entry("late", "k-late", ("read",), ("documents",))])
    assert client.get("/v1/collections", headers={"Authorization": "Bearer k-late"}).status_code == 200
    write_keys(keys, [e for e in read_keys(keys) if e.name != "reader"])
    assert client.get("/v1/collections", headers=auth("reader")).status_code == 401
    keys.write_text("keys = not toml")  # broken: fail closed, no key admitted
    assert client.get("/v1/collections", headers=auth("admin")).status_code == 401


def test_a_plain_key_in_the_file_is_refused_at_startup(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"keys": [{"name": "oops", "key": "s3cret", "scopes": ["read"], "collections": ["*"]}]}))
    with pytest.raises(ConfigError, match="holds a plain key"):
        create_app(Settings(data_dir=tmp_path / "data", api_keys_file=keys))
    keys.write_text(
        json.dumps({"keys": [{"name": "oops", "sha256": "s3cret", "scopes": ["read"], "collections": ["*"]}]})
    )
    env = {**os.environ, "RAGLINE_API_KEYS_FILE": str(keys), "RAGLINE_DATA_DIR": str(tmp_path / "data")}
    run = subprocess.run(
        [sys.executable, "-m", "rag.edges.cli", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "never the key itself" in run.stderr and "Traceback" not in run.stderr


def test_keys_cli_prints_a_key_once_and_stores_its_hash(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    keys = tmp_path / "keys.toml"
    args = ["keys", "--file", str(keys), "add", "alice", "--scope", "read", "--collection", "docs", "--group", "team-a"]
    assert rag_main(args) == 0
    key = capsys.readouterr().out.strip()
    assert len(key) > 40 and key not in keys.read_text() and key_hash(key) in keys.read_text()
    assert oct(keys.stat().st_mode & 0o777) == "0o600"
    assert rag_main(["keys", "--file", str(keys), "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == {"name": "alice", "scopes": ["read"], "collections": ["docs"], "groups": ["team-a"]}
    assert rag_main(args) == 2  # the name is taken
    assert rag_main(["keys", "--file", str(keys), "revoke", "alice"]) == 0
    assert read_keys(keys) == []


def test_sidecar_acl_files_for_ingest(tmp_path: Path, make_ingestor, settings: Settings) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "plan.txt").write_text("The merger closes in March.")
    (docs / "plan.txt.acl").write_text("board\nlegal\n")
    (docs / "menu.txt").write_text("Lunch is at noon.")
    (docs / "link.txt").symlink_to(docs / "menu.txt")
    ingestor = make_ingestor()
    first = ingestor.run([docs])
    assert first.added == 2 and first.skipped == {"symlink": 1}  # the .acl file itself is neither
    states = ingestor.store.doc_states()
    assert states["plan.txt"].acl == ("board", "legal") and states["menu.txt"].acl == ()
    (docs / "plan.txt.acl").write_text("board")
    report = ingestor.run([docs])
    assert (report.updated, report.chunks) == (1, 0) and ingestor.store.doc_states()["plan.txt"].acl == ("board",)
    (docs / "plan.txt.acl").write_text("x" * 300)
    with pytest.raises(UsageError, match=r"plan\.txt\.acl"):  # unreadable ACL: refused, never stored as public
        ingestor.run([docs])
