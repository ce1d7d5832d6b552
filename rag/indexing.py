"""Keeping the store in step with article files: new and changed files embedded, unchanged skipped, gone removed.

The chunk-level bookkeeping is LangChain's indexing API (`index()` with a SQL record manager, keyed
on the file path): chunks whose text and metadata did not change are never re-embedded. The catalog
adds what the record manager does not know: file digests (so an unchanged file is not even parsed),
article bodies, and duplicates across files.

What a crash, a kill or a failed batch can leave behind, and why it never shows:
- Articles are written in units of about `UNIT_CHUNKS` chunks: their new chunks first (`index()`
  without cleanup, so nothing is deleted yet), then their catalog rows in one transaction, then the
  chunks of their earlier versions are deleted. A reader accepts a chunk only when the catalog holds
  its article with exactly that text at its offsets (`store.is_current`), so until the catalog
  commit it sees the earlier version, and after it the new one: never neither, never both.
- The paths a unit is writing are noted in the catalog (`pending`) before it starts; the next sync
  first removes whatever such a unit left that the catalog does not vouch for (`repair`), and when
  the counts of vectors, records and catalog chunks disagree it checks every path. A crash at any
  moment and a normal re-run give the store that a clean run gives.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from langchain_classic.indexes import index
from langchain_core.documents import Document

from .articles import (ArticleError, article_hash, bytes_digest, file_digest, is_article_name, is_hidden, keyed_by_text,
                       read_file)
from .checkpoints import reached
from .chunking import PassageSplitter, chunk_article, embedding_text
from .models import Article, IngestReport, display_path, failure, warning
from .settings import DEFAULT_STORE, Settings
from .store import Store, StoreError, WriterLockLost, chunk_metadata, is_store_folder

log = logging.getLogger(__name__)

# on_progress(chunks_done, chunks_total, articles_done, articles_total)
Progress = Callable[[int, int, int, int], None]
# Chunks written and committed together: big enough to keep embedding batches full, small enough that
# the first articles of a large first sync are searchable within seconds.
UNIT_CHUNKS = 256
BATCH = 64  # chunks embedded and written at a time inside a unit
NOT_INDEXED = "not indexed "  # opens the failure of a file that read well but could not be written
NOT_REMOVED = "gone, but still in the store "  # a file removed from the folder whose chunks could not be deleted
LOW_DISK_BYTES = 64 * 2**20  # less free than this under the store's folder: a failed write is blamed on the disk
PARTLY_READ = "partly-read:"  # before the digest of a file some of whose records failed to read


@dataclass
class Planned:
    """One article of a changed file, read and chunked, waiting to be written."""

    article: Article
    content_hash: str
    duplicate_of: str | None  # the id of the stored article it copies (then it has no chunks)
    docs: list[Document] = field(default_factory=list)


@dataclass
class FilePlan:
    """A changed file (new, edited, or holding copies of articles that changed): its articles as read now."""

    path: str
    digest: str
    articles: list[Planned] = field(default_factory=list)
    done: int = 0  # articles committed so far
    counts: IngestReport = field(default_factory=IngestReport)  # added/updated/unchanged/deleted, once written


def is_unwritten(failure: dict) -> bool:
    """Whether a reported failure (`IngestReport.failed`) is the store's, not the file's: the file read
    well but could not be written (a full disk, a store error). The next sync retries it."""
    return failure["error"].startswith(NOT_INDEXED)


def reached_under(path: str, via: str | None, folders: list[Path]) -> bool:
    """Whether a stored file is one of these folders': under one of them, or reached through a symbolic
    link inside one (`via`; the file itself lives elsewhere)."""
    return any(Path(path).is_relative_to(f) or (via is not None and Path(via).is_relative_to(f)) for f in folders)


def _fail(report: IngestReport, path: str | Path, error: str) -> None:
    """Report a file that could not be ingested, named as the user sees it."""
    report.failed.append(failure(display_path(str(path)), error))


@dataclass
class Found:
    """What a sync found at the paths it was given (`collect_files`)."""

    files: list[Path] = field(default_factory=list)  # article files, by real path
    folders: list[Path] = field(default_factory=list)  # the folders given, resolved
    links: dict[str, str] = field(default_factory=dict)  # real path -> the link that reached it (`via`)
    unread: list[Path] = field(default_factory=list)  # folders (both as reached and resolved) that could not be read

    def add(self, real: Path, reached: Path) -> None:
        """An article file found, by its real path, and the path that reached it (a link's, when they differ)."""
        self.files.append(real)
        if real != reached:
            self.links[str(real)] = str(reached)


def collect_files(paths: Iterable[Path], report: IngestReport) -> Found:
    """The article files named by `paths`, and how they were reached; a missing path, a file or folder
    that cannot be read or a symbolic link that loops back into its own folder is reported. Hidden files
    and folders (.git, .Trash, editor backups) inside a folder are left out, and so are stores of this
    app (`store.is_store_folder`: the store's own folder, when it lies inside an articles folder). A file
    is known by its real path; `links` maps the real path of each file reached through a symbolic link
    (inside a folder, or named itself) to the link's path."""
    found = Found()
    for path in map(Path, paths):
        try:
            kind = "folder" if path.is_dir() else "file" if path.is_file() else ""
        except OSError as e:  # (no permission to look: kept, like an unreadable folder)
            _unreadable(report, found, path, path.parent.resolve() / path.name, e, "file or folder")
            continue
        if kind == "folder":
            found.folders.append(path.resolve())
            _walk(path, report, found)
        elif kind == "file":
            if not _bad_name(path, report):  # (a link named on its own: `named_deletions` knows it by its path)
                found.add(path.resolve(), path.parent.resolve() / path.name)
        else:
            _fail(report, path, "no such file or folder")
    found.files = list(dict.fromkeys(found.files))
    return found


def _walk(folder: Path, report: IngestReport, found: Found) -> None:
    seen = set()
    inside = folder.resolve()  # the folder's own real path; what is under it is not resolved

    def on_error(error: OSError) -> None:
        unreadable = Path(error.filename or folder)
        reached = inside / unreadable.relative_to(folder) if unreadable.is_relative_to(folder) else unreadable
        _unreadable(report, found, unreadable, reached, error, "folder")

    for top, dirs, names in os.walk(folder, followlinks=True, onerror=on_error):
        real = Path(top).resolve()
        if real in seen:
            _fail(report, top, "skipped: a symbolic link loops back into a folder already read")
            dirs.clear()
            continue
        seen.add(real)
        relative = Path(top).relative_to(folder)
        if is_store_folder(Path(top)):  # a store's own files are no articles (its keyword index is JSON)
            dirs.clear()
            found.unread += [real, inside / relative]  # what is stored from under it (a store made among
            if top == str(folder):                     # articles, `rag ask --store news`) is kept
                _fail(report, top, "skipped: it holds a store (open.lock, catalog.sqlite), whose files are not "
                                   "read as articles; what is stored from it is kept. Give the store a folder of "
                                   "its own (--store) and move the store's files out of the articles folder")
            continue
        dirs[:] = sorted(d for d in dirs if not is_hidden(relative / d))
        for name in sorted(names):
            path, reached = Path(top) / name, inside / relative / name
            if not is_article_name(relative / name):
                continue
            try:
                if not path.is_file():
                    continue
                real = path.resolve()
            except OSError as e:  # (a link into a folder we may not enter, a folder we may list but not enter)
                _unreadable(report, found, path, reached, e, "file")
                continue
            if not (_bad_name(path, report) or _bad_name(real, report)):
                found.add(real, reached)


def _unreadable(report: IngestReport, found: Found, path: Path, reached: Path, error: OSError, what: str) -> None:
    """Report a file or folder that cannot be read now, and keep what is stored from it (`_unseen`)."""
    _fail(report, path, f"cannot read the {what}: {error.strerror} (its stored articles are kept)")
    found.unread += [Path(os.path.realpath(path)), reached]


def _bad_name(path: Path, report: IngestReport) -> bool:
    """A path that is not valid UTF-8 (a file saved on another system) cannot be stored: it is reported,
    and the rest of the batch goes on."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        _fail(report, path, "the file's name (or its folder's) is not valid UTF-8: rename it to index it")
        return True
    return False


def _description(article: Article) -> tuple:
    """What an article says of itself besides its text (an edit of these alone is an update too)."""
    return article.published, article.source, article.url, tuple(article.authors)


def _gone(present: set[str], found: Found, stored_links: dict[str, str | None], report: IngestReport,
          prune: bool = False, settings: Settings | None = None, others: Collection[str] = ()) -> list[str]:
    """The stored files gone from the given folders: under one of them, or reached through a symbolic
    link inside one (the file itself lives elsewhere) when the folder no longer leads to it. What the walk
    could not have seen is not gone: a hidden file (ingested by name), a file under a folder that could
    not be read. A link to a folder that leads nowhere (a drive not mounted?) deletes nothing: its files
    are kept, with a warning; a link to a file deleted where it lives (its folder is there) is gone.
    `settings` name the store in the warnings' commands (`prune_command`); `others`: files another machine
    stored, left out of `stored_links` (`machine_split`)."""
    gone, dangling = [], set()
    emptied = {} if prune else _emptied(present, found, stored_links, others)
    for path, via in stored_links.items():
        if not _missed(path, via, present, found):
            continue
        if reached_under(path, via, list(emptied)):
            continue
        through_link = via and not reached_under(path, None, found.folders)  # (the file lives elsewhere)
        link = _dangling_link(Path(via), found.folders) if through_link else None
        if link and not (link == via and _is_folder(Path(path).parent)):
            dangling.add(link)
        else:
            gone.append(path)
    for link in sorted(dangling):
        report.warnings.append(warning(display_path(link), "a symbolic link to nothing, or to what "
                                "cannot be read (a drive not mounted? no permission?): the articles stored through it "
                                "are kept"))
    for folder, (count, holds) in emptied.items():
        now = f"holds only {holds} article file(s) now" if holds else "holds no article files now"
        report.warnings.append(warning(display_path(str(folder)), f"{now}, against {count} stored from it "
                                f"(a drive not mounted? emptied by mistake?): the stored files gone from it are kept. "
                                f"To remove them, sync it with `{prune_command(folder, settings)}`"))
    return gone


def prune_command(folder: Path, settings: Settings | None) -> str:
    """The command that removes a folder's kept files on purpose, as a message gives it: absolute paths,
    quoted for the shell, and `--store` when the store is not the default folder."""
    store = ""
    if settings is not None and settings.store_dir != Path(DEFAULT_STORE):
        store = f" --store {shlex.quote(str(settings.store_dir.resolve()))}"
    return f"rag ingest {shlex.quote(str(folder))}{store} --prune"


# A given folder that held at least this many stored files and now holds none keeps them (`_emptied`): an
# unmounted drive or a mistaken path must not cost the embedding of a whole folder (hours, for a
# newsroom's). Deleting the one file of a folder is a plain deletion.
EMPTIED_FOLDER_FILES = 2
# A folder from which at least VANISHED_FILES stored files are gone at once, that still holds fewer than
# VANISHED_KEPT_SHARE of the files it had stored, and into which fewer new files came than MOVED_SHARE of
# those gone, keeps them too (`_vanished`): an upload or a followed feed's items saved into the empty mount
# point of a drive not mounted must not make the next sync remove the whole drive's articles, while files
# moved or renamed within the folder come back about as many as went, a plain sync. The same holds for a
# subfolder that is still there with none of its files (a drive mounted inside the folder); one deleted
# with its files is a plain deletion. A deliberate clean-up that large is a `--prune`. (Set by hand, not
# measured: 20 files keeps a small folder's clean-up a plain deletion; a tenth and a half leave room for a
# few files saved meanwhile.)
VANISHED_FILES = 20
VANISHED_KEPT_SHARE = 0.1
MOVED_SHARE = 0.5


def _vanished(gone: int, still: int, new: int, stored: int) -> bool:
    """Whether a folder lost its files as an unmounted drive loses them (VANISHED_FILES), not in a clean-up
    or a move: `gone` of its `stored` files gone, `still` there, `new` files come."""
    return gone >= VANISHED_FILES and still < VANISHED_KEPT_SHARE * stored and new < MOVED_SHARE * gone


def _emptied(present: set[str], found: Found, stored_links: dict[str, str | None],
             others: Collection[str] = ()) -> dict[Path, tuple[int, int]]:
    """The folders that look emptied, not cleaned up: {folder: (stored files under it, article files it
    holds now)}. A given folder that holds no article file at all, though the store holds at least
    EMPTIED_FOLDER_FILES from under it, or one that lost its files as a drive not mounted does
    (`_vanished`); else its subfolders that did so (`_emptied_below`). What the walk could not have seen
    (a hidden file ingested by name, a file in a folder that could not be read) is neither stored nor gone
    here; `others` (files another machine stored) are neither stored nor new."""
    out = {}
    places = {p: found.links.get(p) or p for p in present}  # each file where the folders have it
    for folder in found.folders:
        inside = str(folder).rstrip(os.sep) + os.sep  # (string prefixes: 100,000 stored files, many folders)
        under = {p: via or "" for p, via in stored_links.items()
                 if (p.startswith(inside) or (via or "").startswith(inside))
                 and (p in present or not _unseen(p, via, found))}
        gone = [p for p in under if p not in present]
        still = len(under) - len(gone)
        holds = [p for p, place in places.items() if place.startswith(inside)]
        new = [p for p in holds if p not in stored_links and p not in others]
        if not (still or new) and len(under) >= EMPTIED_FOLDER_FILES:
            out[folder] = (len(under), 0)
        elif _vanished(len(gone), still, len(new), len(under)):
            out[folder] = (len(under), still + len(new))
        elif len(new) < MOVED_SHARE * len(gone):  # (files moved within the folder empty no subfolder)
            # (a file reached through a link is left to `_gone`)
            out |= _emptied_below(inside, [p for p in gone if not under[p]], [places[p] for p in holds])
    return out


def emptied_folders(paths: list[Path], stored_links: dict[str, str | None], others: Collection[str] = ()) -> list[Path]:
    """The folders that a sync of `paths` would keep as emptied (`_emptied`: a drive not mounted?), so that
    a rebuild does not take their files for deleted ones."""
    found = collect_files(paths, IngestReport())  # (what cannot be read is the rebuild's sync's to report)
    return list(_emptied({str(f) for f in found.files}, found, stored_links, others))


def _emptied_below(inside: str, gone: list[str], holds: list[str]) -> dict[Path, tuple[int, int]]:
    """The topmost subfolders (below the folder `inside` names) that are still there but hold no article
    file (`holds`: where the folder has its files now), having lost at least VANISHED_FILES stored files
    (`gone`): a drive not mounted at a mount point inside the folder leaves such an empty subfolder, while
    a subfolder deleted on purpose is gone with its files (a plain deletion)."""
    def folders_of(place: str) -> Iterator[str]:
        above = os.path.dirname(place)
        while above.startswith(inside) and above != inside:  # ("/" is its own dirname)
            yield above
            above = os.path.dirname(above)
    holding = {d for place in holds for d in folders_of(place)}
    counts = Counter(d for place in gone for d in folders_of(place) if d not in holding)
    chosen: list[str] = []
    for folder in sorted(d for d, n in counts.items() if n >= VANISHED_FILES):  # (parents first)
        if not any(folder.startswith(top + os.sep) for top in chosen) and _is_folder(Path(folder)):
            chosen.append(folder)
    return {Path(d): (counts[d], 0) for d in chosen}


def machine_split(store: Store, machine: str, links: dict[str, str | None]) -> tuple[dict, dict, set]:
    """({path: via} of the stored files this machine may remove when gone, {path: machine} of those another
    machine of a shared store stored, the paths of those with no machine recorded). In a shared store
    files are known by their path on every machine alike, so two machines that each keep their own folder
    at the same path (`~/news`) must not delete each other's articles: a file is removed by the sync of the
    machine that stored its present version (`machine`: `Settings.machine_name`), or by a `--prune`. A file
    stored before `files.machine` (none recorded) is anyone's, as it was, and the first machine to find it
    adopts it (`sync`). A store in a folder (`machine` ""): every file is this machine's."""
    owners = store.catalog.machine_by_file() if machine else {}
    theirs = {p: owner for p, owner in owners.items() if owner not in (None, machine)}
    ownerless = {p for p, owner in owners.items() if owner is None}
    return {p: via for p, via in links.items() if p not in theirs}, theirs, ownerless


def _count_kept_elsewhere(theirs: dict[str, str], stored_links: dict[str, str | None], present: set[str],
                          found: Found, deleted: dict[Path, str], report: IngestReport) -> None:
    """Count the files another machine stored (`theirs`, `machine_split`) that this sync would have removed
    and keeps (`IngestReport.kept_elsewhere`)."""
    kept = Counter(owner for p, owner in theirs.items()
                   if _missed(p, stored_links.get(p), present, found) or (p in deleted.values() and p not in present))
    for owner, count in sorted(kept.items()):
        log.info("kept %d stored files that the machine %r stored and this one does not hold; a sync with "
                 "--prune removes them", count, owner)
    report.kept_elsewhere = sum(kept.values())


def _repointed(present: set[str], found: Found, stored_links: dict[str, str | None]) -> list[str]:
    """The stored files a link found now no longer leads to: the link points elsewhere (`ln -sfn`)."""
    leads_to = {via: real for real, via in found.links.items()}
    return [path for path, via in stored_links.items()
            if via in leads_to and leads_to[via] != path and path not in present]


def _is_folder(path: Path) -> bool:
    """Whether a folder is there to be seen (False when we may not look)."""
    try:
        return path.is_dir()
    except OSError:
        return False


def _missed(path: str, via: str | None, present: set[str], found: Found) -> bool:
    """Whether a stored file is one of the given folders' (`reached_under`) that their walk could have
    found (`_unseen`) and did not: gone, unless something keeps it (an emptied folder, another machine)."""
    return path not in present and reached_under(path, via, found.folders) and not _unseen(path, via, found)


def _unseen(path: str, via: str | None, found: Found) -> bool:
    """Whether the walk of the given folders could not have found this stored file: it is hidden inside
    one of them as the walk would reach it (through its link, when a link reached it), or under a folder
    that could not be read."""
    places = [Path(path)] + ([Path(via)] if via else [])
    if any(place.is_relative_to(u) for place in places for u in found.unread):
        return True
    reached = places[-1]
    return any(reached.is_relative_to(f) and is_hidden(reached.relative_to(f)) for f in found.folders)


def _pruned_away(paths: list[Path], stored_links: dict[str, str | None], report: IngestReport) -> list[Path]:
    """With `--prune`, the given folders that are no longer there and hold stored files (`mv news
    news-2024` done, or a drive retired: `rag ingest news --prune`): their files go, said in a warning.
    Without `--prune` such a folder is "no such file or folder" and removes nothing (a drive not mounted?)."""
    gone = []
    for path in paths:
        try:
            if path.exists():
                continue
        except OSError:  # (no permission to look: nothing is known to be gone)
            continue
        folder = path.resolve()
        if held := sum(1 for p, via in stored_links.items() if reached_under(p, via, [folder])):
            gone.append(folder)
            report.warnings.append(warning(display_path(str(path)), f"not there: the {held} stored file(s) from it "
                                           f"are removed (--prune)"))
    return gone


def _given_and_gone(path: Path, pruned: list[Path]) -> bool:
    return path.resolve() in pruned


def named_deletions(paths: list[Path], stored_links: dict[str, str | None]) -> dict[Path, str]:
    """The paths named on their own that are gone from a folder that is still there, each with the stored
    file it was (`rag ingest news/story.txt` after deleting it: the file was deleted, as a folder sync
    would see it). A path whose folder is gone too (a drive not mounted?) is not here: it is reported as
    missing and removes nothing. A stored file is known by its real path, or by the link inside a
    folder that reached it (`via`)."""
    found = {}
    for path in paths:
        try:
            if path.exists() or not path.parent.is_dir():
                continue
        except OSError:  # (no permission to look: nothing is known to be gone)
            continue
        real = str(path.resolve())  # (a link to a file whose folder is gone: a drive not mounted?)
        if not _is_folder(Path(real).parent):
            continue
        if real in stored_links:
            found[path] = real
        elif stored := next((p for p, via in stored_links.items() if via == real), None):
            found[path] = stored
    return found


def _dangling_link(path: Path, folders: list[Path]) -> str:
    """The symbolic link on the way to `path` (inside an ingested folder) that leads nowhere, or one that
    cannot be followed (no permission: a share that denies access), or ""."""
    for above in [path, *path.parents]:
        if any(above == d for d in folders):
            return ""
        try:
            if above.is_symlink() and not above.exists():
                return str(above)
        except OSError:  # (Path.exists raises on EACCES) nothing is known of what lies behind it: kept
            return str(above)
    return ""


def sync(store: Store, paths: Iterable[Path], settings: Settings, on_progress: Progress | None = None,
         on_wait: Callable[[str], None] | None = None, again: bool = False, prune: bool = False) -> IngestReport:
    """Bring the store in step with the given files and folders. A folder is synced whole: files gone
    from it are removed from the store, and so is a file named on its own that was deleted from its
    folder (`named_deletions`). One writer at a time: `on_wait` hears why we wait.

    `again` (`rag ingest --rebuild` on a store of this model): every file is read and every chunk
    embedded again, in place, unit by unit like any update, so a rebuild that is killed or fails
    leaves every article searchable (some with their earlier vectors).

    `prune` (`rag ingest --prune`): a given folder found empty loses what it held, which a sync otherwise
    keeps (`_emptied`: a drive not mounted?), and in a shared store the files gone from the given folders
    go even when another machine stored them (`machine_split`)."""
    report = IngestReport()
    with store.writer(on_wait):
        try:
            report.repaired = repair(store)
        except Exception as e:  # writing anything more would fail the same way
            full = _logged(store, e, "checking the store for what an interrupted ingest left")
            raise StoreError(f"cannot check or clean the store {store.location} before writing: {e}{full}") from e
        stored_links = store.catalog.links()  # every stored file, and how a folder reached it
        paths = list(map(Path, paths))
        deleted = named_deletions(paths, stored_links)
        pruned = _pruned_away(paths, stored_links, report) if prune else []
        found = collect_files([p for p in paths if p not in deleted and not _given_and_gone(p, pruned)], report)
        present = {str(f) for f in found.files}
        # another machine's files are neither gone nor part of an emptied folder here
        machine = settings.machine_name()
        mine, theirs, ownerless = machine_split(store, machine, stored_links)
        if prune:
            mine, theirs = stored_links, {}
        digests, stored_digests = _digests(found.files, report), store.catalog.digests()
        moving = _moved_away({p: v for p, v in mine.items() if p not in ownerless}, present, digests,
                             stored_digests) | _moving_before(store, machine, mine, present, stored_digests)
        gone = list(dict.fromkeys(_gone(present, found, mine, report, prune, settings, theirs)
                                  + _repointed(present, found, mine)
                                  + [p for p in deleted.values() if p not in present and p not in theirs]
                                  + [p for p, via in stored_links.items() if reached_under(p, via, pruned)]
                                  + list(moving)))
        _count_kept_elsewhere(theirs, stored_links, present, found, deleted, report)
        plans = _plan(store, digests, stored_digests, gone, settings, report, again)
        reached("planned")
        _note_moving(store, machine, moving)  # (a sync stopped before it removed them: the next one does)
        _write(store, plans, on_progress, report, again, machine)
        # (a file ingested in its own right stays so when a link also reaches it: removing the link must not
        # remove it)
        if changed_links := {p: found.links.get(p) for p in present if found.links.get(p) != stored_links.get(p)
                             and not (p in stored_links and stored_links[p] is None)}:
            try:
                store.catalog.set_links(changed_links)
            except Exception as e:  # (a full disk ...) the articles are stored; the next sync records it
                _logged(store, e, "recording which files were reached through symbolic links")
        if adopted := [p for p in present if p in ownerless]:
            try:  # files stored before `files.machine`, found here: this machine's from now on
                store.catalog.set_machine(adopted, machine)
            except Exception as e:  # (as above) the next sync records it
                _logged(store, e, "recording which machine holds the files")
        for path in gone:
            try:
                store.check_still_writer()
                report.deleted += _remove_file(store, path)
            except Exception as e:  # (a full disk fails deletes too) the next sync removes it
                _fail(report, path, f"{NOT_REMOVED}(the next sync retries): {e}{_logged(store, e, 'removing ' + path)}")
        if moving:
            left = set(store.catalog.paths())
            _note_moving(store, machine, {old: new for old, new in moving.items() if old in left})
        if again and not report.failed:
            store.record_model()  # a rebuild with another variant of the model's space: now the store's
    return report


def _moved_away(mine: dict[str, str | None], present: set[str], digests: dict[str, str],
                stored: dict[str, str | None]) -> dict[str, str]:
    """The stored files (this machine's: `mine`) that are no longer where they were stored and whose
    content this sync found, under the same file name, at a path it meets for the first time: moved (`mv
    news news-2024`, then `rag ingest news-2024`), so gone; {old path: new path}. Before, a renamed
    folder's files were stored as copies of the old paths, which stayed the originals: an edit or a
    deletion in the new folder left the old text answering. A file missing with no such twin (a drive
    not mounted) is kept, as before. (Its articles are embedded again at their new path.) `digests`: the
    files read now; `stored`: every stored file's (`Catalog.digests`)."""
    # only a file this sync meets for the first time can be where one went, under the same name (a copy
    # already stored, or a new one under another name, leaves a drive not mounted its files)
    arrived: dict[tuple[str, str], str] = {}
    for p, d in digests.items():
        if p not in stored:
            arrived.setdefault((Path(p).name, bytes_digest(d)), p)
    if not arrived:
        return {}
    # (a partly read file is no move: the records kept at its old path because their lines no longer read
    # would be lost with it, as they fail to read at the new path too)
    # (nor is a file edited on the way taken along by its name alone: a drive not mounted whose files' names
    # turned up elsewhere lost them all, and a moved file that no longer reads lost its stored version)
    return {p: arrived[key] for p in mine if p not in present and not (stored.get(p) or "").startswith(PARTLY_READ)
            and (key := (Path(p).name, bytes_digest(stored.get(p) or ""))) in arrived
            and not _exists(Path(p))}  # (looked at last: a hung network mount blocks only when it matters)


def _moving_key(machine: str) -> str:
    """The catalog meta key of the moves a sync is carrying out ({old path: new path}), one per machine."""
    return f"moving:{machine}" if machine else "moving"


def _note_moving(store: Store, machine: str, moving: dict[str, str]) -> None:
    """Note the moves a sync carries out ({} once done): a sync stopped after it wrote the new paths and
    before it removed the old ones left every article twice, as the next sync no longer met the new paths
    for the first time (`_moving_before`)."""
    key = _moving_key(machine)
    try:
        if moving or store.catalog.meta(key):
            store.catalog.set_meta(key, json.dumps(moving))
    except Exception as e:  # (a full disk) the moves are still carried out; only a stop's aftermath is not
        _logged(store, e, "noting the files being moved")


def _moving_before(store: Store, machine: str, mine: dict[str, str | None], present: set[str],
                   stored: dict[str, str | None]) -> dict[str, str]:
    """The moves an earlier sync noted and did not finish (`_note_moving`) whose new path is now stored
    whole (a digest: its last part written) and whose old path is still stored and still not there."""
    try:
        noted = json.loads(store.catalog.meta(_moving_key(machine)) or "{}")
        noted = {str(old): str(new) for old, new in noted.items()}
    except (ValueError, AttributeError):  # (written by hand?) nothing is removed on its word
        log.warning("the store's note of files being moved cannot be read; it is ignored")
        return {}
    return {old: new for old, new in noted.items()
            if old in mine and old not in present and stored.get(new) and not _exists(Path(old))}


def _exists(path: Path) -> bool:
    """Whether a file is there; True when we may not look (nothing is known to be gone)."""
    try:
        return path.exists()
    except OSError:
        return True


def _plan(store: Store, digests: dict[str, str], stored: dict[str, str | None], gone: list[str], settings: Settings,
          report: IngestReport, again: bool = False) -> list[FilePlan]:
    """What to write for the files read (`digests`: {path: content digest}) and the files `gone`; `stored`:
    the stored files' digests (`Catalog.digests`, read once: asked file by file, a sync of 50,000 files
    made 100,000 queries)."""
    digests = dict(digests)
    changed = [key for key, digest in digests.items() if stored.get(key) not in (None, digest)]
    # files holding copies of articles stored from changed or gone files are read again, wherever
    # they are, so a copy stays stored when the original goes
    recheck = set(store.catalog.paths_with_duplicates_of(gone + changed))
    there = []
    for path in map(Path, sorted(recheck - set(gone) - set(digests))):
        if path.is_file():
            there.append(path)
        else:  # not there now (a drive not mounted?): read again whenever a sync next meets it, or its
            store.catalog.forget_digest(str(path))  # copies would stay copies of nothing
    digests.update(_digests(there, report))
    plans: list[FilePlan] = []
    seen_hashes: dict[str, str] = {}
    splitter = PassageSplitter(settings.chunk_size, settings.chunk_overlap)

    def plan(keys: list[str], stale: set[str]) -> None:
        for key in keys:
            if digests[key] == stored.get(key) and key not in recheck and not again:
                report.unchanged += sum(1 for _, dup in store.catalog.articles_in(key).values() if dup is None)
                continue
            file_plan = _plan_file(store, Path(key), digests[key], settings, splitter, seen_hashes, stale, report)
            if file_plan:
                plans.append(file_plan)

    # changed files first: once read, their old articles can no longer stand as originals of copies
    plan(changed, set(gone + changed))
    plan([key for key in digests if key not in changed], set(gone) | {p.path for p in plans})
    return plans


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
               stale: set[str], report: IngestReport) -> FilePlan | None:
    key = str(file)
    try:
        result = read_file(file, settings.max_file_mb, settings.max_jsonl_mb)
    except ArticleError as e:
        _fail(report, file, str(e) + _kept(store, key))
        return None  # whatever the file held before stays in the store
    except OSError as e:
        _fail(report, file, f"cannot read: {e.strerror}{_kept(store, key)}")
        return None
    except Exception as e:  # a reader's own fault must cost this file only, never the batch
        log.exception("reading %s failed", file)
        _fail(report, file, f"could not be read ({type(e).__name__}: {e}){_kept(store, key)}")
        return None
    for error in result.errors:
        _fail(report, file, error)
    for caveat in result.warnings:
        report.warnings.append(warning(display_path(key), caveat))
    if not result.articles:
        return None
    before = store.catalog.articles_in(key)
    stored = store.catalog.file_articles(key)
    described = {a.record_id: _description(a) for a in stored}  # as stored
    hashed = [(article_hash(a.title, a.body), a) for a in stored]
    stored_ids = {h: a.record_id for h, a in hashed}  # content -> its stored id
    if result.errors:  # records that no longer read stay as they were stored (a shared id's record is
        read_ids = {a.record_id for a in result.articles}  # stored under another name: its content tells),
        read = {article_hash(a.title, a.body) for a in result.articles}  # but not one known by its text whose headline
        titles = {a.title for a in result.articles if keyed_by_text(a)}  # reads with another text: edited,
        bodies = {a.body for a in result.articles if keyed_by_text(a)}  # nor one whose text reads under another
        result.articles += [a for h, a in hashed if a.record_id not in read_ids and h not in read  # headline
                            and not (keyed_by_text(a) and (a.title in titles or a.body in bodies))]
    # a file with records that failed to read keeps a digest that never matches, so every sync reads it
    # again and reports them until the file is mended (its good records are not embedded again)
    plan = FilePlan(path=key, digest=PARTLY_READ + digest if result.errors else digest)
    counts = plan.counts
    taken: set[str] = set()
    own_ids = Counter(a.record_id for a in result.articles)
    new_ids_seen = 0  # articles whose id this file did not hold before
    for article in result.articles:
        article.path = key
        h = article_hash(article.title, article.body)
        if own_ids[article.record_id] > 1:  # records sharing an id in one file: each keeps the id it is stored
            kept = stored_ids.get(h, "")    # under, else is named by its content (by their order, a reordered
            if kept in (article.record_id, f"{article.record_id}-{h[:8]}") and kept not in taken:  # export gave
                article.record_id = kept    # a stored record's id, and its page, to another)
            else:
                n, named = 1, f"{article.record_id}-{h[:8]}"
                while named in taken or named in own_ids:
                    n, named = n + 1, f"{article.record_id}-{h[:8]}-{n + 1}"
                article.record_id = named
        taken.add(article.record_id)
        duplicate_of = seen_hashes.get(h) or _stored_duplicate(store, h, key, stale)
        if duplicate_of:
            plan.articles.append(Planned(article, h, duplicate_of))
            counts.unchanged += 1
            continue
        seen_hashes[h] = article.id
        chunks = chunk_article(article, splitter)
        docs = [Document(page_content=embedding_text(c), metadata=chunk_metadata(c)) for c in chunks]
        plan.articles.append(Planned(article, h, None, docs))
        old = before.get(article.record_id)
        if old is None:
            new_ids_seen += 1
        elif old[1] is not None:
            counts.added += 1
        elif old[0] != h or described.get(article.record_id) != _description(article):
            counts.updated += 1  # its text, or only its date, outlet, address or authors
        else:
            counts.unchanged += 1
    vanished = sum(1 for rid, (_, dup) in before.items() if rid not in taken and dup is None)
    # an edited record without an id of its own gets a new one (it follows the text): count it as updated
    replaced = min(new_ids_seen, vanished)
    counts.added += new_ids_seen - replaced
    counts.updated += replaced
    counts.deleted += vanished - replaced
    return plan


