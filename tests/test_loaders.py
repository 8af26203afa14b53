"""Every format from real files, and the reasons bad files are refused."""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from ingest import loaders
from ingest.document import Document, RecordFailure
from ingest.loaders import ReadOptions
from ingest.loaders.archive_guard import UnpackLimits
from ingest.loaders.ocr import OcrOptions
from rag.config import Settings
from rag.errors import LoaderError

DEFAULTS = Settings()
LIMITS = UnpackLimits(DEFAULTS.max_unpacked_bytes, DEFAULTS.max_unpack_ratio)
OCR = OcrOptions(True, DEFAULTS.ocr_dpi, DEFAULTS.ocr_min_chars, DEFAULTS.ocr_max_pixels)


def load(path: Path, doc_id: str, ocr: OcrOptions = OCR) -> list[Document | RecordFailure]:
    return loaders.load(path, doc_id, ReadOptions(LIMITS, ocr))


def write_pdf(path: Path, pages: list[str], title: str = "") -> Path:
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 10, text)
    pdf.output(str(path))
    return path


def write_docx(path: Path) -> Path:
    d = docx.Document()
    d.add_heading("Field guide", level=1)
    d.add_paragraph("Owls hunt at night.")
    d.add_heading("Diet", level=2)
    d.add_paragraph("Owls eat mice and voles.")
    d.save(str(path))
    return path


def test_text(tmp_path: Path) -> None:
    p = tmp_path / "note.txt"
    p.write_text("Hello world.\n")
    [doc] = load(p, "note.txt")
    assert doc.title == "note" and doc.sections[0].text == "Hello world."


def test_markdown_sections_keep_heading_path(tmp_path: Path) -> None:
    p = tmp_path / "g.md"
    p.write_text("# Guide\nIntro.\n\n## Install\nRun pip.\n\n### Linux\nUse apt.\n\n## Use\nCall it.\n")
    [doc] = load(p, "g.md")
    assert doc.title == "Guide"
    heads = [s.metadata.get("headings") for s in doc.sections]
    assert heads == [["Guide"], ["Guide", "Install"], ["Guide", "Install", "Linux"], ["Guide", "Use"]]
    assert "Use apt." in doc.sections[2].text


def test_html_visible_text_and_title(tmp_path: Path) -> None:
    p = tmp_path / "p.html"
    p.write_text(
        "<html><head><title>Page T</title><script>var secret=1</script></head>"
        "<body><style>.x{}</style><p>Visible words</p></body></html>"
    )
    [doc] = load(p, "p.html")
    assert doc.title == "Page T"
    assert "Visible words" in doc.sections[0].text
    assert "secret" not in doc.sections[0].text and ".x" not in doc.sections[0].text


def test_pdf_per_page(tmp_path: Path) -> None:
    p = write_pdf(tmp_path / "r.pdf", ["First page about lions.", "Second page about tigers."], title="Big cats")
    [doc] = load(p, "r.pdf")
    assert doc.title == "Big cats"
    assert [s.metadata["page"] for s in doc.sections] == [1, 2]
    assert "tigers" in doc.sections[1].text


def test_docx_headings(tmp_path: Path) -> None:
    [doc] = load(write_docx(tmp_path / "f.docx"), "f.docx")
    assert doc.title == "Field guide"
    assert doc.sections[-1].metadata["headings"] == ["Field guide", "Diet"]
    assert "voles" in doc.sections[-1].text


