"""Stores: the contract both engines keep (``base.py``), the embedded Qdrant Edge shard (``edge.py``) and a
Qdrant server through qdrant-client (``server.py``). ``rag/wiring.py`` picks one from the settings."""
