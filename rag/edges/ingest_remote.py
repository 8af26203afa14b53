"""``ingest --api URL``: send files to a running ragline server, which runs the same pipeline in its process."""

from __future__ import annotations

from pathlib import Path

import httpx

from ingest.discovery import discover
from ingest.pipeline import IngestReport
from rag.errors import RaglineError, ServerUnavailableError, UsageError

_BATCH_BYTES = 8 * 1024 * 1024


def ingest_via_api(url: str, paths: list[Path], api_key: str | None, collection: str | None) -> IngestReport:
    """Upload the files under ``paths`` in batches; the server's reports are summed."""
    files, _ = discover(paths)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    total = IngestReport()
    batch: list[tuple[str, tuple[str, bytes]]] = []
    size = 0

    def send() -> None:
        nonlocal batch, size
        if not batch:
            return
        data = {"collection": collection} if collection else {}
        try:
            r = httpx.post(f"{url.rstrip('/')}/v1/documents", files=batch, data=data, headers=headers, timeout=600)
        except httpx.TransportError as exc:
            raise ServerUnavailableError(f"cannot reach the ragline server at {url}: {exc}") from None
        if r.status_code != 200:
            raise _server_error(r)
        part = r.json()
        for key in ("added", "updated", "unchanged", "deleted", "chunks"):
            setattr(total, key, getattr(total, key) + part[key])
        total.failed.extend(part["failed"])
        total.seconds += part["seconds"]
        batch, size = [], 0

    for f in files:
        content = f.path.read_bytes()
        # The relative path travels as the file name, so the server gives the same doc id.
        batch.append(("files", (f.doc_id, content)))
        size += len(content)
        if size >= _BATCH_BYTES:
            send()
    send()
    return total


def _server_error(r: httpx.Response) -> RaglineError:
    """A refusal as the error it means here: busy or failing is unavailable (exit 3), a 4xx is a usage error."""
    try:
        detail = r.json().get("detail", r.text)
    except ValueError:
        detail = r.text
    message = f"server answered {r.status_code}: {detail}"
    if r.status_code in (502, 503, 504):
        return ServerUnavailableError(message)
    if 400 <= r.status_code < 500:
        return UsageError(message)
    return RaglineError(message)
