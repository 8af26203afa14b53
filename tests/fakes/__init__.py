"""Local HTTP servers that speak the Gemini and Ollama wire protocols (the real services are out of reach)."""
