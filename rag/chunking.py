"""Splitting an article body into overlapping passages with character offsets into the body."""

from __future__ import annotations

from langchain_text_splitters import RecursiveCharacterTextSplitter

from .models import Article, Chunk

SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


def make_splitter(chunk_size: int, chunk_overlap: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap,
                                          separators=SEPARATORS, keep_separator="end", add_start_index=True)


def chunk_article(article: Article, splitter: RecursiveCharacterTextSplitter) -> list[Chunk]:
    """The article's passages; each chunk's text is exactly `article.body[start:end]`."""
    chunks = []
    for doc in splitter.create_documents([article.body]):
        start = doc.metadata["start_index"]
        if start < 0:  # the splitter could not locate its own chunk; search from the top instead
            start = article.body.find(doc.page_content)
        end = start + len(doc.page_content)
        chunks.append(Chunk(text=article.body[start:end], start=start, end=end, article_id=article.id,
                            title=article.title, url=article.url, published=article.published,
                            source=article.source, path=article.path))
    return chunks


def embedding_text(chunk: Chunk) -> str:
    """What is embedded and stored for a chunk: the headline first, so a passage is findable by its story."""
    return f"{chunk.title}\n\n{chunk.text}" if chunk.title else chunk.text
