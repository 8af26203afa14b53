"""The edges: the HTTP API, MCP, the rag and ingest commands. They build the process's Service and translate
typed errors into HTTP statuses and exit codes; the core below imports none of them."""