def test_jsonl_records_keep_ids_and_metadata(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl"
    p.write_text(
        '{"_id": "7", "title": "T", "text": "body", "year": 2020}\n\n{"id": 8, "text": "x"}\nnot json\n'
        '{"_id": "9", "text": ""}\n'
    )
    items = load(p, "c.jsonl")
    docs = [i for i in items if isinstance(i, Document)]
    fails = [i for i in items if isinstance(i, RecordFailure)]
    assert [d.doc_id for d in docs] == ["7", "8"]
    assert docs[0].metadata == {"year": 2020} and docs[0].title == "T"
    assert sorted(f.where.rsplit(":", 1)[1] for f in fails) == ["4", "5"]


def test_json_array(tmp_path: Path) -> None:
    p = tmp_path / "a.json"
    p.write_text('[{"_id": "a", "text": "one"}, {"_id": "b", "text": "two", "tags": ["x"]}]')
    docs = load(p, "a.json")
    assert [d.doc_id for d in docs] == ["a", "b"] and docs[1].metadata == {"tags": ["x"]}


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\n", "empty file"),
        ("junk.txt", b"\x00\x01\x02binary\x00", "binary content"),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        ("broken.docx", b"PK\x03\x04 not a zip", "DOCX"),
        ("bad.json", b"{nope", "invalid JSON"),
    ],
)
def test_bad_files_have_reasons(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(LoaderError, match=reason):
        load(p, name)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file(tmp_path: Path) -> None:
    p = tmp_path / "secret.txt"
    p.write_text("x")
    p.chmod(0)
    with pytest.raises(LoaderError, match="permission denied"):
        load(p, "secret.txt")


def _add_member(docx_path: Path, name: str, data: bytes) -> Path:
    with zipfile.ZipFile(docx_path, "a", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return docx_path


def test_docx_zip_bomb_is_refused_before_parsing(tmp_path: Path) -> None:
    bomb = _add_member(write_docx(tmp_path / "bomb.docx"), "word/media/pad.bin", bytes(32 << 20))
    assert bomb.stat().st_size < 100_000  # 32 MiB of zeros packs to ~32 KB
    with pytest.raises(LoaderError, match="zip bomb"):
        load(bomb, "bomb.docx")
    # Under the ratio but over the total: incompressible bytes.
    big = _add_member(write_docx(tmp_path / "big.docx"), "word/media/noise.bin", os.urandom(3 << 20))
    with pytest.raises(LoaderError, match="RAGLINE_MAX_UNPACKED_BYTES"):
        loaders.load(big, "big.docx", ReadOptions(UnpackLimits(max_bytes=2 << 20, max_ratio=200), OCR))
    assert load(write_docx(tmp_path / "ok.docx"), "ok.docx")[0].title == "Field guide"


def test_docx_member_that_unpacks_to_more_than_it_declares(tmp_path: Path) -> None:
    p = _add_member(write_docx(tmp_path / "liar.docx"), "word/media/z.bin", b"a" * (4 << 20))
    data = bytearray(p.read_bytes())
    # Rewrite the member's declared size in the central directory: 4 MiB claimed as 1,000 bytes.
    entry = data.rfind(b"PK\x01\x02", 0, data.find(b"word/media/z.bin", data.find(b"PK\x01\x02")))
    assert struct.unpack_from("<I", data, entry + 24)[0] == 4 << 20
    struct.pack_into("<I", data, entry + 24, 1000)
    p.write_bytes(bytes(data))
    with pytest.raises(LoaderError, match="corrupt or unreadable DOCX archive"):
        load(p, "liar.docx")


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("Crème brûlée – naïve café.\n".encode("utf-16"), "utf-16"),
        ("Crème brûlée – naïve café.\n".encode("utf-32"), "utf-32"),
        ("Crème brûlée – naïve café, déjà vu, façade.\n".encode("cp1252"), "guessed"),
        ("Crème brûlée – naïve café.\n".encode("utf-8-sig"), None),
    ],
)
def test_text_encodings_are_read_and_said(tmp_path: Path, data: bytes, encoding: str | None) -> None:
    p = tmp_path / "menu.txt"
    p.write_bytes(data)
    [doc] = load(p, "menu.txt")
    assert doc.sections[0].text.startswith("Crème brûlée") and "naïve café" in doc.sections[0].text
    assert (encoding or "") in doc.metadata.get("encoding", "") and bool(encoding) == ("encoding" in doc.metadata)


def test_html_declared_charset_and_title_fallbacks(tmp_path: Path) -> None:
    page = '<html><head><meta charset="windows-1252"><meta property="og:title" content="Café guide"></head>'
    p = tmp_path / "p.html"
    p.write_bytes((page + "<body><h1>Heading</h1><p>Déjà vu – “quoted”.</p></body></html>").encode("cp1252"))
    [doc] = load(p, "p.html")
    assert doc.title == "Café guide" and "Déjà vu – “quoted”." in doc.sections[0].text
    assert doc.metadata["encoding"] == "windows-1252"
    q = tmp_path / "q.html"
    q.write_text("<html><body><h1>Only a heading</h1><p>Text.</p></body></html>")
    assert load(q, "q.html")[0].title == "Only a heading"


@pytest.mark.parametrize("method", ["RC4", "AES_128"])
def test_encrypted_pdfs_open_with_the_empty_password_or_say_they_need_one(tmp_path: Path, method: str) -> None:
    from fpdf.enums import EncryptionMethod

    def encrypted(name: str, user_password: str, owner_password: str = "owner-secret") -> Path:
        pdf = FPDF()
        pdf.set_encryption(owner_password, user_password, getattr(EncryptionMethod, method))
        pdf.set_font("Helvetica", size=12)
        pdf.add_page()
        pdf.multi_cell(0, 10, "Locked for editing, open for reading.")
        pdf.output(str(tmp_path / name))
        return tmp_path / name

    [doc] = load(encrypted("open.pdf", ""), "open.pdf")
    assert "open for reading" in doc.sections[0].text
    with pytest.raises(LoaderError, match="needs a password"):
        load(encrypted("locked.pdf", "s3cret"), "locked.pdf")
    # One rule: a set user password is refused even when the owner password is empty (pypdf opens such a file
    # as its owner with "": two of three real files made this way were read without asking).
    with pytest.raises(LoaderError, match="user password is set"):
        load(encrypted("owner-empty.pdf", "s3cret", owner_password=""), "owner-empty.pdf")


