"""Chunking: passages are exact slices of the body, neighbours overlap, and the headline is embedded."""

from __future__ import annotations

import pytest

from news_fixtures import SEED
from rag.articles import read_file
from rag.chunking import PassageSplitter, chunk_article, embedding_text
from rag.models import Article
from rag.settings import Settings

SIZE, OVERLAP = Settings().chunk_size, Settings().chunk_overlap


def article(body: str, title: str = "Harbour reopens") -> Article:
    return Article(record_id="a1", title=title, body=body, path="/news/a1.txt", url="https://example.com/a1",
                   published="2023-03-05", source="example.com")


def sentences(paragraph: int, n: int) -> str:
    return " ".join(f"In paragraph {paragraph} sentence {i} reports fact number {paragraph * 100 + i}." for i in range(n))


BODIES = {
    "seed": read_file(SEED).articles[0].body,
    "short paragraphs": "\n\n".join(sentences(p, 2) for p in range(30)),
    "paragraphs longer than the overlap": "\n\n".join(sentences(p, 8) for p in range(8)),
    "one long paragraph": sentences(0, 60),
    "repeated paragraphs": "\n\n".join(["The same sentence again and again."] * 80),
    "no spaces": "x" * 3500,
}


@pytest.fixture(params=list(BODIES), ids=list(BODIES))
def chunked(request):
    a = article(BODIES[request.param])
    return a, chunk_article(a, PassageSplitter(SIZE, OVERLAP))


def test_chunk_text_is_the_body_slice(chunked):
    a, chunks = chunked
    assert len(chunks) > 1
    for c in chunks:
        assert c.text == a.body[c.start:c.end]
        assert c.text.strip() == c.text and c.text


def test_chunks_run_in_order_and_cover_the_body(chunked):
    a, chunks = chunked
    assert chunks[0].start == 0
    assert chunks[-1].end == len(a.body.rstrip())
    for before, after in zip(chunks, chunks[1:]):
        assert before.start < after.start and before.end < after.end
        assert after.start <= before.end  # no gap: every sentence is in some chunk


def test_neighbouring_chunks_overlap(chunked):
    a, chunks = chunked
    for before, after in zip(chunks, chunks[1:]):
        shared = before.end - after.start
        assert 0 < shared <= OVERLAP, (before.start, before.end, after.start)
        assert a.body[after.start:before.end] == before.text[-shared:] == after.text[:shared]


def test_chunks_stay_near_the_configured_size(chunked):
    _, chunks = chunked
    assert all(len(c.text) <= SIZE + OVERLAP for c in chunks)


def test_overlap_starts_at_a_sentence_when_paragraphs_are_long():
    a = article(BODIES["paragraphs longer than the overlap"])
    chunks = chunk_article(a, PassageSplitter(SIZE, OVERLAP))
    assert all(c.text.startswith("In paragraph ") for c in chunks)


def test_chunks_carry_the_article_metadata():
    a = article(BODIES["short paragraphs"])
    for c in chunk_article(a, PassageSplitter(SIZE, OVERLAP)):
        assert (c.article_id, c.title, c.url, c.published, c.source, c.path) == (
            a.id, a.title, a.url, a.published, a.source, a.path)


def test_short_article_is_one_chunk():
    a = article("The harbour reopened on Monday.")
    [c] = chunk_article(a, PassageSplitter(SIZE, OVERLAP))
    assert (c.start, c.end, c.text) == (0, len(a.body), a.body)


def test_embedded_text_starts_with_the_title():
    a = article(BODIES["short paragraphs"], title="Harbour reopens after storm")
    chunks = chunk_article(a, PassageSplitter(SIZE, OVERLAP))
    for c in chunks:
        text = embedding_text(c)
        assert text.startswith("Harbour reopens after storm\n\n")
        assert text.endswith(c.text)
    untitled = chunk_article(article("Body only.", title=""), PassageSplitter(SIZE, OVERLAP))[0]
    assert embedding_text(untitled) == "Body only."
