"""ragline as Model Context Protocol tools for agents: search, fetch, answer, list_collections.

A thin edge over the same query pipeline, stores and permissions as the HTTP API. Served over stdio by
``rag mcp`` (the local operator: every collection and document) and mounted in ``rag serve`` at ``/mcp``
(streamable HTTP, behind the same API keys: each tool call acts as the calling key). Replies are trimmed to
``RAGLINE_MCP_MAX_BYTES`` so they fit a model's context window.
"""

# No ``from __future__ import annotations``: the SDK reads the tools' signatures at run time, and their limits
# (Field(max_length=settings...)) are closures of build_mcp.
import json
import re
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from rag.access import Principal, Scope
from rag.config import MAX_ANSWER_PASSAGES, Settings
from rag.errors import NotFoundError, RaglineError
from rag.filters import parse_filter
from rag.retrieval import MAX_TOP_K
from rag.service import Service
from rag.store.base import visible_to
from rag.stored_chunk import TEXT, SearchResult

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
INSTRUCTIONS = (
    "ragline searches the user's document collections (hybrid keyword + semantic retrieval, LLM-reranked). "
    "Call `search` with a natural-language query to find passages; each result has a doc_id. Call `fetch` "
    "with a doc_id to read that whole document. Call `answer` for a cited answer written from the passages. "
    "`list_collections` names the collections you may search."
)


