"""The store: Chroma vectors of chunks, LangChain's record manager, and the catalog of articles.

Layout of a store directory:
    chroma/            the Chroma database (or a Chroma server, when RAG_CHROMA_URL is set)
    records.sqlite     LangChain SQLRecordManager: which chunk ids exist, per source file
    catalog.sqlite     one row per ingested file and per article (with its cleaned body)
    bm25/              the keyword index, a cache rebuilt from the vectors' texts
    open.lock          the file lock held while the store is opened; it marks the folder as a store (OPEN_LOCK)
With RAG_DATABASE_URL the record manager and the catalog live in that database instead, and the
folder holds only the keyword index and open.lock: several machines can then share one store.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import threading
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import chromadb
import httpx
import sqlalchemy as sa
from chromadb.api.client import SharedSystemClient
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError
from filelock import FileLock, Timeout
from langchain_chroma import Chroma
from langchain_classic.indexes import SQLRecordManager

from .dates import day_number
from .embeddings import LEGACY_VARIANT, Variant
from .articles import is_article_name
from .catalog import Catalog, NewerLayoutError, UpgradeNotAllowed, make_engine
from .chunking import headed
from .models import Article, Chunk, article_uid

log = logging.getLogger(__name__)

NAMESPACE = "chroma/articles"  # the record manager's namespace
COLLECTION = "articles"  # the Chroma collection of a local store never rebuilt with another model (a new
#                          store on a Chroma server names one of its own: `Store.__init__`)
WRITER_LOCK_KEY = 74_616_201  # the PostgreSQL advisory lock that admits one writer
# A shared store rebuilt with another model is built beside the one in use as a "generation": its
# catalog and records in a PostgreSQL schema of its own, its vectors in a collection of its own
# (`Store(generation=...)`), until `promote_generation` puts it in the place of the old one.
GENERATION_SCHEMA = "rag_rebuilding_"  # + the generation
GENERATION = re.compile(r"[0-9a-f]{8}")  # a generation's name (`new_generation`)
GENERATION_LOCK_KEY = WRITER_LOCK_KEY + 1  # its writer lock: the rebuild holds the old store's meanwhile
CATALOG_TABLES = ("meta", "files", "articles")  # the store's own tables in its database
RECORDS_TABLE = "upsertion_record"  # LangChain's: other applications' namespaces may share it
OPEN_LOCK = "open.lock"  # a local store's file lock while it is opened; it also marks a folder as a store


def is_store_folder(folder: Path) -> bool:
    """Whether a folder is a store of this app (its lock file is made when it is first opened): never
    read as articles, when it lies inside an articles folder."""
    try:
        return (folder / OPEN_LOCK).is_file()
    except OSError:  # (a folder we may list but not enter: its files fail one by one, named)
        return False


def _an_article_in(folder: Path) -> str:
    """The name of an article file directly in `folder` ("" when it holds none, or cannot be listed). A
    README is no article: the project's own vectorstore/ ships one, to say what the folder is for."""
    try:
        return next((p.name for p in sorted(folder.iterdir())
                     if is_article_name(Path(p.name)) and p.stem.upper() != "README" and p.is_file()), "")
    except OSError:
        return ""


def forget_open_stores() -> None:
    """Drop the local Chroma clients this process keeps per folder: after another process put a new store
    in a folder's place (a rebuild with another model), opening it again would hand back the client of
    the deleted one."""
    SharedSystemClient.clear_system_cache()


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message says what to do."""


class WriterLockLost(StoreError):
    """The writer lock in a PostgreSQL database ended while this process wrote (`Store.check_still_writer`)."""


class ModelMismatchError(StoreError):
    pass


class StoreRebuilt(StoreError):
    """Another process rebuilt the store with another model since this one opened it. `source`: where that
    model was loaded from ("" the packaged model, a folder, a hub id; None when not recorded)."""

    def __init__(self, message: str, source: str | None):
        super().__init__(message)
        self.source = source


# The metadata key of a chunk's `Chunk.record_id`, the article's id within its file (with `path` it gives
# the article's unique id, `metadata_uid`). Its name predates `record_id`; stores on disk carry it.
RECORD_KEY = "article_id"


def chunk_metadata(chunk: Chunk) -> dict:
    """Chroma metadata of a chunk; `day` (YYYYMMDD as an int, 0 = unknown) serves date filters."""
    return {RECORD_KEY: chunk.record_id, "title": chunk.title, "url": chunk.url,
            "published": chunk.published, "day": day_number(chunk.published), "source": chunk.source,
            "path": chunk.path, "start": chunk.start, "end": chunk.end}


def metadata_uid(meta: dict) -> str:
    """The unique id (`Chunk.article_id`) of the article a chunk's metadata names."""
    return article_uid(meta.get("path", ""), meta.get(RECORD_KEY, ""))