def _kept(store: Store, path: str) -> str:
    """What a failure to read a stored file adds: that its stored version still answers ("" for a new
    file). Only "failed" was said, and "0 unchanged": as if the file's articles had left the store."""
    n = len(store.catalog.articles_in(path))
    return f" (the store keeps its earlier version: {n} article{'s' if n != 1 else ''})" if n else ""


def _stored_duplicate(store: Store, h: str, path: str, stale: set[str]) -> str | None:
    """The stored article this content duplicates, unless it comes from a file that is changing or gone."""
    canonical = store.catalog.canonical_for(h, path)
    return canonical.id if canonical and canonical.path not in stale else None


def _units(plans: list[FilePlan], size: int) -> Iterator[list[tuple[FilePlan, list[Planned]]]]:
    """The planned articles in order, in units of at least `size` chunks (a file may span units)."""
    unit: list[tuple[FilePlan, list[Planned]]] = []
    chunks = 0
    for plan in plans:
        part: list[Planned] = []
        for planned in plan.articles:
            part.append(planned)
            chunks += len(planned.docs)
            if chunks >= size:
                unit.append((plan, part))
                yield unit
                unit, part, chunks = [], [], 0
        if part or not plan.articles:
            unit.append((plan, part))
    if unit:
        yield unit


def _write(store: Store, plans: list[FilePlan], on_progress: Progress | None, report: IngestReport,
           again: bool = False, machine: str = "") -> None:
    """Embed and write the planned articles unit by unit, each unit committed on its own.

    When a unit fails (model error, disk full, server gone), what it wrote is removed again and its
    files, and every file not yet finished, are reported as failed: their articles keep the version
    the store held (or, for a file that spans units, the units already committed), the catalog keeps
    the old digest (none, for a file with units already committed) and the next sync retries them."""
    total_chunks = sum(len(a.docs) for p in plans for a in p.articles)
    total_articles = sum(len(p.articles) for p in plans)
    done_chunks = done_articles = 0
    if on_progress:
        on_progress(0, total_chunks, 0, total_articles)
    started: dict[str, float] = {}  # path -> record-manager time before its first unit was written
    for unit in _units(plans, UNIT_CHUNKS):
        paths = list(dict.fromkeys(plan.path for plan, _ in unit))
        docs = [doc for _, part in unit for planned in part for doc in planned.docs]

        def feed() -> Iterator[Document]:  # progress as the documents are taken, a batch at a time
            for n, doc in enumerate(docs, 1):
                if on_progress and n % BATCH == 0:
                    on_progress(done_chunks + n, total_chunks, done_articles, total_articles)
                if n == BATCH + 1:
                    reached("batch-written")  # the unit's first batch is in the vectors and records
                yield doc

        try:
            for path in paths:  # (in the try: the database may stop between units)
                started.setdefault(path, store.records.get_time())
            store.catalog.set_pending(paths)
            if docs:
                result = index(feed(), store.records, store.vectors, cleanup=None, source_id_key="path",
                               key_encoder="sha256", batch_size=BATCH, force_update=again)
                # "updated": chunks already stored and embedded again, which only a rebuild's force_update does
                report.chunks_embedded += result["num_added"] + result["num_updated"]
            reached("vectors-written")
            finished = _commit(store, unit, machine)
            reached("committed")
        except Exception as e:  # a store, model or disk failure: reported per file, the traceback logged
            _unit_failed(store, plans, unit, paths, e, report)
            return
        for plan in finished:
            for name in ("added", "updated", "unchanged", "deleted"):
                setattr(report, name, getattr(report, name) + getattr(plan.counts, name))
        try:  # committed: what is left of earlier versions is never shown (`store.is_current`)
            for plan in finished:
                _drop_stale(store, plan.path, started[plan.path])
            store.catalog.clear_pending()
        except Exception as e:  # still pending: the next sync removes it
            _logged(store, e, f"removing the earlier versions of {len(finished)} files (left to the next sync)")
        done_chunks += len(docs)
        done_articles += sum(len(part) for _, part in unit)
        if on_progress:
            on_progress(done_chunks, total_chunks, done_articles, total_articles)


