"""Which LLM backend ``RAGLINE_LLM`` names, built from the settings (or none)."""

from __future__ import annotations

import logging

from rag.config import Settings
from rag.errors import ConfigError
from rag.llm.base import LLMBackend

log = logging.getLogger("ragline")
NO_LLM = "no LLM configured (set GEMINI_API_KEY, or RAGLINE_LLM=ollama, or RAGLINE_LLM=openai)"


def make_llm(settings: Settings) -> LLMBackend | None:
    """The configured backend; auto picks Gemini with a key, else Ollama with a host, else an OpenAI-compatible
    server with a base URL, else none."""
    choice = settings.llm
    if choice == "auto":
        named = settings.model_fields_set
        choice = (
            "gemini"
            if settings.gemini_api_key
            else "ollama"
            if "ollama_host" in named
            else "openai"
            if "openai_base_url" in named
            else "none"
        )
    if choice == "gemini":
        if not settings.gemini_api_key:
            raise ConfigError("RAGLINE_LLM=gemini needs GEMINI_API_KEY (or GOOGLE_API_KEY)")
        from rag.llm.gemini_backend import GeminiBackend

        llm: LLMBackend = GeminiBackend(
            settings.gemini_api_key.get_secret_value(),
            settings.gemini_model,
            base_url=settings.gemini_base_url,
            thinking={
                "rerank": settings.gemini_thinking_rerank,
                "answer": settings.gemini_thinking_answer,
                "transcribe": settings.gemini_thinking_transcribe,
            },
            temperature=settings.gemini_temperature,
        )
    elif choice == "ollama":
        from rag.llm.ollama_backend import OllamaBackend

        llm = OllamaBackend(
            settings.ollama_host,
            settings.ollama_model,
            num_ctx=settings.ollama_num_ctx,
            keep_alive=settings.ollama_keep_alive,
            timeout_s=settings.llm_timeout_s,
            max_concurrency=settings.llm_max_concurrency,
        )
    elif choice == "openai":
        from rag.llm.openai_backend import OpenAIBackend

        llm = OpenAIBackend(
            settings.openai_base_url,
            settings.openai_model,
            api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
            timeout_s=settings.llm_timeout_s,
            structured=settings.openai_structured,
            images=settings.openai_images,
        )
    else:
        log.info("LLM: none — %s; searches return retrieval order", NO_LLM)
        return None
    log.info("LLM: %s, model %s (RAGLINE_LLM=%s)", llm.name, llm.model, settings.llm)
    return llm