def test_pdf_text_is_normalised_for_matching(tmp_path: Path) -> None:
    from ingest.loaders.pdf import normalise

    assert normalise("The ﬁrst misﬁts ﬂow; eﬀect") == "The first misfits flow; effect"
    assert normalise("Lorem ipsum dolor sit amet, adip-\niscing elit") == "Lorem ipsum dolor sit amet, adipiscing elit"
    assert normalise("well-\nKnown pre-\n2020") == "well-\nKnown pre-\n2020"  # a real hyphen stays
    [doc] = load(write_pdf(tmp_path / "h.pdf", ["Lorem ipsum dolor sit amet, adip-\niscing elit."]), "h.pdf")
    assert "adipiscing" in doc.sections[0].text


def test_docx_tables_headers_and_footers_are_kept(tmp_path: Path) -> None:
    d = docx.Document()
    d.add_heading("Prices", level=1)
    d.add_paragraph("Coffee prices by size:")
    table = d.add_table(rows=1, cols=3)
    for cell, name in zip(table.rows[0].cells, ("Drink", "Small", "Large"), strict=True):
        cell.text = name
    for row in [("Espresso", "2.10", "2.90"), ("Latte | oat", "3.20", "4.10")] + [
        (f"Blend {n}", "1", "2") for n in range(60)
    ]:
        cells = table.add_row().cells
        for cell, value in zip(cells, row, strict=True):
            cell.text = value
    merged = table.add_row().cells
    merged[0].merge(merged[2]).text = "Prices include tax"
    d.sections[0].header.paragraphs[0].text = "Café Menu — internal"
    d.sections[0].footer.paragraphs[0].text = "Page footer text"
    d.add_comment(d.paragraphs[1].runs, text="Check the oat price", author="Ann")
    d.save(str(tmp_path / "menu.docx"))
    [doc] = load(tmp_path / "menu.docx", "menu.docx")
    tables = [s for s in doc.sections if s.metadata.get("table")]
    assert len(tables) > 1  # a long table is split into groups...
    assert all(
        s.text.startswith("| Drink | Small | Large |\n| --- | --- | --- |") for s in tables
    )  # ...each under its header
    assert "| Espresso | 2.10 | 2.90 |" in tables[0].text and "| Latte \\| oat | 3.20 | 4.10 |" in tables[0].text
    assert tables[-1].text.endswith("| Prices include tax |  |  |")  # a merged cell once
    assert tables[0].metadata["headings"] == ["Prices"]
    assert doc.sections[-2].text == "Café Menu — internal\nPage footer text"
    assert doc.sections[-1].text == "Ann: Check the oat price" and doc.sections[-1].metadata == {"part": "comments"}
    assert doc.coverage.tables == 1

    only = docx.Document()
    only.add_table(rows=2, cols=2).rows[1].cells[0].text = "just a table"
    only.save(str(tmp_path / "only.docx"))
    assert "just a table" in load(tmp_path / "only.docx", "only.docx")[0].sections[0].text  # used to be "has no text"
    (tmp_path / "cut.docx").write_bytes((tmp_path / "menu.docx").read_bytes()[:3000])
    with pytest.raises(LoaderError, match="corrupt or unreadable DOCX"):
        load(tmp_path / "cut.docx", "cut.docx")


NEWS_PAGE = """<html><head><title>Owls at night</title></head><body>
<header class="site-header"><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></header>
<nav><ul><li>World</li><li>Business</li><li>Tech</li></ul></nav>
<div id="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
<main><article><header><h1>Owls hunt at night</h1><p class="byline">By A. Writer</p></header>
<p>Owls are nocturnal birds of prey. They hunt small mammals such as voles and mice, using hearing so precise
that they can catch prey under snow. Their feathers are shaped to make flight almost silent.</p>
<p>Most owls rest during the day in tree hollows or dense foliage.</p>
<div class="related-stories"><h3>Related</h3><a>Ten facts about bats</a><a>Why cats purr</a></div>
</article></main>
<aside class="sidebar">Most read: 1. Stocks fall 2. Weather warning</aside>
<footer class="site-footer">(c) 2026 News Corp. Terms. Privacy. Contact us.</footer>
</body></html>"""


