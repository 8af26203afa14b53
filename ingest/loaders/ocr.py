"""Local OCR for scanned PDF pages and image files: RapidOCR on onnxruntime, whose detection, direction and
recognition models ship inside its wheel (nothing is downloaded). Lines come back in reading order, and a
page says when some of its text could not be read."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ingest.loaders.ocr_reading_order import box, reading_order
from rag.errors import LoaderError

if TYPE_CHECKING:
    from PIL.Image import Image

    from rag.llm.usage import Usage


_MIN_SCORE = 0.5  # RapidOCR's own cut: boxes recognised worse are noise, or a script its model does not read
_DOUBTFUL_SCORE = 0.75
_LIGHT = 200  # a pixel this bright in every channel is background
_PAGE_SHARE = 0.6  # an image this much background is read as a page
_MIN_BOX_PX = 12  # a filled box at least this tall (a text line at 200 dpi is ~30 px) ...
_MIN_FILL = 0.6  # ... and mostly ink: a header cell, not a glyph, a rule or an outline


class PageRead(NamedTuple):
    text: str
    note: str | None = None  # how the page was read when not as asked (e.g. local OCR after an LLM failure)


class PageReader(Protocol):
    """Another way to read page images than local OCR (``RAGLINE_OCR=llm``)."""

    def read(self, image: Image, document: bool, usage: Usage | None) -> PageRead: ...


@dataclass(frozen=True, slots=True)
class OcrOptions:
    """``RAGLINE_OCR`` and its knobs: whether pages without a usable text layer are read from their image."""

    enabled: bool
    dpi: int  # PDF pages are rendered at this resolution before OCR
    min_chars: int  # a PDF page with less extracted text than this is read by OCR
    max_pixels: int  # larger images are refused (decompression bombs)
    reader: PageReader | None = None  # None: local OCR
    concurrency: int = 1  # pages of one file read at once
    usage: Usage | None = None  # where an LLM reader's tokens and cost are added up for this run

    def read(self, image: Image, document: bool = False) -> PageRead:
        """The text of a page image (``document``: a rendered PDF page), by the configured reader."""
        if self.reader is None:
            return OCR.read(image, document)
        return self.reader.read(image, document, self.usage)


class LocalOCR:
    """One engine per process, loaded on first use; calls are serialised (the engine is not thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @cached_property
    def _engine(self) -> Any:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:  # e.g. OpenCV without its system libraries
            raise LoaderError(f"OCR is not available here: {exc}") from None
        return RapidOCR()

    def read(self, image: Image, document: bool = False) -> PageRead:
        """The image's text in reading order (``ocr_reading_order``), with a note when some of it could not be
        read. A rendered page (``document``), or an image that looks like one (mostly light), is binarised
        first (``binarise``): the recogniser keeps the spaces between words it otherwise loses on smoothed or
        bold text (bench/ocr_speed.py: error rate 0.060 -> 0.002; "Useall your" -> "Use all your")."""
        import numpy as np

        pixels = np.asarray(image.convert("RGB"))
        if document or _looks_like_a_page(pixels):
            pixels = binarise(pixels)
        with self._lock:
            # No per-line direction classifier: on upright scans it flipped good lines and lost them
            # (bench/ocr_speed.py: character error rate 0.38 with it, 0.002 without). Every box comes back
            # (text_score 0) so that those too poor to keep can be counted.
            found, _ = self._engine(pixels, use_cls=False, text_score=0.0)
        found = [(points, text, float(score)) for points, text, score in found or [] if text.strip()]
        text = reading_order([box(points, text) for points, text, score in found if score >= _MIN_SCORE])
        return PageRead(text, _note([score for _, _, score in found]))


def _note(scores: list[float]) -> str | None:
    """What the reader of a page should know: regions dropped as unreadable, or kept but doubtful (each often
    a line in a script the model does not read, which comes out as look-alike letters)."""
    dropped = sum(score < _MIN_SCORE for score in scores)
    doubtful = sum(_MIN_SCORE <= score < _DOUBTFUL_SCORE for score in scores)
    notes = [f"{dropped} text regions dropped as unreadable (another script, or too faint)"] if dropped else []
    if doubtful:
        notes.append(f"{doubtful} text regions read with low confidence (another script, or a poor scan)")
    return "; ".join(notes) or None


def _looks_like_a_page(pixels: Any) -> bool:
    """Most pixels near white: a scan or screenshot of text, not a photograph."""
    import numpy as np

    return bool(np.mean(pixels.min(axis=2) >= _LIGHT) >= _PAGE_SHARE)


def binarise(pixels: Any) -> Any:
    """Black text on white by Otsu's threshold, then each filled box (a coloured table header, a banner) again
    by its own threshold, turned the right way round: a page's threshold can whiten a light header together
    with its white text, which then vanishes."""
    import cv2
    import numpy as np

    gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    filled = (gray < _LIGHT).astype(np.uint8)
    count, _, stats, _ = cv2.connectedComponentsWithStats(filled, connectivity=8)
    for x, y, w, h, area in stats[1:count]:
        if h < _MIN_BOX_PX or w < 2 * h or area < _MIN_FILL * w * h:
            continue  # a glyph, a rule, or an outline: not a filled box
        _, local = cv2.threshold(gray[y : y + h, x : x + w], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        binary[y : y + h, x : x + w] = 255 - local if np.mean(local) < 128 else local  # background white
    return cv2.cvtColor(binary, cv2.COLOR_GRAY2RGB)


OCR = LocalOCR()
