"""Local OCR speed: pages a minute for scanned PDF pages (rendered by PDFium at RAGLINE_OCR_DPI, read by
RapidOCR), and the character error rate on known text, on this machine.

    .venv/bin/python bench/ocr_speed.py [--pages 10]

Each page is A4-like, 30 lines of SciFact-like prose set with Pillow's bundled font and saved as an image-only
PDF; the first page is read once beforehand to load the models.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageDraw, ImageFont

from bench.machine import describe_machine
from bench.stats import cer
from ingest import loaders
from ingest.loaders.archive_guard import UnpackLimits
from ingest.loaders.ocr import OcrOptions
from rag.config import Settings

WORDS = [
    "cells",
    "protein",
    "gene",
    "expression",
    "patients",
    "trial",
    "dose",
    "response",
    "tumour",
    "growth",
    "immune",
    "signal",
]


def page(rng: random.Random) -> tuple[Image.Image, str]:
    lines = [" ".join(rng.choices(WORDS, k=9)).capitalize() + "." for _ in range(30)]
    img = Image.new("L", (1654, 2339), 255)  # A4 at 200 dpi
    draw, font = ImageDraw.Draw(img), ImageFont.load_default(size=30)
    for n, line in enumerate(lines):
        draw.text((120, 140 + n * 68), line, fill=0, font=font)
    return img, "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=10)
    args = ap.parse_args()
    print(describe_machine())
    s = Settings()
    options = loaders.ReadOptions(
        UnpackLimits(s.max_unpacked_bytes, s.max_unpack_ratio),
        OcrOptions(True, s.ocr_dpi, s.ocr_min_chars, s.ocr_max_pixels),
    )
    rng = random.Random(5)
    pages = [page(rng) for _ in range(args.pages)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scan.pdf"
        pages[0][0].save(path, "PDF", resolution=200, save_all=True, append_images=[p for p, _ in pages[1:]])
        warm = Path(tmp) / "warm.pdf"
        pages[0][0].save(warm, "PDF", resolution=200)
        loaders.load(warm, "warm.pdf", options)
        t0 = time.perf_counter()
        [doc] = loaders.load(path, "scan.pdf", options)
        seconds = time.perf_counter() - t0
    rates = [cer(section.text, text) for section, (_, text) in zip(doc.sections, pages, strict=True)]
    print(
        f"{args.pages} pages at {s.ocr_dpi} dpi: {seconds:.1f} s, {args.pages / seconds * 60:.1f} pages a minute; "
        f"character error rate mean {sum(rates) / len(rates):.4f}, worst {max(rates):.4f}"
    )


if __name__ == "__main__":
    main()
