"""Chunks fit the model's window with their title, overlap, and keep every word whole."""

from __future__ import annotations

from ingest.chunking import Chunker
from ingest.document import Document, Section
from rag.config import Settings
from rag.embedding import Embedder


def default_chunker(embedder: Embedder) -> Chunker:
    settings = Settings()
    return Chunker(
        embedder.count_tokens, embedder.max_tokens, chunk_tokens=settings.chunk_tokens, overlap=settings.chunk_overlap
    )


def test_chunks_fit_window_and_keep_words(embedder: Embedder) -> None:
    words = [f"word{i}" for i in range(900)]
    doc = Document("d", "A fairly long title about testing", "txt", [Section(" ".join(words) + ".")])
    chunker = default_chunker(embedder)
    chunks = chunker.chunk(doc)
    assert len(chunks) > 3
    # Full tokenisation with special tokens: nothing the model reads is cut.
    ids = embedder.tokenizer([c.embed_text for c in chunks])["input_ids"]
    assert max(len(x) for x in ids) <= embedder.max_tokens
    seen = set()
    for c in chunks:
        assert c.embed_text.startswith("A fairly long title about testing\n")
        for w in c.text.split():
            assert w.rstrip(".") in words  # never split mid-word
            seen.add(w.rstrip("."))
    assert seen == set(words)  # nothing dropped
    # consecutive chunks overlap
    first, second = chunks[0].text.split(), chunks[1].text.split()
    assert first[-1] in second[:40]


def test_chunks_prefer_sentence_ends(embedder: Embedder) -> None:
    sentence = "The quick brown fox jumps over the lazy dog near the river bank today."
    doc = Document("d", "", "txt", [Section(" ".join([sentence] * 60))])
    chunks = default_chunker(embedder).chunk(doc)
    assert all(c.text.endswith(".") for c in chunks)


def test_giant_word_is_split_not_dropped(embedder: Embedder) -> None:
    blob = "x" * 3000
    chunks = default_chunker(embedder).chunk(Document("d", "", "txt", [Section(blob)]))
    assert "".join(c.text.replace(" ", "") for c in chunks).count("x") >= 3000
    assert max(len(x) for x in embedder.tokenizer([c.embed_text for c in chunks])["input_ids"]) <= 256


def test_sections_do_not_share_chunks(embedder: Embedder) -> None:
    doc = Document("d", "T", "pdf", [Section("page one", {"page": 1}), Section("page two", {"page": 2})])
    chunks = default_chunker(embedder).chunk(doc)
    assert [(c.text, c.metadata["page"]) for c in chunks] == [("page one", 1), ("page two", 2)]


def test_huge_text_is_tokenised_in_bounded_segments() -> None:
    from ingest.chunking import segments

    text = "\n\n".join(f"Paragraph {n}. " + "lorem ipsum dolor " * 400 for n in range(60))  # ~440 KB
    parts = list(segments(text, size=100_000))
    assert "".join(parts) == text and len(parts) >= 5
    assert all(len(p) <= 100_000 for p in parts) and all(p.startswith("\n\nParagraph") for p in parts[1:])


def test_chunks_keep_the_line_breaks_of_code_lists_and_tables(embedder: Embedder) -> None:
    text = (
        "Steps:\n- grind the beans\n- heat the water\n\n```\nwater = 93  # degrees\nbrew(water)\n```\n\n"
        "| a | b |\n| --- | --- |"
    )
    [chunk] = default_chunker(embedder).chunk(Document("d", "Guide", "md", [Section(text)]))
    assert chunk.text == text and chunk.embed_text == f"Guide\n{text}"
    # Long text: every chunk is a verbatim slice of it, and together they cover every word.
    long = "\n".join(f"- item {n}: check the valve\n  then the pump." for n in range(300))
    chunks = default_chunker(embedder).chunk(Document("d", "List", "md", [Section(long)]))
    assert len(chunks) > 1 and all(c.text in long and "\n" in c.text for c in chunks)
    assert {w for c in chunks for w in c.text.split()} == set(long.split())
