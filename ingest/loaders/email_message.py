"""E-mail messages (.eml) with the standard library: subject as title, From/To/Date as metadata, the plain-text
body (else the HTML body's visible text); attachments are listed by name, not read."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from ingest.document import Document, Section
from ingest.loaders.text import read_bytes
from rag.errors import LoaderError


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: read it as Latin-1 rather than lose it
        content = (part.get_payload(decode=True) or b"").decode("latin-1")
    if part.get_content_subtype() == "html":
        tree = LexborHTMLParser(content)
        tree.strip_tags(["script", "style", "head"])
        content = tree.body.text(separator="\n") if tree.body else ""
    return "\n".join(line.rstrip() for line in content.splitlines()).strip()


def load_eml(path: Path, doc_id: str) -> list[Document]:
    msg = email.message_from_bytes(read_bytes(path), policy=email.policy.default)
    if not isinstance(msg, EmailMessage) or not msg.keys():
        raise LoaderError("not an e-mail message (no headers)")
    text = _body(msg)
    if not text:
        raise LoaderError("e-mail has no text body")
    meta = {k.lower(): str(msg[k]) for k in ("From", "To", "Cc", "Date") if msg[k]}
    attachments = [a.get_filename() for a in msg.iter_attachments() if a.get_filename()]
    if attachments:
        meta["attachments"] = attachments
    subject = str(msg["Subject"] or "") or path.stem
    return [Document(doc_id=doc_id, title=subject, format="eml", sections=[Section(text)], metadata=meta)]
