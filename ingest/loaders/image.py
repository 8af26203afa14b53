"""Image files (.png .jpg .jpeg .tif .tiff .webp .bmp): their text by local OCR; each frame of a multi-page
TIFF is a page."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageSequence, UnidentifiedImageError

from ingest.document import Coverage, Document, Section
from ingest.loaders.ocr import OcrOptions
from ingest.loaders.text import read_bytes
from rag.errors import LoaderError

_MAX_FRAMES = 500


def load_image(path: Path, doc_id: str, ocr: OcrOptions) -> list[Document]:
    if not ocr.enabled:
        raise LoaderError("image files are read by OCR, which RAGLINE_OCR=off turns off")
    read_bytes(path)  # permission and emptiness checks with the shared wording
    sections, coverage = [], Coverage()
    try:
        with Image.open(path) as img:
            width, height = img.size  # read from the header: nothing decoded yet
            if width * height > ocr.max_pixels:
                raise LoaderError(f"image of {width}x{height} pixels is over RAGLINE_OCR_MAX_PIXELS")
            for n, frame in enumerate(ImageSequence.Iterator(img), start=1):
                if n > _MAX_FRAMES:
                    coverage.warnings.append(f"frames after {_MAX_FRAMES} not read")
                    break
                coverage.pages = n
                text, note = ocr.read(frame)
                if note:
                    coverage.warnings.append(f"page {n}: {note}")
                if text:
                    sections.append(Section(text, {"page": n, "ocr": True}))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise LoaderError(f"corrupt or unreadable image: {exc}") from None
    if not sections:
        raise LoaderError("no text found in the image")
    coverage.ocr_pages = len(sections)
    return [Document(doc_id=doc_id, title=path.stem, format="image", sections=sections, coverage=coverage)]
