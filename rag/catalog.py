"""The catalog: which files were ingested (with their digests) and the articles they hold, with their
cleaned bodies. SQLite in the store folder by default; any SQLAlchemy database (PostgreSQL for a
store shared by several machines) with `RAG_DATABASE_URL`.

Every method opens its own connection from the engine's pool, so threads never share one, and each
change is one transaction: a reader sees a file's articles before or after a change, never half.

Layouts (`meta.layout`), migrated in place when an older store is opened:
    1  articles keyed by (path, id), where id was the record's own id: two files could share one
    2  `record_id` is the id within its file; `id` is unique across files (`models.article_uid`)
    3  as 2, and the vectors are in the collection `meta.collection` names, not "articles": written
       only by a rebuild of a shared store with another model (`name_collection`), so that versions
       before it, which read "articles" alone, refuse that store instead of finding it empty
A layout newer than LAYOUT is refused (`NewerLayoutError`), untouched: this code cannot know it.
A column added to a table that older versions simply do not read (`files.via`, `files.machine`) is added in place, with
no new layout: those versions go on writing and reading the store as before. On PostgreSQL only the
tables' owner may migrate or add a column: another role is refused with what to do (`UpgradeNotAllowed`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable

import sqlalchemy as sa

from .models import Article, article_uid

LAYOUT = 3  # the newest this code reads
WRITTEN_LAYOUT = 2  # what a new or migrated catalog gets (LAYOUT only where `name_collection` writes it)
INSUFFICIENT_PRIVILEGE = "42501"  # PostgreSQL's SQLSTATE for "must be owner of table" and "permission denied"

_metadata = sa.MetaData()
FILES = sa.Table(
    "files", _metadata,
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("digest", sa.Text),
    sa.Column("ingested_at", sa.Float),
    # the path inside an ingested folder that reached the file through a symbolic link (the file itself is
    # stored by its real path): a file gone from that folder is known by it (`indexing.sync`)
    sa.Column("via", sa.Text),
    # in a shared store, the machine that stored the file (`Settings.machine_name`; None: before this
    # column, or in a folder's store): only that machine's sync removes it when it is gone
    sa.Column("machine", sa.Text),
)
ADDED_COLUMNS = ("via", "machine")  # files' columns added in place to a catalog from before them (`_add_column`)
ARTICLES = sa.Table(
    "articles", _metadata,
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("record_id", sa.Text, primary_key=True),
    sa.Column("id", sa.Text, index=True),
    sa.Column("content_hash", sa.Text, index=True),
    sa.Column("title", sa.Text), sa.Column("url", sa.Text), sa.Column("published", sa.Text),
    sa.Column("source", sa.Text), sa.Column("authors", sa.Text), sa.Column("body", sa.Text),
    sa.Column("chunks", sa.Integer),
    sa.Column("duplicate_of", sa.Text),  # the id of the stored article with the same content
)
META = sa.Table(
    "meta", _metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text),
)


def make_engine(url: str, schema: str = "") -> sa.Engine:
    """An engine with a pool; SQLite files get WAL (readers never wait for the writer) and a busy timeout
    so two processes take turns instead of failing. `schema`: a PostgreSQL schema (created if need be)
    that holds the tables instead of the database's own (a store rebuilt beside itself)."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record):
            dbapi_connection.execute("PRAGMA journal_mode=WAL")
            dbapi_connection.execute("PRAGMA busy_timeout=60000")

        return engine
    if not schema:
        return sa.create_engine(url, pool_pre_ping=True)
    engine = sa.create_engine(url, pool_pre_ping=True, connect_args={"options": f"-csearch_path={schema}"})
    try:
        with engine.begin() as db:
            db.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    except sa.exc.ProgrammingError as e:
        if "permission denied" not in str(e):
            raise
        raise PermissionError(f"the database role may not create the schema {schema} (grant it: GRANT CREATE ON "
                              f"DATABASE ... TO ...)") from None
    return engine


def _add_column(db, name: str) -> None:
    """Add a text column to `files` in place (one of ADDED_COLUMNS); another process opening the same old
    catalog may have just done so."""
    if db.dialect.name == "postgresql":
        db.execute(sa.text(f"ALTER TABLE files ADD COLUMN IF NOT EXISTS {name} TEXT"))
        return
    try:
        db.execute(sa.text(f"ALTER TABLE files ADD COLUMN {name} TEXT"))
    except sa.exc.OperationalError as e:
        if "duplicate column" not in str(e):
            raise