def _unit_failed(store: Store, plans: list[FilePlan], unit: list[tuple[FilePlan, list[Planned]]], paths: list[str],
                 error: Exception, report: IngestReport) -> None:
    """After a unit failed to write: what it wrote is removed again, and its files and every file not
    yet finished are reported as not indexed (kept as the store held them; the next sync retries)."""
    full = _logged(store, error, f"writing {len(paths)} files (the store keeps what it held of them)")
    why = store.unreachable(error) or f"{error}{full}"
    try:  # what this unit wrote goes (the catalog never saw it): unless the writer lock is lost, when
        if not isinstance(error, WriterLockLost):  # the next writer's repair removes it (this one's might
            repair(store, paths)                   # delete what that writer is writing to the same files)
    except Exception as cleanup_error:  # on a full disk even a delete needs room: the paths stay pending
        _logged(store, cleanup_error, "removing what the failed write left (left to the next sync)")
    for plan in plans:
        if plan.done < len(plan.articles) or any(plan is p for p, _ in unit):
            kept = "the store keeps its earlier version"
            if plan.done:
                kept = f"{plan.done} of its {len(plan.articles)} articles were updated, the rest kept as before"
            _fail(report, plan.path, f"{NOT_INDEXED}({kept}; the next sync retries): {why}")