def _trim(items: list[dict[str, Any]], text_key: str, budget: int) -> list[dict[str, Any]]:
    """Shorten each item's text evenly until the whole list fits ``budget`` bytes of JSON."""
    size = len(json.dumps(items).encode())
    if size <= budget or not items:
        return items
    overhead = size - sum(len(i[text_key].encode()) for i in items)
    each = max(40, (budget - overhead) // len(items))
    return [{**i, text_key: i[text_key][:each] + ("…" if len(i[text_key]) > each else "")} for i in items]


def _passage(r: SearchResult) -> dict[str, Any]:
    page = r.metadata.get("page")
    return {
        "doc_id": r.doc_id,
        "chunk_id": r.chunk_id,
        "title": r.title,
        "source": r.source.rsplit("/", 1)[-1],
        **({"page": page} if page is not None else {}),
        "score": round(r.score, 4),
        "text": r.text,
    }


def request_principal(ctx: Context) -> Principal | None:
    """The key the HTTP API's authenticator found for the request carrying this tool call (None: not HTTP)."""
    request = ctx.request_context.request
    state = getattr(request, "scope", {}).get("state") or {}
    return state.get("principal")


class _Tools:
    """What the tools do, apart from how MCP declares them: the caller's checks, then the query pipeline."""

    def __init__(
        self,
        settings: Settings,
        state_of: Callable[[], Service],
        default: Principal,
        principal_of: Callable[[Context], Principal | None],
    ) -> None:
        self.settings = settings
        self.state_of = state_of
        self.default = default
        self.principal_of = principal_of
        self.budget = settings.mcp_max_bytes

    def caller(self, ctx: Context, scope: Scope, collection: str | None) -> Principal:
        who = self.principal_of(ctx) or self.default
        name = self.settings.collection if collection is None else collection
        if not who.can(scope):
            raise ToolError(f"this key ({who.name}) lacks the {scope!r} scope")
        if not who.may_use(name):
            raise ToolError(f"collection {name!r} does not exist; ingest documents into it first")
        return who

    @staticmethod
    def run(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return fn()
        except RaglineError as exc:  # a tool error the model can read and act on, never a crash
            raise ToolError(str(exc)) from None

    def search(
        self,
        who: Principal,
        query: str,
        top_k: int | None,
        collection: str | None,
        filter: dict[str, Any] | None,
        rerank: bool | None,
    ) -> dict[str, Any]:
        pipeline = self.state_of().pipeline
        opts = pipeline.options(top_k=top_k, conditions=parse_filter(filter), visible_to=who.identities)
        reply = pipeline.search(query, opts, collection, rerank)
        passages = _trim([_passage(r) for r in reply.results], "text", self.budget)
        return {"results": passages, "rerank": reply.rerank["status"]}

    def fetch(self, who: Principal, id: str, collection: str | None) -> dict[str, Any]:
        store = self.state_of().stores(collection)
        acl = () if who.identities is None else (visible_to(who.identities),)
        chunks, chunk_id = store.doc_chunks(id, acl), None
        if not chunks and _UUID.fullmatch(id) and (owner := store.doc_of_chunk(id)):
            # The chunk's document, read under the caller's ACL like any other: then the one chunk.
            chunks, chunk_id = [c for c in store.doc_chunks(owner, acl) if c.id == id], id
        if not chunks:
            raise NotFoundError(f"no document or chunk {id!r}")
        first = SearchResult.from_payload(chunks[0].id, 0.0, chunks[0].payload)
        text = "\n".join(c.payload.get(TEXT, "") for c in chunks)
        doc = {"doc_id": first.doc_id, "title": first.title, "source": first.source.rsplit("/", 1)[-1]}
        doc |= {"chunk_id": chunk_id} if chunk_id else {"chunks": len(chunks)}
        doc |= {"metadata": first.metadata, "text": text}
        return _trim([doc], "text", self.budget)[0]

    def answer(
        self,
        who: Principal,
        question: str,
        top_k: int | None,
        collection: str | None,
        filter: dict[str, Any] | None,
    ) -> dict[str, Any]:
        pipeline = self.state_of().pipeline
        opts = pipeline.answer_options(top_k, parse_filter(filter), who.identities)
        done = next(e for e in pipeline.answer(question, opts, collection) if e.name == "done").data
        keep = ("answer", "status", "reason", "citations", "claims", "unsupported_claims")
        return {k: done[k] for k in keep}

    def collections(self, ctx: Context) -> dict[str, Any]:
        who = self.principal_of(ctx) or self.default
        names = [c for c in self.state_of().collections() if who.can("admin") or who.may_use(c["name"])]
        return {"collections": [{"name": c["name"], "chunks": c["points"]} for c in names]}


Collection = Annotated[str | None, Field(description="Collection; the default when omitted.")]
SearchTopK = Annotated[
    int | None, Field(ge=1, le=MAX_TOP_K, description="How many passages; RAGLINE_TOP_K when omitted.")
]
AnswerTopK = Annotated[int | None, Field(ge=1, le=MAX_ANSWER_PASSAGES, description="Passages to ground it in.")]
MetadataFilter = Annotated[
    dict[str, Any] | None,
    Field(description='Metadata filter, e.g. {"year": {"gte": 2020}} or {"source": "a.pdf"}.'),
]


def build_mcp(
    settings: Settings,
    state_of: Callable[[], Service],
    default: Principal,
    principal_of: Callable[[Context], Principal | None] = request_principal,
) -> MCPServer:
    """The MCP server over the serving state ``state_of()`` gives; ``principal_of`` finds the caller of a tool
    call, ``default`` acts where there is none (stdio, in-process)."""
    mcp = MCPServer(name="ragline", instructions=INSTRUCTIONS, log_level="WARNING")
    tools = _Tools(settings, state_of, default, principal_of)
    Text = Annotated[str, Field(min_length=1, max_length=settings.max_query_chars, description="What to find.")]

    @mcp.tool()
    def search(
        query: Text,
        ctx: Context,
        top_k: SearchTopK = None,
        collection: Collection = None,
        filter: MetadataFilter = None,
        rerank: Annotated[bool | None, Field(description="LLM reranking; the server's default when omitted.")] = None,
    ) -> dict[str, Any]:
        """Search the documents; returns the best passages, each with its doc_id (for `fetch`), title, source
        file, page when known, score and text."""
        who = tools.caller(ctx, "read", collection)
        return tools.run(lambda: tools.search(who, query, top_k, collection, filter, rerank))

    @mcp.tool()
    def fetch(
        id: Annotated[str, Field(min_length=1, description="A doc_id, or a chunk_id, from search results.")],
        ctx: Context,
        collection: Collection = None,
    ) -> dict[str, Any]:
        """Read a whole document by its doc_id (title, source, metadata, text trimmed to fit), or one passage by
        its chunk_id."""
        who = tools.caller(ctx, "read", collection)
        return tools.run(lambda: tools.fetch(who, id, collection))

    @mcp.tool()
    def answer(
        question: Annotated[str, Field(min_length=1, max_length=settings.max_query_chars)],
        ctx: Context,
        top_k: AnswerTopK = None,
        collection: Collection = None,
        filter: MetadataFilter = None,
    ) -> dict[str, Any]:
        """A short answer written from the documents, with [n] citations mapped to doc_ids and each claim checked
        against what it cites. `status` says whether generation worked (ok) or why not (failed, blocked,
        truncated)."""
        who = tools.caller(ctx, "read", collection)
        return tools.run(lambda: tools.answer(who, question, top_k, collection, filter))

    @mcp.tool()
    def list_collections(ctx: Context) -> dict[str, Any]:
        """The collections you may search, with their sizes in chunks."""
        return tools.collections(ctx)

    return mcp