class NewerLayoutError(RuntimeError):
    """The catalog was written by a newer version of news-rag, in a layout this one does not know (or names
    a layout no version writes)."""


class UpgradeNotAllowed(RuntimeError):
    """An older catalog that this database role may not upgrade: PostgreSQL lets only the owner of a
    table alter it, and shared stores often give other machines a role that only reads and writes."""


def _upgrading(engine: sa.Engine, change) -> None:
    """Run a change to an existing catalog's tables; UpgradeNotAllowed when this role may not make it
    (the transaction is then rolled back: nothing changed)."""
    try:
        change()
    except sa.exc.ProgrammingError as e:
        if getattr(e.orig, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
            raise
        raise _upgrade_refused(engine) from None


def _upgrade_refused(engine: sa.Engine) -> UpgradeNotAllowed:
    """What to do, naming the role that owns the tables and the role in use."""
    with engine.connect() as db:
        user = db.execute(sa.text("SELECT current_user")).scalar()
        owner = db.execute(sa.text("SELECT tableowner FROM pg_tables WHERE tablename = 'files' "
                                   "AND schemaname = current_schema()")).scalar() or "the owner"
    return UpgradeNotAllowed(
        f"the store's catalog needs an upgrade for this version of news-rag, which only the role that owns its "
        f"tables ({owner}) may make, and the role {user} may not: open the store once as {owner} (for example "
        f"`rag status` with RAG_DATABASE_URL naming that role); nothing was changed")


class Catalog:
    """Files, articles and store-wide settings (`meta`), in one SQL database."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self.written: set[str] = set()  # revisions this process wrote (others mean another process did)
        with engine.begin() as db:
            layout = self._layout(db)
            if layout is not None and layout > LAYOUT:  # before anything is created, migrated or read
                raise NewerLayoutError(f"this store was written by a newer version of news-rag (layout "
                                       f"{layout}); upgrade, or use another --store")
            if layout is not None and layout < WRITTEN_LAYOUT:
                _upgrading(engine, lambda: _migrate(db, layout))
            _metadata.create_all(db)
            columns = {c["name"] for c in sa.inspect(db).get_columns("files")}
            for name in ADDED_COLUMNS:
                if name not in columns:  # a catalog from before it
                    _upgrading(engine, lambda: _add_column(db, name))
            if layout is None:
                self._set(db, "layout", str(WRITTEN_LAYOUT))

    def _layout(self, db) -> int | None:
        """The layout of an existing catalog, or None for a new one."""
        inspector = sa.inspect(db)
        if not inspector.has_table("articles"):
            return None
        columns = {c["name"] for c in inspector.get_columns("articles")}
        if "record_id" not in columns:
            return 1
        row = db.execute(sa.select(META.c.value).where(META.c.key == "layout")).first()
        if row is None:
            return LAYOUT
        try:
            return int(row[0])
        except (TypeError, ValueError):  # (a hand edit) neither read nor migrated: refused, untouched
            raise NewerLayoutError(f"the catalog names its layout {row[0]!r}, which no version of news-rag "
                                   f"writes; restore the store, or use another --store") from None

    # -- files
    def digests(self) -> dict[str, str | None]:
        """{path: content digest} of every stored file, in one query."""
        with self.engine.connect() as db:
            return dict(db.execute(sa.select(FILES.c.path, FILES.c.digest)).all())

    def forget_digest(self, path: str) -> None:
        """Make the next sync read the file again, whatever its digest (its articles stay stored)."""
        with self.engine.begin() as db:
            db.execute(FILES.update().where(FILES.c.path == path).values(digest=None))

    def chunks_of(self, path: str) -> int:
        """How many chunks the file's stored (non-duplicate) articles have in the vectors."""
        with self.engine.connect() as db:
            return int(db.execute(sa.select(sa.func.coalesce(sa.func.sum(ARTICLES.c.chunks), 0)).where(
                ARTICLES.c.path == path, ARTICLES.c.duplicate_of.is_(None))).scalar())

    def paths(self) -> list[str]:
        with self.engine.connect() as db:
            return list(db.execute(sa.select(FILES.c.path)).scalars())

    def articles_in(self, path: str) -> dict[str, tuple[str, str | None]]:
        """{record id: (content hash, duplicate_of)} for one file."""
        with self.engine.connect() as db:
            rows = db.execute(sa.select(ARTICLES.c.record_id, ARTICLES.c.content_hash, ARTICLES.c.duplicate_of)
                              .where(ARTICLES.c.path == path))
            return {r[0]: (r[1], r[2]) for r in rows}

    def links(self) -> dict[str, str | None]:
        """{path: the path inside an ingested folder that reached it through a symbolic link, or None} for
        every stored file."""
        with self.engine.connect() as db:
            return dict(db.execute(sa.select(FILES.c.path, FILES.c.via)).all())

    def holds_under(self, folder: str) -> bool:
        """Whether a stored file is `folder` or lies under it, itself or through the link that reached it
        (one query: the folder watcher asks it for every path that goes)."""
        under = folder.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
        query = sa.select(FILES.c.path).where(sa.or_(
            FILES.c.path == folder, FILES.c.via == folder,
            FILES.c.path.like(under, escape="\\"), FILES.c.via.like(under, escape="\\"))).limit(1)
        with self.engine.connect() as db:
            return db.execute(query).first() is not None

    def set_links(self, links: dict[str, str | None]) -> None:
        """Record how each of these stored files was reached (None: not through a link)."""
        if not links:
            return
        with self.engine.begin() as db:  # one statement for all (a first sync of a linked folder: thousands)
            db.execute(FILES.update().where(FILES.c.path == sa.bindparam("file")).values(via=sa.bindparam("reached")),
                       [{"file": path, "reached": via} for path, via in links.items()])

    def machine_by_file(self) -> dict[str, str | None]:
        """{path: the machine that stored it, or None} for every stored file (`Settings.machine_name`)."""
        with self.engine.connect() as db:
            return dict(db.execute(sa.select(FILES.c.path, FILES.c.machine)).all())

    def set_machine(self, paths: Iterable[str], machine: str) -> None:
        """Record these stored files as this machine's (files stored before `machine`, found in its folders)."""
        if rows := [{"file": path} for path in paths]:
            with self.engine.begin() as db:  # one statement for all, as `set_links`
                db.execute(FILES.update().where(FILES.c.path == sa.bindparam("file")).values(machine=machine), rows)

    def record_ids_by_file(self) -> dict[str, set[str]]:
        """{path: its record ids} for every file (a file whose articles all failed: an empty set), in two
        queries rather than one per file (a rebuild reads it for thousands of files, perhaps over the
        network)."""
        with self.engine.connect() as db:
            files: dict[str, set[str]] = {path: set() for path in db.execute(sa.select(FILES.c.path)).scalars()}
            for path, record_id in db.execute(sa.select(ARTICLES.c.path, ARTICLES.c.record_id)):
                if path in files:
                    files[path].add(record_id)
        return files

    def canonical_for(self, content_hash: str, exclude_path: str) -> Article | None:
        """The stored (non-duplicate) article with this content in another file."""
        with self.engine.connect() as db:
            row = db.execute(sa.select(*_ARTICLE_COLUMNS).where(
                ARTICLES.c.content_hash == content_hash, ARTICLES.c.duplicate_of.is_(None),
                ARTICLES.c.path != exclude_path).limit(1)).first()
        return _article(row) if row else None

    def paths_with_duplicates_of(self, paths: list[str]) -> list[str]:
        """Files holding duplicates of articles stored from `paths` (they must be re-read when those go)."""
        if not paths:
            return []
        original = ARTICLES.alias("original")
        query = (sa.select(ARTICLES.c.path).distinct()
                 .join(original, ARTICLES.c.duplicate_of == original.c.id)
                 .where(original.c.path.in_(paths), ARTICLES.c.path.not_in(paths)))
        with self.engine.connect() as db:
            return list(db.execute(query).scalars())

    def write_articles(self, files: list[tuple[str, str | None, list, list[str] | None]],
                       machine: str = "") -> None:
        """Record articles of several files in one transaction. Per file: (path, digest, rows, kept):
        `rows` are (article, content hash, chunk count, duplicate_of), replacing those with the same
        record id; when the file is complete, `digest` is its new digest and `kept` the record ids it
        now holds (the others are dropped); both are None while more of the file is still to come (its
        stored digest is then dropped: the next sync reads it whole, whatever its bytes).
        `machine`: a shared store's machine that stores them (`Settings.machine_name`; "" for none), recorded
        with a new file from its first part on, and with a file stored before machines were recorded
        when its last part is written (a file another machine stored stays that machine's)."""
        machine = machine or None
        with self.engine.begin() as db:
            for path, digest, rows, kept in files:
                for a, *_ in rows:
                    db.execute(ARTICLES.delete().where(ARTICLES.c.path == path, ARTICLES.c.record_id == a.record_id))
                if rows:
                    db.execute(ARTICLES.insert(), [
                        {"path": path, "record_id": a.record_id, "id": a.id, "content_hash": h, "title": a.title,
                         "url": a.url, "published": a.published, "source": a.source,
                         "authors": json.dumps(a.authors), "body": a.body, "chunks": n, "duplicate_of": dup}
                        for a, h, n, dup in rows])
                if digest is not None:
                    db.execute(ARTICLES.delete().where(ARTICLES.c.path == path,
                                                       ARTICLES.c.record_id.not_in(kept or [""])))
                    known = {"digest": digest, "ingested_at": time.time()}  # (its `via` kept)
                    if not db.execute(FILES.update().where(FILES.c.path == path).values(**known)).rowcount:
                        db.execute(FILES.insert().values(path=path, machine=machine, **known))
                    elif machine:  # a file another machine stored stays that machine's: re-read here (a copy
                        # whose original went, a rebuild), only its sync sees it deleted and removes it
                        db.execute(FILES.update().where(FILES.c.path == path, FILES.c.machine.is_(None))
                                   .values(machine=machine))
                elif rows and not db.execute(FILES.update().where(FILES.c.path == path).values(digest=None)).rowcount:
                    # the first part of a new file: listed at once, with no digest (the next sync reads it
                    # whole), so a sync that stops before its last part can still find it gone or renamed and
                    # remove what it stored; unlisted, those articles answered for good
                    db.execute(FILES.insert().values(path=path, digest=None, ingested_at=time.time(), machine=machine))
                # (a part of a stored file's new version drops its old digest, above, until the last part
                # brings the new one: with the old digest kept, the file put back as it was after a sync that
                # stopped half way counted as unchanged, and the part written of the edit answered for good)
            self._touch(db)

    def file_articles(self, path: str) -> list[Article]:
        """The stored (non-duplicate) articles of one file."""
        with self.engine.connect() as db:
            rows = db.execute(sa.select(*_ARTICLE_COLUMNS).where(
                ARTICLES.c.path == path, ARTICLES.c.duplicate_of.is_(None)))
            return list(map(_article, rows))

    # -- what a write in progress is touching (see indexing.repair)
    def set_pending(self, paths: list[str]) -> None:
        self.set_meta("pending", json.dumps(paths))

    def pending(self) -> list[str]:
        return json.loads(self.meta("pending") or "[]")

    def clear_pending(self) -> None:
        with self.engine.begin() as db:
            db.execute(META.delete().where(META.c.key == "pending"))
            self._touch(db)

    def forget_file(self, path: str) -> int:
        """Drop a file's rows; returns how many stored (non-duplicate) articles it held."""
        with self.engine.begin() as db:
            n = db.execute(sa.select(sa.func.count()).select_from(ARTICLES).where(
                ARTICLES.c.path == path, ARTICLES.c.duplicate_of.is_(None))).scalar()
            db.execute(ARTICLES.delete().where(ARTICLES.c.path == path))
            db.execute(FILES.delete().where(FILES.c.path == path))
            self._touch(db)
        return n

    # -- articles
    def article(self, article_id: str) -> Article | None:
        with self.engine.connect() as db:
            row = db.execute(sa.select(*_ARTICLE_COLUMNS).where(
                ARTICLES.c.id == article_id, ARTICLES.c.duplicate_of.is_(None)).limit(1)).first()
        return _article(row) if row else None

    def articles(self, ids: Iterable[str]) -> dict[str, Article]:
        """The stored (non-duplicate) articles among `ids`, read in one query."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        with self.engine.connect() as db:
            rows = db.execute(sa.select(*_ARTICLE_COLUMNS).where(
                ARTICLES.c.id.in_(ids), ARTICLES.c.duplicate_of.is_(None)))
            return {a.id: a for a in map(_article, rows)}

    def counts(self) -> tuple[int, int]:
        with self.engine.connect() as db:
            row = db.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(ARTICLES.c.chunks), 0))
                             .where(ARTICLES.c.duplicate_of.is_(None))).first()
        return int(row[0]), int(row[1])

    def sources(self) -> list[str]:
        """The outlets a search can filter by: those of stored articles. A copy of an article is stored once,
        under the outlet of the copy stored first, so an outlet only copies name would find nothing."""
        with self.engine.connect() as db:
            return list(db.execute(sa.select(ARTICLES.c.source).distinct()
                                   .where(ARTICLES.c.source != "", ARTICLES.c.duplicate_of.is_(None))
                                   .order_by(ARTICLES.c.source)).scalars())

    def sample_text(self, n: int = 200, chars: int = 400) -> str:
        """The titles and first `chars` characters of up to `n` stored articles (what they are written in)."""
        with self.engine.connect() as db:
            rows = db.execute(sa.select(ARTICLES.c.title, sa.func.substr(ARTICLES.c.body, 1, chars))
                              .where(ARTICLES.c.duplicate_of.is_(None)).limit(n))
            return "\n".join(f"{title or ''}\n{body or ''}" for title, body in rows)

    # -- store-wide settings
    def meta(self, key: str) -> str | None:
        with self.engine.connect() as db:
            return db.execute(sa.select(META.c.value).where(META.c.key == key)).scalar()

    def claim_collection(self, name: str) -> str:
        """The Chroma collection the store's vectors are in, named `name` now when none is named yet (layout
        3). One transaction: of two processes opening a new store at once, the second's insert breaks the
        key, and it takes the first one's name."""
        try:
            with self.engine.begin() as db:
                held = db.execute(sa.select(META.c.value).where(META.c.key == "collection")).scalar()
                if held:
                    return held
                db.execute(META.insert().values(key="collection", value=name))
                self._set(db, "layout", str(LAYOUT))
            return name
        except sa.exc.IntegrityError:
            return self.meta("collection")

    def name_collection(self, name: str) -> None:
        """Note that the store's vectors are in the Chroma collection `name` (layout 3)."""
        with self.engine.begin() as db:
            self._set(db, "collection", name)
            self._set(db, "layout", str(LAYOUT))

    def set_meta(self, key: str, value: str) -> None:
        with self.engine.begin() as db:
            self._set(db, key, value)

    @staticmethod
    def _set(db, key: str, value: str) -> None:
        db.execute(META.delete().where(META.c.key == key))
        db.execute(META.insert().values(key=key, value=value))

    def _touch(self, db) -> None:
        """Mark the catalog changed: `revision` tells caches (the keyword index, other processes) to refresh."""
        revision = f"{time.time_ns()}-{os.getpid()}"
        self._set(db, "last_ingest", time.strftime("%Y-%m-%d %H:%M:%S"))
        self._set(db, "revision", revision)
        self.written.add(revision)


