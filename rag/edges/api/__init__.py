"""The HTTP edge: FastAPI routes over the retrieval and ingest core."""
