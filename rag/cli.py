"""``rag`` command: search (and later serve, ask, eval) over the same core the API uses."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import asdict

from rag.cli_support import EXIT_OK, fail
from rag.components import make_retriever
from rag.config import get_settings
from rag.errors import RaglineError
from rag.filters import parse_cli_filters
from rag.retrieval import SearchOptions, SearchOutput


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


def search_json(out: SearchOutput) -> dict:
    return {"results": [asdict(r) for r in out.results], "timings_ms": out.timings_ms}


def _print_human(out: SearchOutput) -> None:
    if not out.results:
        print("no results")
    for n, r in enumerate(out.results, start=1):
        print(f"{n}. {r.doc_id}  (score {r.score:.4f})  {r.title}")
        print(textwrap.indent(textwrap.shorten(r.text, width=300, placeholder=" …"), "   "))


def _search(args: argparse.Namespace) -> int:
    settings = get_settings().with_overrides(collection=args.collection)
    retriever = make_retriever(settings)
    try:
        opts = SearchOptions(
            top_k=args.top_k, mode=args.mode or settings.mode, conditions=parse_cli_filters(args.filter)
        )
        out = retriever.search(args.query, opts)
    finally:
        retriever.store.close()
    if args.json:
        print(json.dumps(search_json(out)))
    else:
        _print_human(out)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        if not args.query.strip():
            print("rag: error: the query is empty", file=sys.stderr)
            return 2
        return _search(args)
    except (RaglineError, ValueError) as exc:
        return fail(exc, "rag")


if __name__ == "__main__":
    raise SystemExit(main())
