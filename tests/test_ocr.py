"""Local OCR of scanned PDF pages and image files: known text rendered with Pillow, read back by the real
RapidOCR models (inside its wheel) with a character error rate of at most 5%."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from bench.stats import cer
from ingest import loaders
from ingest.loaders.ocr import OcrOptions
from ingest.loaders.ocr_reading_order import Box, box, reading_order
from rag.config import Settings
from rag.errors import LoaderError
from tests.test_loaders import LIMITS, OCR

pytest.importorskip("rapidocr_onnxruntime", reason="local OCR needs rapidocr-onnxruntime (a dependency)")

LINES = [
    "Scanned pages are read by local OCR.",
    "Penguins live in the southern hemisphere,",
    "and owls hunt at night in the forest.",
]
TEXT = "\n".join(LINES)


def render(lines: list[str]) -> Image.Image:
    img = Image.new("RGB", (1400, 120 + 80 * len(lines)), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=36)
    for n, line in enumerate(lines):
        draw.text((60, 60 + n * 80), line, fill="black", font=font)
    return img


def load(path: Path, ocr: OcrOptions = OCR):
    return loaders.load(path, path.name, loaders.ReadOptions(LIMITS, ocr))


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tiff"])
def test_image_files_are_read(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"scan{suffix}"
    render(LINES).save(path)
    [doc] = load(path)
    [section] = doc.sections
    assert doc.format == "image" and section.metadata == {"page": 1, "ocr": True}
    assert cer(section.text, TEXT) <= 0.05, section.text


def test_a_scanned_pdf_is_read_page_by_page(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    pages = [render(LINES), render(["The second page is about tides and the moon."])]
    pages[0].save(path, "PDF", resolution=150, save_all=True, append_images=pages[1:])
    [doc] = load(path)
    assert [s.metadata for s in doc.sections] == [{"page": 1, "ocr": True}, {"page": 2, "ocr": True}]
    assert cer(doc.sections[0].text, TEXT) <= 0.05, doc.sections[0].text
    assert cer(doc.sections[1].text, "The second page is about tides and the moon.") <= 0.05


def test_ocr_off_and_oversized_images_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    render(LINES).save(path)
    off = OcrOptions(False, OCR.dpi, OCR.min_chars, OCR.max_pixels)
    with pytest.raises(LoaderError, match="RAGLINE_OCR=off"):
        load(path, off)
    render(LINES).save(tmp_path / "scan.pdf", "PDF")
    with pytest.raises(LoaderError, match="no extractable text"):
        load(tmp_path / "scan.pdf", off)
    with pytest.raises(LoaderError, match="RAGLINE_OCR_MAX_PIXELS"):
        load(path, OcrOptions(True, OCR.dpi, OCR.min_chars, 10_000))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(LoaderError, match="unreadable image"):
        load(tmp_path / "broken.png")


def at(x: float, y: float, text: str, w: float = 100, h: float = 30) -> Box:
    return box([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], text)


def test_boxes_are_put_in_reading_order() -> None:
    assert reading_order([at(300, 102, "world"), at(10, 200, "second line"), at(10, 100, "hello")]) == (
        "hello world\nsecond line"
    )


def test_two_columns_are_read_one_after_the_other_and_a_table_is_not_split() -> None:
    headline = at(20, 10, "HEADLINE", w=1500)
    left = [at(20, 100 + 50 * n, f"left {n}", w=700) for n in range(4)]
    right = [at(820, 100 + 50 * n, f"right {n}", w=690) for n in range(4)]
    footer = at(20, 400, "FOOTNOTE", w=1500)
    text = reading_order([*right, footer, *left, headline])
    assert text.splitlines() == [
        "HEADLINE",
        *[f"left {n}" for n in range(4)],
        *[f"right {n}" for n in range(4)],
        "FOOTNOTE",
    ]
    # Short cells in columns are a table, read row by row.
    cells = [at(x, 100 + 50 * n, f"r{n}c{x}", w=120) for n in range(4) for x in (20, 800)]
    assert reading_order(cells).splitlines()[0] == "r0c20 r0c800"


FONTS = Path("/usr/share/fonts/truetype/dejavu")
needs_fonts = pytest.mark.skipif(not (FONTS / "DejaVuSans-Bold.ttf").is_file(), reason="needs the DejaVu fonts")


@needs_fonts
def test_an_image_of_text_keeps_its_spaces_columns_and_light_header(tmp_path: Path) -> None:
    bold, regular = (ImageFont.truetype(str(FONTS / f), 28) for f in ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf"))
    img = Image.new("RGB", (1600, 700), "white")
    draw = ImageDraw.Draw(img)
    draw.text((40, 30), "Use all your accounts to sign in today", font=bold, fill="black")
    for n, (a, b) in enumerate(
        [
            ("The left column starts here", "Right column begins at top"),
            ("and continues on this line", "its second line follows"),
            ("with a third line of text", "then its third line appears"),
        ]
    ):
        draw.text((40, 120 + 60 * n), a, font=regular, fill="black")
        draw.text((840, 120 + 60 * n), b, font=regular, fill="black")
    # White on a light blue band: a page's threshold turns the band white and the header with it.
    draw.rectangle((40, 330, 1560, 390), fill=(175, 200, 240))
    draw.text((60, 342), "Account Name Balance Status", font=bold, fill="white")
    for n in range(4):
        draw.text((40, 420 + 60 * n), f"Savings plan number {n} holds {1200 + n} dollars", font=regular, fill="black")
    img.save(tmp_path / "page.png")
    [doc] = load(tmp_path / "page.png")
    lines = doc.sections[0].text.splitlines()
    assert lines[0] == "Use all your accounts to sign in today"  # was "Useall your ...": bold glued
    assert lines[1:4] == ["The left column starts here", "and continues on this line", "with a third line of text"]
    assert "Account Name Balance Status" in lines  # was lost on rendered pages
    assert doc.coverage.warnings == []


@needs_fonts
def test_text_that_cannot_be_read_is_reported_per_page(tmp_path: Path) -> None:
    font = ImageFont.truetype(str(FONTS / "DejaVuSans.ttf"), 28)
    img = Image.new("RGB", (1400, 200), "white")
    draw = ImageDraw.Draw(img)
    draw.text((40, 30), "An English line that reads well enough", font=font, fill="black")
    draw.text((40, 110), "שלום עולם זהו משפט בעברית ארוך", font=font, fill="black")  # a script the model lacks
    img.save(tmp_path / "mixed.png")
    [doc] = load(tmp_path / "mixed.png")
    assert doc.sections[0].text == "An English line that reads well enough"
    assert doc.coverage.warnings == ["page 1: 1 text regions dropped as unreadable (another script, or too faint)"]


def test_an_image_is_searchable_after_ingest(tmp_path: Path, make_ingestor, settings) -> None:
    docs = tmp_path / "scans"
    docs.mkdir()
    render(LINES).save(docs / "page.png")
    (docs / "other.txt").write_text("Volcanoes erupt lava.")
    ingestor = make_ingestor()
    assert ingestor.run([docs]).added == 2
    from rag.retrieval import SearchOptions
    from rag.wiring import make_retriever

    retriever = make_retriever(settings, ingestor.store, ingestor.embedder, ingestor.sparse)
    [hit] = retriever.search("where do penguins live", SearchOptions(top_k=1, mode="hybrid")).results
    assert hit.doc_id == "page.png" and hit.metadata["ocr"] is True


def test_a_full_scanned_page_keeps_its_lines_and_spaces(tmp_path: Path) -> None:
    # 30 lines on an A4 page at 200 dpi: the direction classifier used to flip and drop a third of them, and
    # PDFium's smoothing cost the spaces between words (error rates 0.38, then 0.054).
    words = ["cells", "protein", "gene", "patients", "trial", "dose", "response", "tumour", "growth", "signal"]
    lines = [" ".join(words[(n + k) % 10] for k in range(9)).capitalize() + "." for n in range(30)]
    img = Image.new("L", (1654, 2339), 255)
    draw, font = ImageDraw.Draw(img), ImageFont.load_default(size=30)
    for n, line in enumerate(lines):
        draw.text((120, 140 + n * 68), line, fill=0, font=font)
    img.save(tmp_path / "page.pdf", "PDF", resolution=200)
    [doc] = load(tmp_path / "page.pdf")
    assert len(doc.sections[0].text.splitlines()) == 30
    assert cer(doc.sections[0].text, "\n".join(lines)) <= 0.02, doc.sections[0].text[:300]


def test_turning_ocr_on_reads_again_the_files_stored_without_it(tmp_path: Path, make_ingestor) -> None:
    from fpdf import FPDF

    docs = tmp_path / "docs"
    docs.mkdir()
    render(LINES).save(tmp_path / "scan.png")
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 10, "A typed first page about tides.")
    pdf.add_page()
    pdf.image(str(tmp_path / "scan.png"), w=180)  # a scanned second page
    pdf.output(str(docs / "mixed.pdf"))
    off = make_ingestor(Settings(data_dir=tmp_path / "data", ocr="off")).run([docs])
    assert off.added == 1 and off.files[0]["warnings"] == ["no text on page 2 (RAGLINE_OCR=off)"]
    on = make_ingestor(Settings(data_dir=tmp_path / "data", ocr="local")).run([docs])
    assert on.updated == 1 and on.files[0]["ocr_pages"] == 1  # not skipped as unchanged: the way it reads changed
