"""The plain records that flow through the pipeline: Article, Chunk, Citation, Answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def display_path(path: str) -> str:
    """A stored (absolute) path as users see it: relative to the working directory when inside it."""
    if not path:
        return path
    try:
        return str(Path(path).relative_to(Path.cwd().resolve()))
    except ValueError:
        return path


@dataclass
class Article:
    """One news article: cleaned body text plus the metadata read from its file."""

    id: str
    title: str
    body: str
    path: str
    url: str = ""
    published: str = ""  # ISO date, YYYY-MM-DD, or "" when unknown
    source: str = ""  # the outlet, e.g. "merkur" or "cnn.com"
    authors: list[str] = field(default_factory=list)

    def ref(self) -> dict:
        """The article as it appears inside JSON results (no body)."""
        return {
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "published": self.published,
            "source": self.source,
            "path": display_path(self.path),
        }


@dataclass
class Chunk:
    """A passage of an article; `text == article.body[start:end]`."""

    text: str
    start: int
    end: int
    article_id: str
    title: str = ""
    url: str = ""
    published: str = ""
    source: str = ""
    path: str = ""
    score: float = 0.0

    def article_ref(self) -> dict:
        return {
            "id": self.article_id,
            "title": self.title,
            "url": self.url,
            "published": self.published,
            "source": self.source,
            "path": display_path(self.path),
        }

    def to_json(self, rank: int) -> dict:
        return {
            "rank": rank,
            "score": round(float(self.score), 4),
            "text": self.text,
            "article": self.article_ref(),
            "start": self.start,
            "end": self.end,
        }


@dataclass
class Citation:
    """A verified quote: `quote == body[start:end]` of the cited article."""

    n: int
    quote: str
    start: int
    end: int
    chunk: Chunk  # the retrieved passage the quote came from (carries the article metadata)

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "quote": self.quote,
            "article": self.chunk.article_ref(),
            "start": self.start,
            "end": self.end,
        }


@dataclass
class Answer:
    """What `ask` returns: answer text with [n] markers, its citations and what was retrieved."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[Chunk] = field(default_factory=list)
    refused: bool = False
    query: str = ""  # the standalone query actually searched (after follow-up rewriting)
    dropped: list[str] = field(default_factory=list)  # quotes that failed verification
    answerer: str = "extractive"

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "query": self.query,
            "answerer": self.answerer,
            "dropped_quotes": len(self.dropped),
            "citations": [c.to_json() for c in self.citations],
            "retrieved": [c.to_json(i + 1) for i, c in enumerate(self.retrieved)],
        }


@dataclass
class IngestReport:
    """The outcome of one sync of article files into the store."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    chunks_embedded: int = 0
    failed: list[dict] = field(default_factory=list)  # {"path": ..., "error": ...}

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "chunks_embedded": self.chunks_embedded,
            "failed": self.failed,
        }
