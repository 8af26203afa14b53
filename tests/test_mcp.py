"""The MCP server driven by the official MCP client: in-process, over stdio (`rag mcp` as a subprocess) and over
streamable HTTP (`/mcp/` of a real uvicorn server, behind scoped keys). The real store and MiniLM; a fake
Gemini behind answers."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from rag.access import unrestricted
from rag.config import Settings
from rag.edges.api.app import create_app
from rag.edges.mcp_tools import build_mcp
from rag.embedding import Embedder
from rag.key_file import KeyEntry, key_hash, write_keys
from rag.service import Service
from testkit.gemini import gemini_server
from testkit.judges import judge, keyword_grade
from tests.live_server import live_server

RECORDS = [
    {"_id": "penguins", "title": "Penguins", "text": "Penguins live in the southern hemisphere. " * 40},
    {"_id": "owls", "title": "Owls", "text": "Owls hunt at night.", "acl": ["team-a"]},
]


@pytest.fixture
def state(tmp_path: Path, embedder: Embedder) -> Iterator[Service]:
    with gemini_server() as llm:
        llm.fake.responder = judge(keyword_grade)
        settings = Settings(data_dir=tmp_path / "data", gemini_api_key="k", gemini_base_url=llm.url, mcp_max_bytes=1200)
        server = Service(settings, embedder)
        server.ingest_records(RECORDS, None)
        yield server
        server.close()


def test_tools_in_process(state: Service) -> None:
    async def go() -> None:
        async with Client(build_mcp(state.settings, lambda: state, unrestricted("local"))) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == {"search", "fetch", "answer", "list_collections"}
            assert "doc_id" in tools["search"].description and tools["search"].input_schema["required"] == ["query"]

            found = await client.call_tool("search", {"query": "where do penguins live", "top_k": 2})
            assert not found.is_error
            results = found.structured_content["results"]
            assert results[0]["doc_id"] == "penguins" and results[0]["title"] == "Penguins"
            assert len(str(found.structured_content).encode()) < 1400  # trimmed to RAGLINE_MCP_MAX_BYTES

            doc = (await client.call_tool("fetch", {"id": "penguins"})).structured_content
            assert doc["title"] == "Penguins" and doc["text"].startswith("Penguins live") and doc["text"].endswith("…")
            chunk = (await client.call_tool("fetch", {"id": results[0]["chunk_id"]})).structured_content
            assert chunk["chunk_id"] == results[0]["chunk_id"] and chunk["doc_id"] == "penguins"

            answer = (await client.call_tool("answer", {"question": "where do penguins live"})).structured_content
            assert answer["status"] == "ok" and answer["citations"][0]["doc_id"] == "penguins"

            listed = (await client.call_tool("list_collections", {})).structured_content
            assert listed == {"collections": [{"name": "documents", "chunks": listed["collections"][0]["chunks"]}]}

            # Bad arguments and unknown things are tool errors the model can read, not crashes.
            for name, args, says in [
                ("search", {"query": ""}, "at least 1 character"),
                ("search", {"query": "x", "top_k": 500}, "less than or equal to 100"),
                ("search", {"query": "x", "filter": {"year": {"near": 1}}}, "unknown operator"),
                ("search", {"query": "x", "collection": "../etc"}, "not a valid name"),
                ("fetch", {"id": "nope"}, "no document"),
            ]:
                r = await client.call_tool(name, args)
                assert r.is_error and says in r.content[0].text, (name, r.content[0].text)

    asyncio.run(go())


def test_stdio_server(tmp_path: Path, state: Service) -> None:
    state.close()  # the embedded store admits one process: hand it to `rag mcp`
    env = {**os.environ, "RAGLINE_DATA_DIR": str(tmp_path / "data"), "RAGLINE_LLM": "none"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "rag.edges.cli", "mcp"], env=env)

    async def go() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            assert {t.name for t in (await client.list_tools()).tools} >= {"search", "fetch"}
            r = await client.call_tool("search", {"query": "night hunters", "rerank": False})
            # The local operator sees every document, ACLs or not.
            assert r.structured_content["results"][0]["doc_id"] == "owls"

    asyncio.run(go())


def test_http_endpoint_behind_scoped_keys(tmp_path: Path, state: Service) -> None:
    keys = tmp_path / "keys.toml"
    write_keys(
        keys,
        [
            KeyEntry(name="a", sha256=key_hash("key-a"), scopes=("read",), collections=("*",), groups=("team-a",)),
            KeyEntry(name="b", sha256=key_hash("key-b"), scopes=("read",), collections=("*",)),
            KeyEntry(name="w", sha256=key_hash("key-w"), scopes=("write",), collections=("*",)),
        ],
    )
    settings = state.settings.model_copy(update={"api_keys_file": keys})

    async def call_as(key: str | None, tool: str, args: dict) -> object:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=60) as http,
            Client(streamable_http_client(url, http_client=http)) as client,
        ):
            return await client.call_tool(tool, args)

    def search_as(key: str | None) -> object:
        return call_as(key, "search", {"query": "night hunters", "rerank": False})

    with live_server(create_app(settings, state)) as base:
        url = f"{base}/mcp/"
        seen_a = asyncio.run(search_as("key-a")).structured_content["results"]
        seen_b = asyncio.run(search_as("key-b")).structured_content["results"]
        assert "owls" in {r["doc_id"] for r in seen_a} and "owls" not in {r["doc_id"] for r in seen_b}
        owl_chunk = next(r["chunk_id"] for r in seen_a if r["doc_id"] == "owls")
        for key, target in (("key-b", "owls"), ("key-b", owl_chunk)):  # not by doc id, not by chunk id
            hidden = asyncio.run(call_as(key, "fetch", {"id": target}))
            assert hidden.is_error and "no document or chunk" in hidden.content[0].text
        assert asyncio.run(call_as("key-a", "fetch", {"id": owl_chunk})).structured_content["doc_id"] == "owls"
        refused = asyncio.run(search_as("key-w"))
        assert refused.is_error and "'read' scope" in refused.content[0].text
        with pytest.raises(Exception):  # noqa: B017 - the transport refuses a 401 in its own way
            asyncio.run(search_as(None))
        assert httpx2.post(url, json={}, timeout=10).status_code == 401
