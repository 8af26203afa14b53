"""LLM reranking of retrieved candidates: prompts, strict output parsing, and the deadline-bound reranker."""
