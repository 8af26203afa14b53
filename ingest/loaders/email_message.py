"""E-mail messages (.eml) with the standard library: subject as title, From/To/Date as metadata, the plain-text
body (else the HTML body's visible text); attachments are listed by name, not read."""

from __future__ import annotations

import codecs
import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

from selectolax.lexbor import LexborHTMLParser

from ingest.document import Document, Section
from ingest.loaders.text import decode, read_bytes
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


def _texts(msg: EmailMessage) -> list[str]:
    """The message's text body; a digest (or a message that forwards others as attachments) has none of its own:
    then the text bodies of the messages it carries, each under its subject."""
    text = _body(msg)
    if text:
        return [text]
    out = []
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            for inner in part.iter_parts():
                if isinstance(inner, EmailMessage) and (body := _body(inner)):
                    subject = str(inner["Subject"] or "")
                    out.append(f"{subject}\n\n{body}" if subject else body)
    return out


def load_eml(path: Path, doc_id: str) -> list[Document]:
    raw = read_bytes(path)
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # saved as UTF-16 text by a Windows tool
        raw = decode(raw)[0].encode("utf-8")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(msg, EmailMessage) or not msg.keys():
        raise LoaderError("not an e-mail message (no headers)")
    texts = _texts(msg)
    if not texts:
        raise LoaderError("e-mail has no text body")
    text = "\n\n".join(texts)
    meta = {k.lower(): str(msg[k]) for k in ("From", "To", "Cc", "Date") if msg[k]}
    attachments = [a.get_filename() for a in msg.iter_attachments() if a.get_filename()]
    if attachments:
        meta["attachments"] = attachments
    subject = str(msg["Subject"] or "") or path.stem
    return [Document(doc_id=doc_id, title=subject, format="eml", sections=[Section(text)], metadata=meta)]
