"""ragline ingest: files → chunks → embeddings → Qdrant, incremental and crash-safe."""
