"""``rag`` command: search, ask, eval, cost, serve, mcp, keys, delete — the same core the API uses."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import asdict
from pathlib import Path

from rag.config import get_settings
from rag.edges import keys_cli, measure_cli
from rag.edges.exit_codes import EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, fail
from rag.errors import (
    FilterError,
    NotFoundError,
    RaglineError,
)
from rag.filters import parse_filter
from rag.query_pipeline import SearchReply
from rag.service import Service
from rag.store.base import Condition, Scalar


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="ragline: hybrid retrieval over your documents.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("search", help="search the collection without a server")
    s.add_argument("query")
    s.add_argument("--top-k", type=int, default=None, help="results (default: RAGLINE_TOP_K)")
    s.add_argument("--mode", choices=["dense", "sparse", "hybrid"], default=None)
    s.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE", help="repeatable")
    s.add_argument("--collection")
    s.add_argument("--json", action="store_true", help="print the API's JSON")
    s.add_argument(
        "--rerank", action=argparse.BooleanOptionalAction, default=None, help="rerank with the LLM (RAGLINE_RERANK)"
    )
    a = sub.add_parser("ask", help="answer a question with cited passages (needs an LLM)")
    a.add_argument("question")
    a.add_argument("--top-k", type=int, default=None, help="passages to ground the answer in")
    a.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE", help="repeatable")
    a.add_argument("--collection")
    a.add_argument("--json", action="store_true", help="print one JSON object instead of streaming")
    e = sub.add_parser("eval", help="score retrieval (and rerank) on a BEIR-layout dataset")
    e.add_argument("dataset", type=Path, help="folder with corpus.jsonl, queries.jsonl, qrels/<split>.tsv")
    e.add_argument("--split", default="test")
    e.add_argument("--mode", action="append", choices=["dense", "sparse", "hybrid"], help="repeatable: one row each")
    e.add_argument("--rerank", action="store_true", help="rerank each query's top candidates with the LLM")
    e.add_argument("--top-k", type=int, default=100)
    e.add_argument("--collection", help="default: beir-<dataset folder name>")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    c = sub.add_parser("cost", help="LLM cost per query as measured, and per month: Gemini API vs a rented GPU")
    c.add_argument("--queries-per-month", type=int, default=100_000)
    c.add_argument("--server", metavar="URL", help="read a running server's /v1/usage instead of RAGLINE_USAGE_LOG")
    c.add_argument("--api-key", help="API key for --server (default: the first of RAGLINE_API_KEYS)")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    v = sub.add_parser("serve", help="run the HTTP API")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=8000)
    v.add_argument("--collection")
    m = sub.add_parser("mcp", help="serve the MCP tools over stdio (for desktop agents)")
    m.add_argument("--collection", help="default collection of the tools")
    d = sub.add_parser("delete", help="delete documents by doc id (as `rag search` shows them)")
    d.add_argument("doc_ids", nargs="+", metavar="DOC_ID")
    d.add_argument("--collection")
    keys_cli.add_parser(sub)
    return p


def _delete(args: argparse.Namespace) -> int:
    """Deletes each named document; a name not found is reported and the others are still deleted."""
    settings = get_settings().with_overrides(collection=args.collection)
    server = Service(settings, with_llm=False)
    missing = []
    try:
        for doc_id in args.doc_ids:
            try:
                server.delete_document(doc_id, args.collection)
                print(f"deleted {doc_id}")
            except NotFoundError as exc:
                missing.append(exc)
    finally:
        server.close()
    if missing:
        return fail(NotFoundError("; ".join(map(str, missing))), "rag")
    return EXIT_OK


def _serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from rag.edges.api.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings().with_overrides(collection=args.collection)
    # Loaded before the server starts, so a data dir without room or a busy store is one line and an exit
    # code rather than a failed-startup traceback.
    server = Service(settings)
    try:
        app = create_app(settings, server)  # a bad key file stops here, before the model loads
        server.load()
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        server.close()
    return EXIT_OK


def _mcp(args: argparse.Namespace) -> int:
    import logging

    from rag.access import unrestricted
    from rag.edges.mcp_tools import build_mcp

    # stdout carries the protocol: logs go to stderr.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    settings = get_settings().with_overrides(collection=args.collection)
    server = Service(settings)
    try:
        server.load()
        # The local operator's own store: every collection and document, as `rag search` sees them.
        build_mcp(settings, lambda: server, unrestricted("local")).run("stdio")
    finally:
        server.close()
    return EXIT_OK


def _reply_json(reply: SearchReply) -> dict:
    return {
        "results": [asdict(r) for r in reply.results],
        "rerank": reply.rerank,
        "usage": reply.usage.as_dict(),
        "timings_ms": reply.timings_ms,
    }


def _print_results(reply: SearchReply) -> None:
    if not reply.results:
        print("no results")
    for n, r in enumerate(reply.results, start=1):
        print(f"{n}. {r.doc_id}  (score {r.score:.4f})  {r.title}")
        print(textwrap.indent(textwrap.shorten(r.text, width=300, placeholder=" …"), "   "))
    if reply.rerank["status"] in ("fallback", "skipped"):
        print(f"(not reranked: {reply.rerank['reason']})", file=sys.stderr)


def parse_cli_filters(pairs: list[str]) -> tuple[Condition, ...]:
    """``KEY=VALUE`` flags; repeating a key makes an any-of. Integers are matched as integers."""
    grouped: dict[str, list[Scalar]] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise FilterError(f"--filter {pair!r}: expected KEY=VALUE")
        value: Scalar = int(raw) if raw.lstrip("-").isdigit() else raw
        grouped.setdefault(key, []).append(value)
    return parse_filter({k: v[0] if len(v) == 1 else v for k, v in grouped.items()})


def _session(collection: str | None = None, with_llm: bool = True) -> Service:
    """The process object for one command; closed (every store it opened) when the command ends."""
    return Service(get_settings().with_overrides(collection=collection), with_llm=with_llm)


def _search(args: argparse.Namespace) -> int:
    with _session(args.collection) as session:
        pipeline = session.parts.pipeline
        opts = pipeline.options(top_k=args.top_k, mode=args.mode, conditions=parse_cli_filters(args.filter))
        reply = pipeline.search(args.query, opts, rerank=args.rerank)
    if args.json:
        print(json.dumps(_reply_json(reply)))
    else:
        _print_results(reply)
    return EXIT_OK


def _ask(args: argparse.Namespace) -> int:
    passages: list[dict] = []
    done: dict = {}
    with _session(args.collection) as session:
        pipeline = session.parts.pipeline
        opts = pipeline.answer_options(args.top_k, parse_cli_filters(args.filter))
        for event in pipeline.answer(args.question, opts):
            if event.name == "passages":
                passages = event.data["results"]
            elif event.name == "token" and not args.json:
                print(event.data["text"], end="", flush=True)
            elif event.name == "done":
                done = event.data
    if args.json:
        print(json.dumps({**done, "results": passages}))
    else:
        print()
        if done["citations"]:
            print("\nSources:")
        for c in done["citations"]:
            print(f"[{c['n']}] {c['doc_id']}  {c['title']}  ({c['source']})")
        unsupported = [c for c in done.get("claims") or [] if not c["supported"]]
        if unsupported:
            print(f"\nNot supported by what they cite ({len(unsupported)}, a similarity check):")
        for c in unsupported:
            cites = ", ".join(map(str, c["cites"])) or "nothing"
            support = "" if c["support"] is None else f", support {c['support']:.2f}"
            print(f"- {c['text']} (cites {cites}{support})")
        usage = done["usage"]
        print(
            f"\n{usage['calls']} LLM calls, {usage['input_tokens']} in / {usage['output_tokens']} out tokens, "
            f"${usage['cost_usd']:.6f}",
            file=sys.stderr,
        )
    if done["status"] in ("failed", "blocked"):
        print(f"rag: error: no answer: {done['reason']}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "cost":
            return measure_cli.cost(args)
        if args.command == "eval":
            return measure_cli.evaluate(args)
        if args.command == "keys":
            return keys_cli.run(args)
        if args.command == "mcp":
            return _mcp(args)
        if args.command == "delete":
            return _delete(args)
        text = args.query if args.command == "search" else args.question
        if not text.strip():
            print(f"rag: error: the {'query' if args.command == 'search' else 'question'} is empty", file=sys.stderr)
            return EXIT_USAGE
        return _search(args) if args.command == "search" else _ask(args)
    except RaglineError as exc:
        return fail(exc, "rag")


if __name__ == "__main__":
    raise SystemExit(main())