def _logged(store: Store, error: Exception, doing: str) -> str:
    """Log a failure of a write: with its traceback, or in one line when a full disk explains it (the
    reason users see then, `_disk_full`, which this returns) or the database server does not answer
    (`Store.unreachable`)."""
    full = _disk_full(store, error)
    if full:
        log.warning("%s failed: %s%s", doing, error, full)
    else:
        store.log_failure(log, error, doing)
    return full


def _disk_full(store: Store, error: BaseException) -> str:
    """What to add to a failure's reason when it comes from a full disk under a store in a local folder: Chroma
    then fails with "Error in compaction: Failed to apply logs to the metadata segment", which names no disk
    (measured on a full 40 MB tmpfs, 0 bytes left), SQLite with "database or disk is full"."""
    if store.chroma_url or store.database_url:  # (the servers' disks are theirs to report)
        return ""
    said = []
    while error is not None:
        said.append(str(error))
        error = error.__cause__ or error.__context__
    if not any(x in " ".join(said).lower() for x in ("compaction", "disk is full", "no space", "disk i/o")):
        return ""
    try:
        free = shutil.disk_usage(store.dir).free
    except OSError:
        return ""
    if free >= LOW_DISK_BYTES:
        return ""
    return (f"; the disk holding {store.location} is full or nearly ({free // 2**20} MB free): "
            "free some space and run the ingest again")