def _offsets(meta: dict) -> tuple[int, int]:
    """A chunk's (start, end) in its article's body; (-1, -1) for values no version writes (a hand edit)."""
    try:
        return int(meta["start"]), int(meta["end"])
    except (KeyError, TypeError, ValueError):
        return -1, -1


def chunk_from_metadata(meta: dict, stored_text: str, score: float = 0.0) -> Chunk:
    """The chunk a stored vector stands for, from its metadata and its stored text (`chunk_metadata`)."""
    start, end = _offsets(meta)
    return Chunk(text=stored_text[len(stored_text) - (end - start):], start=start, end=end,
                 article_id=metadata_uid(meta), record_id=meta[RECORD_KEY],
                 title=meta.get("title", ""), url=meta.get("url", ""),
                 published=meta.get("published", ""), source=meta.get("source", ""), path=meta.get("path", ""),
                 score=score)


class ReadWriteLock:
    """Many readers at once, or one writer: questions read Chroma while a reopen replaces its client."""

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextmanager
    def reading(self):
        with self._cond:
            while self._writing:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def writing(self):
        with self._cond:
            while self._writing or self._readers:
                self._cond.wait()
            self._writing = True
        try:
            yield
        finally:
            with self._cond:
                self._writing = False
                self._cond.notify_all()


