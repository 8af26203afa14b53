"""What tests/ and bench/ share: local HTTP servers that speak the Gemini, Ollama and OpenAI-compatible wire
protocols and misbehave as those services do (the real ones are out of reach here), the fake judges that
grade through them, and ``real_llm``, which starts a real model behind llama.cpp's OpenAI-compatible server."""
