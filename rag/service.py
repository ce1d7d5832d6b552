"""The services the CLI and the web UI share: ingest, search, ask, status. Wired once from Settings."""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

from .embeddings import SentenceEmbeddings
from .indexing import Progress, sync
from .models import Answer, Article, Chunk, IngestReport
from .retrieval import Filters, HybridRetriever, LexicalIndex
from .settings import Settings
from .store import Store


class NewsChat:
    """One store, one retriever, one answerer."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.embeddings = SentenceEmbeddings(settings.embedding_model)
        self.store = Store(settings.store_dir, self.embeddings, settings.chroma_url)
        self.lexical = LexicalIndex(self.store)
        self.retriever = HybridRetriever(store=self.store, lexical=self.lexical, k=settings.top_k)
        self._answerer = None
        self._ingest_lock = threading.Lock()

    @property
    def answerer(self):
        if self._answerer is None:
            from .answering import make_answerer

            self._answerer = make_answerer(self.settings, self.embeddings)
        return self._answerer

    def ingest(self, paths: list[Path] | None = None, on_progress: Progress | None = None) -> IngestReport:
        with self._ingest_lock:
            self.lexical.hold = True  # questions meanwhile use the keyword index as it was
            try:
                report = sync(self.store, paths or [self.settings.articles_dir], self.settings, on_progress)
            finally:
                self.lexical.hold = False
            if report.added or report.updated or report.deleted:
                self.lexical.ensure_fresh()  # here, rather than in the next question
            return report

    def search(self, query: str, filters: Filters | None = None, k: int | None = None) -> list[Chunk]:
        return self.retriever.search(query, filters or Filters(as_of=date.today().isoformat()), k)

    def ask(self, question: str, history: list[tuple[str, str]] | None = None,
            filters: Filters | None = None, k: int | None = None) -> Answer:
        from .answering import answer_question

        filters = filters or Filters(as_of=date.today().isoformat())
        return answer_question(question, history or [], filters, self, k or self.settings.top_k)

    def article(self, article_id: str) -> Article | None:
        return self.store.catalog.article(article_id)

    def status(self) -> dict:
        return self.store.status()