def test_html_keeps_the_article_and_drops_page_furniture(tmp_path: Path) -> None:
    p = tmp_path / "news.html"
    p.write_text(NEWS_PAGE)
    text = load(p, "news.html")[0].sections[0].text
    assert text.startswith("Owls hunt at night\nBy A. Writer") and "almost silent" in text and "foliage" in text
    for furniture in ("Sport", "Business", "cookies", "bats", "Stocks fall", "News Corp"):
        assert furniture not in text, furniture
    # A page without <article> or <main> keeps its body, minus the furniture.
    p.write_text("<body><nav>Menu</nav><p>Plain page text.</p><footer>Footer</footer></body>")
    assert load(p, "plain.html")[0].sections[0].text == "Plain page text."


ARTICLE_TEXT = " ".join(f"Sentence {n} of the article about tides and the moon." for n in range(120))


@pytest.mark.parametrize(
    "wrapper",
    [
        '<div class="l-sidebar-fixed l-segment l-article-body-segment">{}</div>',  # "sidebar" in a wrapper's class
        '<div class="Page-ad-margins">{}</div>',  # "ad-" in a wrapper's class
        '<form id="aspnetForm" action="/">{}</form>',  # a page wrapped whole in a form
        '<div class="wrapper-boxed header-style-header-2">{}</div>',
    ],
)
def test_html_furniture_names_never_take_the_article_with_them(tmp_path: Path, wrapper: str) -> None:
    page = f"<nav>World Business Tech</nav><div><p>{ARTICLE_TEXT}</p></div><div class='sidebar'>Most read</div>"
    p = tmp_path / "page.html"
    p.write_text(f"<html><body>{wrapper.format(page)}</body></html>")
    [doc] = load(p, "page.html")
    text = "\n".join(s.text for s in doc.sections)
    assert ARTICLE_TEXT in text and "Most read" not in text and "World Business" not in text
    assert doc.coverage.warnings == []


def test_html_prefers_the_longest_article_or_main_and_warns_when_little_is_kept(tmp_path: Path) -> None:
    teaser = "<article><h2>Also today</h2><p>" + "A short teaser about something else. " * 8 + "</p></article>"
    p = tmp_path / "page.html"
    p.write_text(f"<body>{teaser}<main><h1>Tides</h1><p>{ARTICLE_TEXT}</p></main></body>")
    assert load(p, "page.html")[0].sections[0].text.startswith("Tides\n" + ARTICLE_TEXT[:40])
    # A <main> around the article and a few related links: the article, without them.
    related = "<ul>" + "".join(f"<li><a href='/{n}'>Related story number {n}</a></li>" for n in range(5)) + "</ul>"
    p.write_text(f"<body><main><article><p>{ARTICLE_TEXT}</p></article>{related}</main></body>")
    assert "Related story" not in load(p, "page.html")[0].sections[0].text
    # Whatever was chosen, keeping a sliver of a long page says so.
    p.write_text(
        f"<body><article><p>{'Short note that is the article here, nothing more. ' * 5}</p></article>"
        f"<div>{ARTICLE_TEXT * 3}</div></body>"
    )
    [doc] = load(p, "page.html")
    assert len(doc.coverage.warnings) == 1 and "of the page's" in doc.coverage.warnings[0]


def test_markdown_front_matter_raw_html_and_anchors(tmp_path: Path) -> None:
    p = tmp_path / "guide.md"
    p.write_text(
        "---\ntitle: Brewing guide\nauthor: Ana\ndate: 2024-05-01\ntags: [coffee, espresso]\nacl: [baristas]\n---\n"
        "<style>body { color: red }</style>\n\n"
        '## Grind { #grind }\nUse a fine grind.\n\n<div class="note">\n</div>\n\n## Shot\nPull for 25 seconds.\n'
    )
    [doc] = load(p, "guide.md")
    assert doc.title == "Brewing guide" and doc.acl == ("baristas",)
    assert doc.metadata == {"author": "Ana", "date": "2024-05-01", "tags": ["coffee", "espresso"]}
    text = "\n".join(s.text for s in doc.sections)
    assert "---" not in text and "color: red" not in text and "#grind" not in text and "<div" not in text
    assert doc.sections[0].metadata == {"headings": ["Grind"]} and doc.sections[0].text == "## Grind\nUse a fine grind."
    bomb = tmp_path / "bomb.md"  # anchors and aliases are not expanded
    bomb.write_text('---\na: &a ["x","x"]\nb: &b [*a,*a]\nc: [*b,*b]\n---\n# Body\nText.\n')
    [doc] = load(bomb, "bomb.md")
    assert doc.metadata == {} and doc.sections[0].text == "# Body\nText."


