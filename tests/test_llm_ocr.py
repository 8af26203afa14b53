"""RAGLINE_OCR=llm: scanned pages transcribed by the real google-genai and ollama clients against the fake servers
(images as Gemini ``inlineData`` / Ollama ``images``), metered under the ``ingest`` stage, and read by local OCR
page by page when the LLM fails the way the real services do."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.errors import ConfigError
from rag.ingest_wiring import ingest_options, make_page_reader
from rag.wiring import make_sparse, open_store
from testkit.gemini import IMAGE_TOKENS, gemini_server
from testkit.ollama import ollama_server
from testkit.server import Behaviour, FakeLLM
from tests.test_ocr import LINES, TEXT, cer, render

pytest.importorskip("rapidocr_onnxruntime", reason="the fallback is local OCR, which needs rapidocr-onnxruntime")

SECOND = "The second page is about tides and the moon."


def transcribe(images: list[Image.Image]) -> str:
    """The fake model "reads" a page by its shape: the first page is taller for its width than the second."""
    return "\n".join("LLM read: owls and penguins." if i.height / i.width > 0.2 else "LLM read: tides." for i in images)


def scanned_pdf(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    pages = [render(LINES), render([SECOND])]
    pages[0].save(folder / "scan.pdf", "PDF", resolution=150, save_all=True, append_images=pages[1:])
    return folder / "scan.pdf"


def ingest(settings: Settings, embedder, folder: Path):
    store = open_store(settings)
    try:
        ingestor = Ingestor(
            ingest_options(settings, make_page_reader(settings)), store, embedder, make_sparse(settings)
        )
        report = ingestor.run([folder])
        texts = {h.payload["metadata"]["page"]: h.payload["text"] for h in store.doc_chunks("scan.pdf")}
        return report, texts
    finally:
        store.close()


def test_gemini_transcribes_scanned_pages_and_its_usage_is_recorded(tmp_path: Path, embedder) -> None:
    scanned_pdf(tmp_path / "docs")
    with gemini_server(FakeLLM(reader=transcribe)) as llm:
        s = Settings(data_dir=tmp_path / "data", ocr="llm", gemini_api_key="k", gemini_base_url=llm.url)
        report, texts = ingest(s, embedder, tmp_path / "docs")
    assert texts == {1: "LLM read: owls and penguins.", 2: "LLM read: tides."}
    [file] = report.files
    assert (file["pages"], file["ocr_pages"], file["warnings"]) == (2, 2, [])
    assert len(llm.fake.requests) == 2
    for request in llm.fake.requests:
        [content] = request["body"]["contents"]
        image, prompt = content["parts"]
        assert image["inlineData"]["mime_type"] == "image/png" and prompt == {"text": "Transcribe this page."}
        assert Image.open(io.BytesIO(base64.urlsafe_b64decode(image["inlineData"]["data"]))).width > 1000
        assert request["body"]["generationConfig"]["thinkingConfig"] == {"thinking_level": "MINIMAL"}
    assert report.llm_usage["calls"] == 2 and report.llm_usage["input_tokens"] > 2 * IMAGE_TOKENS


@pytest.mark.parametrize(
    "failure",
    [
        Behaviour(status=429),  # no retryDelay to wait for
        Behaviour(blocked="RECITATION"),  # Gemini stops verbatim copies of known text
        Behaviour(output="truncate"),  # cut at the output cap: MAX_TOKENS
        Behaviour(status=503),
        Behaviour(output="babble"),
    ],
    ids=["rate-limited", "recitation", "truncated", "unavailable", "babble"],
)
def test_a_failed_transcription_falls_back_to_local_ocr_for_that_page(
    tmp_path: Path, embedder, failure: Behaviour
) -> None:
    scanned_pdf(tmp_path / "docs")
    # One page at a time, so the failure hits the first page and the second is transcribed.
    with gemini_server(FakeLLM(reader=transcribe, script=[failure])) as llm:
        s = Settings(
            data_dir=tmp_path / "data", ocr="llm", ocr_llm_concurrency=1, gemini_api_key="k", gemini_base_url=llm.url
        )
        report, texts = ingest(s, embedder, tmp_path / "docs")
    [file] = report.files
    if failure.output == "babble":  # a model that chats instead of transcribing cannot be told from a page
        assert texts[1].startswith("Sure!") and file["warnings"] == []
        return
    assert cer(texts[1], TEXT) <= 0.05, texts[1]  # the first page by local OCR...
    assert texts[2] == "LLM read: tides."  # ...the second by the LLM
    [warning] = file["warnings"]
    assert warning.startswith("page 1: read by local OCR (")
    assert report.llm_usage["calls"] == 2 and file["ocr_pages"] == 2


def test_a_429_with_a_retry_delay_is_waited_out_and_the_page_sent_again(tmp_path: Path, embedder) -> None:
    scanned_pdf(tmp_path / "docs")
    script = [Behaviour(status=429, retry_delay_s=0.3)]
    with gemini_server(FakeLLM(reader=transcribe, script=script)) as llm:
        s = Settings(
            data_dir=tmp_path / "data", ocr="llm", ocr_llm_concurrency=1, gemini_api_key="k", gemini_base_url=llm.url
        )
        report, texts = ingest(s, embedder, tmp_path / "docs")
    assert texts == {1: "LLM read: owls and penguins.", 2: "LLM read: tides."} and report.files[0]["warnings"] == []
    assert len(llm.fake.requests) == 3 and report.llm_usage["calls"] == 3  # the refused call is metered too


def test_a_bad_key_is_reported_and_every_page_still_read(tmp_path: Path, embedder) -> None:
    from testkit.gemini import BAD_KEY

    scanned_pdf(tmp_path / "docs")
    with gemini_server(FakeLLM(reader=transcribe)) as llm:
        s = Settings(data_dir=tmp_path / "data", ocr="llm", gemini_api_key=BAD_KEY, gemini_base_url=llm.url)
        report, texts = ingest(s, embedder, tmp_path / "docs")
    assert cer(texts[2], SECOND) <= 0.05 and report.added == 1
    assert all("API_KEY_INVALID" in w for w in report.files[0]["warnings"])


def test_ollama_gemma_transcribes_an_image_file(tmp_path: Path, embedder) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    render(LINES).save(docs / "scan.png")
    with ollama_server(FakeLLM(reader=transcribe)) as llm:
        s = Settings(data_dir=tmp_path / "data", ocr="llm", llm="ollama", ollama_host=llm.url)
        store = open_store(s)
        try:
            report = Ingestor(ingest_options(s, make_page_reader(s)), store, embedder, make_sparse(s)).run([docs])
            [chunk] = store.doc_chunks("scan.png")
        finally:
            store.close()
    assert chunk.payload["text"] == "LLM read: owls and penguins." and chunk.payload["metadata"]["ocr"] is True
    [request] = llm.fake.requests
    user = request["body"]["messages"][1]
    assert user["content"] == "Transcribe this page." and request["body"]["think"] is False
    assert Image.open(io.BytesIO(base64.b64decode(user["images"][0]))).size == (1400, 360)
    assert report.llm_usage["calls"] == 1 and report.llm_usage["input_tokens"] > 256


def test_llm_ocr_without_an_llm_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RAGLINE_OCR=llm needs a multimodal LLM"):
        make_page_reader(Settings(data_dir=tmp_path, ocr="llm", llm="none"))
