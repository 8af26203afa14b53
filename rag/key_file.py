"""The API key file (``RAGLINE_API_KEYS_FILE``, TOML or JSON): each key by its SHA-256, never the key itself,
with a name, scopes, the collections it may use and the groups its documents' ACLs are matched against.

    [[keys]]
    name = "alice"
    sha256 = "<64 hex digits>"
    scopes = ["read"]
    collections = ["docs"]      # or ["*"]
    groups = ["team-a"]
    rpm = 120                   # optional: requests a minute (RAGLINE_KEY_RPM otherwise)

``rag keys add|list|revoke`` edit it; a running server re-reads it when it changes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rag.access import ANY_COLLECTION, SCOPES, Principal
from rag.config import COLLECTION_NAME_PATTERN
from rag.errors import ConfigError

log = logging.getLogger("ragline.keys")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_COLLECTION = re.compile(COLLECTION_NAME_PATTERN)


class KeyEntry(BaseModel):
    """One key of the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=_NAME.pattern)
    sha256: str
    scopes: tuple[str, ...] = Field(min_length=1)
    collections: tuple[str, ...] = Field(min_length=1)
    groups: tuple[str, ...] = ()
    rpm: int | None = Field(None, ge=0)

    @field_validator("sha256")
    @classmethod
    def _a_hash(cls, value: str) -> str:
        if not _HEX64.fullmatch(value):
            raise ValueError("must be the key's SHA-256 in 64 lowercase hex digits, never the key itself")
        return value

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(SCOPES))
        if unknown:
            raise ValueError(f"unknown scope {unknown[0]!r}; use {', '.join(SCOPES)}")
        return value

    @field_validator("collections")
    @classmethod
    def _collection_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if name != ANY_COLLECTION and not _COLLECTION.fullmatch(name):
                raise ValueError(f"{name!r} is not a collection name or '*'")
        return value

    def principal(self) -> Principal:
        return Principal(
            self.name, frozenset(self.scopes), frozenset(self.collections), frozenset(self.groups), self.rpm
        )


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A random key: 256 bits, URL-safe."""
    return "rk_" + secrets.token_urlsafe(32)


def read_keys(path: Path) -> list[KeyEntry]:
    """The file's keys; ``ConfigError`` naming the file and the problem (a plain key among them) otherwise."""
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        data: Any = (json.loads(text) if path.suffix == ".json" else tomllib.loads(text)) if text.strip() else {}
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"RAGLINE_API_KEYS_FILE {path}: cannot read it: {exc}") from None
    raw = data.get("keys", []) if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise ConfigError(f"RAGLINE_API_KEYS_FILE {path}: expected a 'keys' list")
    entries = []
    for n, item in enumerate(raw):
        if isinstance(item, dict) and ({"key", "token", "secret"} & set(item)):
            raise ConfigError(
                f"RAGLINE_API_KEYS_FILE {path}: key #{n + 1} ({item.get('name', '?')}) holds a plain key; "
                "store only its SHA-256 (`rag keys add` does)"
            )
        try:
            entries.append(KeyEntry.model_validate(item))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"RAGLINE_API_KEYS_FILE {path}: key #{n + 1}: {problems}") from None
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ConfigError(f"RAGLINE_API_KEYS_FILE {path}: key names must be unique")
    return entries


def write_keys(path: Path, entries: list[KeyEntry]) -> None:
    """Replace the file atomically (a reader never sees half of it), readable by its owner only."""
    data = {"keys": [e.model_dump(exclude_none=True) for e in entries]}
    text = json.dumps(data, indent=2) if path.suffix == ".json" else tomli_w.dumps(data)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


class KeyRing:
    """The key file as a server sees it: re-read when it changes. A file that became unreadable admits no key
    (fail closed) until it is fixed; the error is logged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._entries = read_keys(path)  # a bad file stops the server at start

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size

    def _current(self) -> list[KeyEntry]:
        stamp = self._stat()
        with self._lock:
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self._entries = read_keys(self.path)
                    log.info("key file %s re-read: %d keys", self.path, len(self._entries))
                except ConfigError as exc:
                    self._entries = []
                    log.error("%s — no key is accepted until it is fixed", exc)
            return self._entries

    def principal(self, token: str) -> Principal | None:
        digest = key_hash(token)
        found = None
        for entry in self._current():  # every entry compared, so timing does not tell which matched
            if hmac.compare_digest(digest, entry.sha256):
                found = entry
        return found.principal() if found else None
