"""The ingest side of the composition root: how files become stored chunks (``IngestOptions``) and how scanned
pages are read when not by local OCR (the LLM page reader), from the settings."""

from __future__ import annotations

from ingest.loaders import ReadOptions
from ingest.loaders.archive_guard import UnpackLimits
from ingest.loaders.llm_ocr import LLMReader
from ingest.loaders.ocr import OcrOptions, PageReader
from ingest.options import IngestOptions
from rag.config import Settings
from rag.embedding import model_identity
from rag.errors import ConfigError
from rag.llm.backend_choice import NO_LLM, make_llm
from rag.llm.base import LLMBackend
from rag.llm.usage import UsageMeter
from rag.wiring import make_meter, make_metered


def make_page_reader(
    settings: Settings, meter: UsageMeter | None = None, backend: LLMBackend | None = None
) -> LLMReader | None:
    """The LLM page reader ``RAGLINE_OCR=llm`` asks for (None otherwise), over ``backend`` or the configured
    LLM, metered into ``meter``."""
    if settings.ocr != "llm":
        return None
    backend = backend or make_llm(settings)
    if backend is None:
        raise ConfigError(f"RAGLINE_OCR=llm needs a multimodal LLM: {NO_LLM}")
    if not backend.images:
        raise ConfigError(
            f"RAGLINE_OCR=llm needs a model that reads images; {backend.name} {backend.model!r} is not declared to "
            "(for an OpenAI-compatible server with a vision model, set RAGLINE_OPENAI_IMAGES=true)"
        )
    metered = make_metered(settings, backend, meter or make_meter(settings))
    return LLMReader(metered, settings.ocr_llm_max_tokens, settings.llm_timeout_s)


def ingest_options(settings: Settings, page_reader: PageReader | None = None) -> IngestOptions:
    """How files become stored chunks; ``page_reader``: how scanned pages are read when not by local OCR
    (``RAGLINE_OCR=llm``, see ``make_page_reader``)."""
    return IngestOptions(
        embed_identity=model_identity(settings.embed_model),
        chunk_tokens=settings.chunk_tokens,
        chunk_overlap=settings.chunk_overlap,
        bm25_avg_len=settings.bm25_avg_len,
        batch_chunks=settings.ingest_batch_chunks,
        read=ReadOptions(
            UnpackLimits(settings.max_unpacked_bytes, settings.max_unpack_ratio),
            OcrOptions(
                settings.ocr != "off",
                settings.ocr_dpi,
                settings.ocr_min_chars,
                settings.ocr_max_pixels,
                reader=page_reader,
                concurrency=settings.ocr_llm_concurrency if page_reader else 1,
            ),
        ),
    )
