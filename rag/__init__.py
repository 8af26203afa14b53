"""ragline: a self-hostable RAG retrieval service (query side)."""

__version__ = "0.1.0"
