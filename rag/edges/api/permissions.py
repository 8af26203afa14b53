"""What the calling key may do, checked by each route before it acts: a missing scope is a 403; a collection
the key may not use is a 404 worded as for a collection that does not exist (its existence is not confirmed);
every refusal is logged with the key's name, never the key."""

from __future__ import annotations

import logging

from fastapi import HTTPException, Request

from rag.access import Principal, Scope
from rag.errors import NotFoundError

log = logging.getLogger("ragline.auth")


def caller(request: Request) -> Principal:
    """The principal the authenticator found for this request."""
    return request.state.principal


def with_scope(request: Request, scope: Scope) -> Principal:
    """The caller, if it holds ``scope``."""
    principal = caller(request)
    if not principal.can(scope):
        log.warning("refused %s for key %r: no %r scope", request.url.path, principal.name, scope)
        raise HTTPException(403, f"this key ({principal.name}) lacks the {scope!r} scope")
    return principal


def allowed(request: Request, scope: Scope, collection: str | None) -> Principal:
    """The caller, if it holds ``scope`` on ``collection`` (the default collection when None)."""
    principal = with_scope(request, scope)
    name = request.app.state.settings.collection if collection is None else collection
    if not principal.may_use(name):
        log.warning("refused %s for key %r: collection %r not allowed", request.url.path, principal.name, name)
        raise NotFoundError(f"collection {name!r} does not exist; ingest documents into it first")
    return principal
