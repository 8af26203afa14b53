"""``rag keys add|list|revoke``: edit the API key file (RAGLINE_API_KEYS_FILE or --file). A new key is printed
once; only its SHA-256 is stored."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rag.access import SCOPES
from rag.config import get_settings
from rag.edges.exit_codes import EXIT_OK
from rag.errors import UsageError
from rag.key_file import KeyEntry, key_hash, new_key, read_keys, write_keys


def add_parser(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser("keys", help="manage API keys in the key file (RAGLINE_API_KEYS_FILE)")
    k.add_argument("--file", type=Path, help="key file (default: RAGLINE_API_KEYS_FILE)")
    ks = k.add_subparsers(dest="keys_command", required=True)
    a = ks.add_parser("add", help="make a key and print it once")
    a.add_argument("name")
    a.add_argument("--scope", action="append", choices=SCOPES, required=True, help="repeatable")
    a.add_argument("--collection", action="append", required=True, help="repeatable; '*' for all")
    a.add_argument("--group", action="append", default=[], help="repeatable: groups matched against ACLs")
    a.add_argument("--rpm", type=int, help="requests a minute (default: RAGLINE_KEY_RPM)")
    ks.add_parser("list", help="names, scopes, collections, groups (never keys)")
    r = ks.add_parser("revoke", help="remove a key by name")
    r.add_argument("name")


def run(args: argparse.Namespace) -> int:
    path = args.file or get_settings().api_keys_file
    if path is None:
        raise UsageError("no key file: set RAGLINE_API_KEYS_FILE or pass --file")
    entries = read_keys(path)
    if args.keys_command == "list":
        for e in entries:
            print(json.dumps(e.model_dump(exclude={"sha256"}, exclude_none=True)))
        return EXIT_OK
    if args.keys_command == "revoke":
        kept = [e for e in entries if e.name != args.name]
        if len(kept) == len(entries):
            raise UsageError(f"no key named {args.name!r} in {path}")
        write_keys(path, kept)
        print(f"revoked {args.name!r}")
        return EXIT_OK
    if any(e.name == args.name for e in entries):
        raise UsageError(f"a key named {args.name!r} exists; revoke it first")
    key = new_key()
    try:
        entry = KeyEntry(
            name=args.name,
            sha256=key_hash(key),
            scopes=tuple(dict.fromkeys(args.scope)),
            collections=tuple(dict.fromkeys(args.collection)),
            groups=tuple(dict.fromkeys(args.group)),
            rpm=args.rpm,
        )
    except ValueError as exc:
        raise UsageError(f"keys add: {exc}") from None
    write_keys(path, [*entries, entry])
    print(key)  # the only time it is shown
    return EXIT_OK
