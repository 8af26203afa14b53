"""Page transcription by the configured multimodal LLM (``RAGLINE_OCR=llm``): each page image goes to Gemini as
``inlineData`` or to Ollama (Gemma 3) in ``images``, for its text verbatim and a line for each figure. Every call
is metered under the ``ingest`` stage. A page the LLM does not transcribe (down, rate limited, blocked — Gemini
stops verbatim copies with RECITATION —, cut at the token cap, or empty) is read by local OCR, and says so;
a 429 with a ``retryDelay`` of up to a minute is waited out and the page sent again, twice at most."""

from __future__ import annotations

import io
import re
import time
from typing import TYPE_CHECKING

from ingest.loaders.ocr import OCR, PageRead
from rag.errors import LLMError, LLMRateLimitedError
from rag.llm.base import LLMRequest
from rag.llm.usage import Usage

if TYPE_CHECKING:
    from PIL.Image import Image

    from rag.llm.usage import MeteredLLM

SYSTEM = (
    "You transcribe scanned document pages. Write all the text on the page verbatim, in reading order, one line "
    "per printed line; write tables as Markdown rows. Then write one line starting with 'Figure:' for each figure "
    "or photo, saying in one sentence what it shows. Write nothing else: no comments, no code fences. A page "
    "without text or figures gets an empty answer."
)
PROMPT = "Transcribe this page."
STAGE = "ingest"
_ATTEMPTS = 3  # per page, when the provider asks to wait and retry (429 with a retryDelay)
_MAX_WAIT_S = 60.0
_FENCE = re.compile(r"^```[\w-]*\n|\n?```\s*$")


def _noted(page: PageRead, why: str) -> PageRead:
    return PageRead(page.text, f"read by local OCR ({why})" + (f"; {page.note}" if page.note else ""))


def _local(image: Image, document: bool, why: str) -> PageRead:
    """The page read by local OCR instead, saying why (and what local OCR could not read)."""
    return _noted(OCR.read(image, document), why)


class LLMReader:
    """Reads page images with an LLM, falling back to local OCR page by page."""

    def __init__(self, llm: MeteredLLM, max_tokens: int, timeout_s: float) -> None:
        self.llm = llm
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s

    def read(self, image: Image, document: bool, usage: Usage | None) -> PageRead:
        png = io.BytesIO()
        image.convert("RGB").save(png, format="PNG")
        request = LLMRequest(SYSTEM, PROMPT, "transcribe", self.max_tokens, self.timeout_s, images=(png.getvalue(),))
        usage = usage if usage is not None else Usage()
        for attempt in range(_ATTEMPTS):
            try:
                out = self.llm.complete(request, STAGE, usage)
                break
            except LLMRateLimitedError as exc:
                # Ingest can wait: the delay the provider asked for (the SDK ignores it), within reason.
                wait = exc.retry_after_s
                if wait is None or wait > _MAX_WAIT_S or attempt == _ATTEMPTS - 1:
                    return _local(image, document, str(exc))
                time.sleep(wait)
            except LLMError as exc:
                return _local(image, document, str(exc))
        if out.truncated:
            why = f"the transcription was cut at RAGLINE_OCR_LLM_MAX_TOKENS ({self.max_tokens})"
            return _local(image, document, why)
        text = _FENCE.sub("", out.text.strip()).strip()
        if not text:  # the model saw nothing: local OCR may still find text it missed
            local = OCR.read(image, document)
            return _noted(local, "the LLM transcribed nothing") if local.text else local
        return PageRead(text)
