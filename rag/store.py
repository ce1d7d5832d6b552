"""The store on disk: Chroma vectors of chunks, LangChain's record manager, and a catalog of articles.

Layout of a store directory:
    chroma/            the Chroma database (or a Chroma server, when RAG_CHROMA_URL is set)
    records.sqlite     LangChain SQLRecordManager: which chunk ids exist, per source file
    catalog.sqlite     one row per ingested file and per article (with its cleaned body)
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from urllib.parse import urlparse

from .models import Article, Chunk

NAMESPACE = "chroma/articles"


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says what to do."""


class ModelMismatchError(StoreError):
    pass


class Catalog:
    """Which files were ingested (with their digests) and the articles they hold."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript("""
            CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, digest TEXT, ingested_at REAL);
            CREATE TABLE IF NOT EXISTS articles (
                path TEXT, id TEXT, content_hash TEXT, title TEXT, url TEXT, published TEXT,
                source TEXT, authors TEXT, body TEXT, chunks INTEGER, duplicate_of TEXT,
                PRIMARY KEY (path, id));
            CREATE INDEX IF NOT EXISTS articles_hash ON articles(content_hash);
            CREATE INDEX IF NOT EXISTS articles_id ON articles(id);
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
        """)

    def file_digest(self, path: str) -> str | None:
        row = self.db.execute("SELECT digest FROM files WHERE path = ?", (path,)).fetchone()
        return row[0] if row else None

    def paths(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT path FROM files")]

    def articles_in(self, path: str) -> dict[str, tuple[str, str | None]]:
        """{article id: (content hash, duplicate_of)} for one file."""
        rows = self.db.execute("SELECT id, content_hash, duplicate_of FROM articles WHERE path = ?", (path,))
        return {r[0]: (r[1], r[2]) for r in rows}

    def canonical_for(self, content_hash: str, exclude_path: str) -> str | None:
        """The id of an already stored (non-duplicate) article with this content in another file."""
        row = self.db.execute(
            "SELECT id FROM articles WHERE content_hash = ? AND duplicate_of IS NULL AND path != ? LIMIT 1",
            (content_hash, exclude_path)).fetchone()
        return row[0] if row else None

    def paths_with_duplicates_of(self, paths: list[str]) -> list[str]:
        """Files holding duplicates of articles stored from `paths` (they must be re-read when those go)."""
        if not paths:
            return []
        marks = ",".join("?" * len(paths))
        rows = self.db.execute(
            f"SELECT DISTINCT d.path FROM articles d JOIN articles c ON d.duplicate_of = c.id "
            f"WHERE c.path IN ({marks}) AND d.path NOT IN ({marks})", paths + paths)
        return [r[0] for r in rows]

    def replace_file(self, path: str, digest: str, rows: list[tuple[Article, str, int, str | None]]) -> None:
        """Record a file's articles: (article, content hash, chunk count, duplicate_of)."""
        with self.db:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM articles WHERE path = ?", (path,))
            self.db.executemany(
                "INSERT OR REPLACE INTO articles VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                [(path, a.id, h, a.title, a.url, a.published, a.source, json.dumps(a.authors), a.body, n, dup)
                 for a, h, n, dup in rows])
            self.db.execute("INSERT OR REPLACE INTO files VALUES (?,?,?)", (path, digest, time.time()))
            self._touch()

    def forget_file(self, path: str) -> int:
        """Drop a file's rows; returns how many stored (non-duplicate) articles it held."""
        with self.db:
            self.db.execute("BEGIN")
            n = self.db.execute("SELECT COUNT(*) FROM articles WHERE path = ? AND duplicate_of IS NULL",
                                (path,)).fetchone()[0]
            self.db.execute("DELETE FROM articles WHERE path = ?", (path,))
            self.db.execute("DELETE FROM files WHERE path = ?", (path,))
            self._touch()
        return n

    def _touch(self) -> None:
        """Mark the catalog changed: `revision` tells caches (the BM25 index) to refresh."""
        self.set_meta("last_ingest", time.strftime("%Y-%m-%d %H:%M:%S"))
        self.set_meta("revision", str(time.time_ns()))

    def article(self, article_id: str) -> Article | None:
        row = self.db.execute(
            "SELECT id, title, body, path, url, published, source, authors FROM articles "
            "WHERE id = ? AND duplicate_of IS NULL LIMIT 1", (article_id,)).fetchone()
        if not row:
            return None
        return Article(id=row[0], title=row[1], body=row[2], path=row[3], url=row[4], published=row[5],
                       source=row[6], authors=json.loads(row[7] or "[]"))

    def counts(self) -> tuple[int, int]:
        row = self.db.execute(
            "SELECT COUNT(*), COALESCE(SUM(chunks), 0) FROM articles WHERE duplicate_of IS NULL").fetchone()
        return row[0], row[1]

    def sources(self) -> list[str]:
        rows = self.db.execute("SELECT DISTINCT source FROM articles WHERE source != '' ORDER BY source")
        return [r[0] for r in rows]

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def chunk_metadata(chunk: Chunk) -> dict:
    """Chroma metadata of a chunk; `day` (YYYYMMDD as an int, 0 = unknown) serves date filters."""
    return {"article_id": chunk.article_id, "title": chunk.title, "url": chunk.url,
            "published": chunk.published, "day": date_number(chunk.published), "source": chunk.source,
            "path": chunk.path, "start": chunk.start, "end": chunk.end}