def test_spreadsheets_and_delimited_text(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Prices"
    book.active.append(["Drink", "Price"])
    book.active.append(["Espresso", 2.1])
    book.active.append(["Total", "=SUM(B2:B2)"])
    stock = book.create_sheet("Stock")
    stock.append(["Bean", "Kilos"])
    stock.append(["Arabica", 12])
    book.save(tmp_path / "shop.xlsx")
    [doc] = load(tmp_path / "shop.xlsx", "shop.xlsx")
    assert [s.metadata["sheet"] for s in doc.sections] == ["Prices", "Stock"]
    assert doc.sections[0].text.startswith("| Drink | Price |\n| --- | --- |\n| Espresso | 2.1 |")
    assert "| Arabica | 12 |" in doc.sections[1].text
    assert doc.coverage.tables == 2

    (tmp_path / "beans.csv").write_text("bean;origin\nArabica;Ethiopia\nRobusta;Vietnam\n")
    assert "| Robusta | Vietnam |" in load(tmp_path / "beans.csv", "beans.csv")[0].sections[0].text
    (tmp_path / "beans.tsv").write_text("bean\torigin\nLiberica\tPhilippines\n")
    assert "| Liberica | Philippines |" in load(tmp_path / "beans.tsv", "beans.tsv")[0].sections[0].text


def test_slides_with_tables_and_notes(tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    first = deck.slides.add_slide(deck.slide_layouts[1])
    first.shapes.title.text = "Quarterly review"
    first.placeholders[1].text = "Sales grew in every region."
    first.notes_slide.notes_text_frame.text = "Mention the new café."
    second = deck.slides.add_slide(deck.slide_layouts[5])
    second.shapes.title.text = "Numbers"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (r, c), value in {(0, 0): "Region", (0, 1): "Sales", (1, 0): "North", (1, 1): "120"}.items():
        table.cell(r, c).text = value
    deck.save(tmp_path / "review.pptx")
    [doc] = load(tmp_path / "review.pptx", "review.pptx")
    assert doc.title == "Quarterly review" and [s.metadata for s in doc.sections] == [{"slide": 1}, {"slide": 2}]
    assert (
        "Sales grew in every region." in doc.sections[0].text and "Notes: Mention the new café." in doc.sections[0].text
    )
    assert "| North | 120 |" in doc.sections[1].text
    assert (doc.coverage.pages, doc.coverage.tables) == (len(doc.sections), 1)


def test_email_messages(tmp_path: Path) -> None:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"] = "Café order for Friday"
    msg["From"] = "Ana <ana@example.com>"
    msg["To"] = "team@example.com"
    msg["Date"] = "Fri, 27 Nov 2026 09:00:00 +0000"
    msg.set_content("Please order two kilos of espresso beans.\nThanks, Ana")
    msg.add_alternative("<p>Please order <b>two kilos</b> of espresso beans.</p>", subtype="html")
    msg.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="invoice.pdf")
    (tmp_path / "order.eml").write_bytes(msg.as_bytes())
    [doc] = load(tmp_path / "order.eml", "order.eml")
    assert doc.title == "Café order for Friday" and doc.sections[0].text.startswith("Please order two kilos")
    assert doc.metadata["from"] == "Ana <ana@example.com>" and doc.metadata["attachments"] == ["invoice.pdf"]
    html_only = EmailMessage()
    html_only["Subject"] = "Menu"
    html_only.set_content("<html><body><p>Soup of the day: lentil.</p></body></html>", subtype="html")
    (tmp_path / "menu.eml").write_bytes(html_only.as_bytes())
    assert load(tmp_path / "menu.eml", "menu.eml")[0].sections[0].text == "Soup of the day: lentil."
    (tmp_path / "empty.eml").write_bytes(b"just some words, no headers")
    with pytest.raises(LoaderError):
        load(tmp_path / "empty.eml", "empty.eml")


def test_epub_and_odt(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "book.epub", "w") as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr(
            "META-INF/container.xml",
            '<container xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
            '<rootfile full-path="OEBPS/content.opf"/></rootfiles></container>',
        )
        z.writestr(
            "OEBPS/content.opf",
            '<package xmlns="http://www.idpf.org/2007/opf" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            "<metadata><dc:title>Field Notes</dc:title></metadata><manifest>"
            '<item id="c2" href="text/two.xhtml"/><item id="c1" href="text/one.xhtml"/></manifest>'
            '<spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>',
        )
        z.writestr("OEBPS/text/one.xhtml", "<html><body><h1>Owls</h1><p>Owls hunt at night.</p></body></html>")
        z.writestr("OEBPS/text/two.xhtml", "<html><body><h1>Tides</h1><p>The moon pulls the sea.</p></body></html>")
    [book] = load(tmp_path / "book.epub", "book.epub")
    assert book.title == "Field Notes" and [s.metadata["chapter"] for s in book.sections] == ["Owls", "Tides"]
    assert book.sections[0].text == "Owls\nOwls hunt at night."

    write_odt(
        tmp_path / "minutes.odt",
        "<text:h>Minutes</text:h><text:p>We agreed on <text:span>new</text:span>  beans.</text:p>",
    )
    assert load(tmp_path / "minutes.odt", "minutes.odt")[0].sections[0].text == "Minutes\nWe agreed on new beans."


ODF = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"'
)


