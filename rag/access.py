"""Who is asking and what they may do: a caller's scopes, collections and the identities its documents' ACLs
are matched against. Pure: the key file (``rag/key_file.py``) and the HTTP edge build these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Scope = Literal["read", "write", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "write", "admin")
ANY_COLLECTION = "*"
_MAX_ACL_ENTRIES = 64
_MAX_ACL_ENTRY = 128


@dataclass(frozen=True, slots=True)
class Principal:
    """A caller. ``identities`` (its name and groups) are what a document's ``acl`` must share for the caller
    to see it; ``sees_everything`` is the caller of a server without a key file (no keys, or RAGLINE_API_KEYS),
    for whom ACLs are not applied."""

    name: str
    scopes: frozenset[str]
    collections: frozenset[str]
    groups: frozenset[str] = frozenset()
    rpm: int | None = None  # requests a minute; None: the server's RAGLINE_KEY_RPM
    sees_everything: bool = False

    def can(self, scope: Scope) -> bool:
        return scope in self.scopes

    def may_use(self, collection: str) -> bool:
        return ANY_COLLECTION in self.collections or collection in self.collections

    @property
    def identities(self) -> tuple[str, ...] | None:
        """What an ``acl`` is matched against; None when ACLs do not apply to this caller."""
        return None if self.sees_everything else tuple(sorted({self.name, *self.groups}))


# Acts where no caller was identified (it should never happen behind the authenticator): may do nothing.
NO_ONE = Principal("nobody", frozenset(), frozenset())


def unrestricted(name: str) -> Principal:
    """Every scope on every collection, every document: an open server, or a key from RAGLINE_API_KEYS."""
    return Principal(name, frozenset(SCOPES), frozenset({ANY_COLLECTION}), sees_everything=True)


def parse_acl(value: object) -> tuple[str, ...]:
    """A document's ACL from a record field, a sidecar file or a form field: a list of names (or one string,
    comma-separated), each 1-128 printable characters, at most 64; sorted, duplicates dropped. ``ValueError``
    names what is wrong."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(x, str) for x in items):
        raise ValueError("acl must be a list of group or key names")
    names = sorted({x.strip() for x in items if x.strip()})
    if len(names) > _MAX_ACL_ENTRIES:
        raise ValueError(f"acl has {len(names)} entries; at most {_MAX_ACL_ENTRIES}")
    for name in names:
        if len(name) > _MAX_ACL_ENTRY or not name.isprintable():
            raise ValueError(f"acl entry {name[:40]!r} must be 1-{_MAX_ACL_ENTRY} printable characters")
    return tuple(names)