def _commit(store: Store, unit: list[tuple[FilePlan, list[Planned]]], machine: str = "") -> list[FilePlan]:
    """Record the unit's articles in the catalog (one transaction), each file as `machine`'s (a shared
    store's: it stored the file's present version); returns the files it finished."""
    finished = []
    rows = []
    for plan, part in unit:
        last = plan.done + len(part) == len(plan.articles)
        rows.append((plan.path, plan.digest if last else None,
                     [(p.article, p.content_hash, len(p.docs), p.duplicate_of) for p in part],
                     [p.article.record_id for p in plan.articles] if last else None))
        if last:
            finished.append(plan)
    store.check_still_writer()  # (a lock lost since: another writer may have repaired this unit away)
    store.catalog.write_articles(rows, machine)
    for plan, part in unit:  # counted once written (a failed write reports what the store holds)
        plan.done += len(part)
    return finished


def _drop_stale(store: Store, path: str, before: float) -> None:
    """Delete the file's chunks that its latest write did not touch (earlier versions)."""
    while keys := store.records.list_keys(group_ids=[path], before=before, limit=1000):
        store.collection.delete(ids=keys)
        store.records.delete_keys(keys)


def _remove_file(store: Store, path: str) -> int:
    """Forget a file (catalog first, so its chunks stop counting at once), then delete its chunks;
    returns how many stored articles it held."""
    n = store.catalog.forget_file(path)
    try:
        _drop_stale(store, path, float("inf"))
    except Exception as e:  # never shown again; the next sync finds the counts disagree and deletes them
        _logged(store, e, f"deleting the chunks of {path} (left to the next sync)")
    return n


def repair(store: Store, paths: list[str] | None = None) -> int:
    """Remove whatever an interrupted or failed write left that the catalog does not vouch for.

    `paths` None: the paths an interrupted unit noted as pending, or every path when the numbers of
    vectors, records and catalog chunks disagree. Returns how many vectors or records were removed."""
    if paths is None:
        paths = store.catalog.pending()
        if store.counts_disagree():
            paths = store.all_paths()
    removed = sum(store.repair_path(path) for path in paths)
    if paths:
        store.catalog.clear_pending()
    return removed