def write_odt(path: Path, body: str) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        z.writestr(
            "content.xml",
            f'<?xml version="1.0"?><office:document-content {ODF}><office:body><office:text>{body}'
            "</office:text></office:body></office:document-content>",
        )


def test_odt_tables_are_markdown_rows_once_with_merged_and_repeated_cells_in_their_columns(tmp_path: Path) -> None:
    def row(*cells: str) -> str:
        return "<table:table-row>" + "".join(cells) + "</table:table-row>"

    def cell(text: str, **attrs: str) -> str:
        extra = "".join(f' table:{k.replace("_", "-")}="{v}"' for k, v in attrs.items())
        return f"<table:table-cell{extra}><text:p>{text}</text:p></table:table-cell>"

    nested = "<table:table>" + row(cell("in1"), cell("in2")) + row(cell("in3"), cell("in4")) + "</table:table>"
    table = (
        "<table:table><table:table-header-rows>"
        + row(cell("Drink"), cell("Small"), cell("Large"))
        + "</table:table-header-rows>"
        + row(cell("Espresso"), cell("2.10"), cell("2.90"))
        + row(cell("Tax included", number_columns_spanned="2"), "<table:covered-table-cell/>", cell("yes"))
        + row(cell("x", number_columns_repeated="2"), f"<table:table-cell>{nested}</table:table-cell>")
        + row('<table:table-cell table:number-columns-repeated="1024"/>')
        + "</table:table>"
    )
    write_odt(
        tmp_path / "menu.odt",
        f'<text:h text:outline-level="1">Prices</text:h><text:p>Our menu:</text:p>{table}'
        "<text:list><text:list-item><text:p>Oat milk on request</text:p></text:list-item></text:list>",
    )
    [doc] = load(tmp_path / "menu.odt", "menu.odt")
    assert doc.title == "Prices" and doc.coverage.tables == 1
    assert [s.text for s in doc.sections] == [
        "Prices\nOur menu:",
        "| Drink | Small | Large |\n| --- | --- | --- |\n| Espresso | 2.10 | 2.90 |\n| Tax included |  | yes |\n"
        "| x | x | in1; in2 / in3; in4 |",
        "Oat milk on request",
    ]
    assert all(s.metadata["headings"] == ["Prices"] for s in doc.sections)
    assert doc.sections[1].metadata["table"] is True


def test_docx_merged_cells_keep_later_cells_in_their_columns_and_nested_tables_are_kept(tmp_path: Path) -> None:
    d = docx.Document()
    table = d.add_table(rows=3, cols=3)
    for i, row in enumerate(table.rows):
        for j, c in enumerate(row.cells):
            c.text = f"r{i}c{j}"
    table.cell(1, 0).merge(table.cell(1, 1)).text = "wide"
    inner = table.cell(2, 2).add_table(rows=2, cols=2)
    for i, row in enumerate(inner.rows):
        for j, c in enumerate(row.cells):
            c.text = f"in{i}{j}"
    d.save(str(tmp_path / "t.docx"))
    [doc] = load(tmp_path / "t.docx", "t.docx")
    assert doc.sections[0].text.splitlines()[2:] == [
        "| wide |  | r1c2 |",  # r1c2 stays under the third header, not shifted into the second
        "| r2c0 | r2c1 | r2c2 in00; in01 / in10; in11 |",
    ]


