"""LLM backends behind one protocol, and the accounting of what their calls cost."""
