"""What an LLM call costs: per-token prices for APIs, optionally GPU time for local models."""

from __future__ import annotations

import json
import logging

from rag.errors import ConfigError

log = logging.getLogger("ragline.llm")

# USD per 1M (input, output) tokens. Gemini 3.1 Flash-Lite's list price.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {"gemini-3.1-flash-lite": (0.25, 1.50)}
LOCAL_BACKENDS = frozenset({"ollama", "openai"})  # self-hosted: GPU time, unless the model has a token price


class PriceTable:
    """Prices by model name; local backends cost their call time at ``gpu_hour_usd`` (0 = free)."""

    def __init__(self, per_million: dict[str, tuple[float, float]] | None = None, gpu_hour_usd: float = 0.0) -> None:
        self.per_million = {**DEFAULT_PRICES, **(per_million or {})}
        self.gpu_hour_usd = gpu_hour_usd
        self._warned: set[str] = set()

    @classmethod
    def from_json(cls, text: str, gpu_hour_usd: float = 0.0) -> PriceTable:
        """Prices from ``{"model": [input, output]}`` (USD per 1M tokens) on top of the defaults."""
        if not text.strip():
            return cls(gpu_hour_usd=gpu_hour_usd)
        try:
            raw = json.loads(text)
            table = {str(m): (float(p[0]), float(p[1])) for m, p in raw.items()}
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            raise ConfigError(f'RAGLINE_LLM_PRICES: expected {{"model": [input, output]}}, got {text!r}') from exc
        return cls(table, gpu_hour_usd)

    def _price(self, model: str) -> tuple[float, float] | None:
        name = model.removeprefix("models/")
        if name in self.per_million:
            return self.per_million[name]
        # Versioned names ("...-preview-06-17") take the price of their family.
        family = max((m for m in self.per_million if name.startswith(m)), key=len, default=None)
        return self.per_million[family] if family else None

    def cost(self, backend: str, model: str, input_tokens: int, output_tokens: int, seconds: float) -> float:
        if backend in LOCAL_BACKENDS and model not in self.per_million:
            return self.gpu_hour_usd * seconds / 3600
        price = self._price(model)
        if price is None:
            if model not in self._warned:
                self._warned.add(model)
                log.warning("no price for model %s; its cost counts as 0 (set RAGLINE_LLM_PRICES)", model)
            return 0.0
        return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000
