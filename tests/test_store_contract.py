"""One contract, two engines: the embedded Qdrant Edge shard and qdrant-client (':memory:' for the server)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag.config import Settings
from rag.errors import FilterError, ModelMismatchError, NotFoundError, StoreBusyError
from rag.filters import parse_filter
from rag.sparse import SparseEncoder
from rag.store.base import ChunkPoint, CollectionMeta, QuerySpec
from rag.store.edge import EdgeStore
from rag.store.server import ServerStore
from rag.wiring import index_config

META = CollectionMeta("test-model", 4)
SPARSE = SparseEncoder(avg_len=120.0)
# Configurable payload indexes on top of the fixed ones.
INDEX = index_config(Settings(payload_indexes="metadata.year:integer,metadata.tag:keyword"))


def spec(**kw) -> QuerySpec:
    return QuerySpec(**{"mode": "hybrid", "prefetch_limit": 100, "fusion": "rrf", **kw})


@pytest.fixture(params=["edge", "server"])
def store(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "edge":
        s = EdgeStore(tmp_path, "c", INDEX)
    else:
        from qdrant_client import QdrantClient

        s = ServerStore(QdrantClient(location=":memory:"), "c", shards=1, replicas=1, index=INDEX)
    yield s
    s.close()


def point(doc: str, h: str, i: int, vec: list[float], text: str, **meta) -> ChunkPoint:
    return ChunkPoint(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{doc}/{h}/{i}")),
        dense=np.array(vec, dtype=np.float32),
        sparse=SPARSE.document(text),
        payload={
            "doc_id": doc,
            "content_hash": h,
            "chunk_count": 2,
            "chunk_index": i,
            "text": text,
            "root": "/r",
            "source": f"/r/{doc}",
            "metadata": meta,
        },
    )


def seed(store) -> None:
    store.ensure(META)
    store.upsert(
        [
            point("a", "h1", 0, [1, 0, 0, 0], "red apples grow on trees", year=2001, tag="fruit"),
            point("a", "h1", 1, [0.9, 0.1, 0, 0], "apple pie recipe", year=2001, tag="food"),
            point("b", "h1", 0, [0, 1, 0, 0], "bananas are yellow", year=2015, tag="fruit"),
            point("b", "h1", 1, [0, 0.9, 0.1, 0], "banana bread", year=2015, tag="food"),
        ]
    )
    store.finish()


def assert_reads_as_empty(store) -> None:
    """What every reader answers for a collection that does not exist."""
    some = str(uuid.uuid4())
    assert store.meta() is None and store.count() == 0 and store.doc_states() == {}
    assert store.existing([some]) == set() and store.dense_vectors([some]) == {}
    assert store.doc_chunks("a") == [] and store.doc_of_chunk(some) is None and store.delete_debris() == 0
    with pytest.raises(NotFoundError):
        store.query(spec(limit=3, mode="dense", dense=[1, 0, 0, 0]))


def test_missing_collection(store) -> None:
    assert_reads_as_empty(store)


def test_meta_recorded_and_mismatch_refused(store) -> None:
    seed(store)
    assert store.meta() == META
    with pytest.raises(ModelMismatchError, match="test-model"):
        store.ensure(CollectionMeta("other-model", 8))


def test_modes(store) -> None:
    seed(store)
    dense = store.query(spec(limit=1, mode="dense", dense=[0, 1, 0, 0]))
    assert dense[0].payload["text"] == "bananas are yellow"
    sparse = store.query(spec(limit=1, mode="sparse", sparse=SPARSE.query("apple pie")))
    assert sparse[0].payload["text"] == "apple pie recipe"
    hybrid = store.query(spec(limit=4, dense=[0, 1, 0, 0], sparse=SPARSE.query("apple pie")))
    # Found by both prefetches, so RRF puts it first although neither ranks it alone on top of both.
    assert hybrid[0].payload["text"] == "apple pie recipe"
    assert len(hybrid) == 4

    def weighted(w: tuple[float, float]) -> str:
        one = spec(limit=1, prefetch_limit=1, dense=[0, 1, 0, 0], sparse=SPARSE.query("trees"), weights=w)
        return store.query(one)[0].payload["text"]

    assert weighted((5.0, 1.0)) == "bananas are yellow"
    assert weighted((1.0, 5.0)) == "red apples grow on trees"
    dbsf = store.query(spec(limit=2, dense=[0, 1, 0, 0], sparse=SPARSE.query("bread"), fusion="dbsf"))
    assert dbsf[0].payload["text"] in {"bananas are yellow", "banana bread"}


def test_filters(store) -> None:
    seed(store)

    def texts(flt) -> set[str]:
        query = spec(limit=10, mode="dense", dense=[1, 1, 0, 0], conditions=parse_filter(flt))
        return {h.payload["text"] for h in store.query(query)}

    assert texts({"tag": "food"}) == {"apple pie recipe", "banana bread"}
    assert texts({"doc_id": ["b"]}) == {"bananas are yellow", "banana bread"}
    assert texts({"year": {"gte": 2010}}) == {"bananas are yellow", "banana bread"}
    assert texts({"year": {"lt": 2010}, "tag": "fruit"}) == {"red apples grow on trees"}
    assert store.count(parse_filter({"tag": "fruit"})) == 2
    assert texts({"year": 2015.0}) == {"bananas are yellow", "banana bread"}  # JSON's 2015.0 is 2015


def test_metadata_keys_that_need_quoting(store) -> None:
    store.ensure(META)
    odd = {"Published on": 2020, "a": {"c d": "x"}, "emoji😀": "y", "x\n": "z"}
    store.upsert([point("q", "h1", 0, [1, 0, 0, 0], "quoted keys", **odd)])
    store.finish()
    for flt in ({"Published on": 2020}, {"a.c d": "x"}, {"emoji😀": "y"}, {"metadata.x\n": "z"}):
        assert store.count(parse_filter(flt)) == 1, flt
    with pytest.raises(FilterError, match="cannot hold"):
        parse_filter({'a"b': 1})


@pytest.fixture(scope="module")
def empty_edge(tmp_path_factory: pytest.TempPathFactory):
    edge = EdgeStore(tmp_path_factory.mktemp("keys"), "c", INDEX)
    edge.ensure(META)
    yield edge
    edge.close()


@settings(max_examples=300, deadline=None)
@given(key=st.text(min_size=1, max_size=12))
def test_any_filter_key_is_a_filter_error_or_a_query(empty_edge, key: str) -> None:
    """What the filter parser lets through, the engine takes (odd keys used to fail inside Qdrant: a 500)."""
    try:
        conditions = parse_filter({key: 1})
    except FilterError:
        return
    assert empty_edge.count(conditions) == 0


def test_replace_then_delete_and_states(store) -> None:
    seed(store)
    states = store.doc_states()
    assert states["a"].is_complete("h1") and not states["a"].is_complete("h2")
    store.upsert([point("a", "h2", 0, [1, 0, 0, 0], "green apples"), point("a", "h2", 1, [1, 0, 0, 0], "cider")])
    assert not store.doc_states()["a"].is_complete("h2")  # two versions side by side
    store.delete_stale("a", "h2")
    assert store.doc_states()["a"].is_complete("h2")
    assert store.count() == 4
    store.delete_docs(["a"])
    assert set(store.doc_states()) == {"b"}


def test_debris_is_skipped_then_deleted(store) -> None:
    seed(store)
    debris = point("x", "h1", 0, [0, 0, 1, 0], "no payload fields")
    debris.payload.clear()  # what a failure between a point's vectors and its payload could leave
    store.upsert([debris])
    assert set(store.doc_states()) == {"a", "b"}  # skipped, not a KeyError on every later ingest
    assert store.delete_debris() == 1 and store.delete_debris() == 0
    assert store.count() == 4


def test_upsert_is_idempotent(store) -> None:
    seed(store)
    seed(store)
    assert store.count() == 4


def test_existing_point_ids(store) -> None:
    stored, missing = point("a", "h1", 1, [1, 0, 0, 0], "x").id, point("a", "h2", 0, [1, 0, 0, 0], "x").id
    assert store.existing([stored]) == set()  # no collection yet
    seed(store)
    assert store.existing([stored, missing]) == {stored} and store.existing([]) == set()


def test_edge_store_busy_in_another_process(tmp_path: Path) -> None:
    s = EdgeStore(tmp_path, "c", INDEX)
    s.ensure(META)
    s.close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time;from tests.test_store_contract import INDEX;from rag.store.edge import EdgeStore;"
            "s=EdgeStore(sys.argv[1],'c',INDEX);s.count();"
            "print('ready',flush=True);time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreBusyError, match="in use by another process"):
            EdgeStore(tmp_path, "c", INDEX).count()
    finally:
        holder.kill()
        holder.wait()


def test_date_range_filter(store) -> None:
    store.ensure(META)
    store.upsert(
        [
            point("old", "h", 0, [1, 0, 0, 0], "old news", published="2019-05-01T00:00:00Z"),
            point("new", "h", 0, [1, 0, 0, 0], "new news", published="2024-02-01T00:00:00Z"),
        ]
    )
    query = spec(
        limit=5,
        mode="dense",
        dense=[1, 0, 0, 0],
        conditions=parse_filter({"published": {"gte": "2023-01-01T00:00:00Z"}}),
    )
    assert [h.payload["doc_id"] for h in store.query(query)] == ["new"]


class _CountingClient:
    """A qdrant-client that counts its calls: each is a round trip to a real server."""

    def __init__(self, client) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def counted(*args, **kwargs):
            self.calls.append(name)
            return attr(*args, **kwargs)

        return counted


def test_server_search_is_one_round_trip_once_the_collection_is_known() -> None:
    from qdrant_client import QdrantClient

    client = _CountingClient(QdrantClient(location=":memory:"))
    s = ServerStore(client, "c", shards=1, replicas=1, index=INDEX)
    seed(s)
    query = spec(limit=2, dense=[1, 0, 0, 0], sparse=SPARSE.query("apple"))
    for _ in range(2):  # what the retriever does per search
        assert s.meta() == META
        assert s.query(query)
    client.calls.clear()
    assert s.meta() == META and s.query(query)
    assert client.calls == ["query_points"]  # it was four: exists + get (meta), exists + query
    # The other readers: one call each too (each asked first whether the collection exists).
    a0 = point("a", "h1", 0, [1, 0, 0, 0], "x").id
    client.calls.clear()
    assert s.existing([a0]) == {a0} and set(s.dense_vectors([a0])) == {a0} and s.doc_of_chunk(a0) == "a"
    assert s.count() == 4 and len(s.doc_chunks("a")) == 2 and set(s.doc_states()) == {"a", "b"}
    assert client.calls == ["retrieve", "retrieve", "retrieve", "count", "scroll", "scroll"]
    # Deleted on the server: the next query says so, and the model is read again.
    client.delete_collection("c")
    with pytest.raises(NotFoundError, match="'c' does not exist"):
        s.query(query)
    assert s.meta() is None
    s.ensure(META)  # made again: read again, and the readers find it
    client.delete_collection("c")
    assert s.count() == 0 and s.meta() is None  # a reader that finds it gone forgets the model too


class _NotFound(BaseHTTPRequestHandler):
    """A Qdrant server without the collection: ``exists`` says false, every other request gets its 404 body."""

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.endswith("/exists"):
            status, answer = 200, {"result": {"exists": False}, "status": "ok", "time": 0.0}
        else:
            status, answer = 404, {"status": {"error": "Not found: Collection `c` doesn't exist!"}, "time": 0.0}
        body = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


def test_server_404_for_a_query_is_not_found() -> None:
    from qdrant_client import QdrantClient

    server = ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = QdrantClient(url=f"http://127.0.0.1:{server.server_address[1]}", check_compatibility=False)
        s = ServerStore(client, "c", shards=1, replicas=1, index=INDEX)
        with pytest.raises(NotFoundError, match="'c' does not exist"):
            s.query(spec(limit=2, mode="dense", dense=[1, 0, 0, 0]))
        assert_reads_as_empty(s)  # every reader takes the server's 404 for "nothing stored"
    finally:
        server.shutdown()
