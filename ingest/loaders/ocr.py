"""Local OCR for scanned PDF pages and image files: RapidOCR on onnxruntime, whose detection, direction and
recognition models ship inside its wheel (nothing is downloaded). Lines come back in reading order."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from rag.errors import LoaderError

if TYPE_CHECKING:
    from PIL.Image import Image

    from rag.llm.usage import Usage


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
            return PageRead(OCR.read(image, document))
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

    def read(self, image: Image, document: bool = False) -> str:
        """The image's text, one line per text line, top to bottom and left to right. ``document``: a rendered
        page, binarised first (Otsu's threshold), which keeps the spaces between words the recogniser otherwise
        loses on PDFium's smoothed rendering (bench/ocr_speed.py: error rate 0.060 → 0.002)."""
        import numpy as np

        pixels = np.asarray(image.convert("RGB"))
        if document:
            import cv2

            gray = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
            _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            pixels = cv2.cvtColor(binary, cv2.COLOR_GRAY2RGB)
        with self._lock:
            # No per-line direction classifier: on upright scans it flipped good lines and lost them
            # (bench/ocr_speed.py: character error rate 0.38 with it, 0.002 without).
            found, _ = self._engine(pixels, use_cls=False)
        return reading_order([(box, text) for box, text, _score in found or []])


def reading_order(items: list[tuple[list[list[float]], str]]) -> str:
    """Text boxes joined into lines: boxes whose vertical centres fall within half a line height of each other
    are one line, read left to right; lines top to bottom."""
    boxes = []
    for box, text in items:
        ys, xs = [p[1] for p in box], [p[0] for p in box]
        boxes.append(((min(ys) + max(ys)) / 2, max(ys) - min(ys), min(xs), text.strip()))
    lines: list[list[tuple[float, float, float, str]]] = []
    for box in sorted(boxes):
        if lines and abs(box[0] - lines[-1][0][0]) < max(box[1], lines[-1][0][1]) / 2:
            lines[-1].append(box)
        else:
            lines.append([box])
    return "\n".join(" ".join(b[3] for b in sorted(line, key=lambda b: b[2]) if b[3]) for line in lines).strip()


OCR = LocalOCR()