class Store:
    """Opens (creating if needed) a store for one embedding model: the vectors in Chroma (a folder, or a
    server at `chroma_url`), the catalog and LangChain's record manager in SQL (SQLite files in the
    folder, or the database at `database_url`)."""

    def __init__(self, store_dir: Path, embeddings, chroma_url: str = "", database_url: str = "",
                 check_model: bool = True, generation: str = ""):
        """`check_model=False` opens a store built with another model, only to rebuild it (`rebuilding.rebuild`:
        read its catalog, hold its writer lock). `generation`: a shared store being built
        beside the one in use (a Chroma server and a PostgreSQL database both given; see GENERATION_SCHEMA)."""
        if generation and not builds_generations(chroma_url, database_url):
            raise ValueError("a generation of a store needs a Chroma server and a PostgreSQL database")
        self.generation = generation
        self.dir = Path(store_dir).absolute()  # (not resolved: a symbolic link stays the store's name)
        if _put_back(self.dir.resolve()):  # (resolved: replace_store moved the folder a symbolic link points to)
            log.warning("%s: a rebuild was killed while it replaced the store; the earlier store is back", self.dir)
        self.embeddings = embeddings
        self.chroma_url = chroma_url
        self.database_url = database_url
        self._check_writable()
        self.folder_id = self.dir.stat().st_ino  # a rebuild with another model puts another folder here
        self.lock = ReadWriteLock()
        self._writer_session: tuple[int, int] | None = None  # (lock key, server process) while `writer` holds it
        # Creating the SQLite files and Chroma's tables is not safe from two processes at once (Chroma
        # fails with "table collections already exists"), so a local store is opened under a file lock.
        with self._opening():
            try:
                self.catalog = Catalog(self._engine("catalog.sqlite"))
                self.records = SQLRecordManager(NAMESPACE, engine=self._engine("records.sqlite"))
                self.records.create_schema()
            except (NewerLayoutError, UpgradeNotAllowed) as e:  # neither used nor migrated: this code cannot read it
                raise StoreError(str(e)) from None
            except sa.exc.SQLAlchemyError as e:  # a damaged file, a database gone: one line that says which
                why = getattr(e, "orig", None) or e
                if self.database_url:
                    raise StoreError(f"cannot open the store's catalog in the database {_redacted(self.database_url)}: "
                                     f"{why}") from None
                damaged = re.search(r"not a database|malformed|corrupt", str(why), re.I)
                raise StoreError(f"cannot open the store's catalog in {self.dir} (catalog.sqlite, records.sqlite): "
                                 f"{why}" + (". A damaged file: restore it from a backup, or move the store folder "
                                             "away and ingest the articles again" if damaged else "")) from None
            self.client = self._client()
            if generation:
                self.catalog.name_collection(_generation_collection(generation))
            elif chroma_url and self.catalog.meta("model") is None and not self.catalog.counts()[0]:
                # a new store on a Chroma server keeps its vectors in a collection of its own: two stores
                # there (two databases, a catalog on each machine) shared "articles", and each sync
                # deleted the other's vectors as stale
                self.catalog.claim_collection(f"{COLLECTION}_store_{secrets.token_hex(6)}")
            if check_model:
                self._check_model()
            self._open_vectors()
            if self.catalog.meta("model") is None:
                self.record_model()
            elif check_model:  # a store from before the model's identity was recorded, or a moved model
                self._record_identity()
        self.seen_revision = self.catalog.meta("revision")

    @contextmanager
    def _opening(self):
        """Held while this process creates or opens the store's files (a local store only: a server
        and a database make their own schemas safe; its folder is only marked, `_mark_cache_folder`)."""
        if self.chroma_url and self.database_url:
            self._mark_cache_folder()
            yield
            return
        with FileLock(self.dir / OPEN_LOCK):
            yield

    def _mark_cache_folder(self) -> None:
        """A shared store's folder (this machine's caches) made if gone, and marked as a store's with the
        lock file a local store has: a sync never reads its caches (the keyword index's JSON) as articles."""
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / OPEN_LOCK).touch()

    @property
    def location(self) -> str:
        return self.chroma_url or str(self.dir.resolve())

    def _engine(self, file_name: str):
        try:
            if self.generation:
                return make_engine(self.database_url, schema=_generation_schema(self.generation))
            return make_engine(self.database_url or f"sqlite:///{self.dir / file_name}")
        except Exception as e:  # a malformed URL or a missing driver: said in one line (its traceback at debug level)
            log.debug("cannot use the database %s", _redacted(self.database_url), exc_info=True)
            raise StoreError(f"cannot use the database {_redacted(self.database_url)}: {e}") from None

    @property
    def collection_name(self) -> str:
        """The Chroma collection of the vectors: "articles", the one a new store on a server named for itself,
        or the one a rebuild with another model built."""
        return self.catalog.meta("collection") or COLLECTION

    def _check_writable(self) -> None:
        if self.dir.exists() and not self.dir.is_dir():
            raise StoreError(f"the store path {self.dir} is a file, not a folder; choose another with --store")
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the store directory {self.dir}: {e.strerror}") from None
        if not os.access(self.dir, os.W_OK):
            raise StoreError(f"the store directory {self.dir} is not writable; choose another with --store")
        if not is_store_folder(self.dir):  # (a shared store's folder holds this machine's caches)
            article = _an_article_in(self.dir)
            if article:  # (an articles folder given as --store: made a store, it was skipped by every later sync)
                raise StoreError(f"the store path {self.dir} holds articles ({article}), not a store: a store "
                                 f"needs a folder of its own; choose another with --store (nothing was changed)")

    def _client(self):
        settings = ChromaSettings(anonymized_telemetry=False)
        if self.chroma_url:
            url = urlparse(self.chroma_url)
            try:
                return chromadb.HttpClient(host=url.hostname, port=url.port or 8000, ssl=url.scheme == "https",
                                           settings=settings)
            except Exception as e:  # (as the database's above: an outage is one line)
                log.debug("cannot reach the Chroma server at %s", self.chroma_url, exc_info=True)
                raise StoreError(f"cannot reach the Chroma server at {self.chroma_url}: {e}") from None
        try:
            return chromadb.PersistentClient(path=str(self.dir / "chroma"), settings=settings)
        except Exception as e:  # a full disk, a damaged database: said in one line, logged whole
            log.exception("cannot open the vectors in %s", self.dir / "chroma")
            raise StoreError(f"cannot open the vectors in {self.dir / 'chroma'}: {e}") from None

    def record_model(self) -> None:
        """Note the model and variant that embed this store (`_check_model` compares them), and where the
        model was loaded from (`rebuilt_message` names it)."""
        self.catalog.set_meta("model", self.embeddings.name)
        self.catalog.set_meta("embedding_variant", str(self.embeddings.variant))
        self._record_identity()

    def _record_identity(self) -> None:
        """Note the model's digest (`embeddings.model_digest`) where none is recorded, and where it was loaded
        from ("" for the packaged model; a local folder as an absolute path), each only when it changed."""
        configured, path = self.embeddings.configured, self.embeddings.path
        source = os.path.abspath(path) if configured and Path(path).is_dir() else configured
        if self.embeddings.digest and not self.catalog.meta("model_digest"):  # ("": a hub id, or unreadable now)
            self.catalog.set_meta("model_digest", self.embeddings.digest)
        if self.catalog.meta("model_source") != source:
            self.catalog.set_meta("model_source", source)

    def _built_with(self) -> str:
        """The embedding variant recorded in the store ("" for a store with nothing recorded yet)."""
        variant = self.catalog.meta("embedding_variant")
        if variant is None and self.catalog.meta("model") is not None:
            return LEGACY_VARIANT  # built before variants were recorded
        return variant or ""

    def _check_model(self) -> None:
        """The store's model must be the configured one, and the variant one of its space (rag/embeddings.py);
        the store's own is adopted unless another was asked for."""
        variant = self._built_with()
        self.embeddings.adopt(variant)
        if variant and self.embeddings.variant.space != Variant.parse(variant).space:
            raise ModelMismatchError(
                f"the store {self.location} was built with the {variant} variant of its embedding model, not "
                f"{self.embeddings.variant}. Leave RAG_EMBEDDING_VARIANT unset to use the store's own, or rebuild: "
                f"`rag ingest --rebuild`.")
        recorded = self.catalog.meta("model")
        if recorded is None:  # a catalog made before the model was recorded in it
            try:
                recorded = (self.client.get_collection(self.collection_name).metadata or {}).get("embedding_model")
            except NotFoundError:
                recorded = None
        rebuild = "`rag ingest --rebuild` (re-embeds everything with the new model) or choose a new --store"
        if recorded and recorded != self.embeddings.name:
            raise ModelMismatchError(
                f"the store {self.location} was built with the embedding model '{recorded}', not "
                f"'{self.embeddings.name}'. Use the same model, or rebuild: {rebuild}.")
        digest = self.catalog.meta("model_digest")
        if digest and self.embeddings.digest and digest != self.embeddings.digest:
            raise ModelMismatchError(
                f"the store {self.location} was built with another model named '{recorded}': the files in "
                f"{self.embeddings.path} are not the ones that built it{_built_from(self.catalog.meta('model_source'))}. "
                f"Use that model, or rebuild: {rebuild}.")

    def fits_model(self) -> bool:
        """Whether the configured model (and variant space) can search and extend this store."""
        try:
            self._check_model()
        except ModelMismatchError:
            return False
        return True

    def _open_vectors(self) -> None:
        """The store's collection (`collection_name`; created, cosine, on first use), and LangChain's view of
        it for `index()`."""
        name = self.collection_name
        mark = {"rag_generation": self.generation} if self.generation else {}  # `discard_generations` reads it
        self.collection = self.client.get_or_create_collection(
            name, metadata={"hnsw:space": "cosine", "embedding_model": self.embeddings.name} | mark)
        self.vectors = Chroma(client=self.client, collection_name=name, embedding_function=self.embeddings)

    def reopen(self) -> None:
        """Read the vectors afresh. A local Chroma folder keeps its nearest-neighbour index in memory,
        so after another process changed the store this process would search a stale index."""
        with self.lock.writing():
            if not self.chroma_url:
                forget_open_stores()
            self.client = self._client()
            self._open_vectors()

    def catch_up(self) -> bool:
        """Reopen when another process changed the store since we last looked; True when it did.
        StoreError when the store was rebuilt with another model meanwhile (`check_same_folder`,
        `check_same_model`)."""
        self.check_same_folder()
        revision = self.catalog.meta("revision")
        if revision == self.seen_revision or revision in self.catalog.written:
            self.seen_revision = revision
            return False
        self.check_same_model()
        self.seen_revision = revision
        self.reopen()
        return True

    # -- one writer at a time, across processes and machines
    @contextmanager
    def writer(self, on_wait: Callable[[str], None] | None = None, any_model: bool = False):
        """Hold the store's writer lock: a file lock in the store folder, or, for a store in a
        PostgreSQL database, an advisory lock in that database (shared by every machine using it).
        Once held, the store must still be this process's (`check_same_folder`) and, unless `any_model`
        (a rebuild with another model), of its model (`check_same_model`)."""
        if self.database_url.startswith("postgresql"):
            key = GENERATION_LOCK_KEY if self.generation else WRITER_LOCK_KEY
            with self.catalog.engine.connect() as db:
                got = db.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
                if not got:
                    if on_wait:
                        on_wait(f"another ingest is writing to the store in {_redacted(self.database_url)}")
                    db.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": key})
                # A session's advisory lock outlives its transactions: ended now, the connection waits "idle",
                # not "idle in transaction", which a server's idle_in_transaction_session_timeout (common on
                # managed PostgreSQL) ends, and the lock with it, while the ingest still writes.
                self._writer_session = (key, db.execute(sa.text("SELECT pg_backend_pid()")).scalar())
                db.commit()
                try:
                    self._check_still_ours(any_model)
                    yield
                finally:
                    self._writer_session = None
                    try:
                        db.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                        db.commit()
                    except sa.exc.DBAPIError as e:  # (the server stopped, say) the lock ended with its connection,
                        log.warning("the writer lock in %s ended with its connection: %s",  # and what failed
                                    _redacted(self.database_url), getattr(e, "orig", None) or e)  # is reported
            return
        lock = FileLock(self.dir / "writer.lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            if on_wait:
                on_wait(f"another ingest is writing to the store {self.dir}")
            lock.acquire()
        try:
            self._check_still_ours(any_model)
            yield
        finally:
            lock.release()

    def check_still_writer(self) -> None:
        """Before a write is committed: StoreError when the writer lock `writer` took in a PostgreSQL
        database has ended with its connection (the server restarted, a failover, an administrator ended
        the session). Another machine may hold it by now, and its repair may have deleted the vectors
        this ingest wrote and had not committed: committing their catalog rows would vouch for chunks the
        store no longer has (found by a tester: 43 articles in the catalog with no vectors, an ingest
        that reported success). A file lock cannot end so, nor can a store not writing (nothing to check)."""
        if self._writer_session is None:
            return
        key, pid = self._writer_session
        held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = :pid AND objid = :k"
        with self.catalog.engine.connect() as db:
            if not db.execute(sa.text(held), {"pid": pid, "k": key & 0xFFFFFFFF}).scalar():
                raise WriterLockLost(f"the writer lock in {_redacted(self.database_url)} ended with its connection "
                                 f"(the database restarted?): nothing more is committed; the next sync writes "
                                 f"the rest")

    def unreachable(self, error: BaseException) -> str:
        """The reason in one line when `error` is the store's Chroma or database server not answering
        (stopped, restarted, out of reach): "" for any other error, which deserves its traceback. An outage
        then logs one line per failed step, not a hundred lines of HTTP client or driver traceback each."""
        if self.chroma_url and isinstance(error, httpx.TransportError) and self._from_chroma(error):
            return f"the Chroma server {self.chroma_url} does not answer: {error}"
        if not self.database_url or not isinstance(error, sa.exc.OperationalError):
            return ""  # (SQLite's OperationalErrors are a locked or damaged file: their traceback is wanted)
        state = getattr(getattr(error, "orig", None), "sqlstate", None) or ""
        if not (error.connection_invalidated or not state or state.startswith(("08", "57P"))):
            return ""  # a deadlock, a timeout, a full disk on the server: the server answered
        why = str(getattr(error, "orig", None) or error).splitlines()[0]
        return f"the database {_redacted(self.database_url)} does not answer: {why}"

    def _from_chroma(self, error: httpx.TransportError) -> bool:
        """Whether an HTTP client's error was met asking the Chroma server (Chroma's client is httpx; so is
        a chat model's, whose server may be the one gone: the review)."""
        try:
            url = error.request.url
        except RuntimeError:  # (an error raised without its request)
            return False
        chroma = httpx.URL(self.chroma_url)
        return (url.host, url.port or url.scheme) == (chroma.host, chroma.port or chroma.scheme)

    def log_failure(self, logger: logging.Logger, error: BaseException, doing: str) -> str:
        """Log that `doing` failed: in one line when the database does not answer (`unreachable`) or the
        error is a StoreError (a reason written for users), else with the traceback. Returns the one-line
        reason, or the error's own text."""
        if why := self.unreachable(error) or (str(error) if isinstance(error, StoreError) else ""):
            logger.warning("%s failed: %s", doing, why)
            return why
        logger.error("%s failed: %s", doing, error, exc_info=error)
        return str(error)

    def _check_still_ours(self, any_model: bool) -> None:
        self.check_same_folder()
        if not any_model:
            self.check_same_model()

    def check_same_folder(self) -> None:
        """StoreError when the folder this process opened is no longer the store's (`rag ingest --rebuild`
        with another model put a new one in its place): searching or writing the old one would answer from,
        or write into, a deleted store. One stat, cheap enough for every question. A shared store's folder
        holds only this machine's caches: deleted or replaced, a new one is made and the caches rebuilt."""
        if self.chroma_url and self.database_url:
            if not is_store_folder(self.dir):
                self._mark_cache_folder()
                log.warning("%s: this machine's cache folder of the shared store was gone; made again", self.dir)
            return
        try:
            same = self.dir.stat().st_ino == self.folder_id
        except FileNotFoundError:
            raise StoreError(f"the store folder {self.dir} is gone; start again") from None
        if not same:
            meta = _folder_meta(self.dir)
            raise StoreRebuilt(rebuilt_message(str(self.dir), meta), meta.get("model_source"))

    def check_same_model(self) -> None:
        """StoreError when the store is no longer one of this process's model: a shared store (a
        database, a Chroma server) that another machine rebuilt with another model. Searching it would
        compare vectors of two models; writing to it would mix them."""
        if not self.fits_model():
            meta = {key: self.catalog.meta(key) for key in _REBUILT_KEYS}
            raise StoreRebuilt(rebuilt_message(self.location, meta), meta["model_source"])

    # -- consistency of vectors, records and catalog (see indexing.repair)
    def is_current(self, meta: dict, stored_text: str, article: Article | None) -> bool:
        """Whether a stored chunk belongs to the article as the catalog holds it now: same file, same
        record, its text exactly `body[start:end]`, and the same date, outlet and address (an edit of
        those alone leaves the text as it was: its earlier chunks must not pass for current, or filters
        and citations would read the old ones)."""
        if article is None or article.path != meta.get("path") or article.record_id != meta.get(RECORD_KEY):
            return False
        if (meta.get("published", ""), meta.get("source", ""), meta.get("url", "")) != \
                (article.published, article.source, article.url):
            return False
        start, end = _offsets(meta)
        return 0 <= start < end <= len(article.body) and stored_text == headed(article.title, article.body[start:end])

    def counts_disagree(self) -> bool:
        return not (self.collection.count() == self.records_count() == self.catalog.counts()[1])

    def records_count(self) -> int:
        with self.records.engine.connect() as db:
            return db.execute(sa.text(f"SELECT COUNT(*) FROM {RECORDS_TABLE} WHERE namespace = :n"),
                              {"n": NAMESPACE}).scalar()

    def all_paths(self) -> list[str]:
        """Every path the catalog, the vectors or the records know of."""
        paths = set(self.catalog.paths())
        for offset in range(0, self.collection.count(), 5000):
            got = self.collection.get(include=["metadatas"], limit=5000, offset=offset)
            paths |= {m.get("path", "") for m in got["metadatas"]}
        with self.records.engine.connect() as db:
            paths |= set(db.execute(sa.text(f"SELECT DISTINCT group_id FROM {RECORDS_TABLE} WHERE namespace = :n"),
                                    {"n": NAMESPACE}).scalars())
        return sorted(p for p in paths if p is not None)

    def repair_path(self, path: str) -> int:
        """Delete the path's vectors that the catalog does not vouch for and records without a vector;
        add records for vouched vectors that lack one; when vectors the catalog counts on are missing
        (a rebuild killed after the vectors were dropped, a deleted vector folder), the file is read and
        its missing chunks embedded again by the next sync. Returns how many were removed."""
        articles = {a.record_id: a for a in self.catalog.file_articles(path)}
        got = self.collection.get(where={"path": path}, include=["metadatas", "documents"])
        bad = [i for i, m, d in zip(got["ids"], got["metadatas"], got["documents"])
               if not self.is_current(m, d, articles.get(m.get(RECORD_KEY)))]
        if bad:
            self.collection.delete(ids=bad)
        good = set(got["ids"]) - set(bad)
        recorded = set(self.records.list_keys(group_ids=[path]))
        stray = sorted(recorded - good)
        if stray:
            self.records.delete_keys(stray)
        missing = sorted(good - recorded)
        if missing:
            self.records.update(missing, group_ids=[path] * len(missing))
        lost = self.catalog.chunks_of(path) - len(good)
        if lost > 0:
            log.warning("%s: %d of its chunks have no vector; it is embedded again", path, lost)
            self.catalog.forget_digest(path)
        return len(bad) + len(stray)

    def status(self) -> dict:
        """Counts and settings; `embedding_variant` is the one that built the store (rag/embeddings.py)."""
        self.check_same_folder()
        self.check_same_model()
        articles, chunks = self.catalog.counts()
        return {"articles": articles, "chunks": chunks, "vectors": self.collection.count(),
                "model": self.embeddings.name, "embedding_variant": self._built_with() or str(self.embeddings.variant),
                "store": self.location, "database": _redacted(self.database_url) or "sqlite (in the store folder)",
                "last_ingest": self.catalog.meta("last_ingest")}


_REBUILT_KEYS = ("model", "model_source", "embedding_variant")  # what `rebuilt_message` reads


def rebuilt_message(location: str, meta: dict) -> str:
    """What a process that opened a store before a rebuild with another model is told: the model that
    built the store now (from its catalog's `meta`; {} when it cannot be read), and how to start with it."""
    model, source, variant = (meta.get(key) for key in _REBUILT_KEYS)
    built = f"the embedding model '{model or 'another model'}'" + (f" ({variant} variant)" if variant else "")
    return (f"the store {location} was rebuilt with {built} since it was opened here: start again with "
            f"{_how_to_load(source)} (a running app: restart it)")


def _built_from(source: str | None) -> str:
    """Where the store's model was loaded from when it was built, in words ("" when not recorded): the files
    at a path may since have changed, so this names the path, not an option to use it."""
    if source is None:
        return ""
    return f" (it was built with the files then at {source})" if source else " (it was built with the packaged model)"


def _how_to_load(source: str | None) -> str:
    """How to start with a store's model, from where it was loaded (meta `model_source`): "`--model PATH`",
    "no --model (the packaged model)" for "", "that model" when not recorded (older stores) or unreadable."""
    if source is None:
        return "that model"
    return f"`--model {source}`" if source else "no --model (the packaged model)"


def _folder_meta(store_dir: Path) -> dict:
    """The catalog settings of the store now in a folder, read without opening (or migrating) it; {} when
    they cannot be read (logged)."""
    engine = make_engine(f"sqlite:///{store_dir / 'catalog.sqlite'}")
    try:
        with engine.connect() as db:
            return dict(db.execute(sa.text("SELECT key, value FROM meta")).all())
    except Exception:
        log.warning("cannot read the catalog of the store now in %s", store_dir, exc_info=True)
        return {}
    finally:
        engine.dispose()


def builds_generations(chroma_url: str, database_url: str) -> bool:
    """Whether a shared store can be rebuilt beside itself as a generation: its vectors on a Chroma server
    and its catalog in PostgreSQL (whose schemas hold a generation's tables)."""
    return bool(chroma_url and database_url.startswith("postgresql"))


def new_generation() -> str:
    return secrets.token_hex(4)


def _generation_schema(generation: str) -> str:
    return GENERATION_SCHEMA + generation


def _generation_collection(generation: str) -> str:
    return f"{COLLECTION}_{generation}"


def promote_generation(database_url: str, generation: str) -> None:
    """Put a shared store's generation (built beside it: `Store(generation=...)`) in the place of the
    store in use, in one PostgreSQL transaction: the old store's catalog tables are dropped and the
    generation's moved into their schema, and its records replace the store's namespace in LangChain's
    table (which other applications may share). Its catalog names its own Chroma collection (meta
    "collection"), so catalog, records and vectors change together; a kill before the commit leaves
    the old store whole, after it the new one (the old collection is removed by the caller, or else by
    the next rebuild's `discard_generations`). A reader that holds the old tables for over a minute
    makes it fail (lock_timeout), rather than every question wait behind it."""
    engine = make_engine(database_url)
    schema = _generation_schema(generation)
    try:
        with engine.begin() as db:
            db.execute(sa.text("SET LOCAL lock_timeout = '60s'"))
            target = db.execute(sa.text(  # where the store's tables are (the first of search_path that has them)
                "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.oid = to_regclass('meta')")).scalar() or db.execute(sa.text("SELECT current_schema()")).scalar()
            for table in CATALOG_TABLES:
                db.execute(sa.text(f'DROP TABLE IF EXISTS "{target}"."{table}" CASCADE'))
                db.execute(sa.text(f'ALTER TABLE "{schema}"."{table}" SET SCHEMA "{target}"'))
            columns = "uuid, key, namespace, group_id, updated_at"
            db.execute(sa.text(f'DELETE FROM "{target}".{RECORDS_TABLE} WHERE namespace = :n'), {"n": NAMESPACE})
            db.execute(sa.text(f'INSERT INTO "{target}".{RECORDS_TABLE} ({columns}) SELECT {columns} '
                               f'FROM "{schema}".{RECORDS_TABLE} WHERE namespace = :n'), {"n": NAMESPACE})
            db.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        engine.dispose()


def discard_generations(store: Store, old_collection: str = "") -> None:
    """Remove what rebuilds of a shared store left beside it: generations' schemas in the database and
    their collections on the Chroma server (marked as such, and not the one the store uses), and
    `old_collection`, the vectors a promoted generation replaced. Nothing else on the server or in the
    database is touched."""
    with store.catalog.engine.begin() as db:
        schemas = db.execute(sa.text("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :p"),
                             {"p": GENERATION_SCHEMA.replace("_", "\\_") + "%"}).scalars().all()
        for schema in schemas:
            if GENERATION.fullmatch(schema.removeprefix(GENERATION_SCHEMA)):
                db.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    in_use = store.collection_name
    for collection in store.client.list_collections():
        generation = (collection.metadata or {}).get("rag_generation", "")
        left = bool(GENERATION.fullmatch(generation)) and collection.name == _generation_collection(generation)
        if collection.name != in_use and (left or collection.name == old_collection):
            store.client.delete_collection(collection.name)


def discard_store(folder: Path) -> None:
    """Delete a store folder nothing uses any more (what a killed or failed rebuild left beside the store),
    and forget Chroma's client for it: this process may open a new store at that path later."""
    shutil.rmtree(folder)
    forget_open_stores()


def _replaced(store_dir: Path) -> Path:
    """Where `replace_store` moves the old store folder until the new one is in its place."""
    return store_dir.with_name(f"{store_dir.name}.replaced")


def _put_back(store_dir: Path) -> bool:
    """Move STORE.replaced back to STORE when STORE is missing (a kill or a failure between
    `replace_store`'s two renames); True when it did."""
    if store_dir.exists() or not _replaced(store_dir).exists():
        return False
    try:
        os.rename(_replaced(store_dir), store_dir)
    except FileNotFoundError:
        return False  # another process opening the store put it back first
    return True


def replace_store(built: Path, store_dir: Path) -> None:
    """Put the store folder `built` in the place of `store_dir` (a rebuild with another model, built
    beside it): two renames, then the old folder is deleted. A kill between the renames leaves the old
    folder at STORE.replaced, which the next opening of the store puts back (`Store.__init__`).
    Chroma's cache of opened stores is cleared, so this process opens the new one at that path, not the
    old one from memory."""
    replaced = _replaced(store_dir)
    try:
        if replaced.exists():  # a leftover of an earlier replace: the store folder exists (it was opened)
            shutil.rmtree(replaced)
        os.rename(store_dir, replaced)
        os.rename(built, store_dir)
    except OSError as e:
        _put_back(store_dir)
        raise StoreError(f"cannot put the rebuilt store {built} in the place of {store_dir}: {e.strerror}; "
                         f"the store is unchanged") from None
    forget_open_stores()
    shutil.rmtree(replaced, ignore_errors=True)


def _redacted(url: str) -> str:
    """A database URL without its password, for messages."""
    if not url:
        return ""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(a malformed database URL)"