_ARTICLE_COLUMNS = (ARTICLES.c.id, ARTICLES.c.record_id, ARTICLES.c.title, ARTICLES.c.body, ARTICLES.c.path,
                    ARTICLES.c.url, ARTICLES.c.published, ARTICLES.c.source, ARTICLES.c.authors)


def _article(row) -> Article:
    """An article as its row holds it; a value no version writes (a hand edit: NULL, authors that are no
    JSON list) is read as empty, so that no row can crash a question (its chunks then fail
    `Store.is_current` and are not shown; `rag ingest --rebuild` writes it again)."""
    return Article(record_id=row.record_id or "", title=row.title or "", body=row.body or "", path=row.path or "",
                   url=row.url or "", published=row.published or "", source=row.source or "",
                   authors=_stored_authors(row.authors))


def _stored_authors(stored: str | None) -> list[str]:
    try:
        authors = json.loads(stored or "[]")
    except ValueError:
        return []
    return [a for a in authors if isinstance(a, str)] if isinstance(authors, list) else []


def _migrate(db, layout: int) -> None:
    """Bring an older catalog to WRITTEN_LAYOUT in place (nothing is re-embedded, nothing deleted)."""
    if layout == 1:
        # v1 keyed articles by the record's own id; v2 keeps it as record_id and adds the unique id.
        db.execute(sa.text("ALTER TABLE articles RENAME COLUMN id TO record_id"))
        db.execute(sa.text("ALTER TABLE articles ADD COLUMN id TEXT"))
        rows = db.execute(sa.text("SELECT rowid, path, record_id, content_hash, duplicate_of FROM articles")).all()
        canonical = {h: article_uid(p, r) for _, p, r, h, dup in rows if dup is None}
        for rowid, path, record_id, content_hash, dup in rows:
            db.execute(sa.text("UPDATE articles SET id = :id, duplicate_of = :dup WHERE rowid = :rowid"),
                       {"id": article_uid(path, record_id), "rowid": rowid,
                        "dup": None if dup is None else canonical.get(content_hash)})
        db.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_articles_id ON articles(id)"))
    Catalog._set(db, "layout", str(WRITTEN_LAYOUT))
