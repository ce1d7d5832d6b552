"""Splitting an article body into overlapping passages with character offsets into the body."""

from __future__ import annotations

import re

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .models import Article, Chunk

SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]
# Where a chunk moved back into the previous one (`_overlapping_start`) may start: after a full stop, a
# question or exclamation mark or a closing quote, whatever follows, or at a new line. Not the sentences'
# rule (`sentences._BOUNDARY`, which knows abbreviations, "Mr. Smith", and wants a capital or a digit
# next): these places fix every stored chunk's boundaries, and a change re-embeds every store. Started
# at `sentences.split`'s sentences instead, 1,160 of 19,120 chunks moved, in 804 of 2,509 articles
# (seeds/, and rtqa-2023-s150's 1,254 articles both as rag reads them and as their JSONL texts).
_SENTENCE_START = re.compile(r"(?<=[.?!\"”])\s+(?=\S)|\n\s*")
_WORD_START = re.compile(r"\s+(?=\S)")


class PassageSplitter(RecursiveCharacterTextSplitter):
    """LangChain's recursive splitter that also says, as a public attribute, the overlap it was made with."""

    def __init__(self, chunk_size: int, chunk_overlap: int):
        super().__init__(chunk_size=chunk_size, chunk_overlap=chunk_overlap, separators=SEPARATORS,
                         keep_separator="end", add_start_index=True)
        self.overlap = chunk_overlap


def chunk_article(article: Article, splitter: PassageSplitter) -> list[Chunk]:
    """The article's passages; each chunk's text is exactly `article.body[start:end]`, and each
    starts inside the one before it (by up to the splitter's overlap)."""
    body, chunks = article.body, []
    for doc in splitter.create_documents([body]):
        start = doc.metadata["start_index"]
        if start < 0:  # the splitter could not locate its own chunk; search from the top instead
            start = body.find(doc.page_content)
        end = start + len(doc.page_content)
        if chunks:
            start = _overlapping_start(body, start, chunks[-1].end, splitter.overlap)
        chunks.append(Chunk(text=body[start:end], start=start, end=end, article_id=article.id, record_id=article.record_id,
                            title=article.title, url=article.url, published=article.published,
                            source=article.source, path=article.path))
    return chunks


def _overlapping_start(body: str, start: int, previous_end: int, overlap: int) -> int:
    """Where a chunk should start to share about `overlap` characters with the previous one.

    The splitter overlaps whole splits only, so after a paragraph longer than the overlap chunks
    share nothing; then the chunk is moved back to the first sentence (else word) that begins in
    the last `overlap` characters of the previous chunk."""
    if start < previous_end:
        return start
    window_start = max(0, previous_end - overlap)
    for pattern in (_SENTENCE_START, _WORD_START):
        m = pattern.search(body, window_start, previous_end)
        if m and m.end() < start:
            return m.end()
    return start


def embedding_text(chunk: Chunk) -> str:
    """What is embedded and stored for a chunk: the headline first, so a passage is findable by its story."""
    return headed(chunk.title, chunk.text)


def headed(title: str, text: str) -> str:
    return f"{title}\n\n{text}" if title else text
