"""Keeping the store in step with article files: new and changed files embedded, unchanged skipped, gone removed.

The chunk-level bookkeeping is LangChain's indexing API (`index()` with a SQL record manager, keyed
on the file path, `scoped_full` cleanup): chunks whose text and metadata did not change are never
re-embedded, new chunks are written before stale ones are deleted, and stale ones are deleted only
after the whole run succeeded. The catalog adds what the record manager does not know: file digests
(so an unchanged file is not even parsed), article bodies, and duplicates across files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from langchain_core.documents import Document

from .articles import ArticleError, content_hash, file_digest, is_supported, read_file
from .chunking import chunk_article, embedding_text, make_splitter
from .models import IngestReport, display_path
from .settings import Settings
from .store import Store, chunk_metadata

# on_progress(chunks_done, chunks_total, articles_done, articles_total)
Progress = Callable[[int, int, int, int], None]


@dataclass
class _FilePlan:
    """A changed file, read and chunked, waiting to be indexed."""

    path: str
    digest: str
    rows: list = field(default_factory=list)  # (article, content hash, chunk count, duplicate_of)
    docs: list[Document] = field(default_factory=list)


def _fail(report: IngestReport, path: Path, error: str) -> None:
    """Report a file that could not be ingested, named as the user sees it."""
    report.failed.append({"path": display_path(str(path)), "error": error})


def collect_files(paths: Iterable[Path], report: IngestReport) -> tuple[list[Path], list[Path]]:
    """(article files, folders) named by `paths`; a missing path is reported as failed.
    Hidden files and folders (.git, .Trash, editor backups) inside a folder are left out."""
    files: list[Path] = []
    folders: list[Path] = []
    for path in paths:
        path = Path(path)
        if path.is_dir():
            folders.append(path.resolve())
            files += sorted(p.resolve() for p in path.rglob("*")
                            if p.is_file() and is_supported(p)
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            files.append(path.resolve())
        else:
            _fail(report, path, "no such file or folder")
    return list(dict.fromkeys(files)), folders


def sync(store: Store, paths: Iterable[Path], settings: Settings, on_progress: Progress | None = None) -> IngestReport:
    """Bring the store in step with the given files and folders. A folder is synced whole:
    files gone from it are removed from the store."""
    report = IngestReport()
    files, folders = collect_files(paths, report)
    present = {str(f) for f in files}
    gone = [p for p in store.catalog.paths()
            if p not in present and any(Path(p).is_relative_to(d) for d in folders)]
    digests = _digests(files, report)
    changed = [key for key, digest in digests.items() if store.catalog.file_digest(key) not in (None, digest)]
    # files holding copies of articles stored from changed or gone files are read again, wherever
    # they are, so a copy stays stored when the original goes
    recheck = set(store.catalog.paths_with_duplicates_of(gone + changed))
    digests.update(_digests([Path(p) for p in sorted(recheck - set(gone) - set(digests)) if Path(p).is_file()],
                            report))

    plans: list[_FilePlan] = []
    seen_hashes: dict[str, str] = {}
    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)

    def plan(keys: list[str], stale: set[str]) -> None:
        for key in keys:
            if digests[key] == store.catalog.file_digest(key) and key not in recheck:
                report.unchanged += sum(1 for _, dup in store.catalog.articles_in(key).values() if dup is None)
                continue
            file_plan = _plan_file(store, Path(key), digests[key], settings, splitter, seen_hashes, stale, report)
            if file_plan:
                plans.append(file_plan)

    # changed files first: once read, their old articles can no longer stand as originals of copies
    plan(changed, set(gone + changed))
    plan([key for key in digests if key not in changed], set(gone) | {p.path for p in plans})

    if not _index(store, plans, on_progress, report):
        report.added = report.updated = report.deleted = 0
        return report  # nothing changed: files gone from the folder are removed by the next sync
    for path in gone:
        _remove_file(store, path)
        report.deleted += store.catalog.forget_file(path)
    return report


def _digests(files: list[Path], report: IngestReport) -> dict[str, str]:
    """{path: content digest} of the files that can be read; the others are reported as failed."""
    digests = {}
    for file in files:
        try:
            digests[str(file)] = file_digest(file)
        except OSError as e:
            _fail(report, file, f"cannot read: {e.strerror}")
    return digests


def _plan_file(store: Store, file: Path, digest: str, settings: Settings, splitter, seen_hashes: dict,
               stale: set[str], report: IngestReport) -> _FilePlan | None:
    key = str(file)
    try:
        result = read_file(file, settings.max_file_mb, settings.max_jsonl_mb)
    except ArticleError as e:
        _fail(report, file, str(e))
        return None  # whatever the file held before stays in the store
    except OSError as e:
        _fail(report, file, f"cannot read: {e.strerror}")
        return None
    for error in result.errors:
        _fail(report, file, error)
    if not result.articles:
        return None
    before = store.catalog.articles_in(key)
    if result.errors:  # records that no longer read stay as they were stored
        read_ids = {a.id for a in result.articles}
        result.articles += [a for aid, (_, dup) in before.items()
                            if aid not in read_ids and dup is None and (a := store.catalog.article(aid))]
    plan = _FilePlan(path=key, digest=digest)
    new_ids_seen = 0  # articles whose id this file did not hold before
    for article in result.articles:
        article.path = key
        if article.id in {a.id for a, *_ in plan.rows}:
            article.id = f"{article.id}-{len(plan.rows)}"  # two records sharing an id in one file
        h = content_hash(article.title + "\n" + article.body)
        duplicate_of = seen_hashes.get(h) or _stored_duplicate(store, h, key, stale)
        if duplicate_of:
            plan.rows.append((article, h, 0, duplicate_of))
            report.unchanged += 1
            continue
        seen_hashes[h] = article.id
        chunks = chunk_article(article, splitter)
        plan.docs += [Document(page_content=embedding_text(c), metadata=chunk_metadata(c)) for c in chunks]
        plan.rows.append((article, h, len(chunks), None))
        old = before.get(article.id)
        if old is None:
            new_ids_seen += 1
        elif old[1] is not None:
            report.added += 1
        elif old[0] != h:
            report.updated += 1
        else:
            report.unchanged += 1
    new_ids = {a.id for a, *_ in plan.rows}
    vanished = sum(1 for aid, (_, dup) in before.items() if aid not in new_ids and dup is None)
    # an edited article without a stable id gets a new one (it follows the text): count it as updated
    replaced = min(new_ids_seen, vanished)
    report.added += new_ids_seen - replaced
    report.updated += replaced
    report.deleted += vanished - replaced
    return plan


def _stored_duplicate(store: Store, h: str, path: str, stale: set[str]) -> str | None:
    """The stored article this content duplicates, unless it comes from a file that is changing or gone."""
    canonical = store.catalog.canonical_for(h, path)
    if canonical is None:
        return None
    article = store.catalog.article(canonical)
    return canonical if article and article.path not in stale else None


def _index(store: Store, plans: list[_FilePlan], on_progress: Progress | None, report: IngestReport) -> bool:
    """Embed and write the planned files' chunks in one `index()` run, then record them in the catalog.

    When the run fails midway (model error, disk full, server gone), every planned file is reported
    as failed and False returned: stale chunks are only deleted at the end of a successful run and the
    catalog is not updated, so the store still answers from what it held and the next sync retries."""
    from langchain_classic.indexes import index

    total_chunks = sum(len(p.docs) for p in plans)
    total_articles = sum(len(p.rows) for p in plans)
    if on_progress:
        on_progress(0, total_chunks, 0, total_articles)

    def documents() -> Iterator[Document]:
        articles_done, last_article = 0, None
        for done, doc in enumerate((d for plan in plans for d in plan.docs), 1):
            if doc.metadata["article_id"] != last_article:
                articles_done, last_article = articles_done + 1, doc.metadata["article_id"]
            yield doc
            if on_progress and done % 32 == 0:
                on_progress(done, total_chunks, articles_done, total_articles)
        if on_progress:
            on_progress(total_chunks, total_chunks, total_articles, total_articles)

    if total_chunks:
        try:
            result = index(documents(), store.records, store.vectors, cleanup="scoped_full",
                           source_id_key="path", key_encoder="sha256", batch_size=128)
        except Exception as e:
            for plan in plans:
                _fail(report, Path(plan.path), f"not indexed, the store keeps its earlier version: {e}")
            return False
        report.chunks_embedded = result["num_added"]
    for plan in plans:
        if not plan.docs:  # everything in it is now a duplicate: its old chunks go
            _remove_file(store, plan.path)
        store.catalog.replace_file(plan.path, plan.digest, plan.rows)
    return True


def _remove_file(store: Store, path: str) -> None:
    while keys := store.records.list_keys(group_ids=[path], limit=1000):
        store.vectors.delete(keys)
        store.records.delete_keys(keys)