def chunk_from_metadata(meta: dict, stored_text: str, score: float = 0.0) -> Chunk:
    start, end = int(meta["start"]), int(meta["end"])
    return Chunk(text=stored_text[len(stored_text) - (end - start):], start=start, end=end,
                 article_id=meta["article_id"], title=meta.get("title", ""), url=meta.get("url", ""),
                 published=meta.get("published", ""), source=meta.get("source", ""), path=meta.get("path", ""),
                 score=score)


def date_number(iso_date: str) -> int:
    return int(iso_date[:10].replace("-", "")) if iso_date and len(iso_date) >= 10 else 0


class Store:
    """Opens (creating if needed) the store directory for one embedding model."""

    def __init__(self, store_dir: Path, embeddings, chroma_url: str = "", check_model: bool = True):
        """`check_model=False` opens a store built with another model, only to `reset()` it."""
        self.dir = Path(store_dir)
        self.embeddings = embeddings
        self.chroma_url = chroma_url
        self._check_writable()
        self.catalog = Catalog(self.dir / "catalog.sqlite")
        self.client = self._client()
        if check_model:
            self._check_model()
        self._open_vectors()
        from langchain_classic.indexes import SQLRecordManager

        self.records = SQLRecordManager(NAMESPACE, db_url=f"sqlite:///{self.dir / 'records.sqlite'}")
        self.records.create_schema()
        if self.catalog.meta("model") is None:
            self.catalog.set_meta("model", embeddings.name)

    @property
    def location(self) -> str:
        return self.chroma_url or str(self.dir.resolve())

    def _check_writable(self) -> None:
        if self.dir.exists() and not self.dir.is_dir():
            raise StoreError(f"the store path {self.dir} is a file, not a folder; choose another with --store")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the store directory {self.dir}: {e.strerror}") from None
        if not os.access(self.dir, os.W_OK):
            raise StoreError(f"the store directory {self.dir} is not writable; choose another with --store")

    def _client(self):
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False)
        if self.chroma_url:
            url = urlparse(self.chroma_url)
            try:
                return chromadb.HttpClient(host=url.hostname, port=url.port or 8000, ssl=url.scheme == "https",
                                           settings=settings)
            except Exception as e:
                raise StoreError(f"cannot reach the Chroma server at {self.chroma_url}: {e}") from None
        return chromadb.PersistentClient(path=str(self.dir / "chroma"), settings=settings)

    def _check_model(self) -> None:
        recorded = self.catalog.meta("model")
        if recorded is None:
            try:
                recorded = (self.client.get_collection("articles").metadata or {}).get("embedding_model")
            except Exception:
                recorded = None
        if recorded and recorded != self.embeddings.name:
            raise ModelMismatchError(
                f"the store {self.location} was built with the embedding model '{recorded}', not "
                f"'{self.embeddings.name}'. Use the same model, or rebuild: `rag ingest --rebuild` "
                f"(re-embeds everything with the new model) or choose a new --store.")

    def reset(self) -> None:
        """Delete every chunk, record and catalog row (used by `rag ingest --rebuild`)."""
        try:
            self.client.delete_collection("articles")
        except Exception:
            pass
        for table in ("files", "articles", "meta"):
            self.catalog.db.execute(f"DELETE FROM {table}")
        keys = self.records.list_keys()
        if keys:
            self.records.delete_keys(keys)
        self.catalog.set_meta("model", self.embeddings.name)
        self._open_vectors()

    def _open_vectors(self) -> None:
        """The LangChain Chroma store over the "articles" collection (created, cosine, on first use)."""
        from langchain_chroma import Chroma

        self.vectors = Chroma(client=self.client, collection_name="articles", embedding_function=self.embeddings,
                              collection_metadata={"hnsw:space": "cosine", "embedding_model": self.embeddings.name})
        self.collection = self.vectors._collection

    def status(self) -> dict:
        articles, chunks = self.catalog.counts()
        return {"articles": articles, "chunks": chunks, "vectors": self.collection.count(),
                "model": self.embeddings.name, "store": self.location,
                "last_ingest": self.catalog.meta("last_ingest")}
