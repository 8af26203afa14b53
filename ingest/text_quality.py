"""Content that is not text: base64 blobs, hex dumps, minified data. Stored, it becomes thousands of chunks of
one huge "word" each, and crowds real neighbours out of dense search; it is removed before chunking."""

from __future__ import annotations

import re

from ingest.document import Document

# 200+ characters of the base64 / base64url / hex alphabets without a break: no word in any language (and
# scripts written without spaces, such as Chinese, use other characters).
_ENCODED = re.compile(r"[A-Za-z0-9+/=_-]{200,}")


def drop_encoded(doc: Document) -> None:
    """Remove encoded runs from ``doc``'s sections, and sections left empty (in place); say so in its coverage."""
    removed = 0
    for section in doc.sections:
        found = _ENCODED.findall(section.text)
        if found:
            removed += sum(map(len, found))
            section.text = _ENCODED.sub(" ", section.text).strip()
    doc.sections = [s for s in doc.sections if s.text]
    if removed:
        doc.coverage.warnings.append(f"{removed} characters of encoded data (base64, hex) removed")
