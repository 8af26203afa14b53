"""``rag`` command: search, ask, serve — the same core the API uses."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import asdict

from rag.cli_support import EXIT_OK, EXIT_UNAVAILABLE, fail
from rag.components import make_flow, make_llm, make_meter, make_retriever
from rag.config import Settings, get_settings
from rag.errors import RaglineError
from rag.filters import parse_cli_filters
from rag.flow import QueryFlow, SearchReply
from rag.retrieval import Retriever, SearchOptions


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="ragline: hybrid retrieval over your documents.")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("search", help="search the collection without a server")
    s.add_argument("query")
    s.add_argument("--top-k", type=int, default=5)
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
    v = sub.add_parser("serve", help="run the HTTP API")
    v.add_argument("--host", default="127.0.0.1")
    v.add_argument("--port", type=int, default=8000)
    v.add_argument("--collection")
    return p


def _serve(args: argparse.Namespace) -> int:
    import logging

    import uvicorn

    from rag.api.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings().with_overrides(collection=args.collection)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
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


def _core(settings: Settings, collection: str | None) -> tuple[Retriever, QueryFlow]:
    retriever = make_retriever(settings.with_overrides(collection=collection))
    return retriever, make_flow(settings, make_llm(settings), make_meter(settings))


def _search(args: argparse.Namespace) -> int:
    settings = get_settings()
    retriever, flow = _core(settings, args.collection)
    try:
        opts = SearchOptions(
            top_k=args.top_k, mode=args.mode or settings.mode, conditions=parse_cli_filters(args.filter)
        )
        reply = flow.search(retriever, args.query, opts, rerank=args.rerank)
    finally:
        retriever.store.close()
    if args.json:
        print(json.dumps(_reply_json(reply)))
    else:
        _print_results(reply)
    return EXIT_OK


def _ask(args: argparse.Namespace) -> int:
    settings = get_settings()
    retriever, flow = _core(settings, args.collection)
    opts = SearchOptions(
        top_k=args.top_k or settings.answer_passages, mode=settings.mode, conditions=parse_cli_filters(args.filter)
    )
    passages: list[dict] = []
    done: dict = {}
    try:
        for event in flow.answer(retriever, args.question, opts):
            if event.name == "passages":
                passages = event.data["results"]
            elif event.name == "token" and not args.json:
                print(event.data["text"], end="", flush=True)
            elif event.name == "done":
                done = event.data
    finally:
        retriever.store.close()
    if args.json:
        print(json.dumps({**done, "results": passages}))
    else:
        print()
        if done["citations"]:
            print("\nSources:")
        for c in done["citations"]:
            print(f"[{c['n']}] {c['doc_id']}  {c['title']}  ({c['source']})")
        usage = done["usage"]
        print(
            f"\n{usage['calls']} LLM calls, {usage['input_tokens']} in / {usage['output_tokens']} out tokens, "
            f"${usage['cost_usd']:.6f}",
            file=sys.stderr,
        )
    if done["status"] == "failed":
        print(f"rag: error: no answer: {done['reason']}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        text = args.query if args.command == "search" else args.question
        if not text.strip():
            print(f"rag: error: the {'query' if args.command == 'search' else 'question'} is empty", file=sys.stderr)
            return 2
        return _search(args) if args.command == "search" else _ask(args)
    except (RaglineError, ValueError) as exc:
        return fail(exc, "rag")


if __name__ == "__main__":
    raise SystemExit(main())