def test_pdf_ruled_tables_become_markdown_rows_under_their_header(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=9)
    pdf.add_page()
    pdf.multi_cell(0, 6, "Dose finding results for the trial arms.")
    with pdf.table() as table:
        for cells in [("Drug", "Dose (mg)", "Response")] + [
            (f"drug{n} extended release tablet", str(10 * n), f"{7 * n}%") for n in range(25)
        ]:
            row = table.row()
            for cell in cells:
                row.cell(cell)
    pdf.set_x(pdf.l_margin)
    pdf.multi_cell(0, 6, "Responses are medians.")
    pdf.add_page()
    pdf.multi_cell(0, 6, "A page of prose without tables.")
    pdf.output(str(tmp_path / "trial.pdf"))
    [doc] = load(tmp_path / "trial.pdf", "trial.pdf")
    tables = [s for s in doc.sections if s.metadata.get("table")]
    assert len(tables) > 1 and all(s.text.startswith("| Drug | Dose (mg) | Response |\n| --- |") for s in tables)
    assert "| drug3 extended release tablet | 30 | 21% |" in tables[0].text
    assert all(s.metadata["page"] == 1 for s in tables)
    prose = "\n".join(s.text for s in doc.sections if not s.metadata.get("table"))
    assert "Dose finding results" in prose and "Responses are medians." in prose and "prose without tables" in prose
    assert "drug3" not in prose  # the cells are in the table rows only, not twice
    assert (doc.coverage.pages, doc.coverage.tables) == (2, 1)


def test_html_tables_become_markdown_rows_and_layout_tables_stay_text(tmp_path: Path) -> None:
    rows = "".join(f"<tr><td>Blend number {n} from the hills</td><td>{n}.50</td></tr>" for n in range(40))
    page = (
        "<html><body><article><h1>Menu</h1><p>Our coffees.</p>"
        f"<table><thead><tr><th>Coffee</th><th>Price</th></tr></thead><tbody>{rows}</tbody></table>"
        "<p>Prices include tax.</p>"
        "<table><tr><td>layout <table><tr><td>inner cell</td></tr></table></td></tr></table>"
        "</article></body></html>"
    )
    (tmp_path / "menu.html").write_text(page)
    [doc] = load(tmp_path / "menu.html", "menu.html")
    tables = [s for s in doc.sections if s.metadata.get("table")]
    assert len(tables) > 1 and all(s.text.startswith("| Coffee | Price |\n| --- | --- |") for s in tables)
    assert "| Blend number 7 from the hills | 7.50 |" in tables[0].text
    texts = [s.text for s in doc.sections]
    assert texts[0] == "Menu\nOur coffees." and texts[-1].startswith("Prices include tax.")
    assert "inner cell" in "\n".join(texts)  # a table holding a table keeps its text
    assert "| inner cell" not in "\n".join(texts)  # nor does a one-cell table become one
    assert doc.coverage.tables == 1


def test_rtf_text_in_its_declared_code_page(tmp_path: Path) -> None:
    (tmp_path / "a.rtf").write_bytes(
        rb"{\rtf1\ansi\ansicpg1251{\fonttbl{\f0 Arial;}}\f0\pard \'cf\'f0\'e8\'e2\'e5\'f2 world, {\b bold}\par"
        rb" caf\u233?\par}"
    )
    [doc] = load(tmp_path / "a.rtf", "a.rtf")
    assert doc.sections[0].text == "Привет world, bold\ncafé" and doc.format == "rtf"
    (tmp_path / "b.rtf").write_text("plain text with an .rtf name")
    with pytest.raises(LoaderError, match="not an RTF file"):
        load(tmp_path / "b.rtf", "b.rtf")


def test_a_pdf_page_too_dense_for_table_analysis_keeps_its_text_and_says_so(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=4)
    pdf.add_page()
    pdf.rect(10, 10, 100, 50)
    for _ in range(4):
        pdf.line(10, 20, 110, 20)
    pdf.multi_cell(0, 1.5, "dense words " * 2000)  # 24,000 characters on one page
    pdf.output(str(tmp_path / "dense.pdf"))
    [doc] = load(tmp_path / "dense.pdf", "dense.pdf")
    assert "dense words" in doc.sections[0].text and doc.coverage.tables == 0
    assert doc.coverage.warnings[0].startswith("page 1: ") and "too many to look for tables" in doc.coverage.warnings[0]


@pytest.mark.parametrize("suffix", [".rst", ".org", ".tex"])
def test_plain_text_markups_are_read_as_text(tmp_path: Path, suffix: str) -> None:
    """They were skipped as unsupported; their words are searchable (the markup stays in the text)."""
    path = tmp_path / f"notes{suffix}"
    path.write_text("Owls\n====\n\nOwls hunt at night.\n")
    [doc] = loaders.load(path, path.name, loaders.ReadOptions(LIMITS, OCR))
    assert "Owls hunt at night." in doc.sections[0].text and doc.format == suffix[1:]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("package.json", '{"name": "x", "version": "1.0", "dependencies": {"a": "^1"}}'),
        ("fixture.json", '[{"pk": 1, "model": "auth.user"}, {"pk": 2, "model": "auth.user"}]'),
        ("events.jsonl", '{"ts": 1, "event": "login"}\n{"ts": 2, "event": "logout"}\nnot json\n'),
    ],
)
def test_a_json_file_that_is_not_a_records_collection_is_one_failure(tmp_path: Path, name: str, content: str) -> None:
    """Configs and fixtures reported one line per item (496 of 567 failures of a real folder): now one line."""
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(LoaderError, match="not a records file"):
        loaders.load(path, name, loaders.ReadOptions(LIMITS, OCR))


