"""The LLM's, reranking's and answers' settings: fields of ``rag.config.Settings`` (``RAGLINE_<NAME>`` in the
environment), declared here so that each module stays short; there is still one settings class."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator

# The most passages one answer may be grounded in (RAGLINE_ANSWER_PASSAGES, a request's top_k).
MAX_ANSWER_PASSAGES = 20
ThinkingLevel = Literal["minimal", "low", "medium", "high"]


class LLMSettings(BaseModel):
    """The LLM backend and its costs, reranking, answers and their citation check."""

    llm: Literal["auto", "gemini", "ollama", "openai", "none"] = Field(
        "auto",
        description="LLM backend for reranking and answers; auto: gemini when a key is set, else ollama when "
        "OLLAMA_HOST is set, else openai when RAGLINE_OPENAI_BASE_URL is set, else none.",
    )
    gemini_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("RAGLINE_GEMINI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"),
        description="Gemini API key (GEMINI_API_KEY or GOOGLE_API_KEY).",
    )
    gemini_model: str = Field("gemini-3.1-flash-lite", description="Gemini model.")
    gemini_base_url: str | None = Field(None, description="Gemini API base URL (proxies, tests).")
    gemini_thinking_rerank: ThinkingLevel = Field(
        "minimal", description="Gemini thinking level for rerank calls (3.x: thinkingLevel; 2.5: minimal = budget 0)."
    )
    gemini_thinking_answer: ThinkingLevel = Field("low", description="Gemini thinking level for answers.")
    gemini_thinking_transcribe: ThinkingLevel = Field(
        "minimal", description="Gemini thinking level for page transcription (RAGLINE_OCR=llm)."
    )
    gemini_temperature: float | None = Field(
        None, ge=0, le=2, description="Gemini temperature; unset keeps the model's default (1.0 for Gemini 3)."
    )
    ollama_host: str = Field(
        "http://127.0.0.1:11434",
        validation_alias=AliasChoices("RAGLINE_OLLAMA_HOST", "OLLAMA_HOST"),
        description="Ollama server URL (OLLAMA_HOST); setting it makes RAGLINE_LLM=auto choose Ollama.",
    )
    ollama_model: str = Field("gemma3:4b", description="Ollama model.")
    ollama_num_ctx: int = Field(8192, ge=512, description="Ollama context window, set on every call.")
    ollama_keep_alive: str = Field("30m", description="How long Ollama keeps the model loaded after a call.")
    openai_base_url: str = Field(
        "http://127.0.0.1:8000/v1",
        description="Base URL of an OpenAI-compatible server, /v1 included (vLLM, llama.cpp's server, SGLang, "
        "LM Studio, Ollama's /v1); setting it makes RAGLINE_LLM=auto choose it when neither Gemini nor Ollama is.",
    )
    openai_model: str | None = Field(
        None, description="Model to ask the OpenAI-compatible server for; unset: the first model it lists."
    )
    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("RAGLINE_OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="Key for the OpenAI-compatible server (OPENAI_API_KEY); servers that need none accept any.",
    )
    openai_structured: Literal["auto", "json_schema", "json_object", "none"] = Field(
        "auto",
        description="Structured-output form to send: json_schema (OpenAI, vLLM, SGLang), json_object with a schema "
        "(llama-cpp-python), none (plain JSON asked for in the prompt); auto: step down from json_schema the first "
        "time the server refuses a form.",
    )
    openai_images: bool = Field(
        False, description="The OpenAI-compatible server's model reads images (needed for RAGLINE_OCR=llm)."
    )
    llm_timeout_s: float = Field(60.0, gt=0, description="Longest wait for one answer-generation call.")
    llm_max_concurrency: int = Field(8, ge=1, description="LLM calls in flight at once, per backend and process.")
    llm_rpm: int = Field(1000, ge=0, description="LLM calls started per minute, per backend and process (0: no limit).")
    llm_prices: str = Field(
        "",
        description='Extra prices per 1M tokens as JSON, e.g. {"gemini-3.1-flash-lite": [0.25, 1.5]} (input, output).',
    )
    ollama_gpu_hour_usd: float = Field(
        0.0,
        ge=0,
        description="Price of self-hosted LLM time (Ollama, OpenAI-compatible servers) per GPU-hour (0: free); a "
        "model named in RAGLINE_LLM_PRICES is priced per token instead.",
    )
    gpu_hour_usd: float = Field(
        0.80, ge=0, description="Price of a rented GPU hour in `rag cost`'s self-hosting projection (an L4-class GPU)."
    )
    gpu_queries_per_hour: int = Field(
        3600, ge=1, description="Reranked queries one rented GPU serves an hour, for `rag cost` (measure yours)."
    )
    usage_log: Path | None = Field(None, description="JSONL file that gets one line per LLM call.")

    rerank: bool = Field(True, description="Rerank searches with the LLM unless a request says otherwise.")
    rerank_strategy: Literal["graded", "pointwise", "listwise"] = Field(
        "graded",
        description="How the LLM judges: graded (one call grades every candidate 0-10), pointwise (a call per "
        "candidate), listwise (RankGPT windows).",
    )
    rerank_weight: float = Field(
        4.0,
        ge=0,
        description="What a grade of 10 adds over a grade of 0, in units of the candidates' retrieval score range "
        "(min-max scaled), when the judge is trusted in full (chosen with bench/rerank.py; 0: retrieval order).",
    )
    rerank_full_trust_agreement: float = Field(
        0.3,
        gt=0,
        le=1,
        description="The judge's agreement with retrieval over recent queries (Goodman-Kruskal gamma, its 2-sigma "
        "lower bound) at which its grades count in full; below it they count in proportion, at 0 not at all.",
    )
    rerank_trust_memory: float = Field(
        0.98, gt=0, lt=1, description="Share of the judge's record kept per query (0.98: about the last 50)."
    )
    rerank_prior_agreement: float = Field(
        0.6,
        ge=-1,
        le=1,
        description="The agreement a new process assumes of the judge, worth RAGLINE_RERANK_PRIOR_PAIRS graded "
        "pairs: trusted at first (half of full with the defaults), until its record says otherwise.",
    )
    rerank_prior_pairs: float = Field(20.0, gt=0, description="Weight of RAGLINE_RERANK_PRIOR_AGREEMENT.")
    rerank_candidates: int = Field(
        20, ge=2, le=100, description="Retrieved candidates the LLM judges (never more per query)."
    )
    rerank_window: int = Field(20, ge=2, description="Listwise: passages per call.")
    rerank_step: int = Field(10, ge=1, description="Listwise: how far the window slides.")
    rerank_passage_tokens: int = Field(
        56, ge=16, description="Token budget of each passage in a rerank prompt (about 4 characters a token)."
    )
    rerank_timeout_ms: int = Field(4000, ge=50, description="Deadline of the rerank stage; retrieval order after.")
    rerank_retries: int = Field(2, ge=0, description="Retries of a failed call, only when they fit the deadline.")
    rerank_cache_size: int = Field(1024, ge=0, description="Cached rerank results (0 disables the cache).")
    mcp_max_bytes: int = Field(
        24_000, ge=1000, description="Most bytes of JSON one MCP tool reply carries (passages trimmed to fit)."
    )
    max_concurrent_answers: int = Field(
        8,
        ge=1,
        description="Answers generated at once per process; more get HTTP 503 with Retry-After, so answers waiting "
        "on a slow LLM never hold every worker.",
    )
    citation_check: Literal["local", "llm", "off"] = Field(
        "local",
        description="Check each claim of an answer against the passage(s) it cites: local (the loaded embedder and "
        "word overlap, no LLM call), llm (one structured call per answer, metered under the citations stage; the "
        "local verdicts stand where it fails) or off.",
    )
    citation_min_support: float = Field(
        0.48,
        ge=0,
        le=1,
        description="Support (0-1) a claim needs to count as supported by the passage it cites (chosen with "
        "bench/citations.py).",
    )
    answer_passages: int = Field(5, ge=1, le=MAX_ANSWER_PASSAGES, description="Top passages an answer is grounded in.")
    answer_max_tokens: int = Field(512, ge=16, description="Longest generated answer.")
    answer_passage_tokens: int = Field(384, ge=16, description="Token budget of each passage in an answer prompt.")

    @model_validator(mode="after")
    def _window_slides(self) -> LLMSettings:
        if self.rerank_step >= self.rerank_window:
            raise ValueError("RAGLINE_RERANK_STEP must be smaller than RAGLINE_RERANK_WINDOW (windows overlap)")
        return self