def test_a_records_file_with_some_bad_records_still_reports_each(tmp_path: Path) -> None:
    path = tmp_path / "recs.jsonl"
    path.write_text('{"_id": "a", "text": "owls"}\n{"_id": "b"}\n')
    items = loaders.load(path, path.name, loaders.ReadOptions(LIMITS, OCR))
    assert [type(i).__name__ for i in items] == ["Document", "RecordFailure"]


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_text_without_a_byte_order_mark_is_read(tmp_path: Path, codec: str) -> None:
    """It was refused as "binary content"; Windows tools write it."""
    path = tmp_path / "notes.txt"
    path.write_bytes("Owls hunt at night.\r\nCafé crème, naïve façade.\r\n".encode(codec))
    [doc] = load(path, "notes.txt")
    assert "Café crème" in doc.sections[0].text and doc.metadata["encoding"] == f"{codec}, guessed"
    binary = tmp_path / "blob.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(LoaderError, match="binary"):
        load(binary, "blob.txt")


@pytest.mark.parametrize("text", ["Ça va, garçon? Oui.", "Zürich, Straße 3. Müller", "Größe: 5 µm, 20 °C."])
def test_latin1_markdown_is_labelled_western_european(tmp_path: Path, text: str) -> None:
    """Read right but labelled "cp1250, guessed": bytes that read the same in cp1252 are labelled cp1252."""
    path = tmp_path / "notes.md"
    path.write_bytes(f"# Notes\n\n{text}\n".encode("latin-1"))
    [doc] = load(path, "notes.md")
    assert text in doc.sections[0].text and doc.metadata["encoding"] == "cp1252, guessed"


def _eml(subject: str, body: str) -> str:
    return f"From: a@example.com\r\nTo: b@example.com\r\nSubject: {subject}\r\n\r\n{body}\r\n"


def test_a_utf16_eml_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "mail.eml"
    path.write_bytes(_eml("Owls", "Owls hunt at night.").encode("utf-16"))  # with its mark
    [doc] = load(path, "mail.eml")
    assert doc.title == "Owls" and "hunt at night" in doc.sections[0].text


def test_a_mime_digest_keeps_the_messages_it_carries(tmp_path: Path) -> None:
    """A digest of forwarded messages has no text body of its own: it was refused as "no text body"."""
    parts = "".join(
        f"--XX\r\n\r\n{_eml(subject, body)}"  # a digest's parts are message/rfc822 unless they say otherwise
        for subject, body in (("Owls", "Owls hunt at night."), ("Lava", "Lava cools into basalt."), ("Tides", "Moon."))
    )
    head = (
        "From: list@example.com\r\nSubject: Weekly digest\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/digest; boundary="XX"\r\n\r\n'
    )
    path = tmp_path / "digest.eml"
    path.write_text(head + parts + "--XX--\r\n")
    [doc] = load(path, "digest.eml")
    assert doc.title == "Weekly digest"
    assert all(w in doc.sections[0].text for w in ("Owls hunt at night.", "Lava cools into basalt.", "Tides"))


def test_docx_table_with_an_irregular_grid_is_read_not_refused(tmp_path: Path) -> None:
    d = docx.Document()
    table = d.add_table(rows=3, cols=2)
    table.cell(0, 0).text, table.cell(2, 0).text = "A", "C"
    table.cell(0, 1).merge(table.cell(2, 1)).text = "Merged B1-B3"
    middle = table.rows[1]._tr
    middle.remove(middle.tc_lst[1])  # a row short of the cell the merge runs through (seen in real files)
    d.save(str(tmp_path / "grid.docx"))
    with pytest.raises(ValueError):  # what python-docx makes of it; the file used to fail on it
        [row.cells for row in docx.Document(str(tmp_path / "grid.docx")).tables[0].rows]
    [doc] = load(tmp_path / "grid.docx", "grid.docx")
    assert doc.sections[0].text.splitlines()[0] == "| A | Merged B1-B3 |"
    assert "| C |" in doc.sections[0].text
