"""The web app's background side: the NewsChat opened in a thread (the page comes up at once), syncs
of the articles folder with their progress, the status the page polls, the watched folder, and the
followed feeds polled on a schedule."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from watchfiles import Change, watch

from ..articles import is_article_name, is_hidden
from ..following import FeedRunner, FollowedFeeds
from ..fetching import Fetcher
from ..models import IngestReport, PollResult, display_path, failure
from ..progress import TerminalProgress, say_waiting
from ..service import NewsChat
from ..settings import Settings, every

log = logging.getLogger("rag.web")
STATUS_SECONDS = 10.0  # how long the store's counts are reused by the page's status line


@dataclass
class SyncProgress:
    """How far the running sync is. An article counts once it is written and can be asked about (a
    unit of chunks at a time), so a few articles stay at 0 while their chunks are embedded."""

    label: str
    chunks_done: int = 0
    chunks_total: int = 0
    articles_done: int = 0
    articles_total: int = 0

    def describe(self) -> str:
        """ "96 of 120 chunks embedded; 0 of 3 articles ready to ask about" (or "reading files")."""
        if not self.chunks_total:
            return "reading files"
        return (f"{self.chunks_done} of {self.chunks_total} chunks embedded; "
                f"{self.articles_done} of {self.articles_total} articles ready to ask about")


class NotReady(RuntimeError):
    """The store is not open (yet, or at all); the message says which."""


def shown(path) -> str:
    """A folder or file as the page names it: relative when under the working directory."""
    p = Path(path)
    return display_path(str(p.resolve())) + "/" if p.is_dir() else display_path(str(p))


class Backend:
    """The NewsChat (opened in a background thread), the state of syncs, and the watched folder."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.chat: NewsChat | None = None
        self.error = ""  # why the store could not be opened or the model loaded
        self.opened = threading.Event()
        self.ready = threading.Event()  # opened, first sync done, model and keyword index loaded
        self.state_lock = threading.Lock()
        self.running: list[SyncProgress] = []
        self.last_sync = ""  # "HH:MM:SS label: summary"
        self.last_failed: list[dict] = []
        self._status: dict = {}
        self._status_at = 0.0
        self.feeds = FollowedFeeds(settings.articles_dir)  # the followed feeds, shown in the page
        self.poller: FeedPoller | None = None  # polls them while the app runs (started by `serve`)
        self.watchers: list[FolderWatcher] = []  # the watched folders' (started by `serve`)

    # -- start-up
    def start(self, ingest_at_start: bool) -> None:
        try:
            self.chat = NewsChat(self.settings)
        except Exception as e:  # StoreError, a bad model path...: said in the page and the terminal
            log.exception("cannot open the store")
            self.error = f"cannot open the store: {e}"
            self.opened.set()
            return
        self.opened.set()
        if ingest_at_start:
            self.sync(None, label=shown(self.settings.articles_dir))
        try:
            self.chat.warm_up()
        except Exception as e:
            if not self.chat.store.unreachable(e):
                log.exception("cannot load the embedding model")
                self.error = f"cannot load the embedding model: {e}"
                return
            # the model is loaded: the keyword index loads at a question once the database answers again
            self.chat.store.log_failure(log, e, "loading the keyword index")
        self.ready.set()
        print("rag: ready", flush=True)

    def wait(self, timeout: float = 300.0) -> NewsChat:
        """The NewsChat, once open; NotReady when it could not be opened."""
        if not self.opened.wait(timeout):
            raise NotReady("The store is still opening; try again in a moment.")
        if self.chat is None:
            raise NotReady(self.error or "The store could not be opened.")
        return self.chat

    # -- syncing
    def sync(self, paths: list[Path] | None, label: str, quiet: bool = False) -> IngestReport:
        """Sync files or folders (None: the articles folder). `quiet`: say nothing when nothing changed."""
        chat = self.wait()
        progress = SyncProgress(label)
        with self.state_lock:
            self.running.append(progress)
        if not quiet:
            print(f"rag: syncing {label} ...", flush=True)
        started = time.monotonic()
        try:
            with TerminalProgress(enabled=sys.stderr.isatty()) as bar:
                def on_progress(chunks_done, chunks_total, articles_done, articles_total):
                    progress.chunks_done, progress.chunks_total = chunks_done, chunks_total
                    progress.articles_done, progress.articles_total = articles_done, articles_total
                    bar.update(chunks_done, chunks_total, articles_done, articles_total)

                report = chat.ingest(paths, on_progress=on_progress, on_wait=say_waiting)
        except Exception as e:
            why = chat.store.log_failure(log, e, f"sync of {label}")
            report = IngestReport(failed=[failure(label, f"sync failed: {why}")])
        finally:
            with self.state_lock:
                self.running.remove(progress)
        line = report.line()
        if quiet and not (report.changed or report.failed or report.warnings):
            return report
        print(f"rag: {label}: {line} ({report.embedded()}, {time.monotonic() - started:.1f} s)", flush=True)
        for problem in report.problem_lines("rag: "):
            print(problem, flush=True)
        with self.state_lock:
            self.last_sync = f"{time.strftime('%H:%M:%S')} {label}: {line}"
            self.last_failed = report.failed
            self._status_at = 0.0
        return report

    def resync(self) -> IngestReport:
        """The articles folder, and the other watched folder when there is one."""
        paths = list(dict.fromkeys([Path(self.settings.articles_dir), *self.settings.watched_folders()]))
        return self.sync(paths, label=", ".join(shown(p) for p in paths))

    def progress(self) -> SyncProgress | None:
        with self.state_lock:
            return self.running[0] if self.running else None

    # -- what the page shows
    def status(self) -> dict:
        """The store's counts (cached for a few seconds); {"error": ...} when they cannot be read."""
        if self.chat is None:
            return {}
        now = time.monotonic()
        if now - self._status_at > STATUS_SECONDS or not self._status:
            try:
                self._status = self.chat.status()
            except Exception as e:
                log.exception("cannot read the store's status")
                self._status = {"error": f"cannot read the store: {e}"}
            self._status_at = now
        return self._status

    def outlets(self) -> list[str]:
        if self.chat is None:
            return []
        try:
            return self.chat.outlets()
        except Exception:
            log.exception("cannot list the outlets")
            return []


# A change is synced once its folder has held still this long, or after this long at most while files keep
# changing: with 200 ms, a file written in pieces (a download, a slow export) was synced, and failed as
# half-written JSON, seven times before it was whole (a tester).
STILL_MS = 1500
WRITING_MS = 10_000


class FolderWatcher(threading.Thread):
    """Syncs a folder whenever article files in it change (watchfiles: the system's file events, with a
    debounce so a file still being written is synced once it holds still)."""

    def __init__(self, backend: Backend, folder: Path, sync_first: bool = True, ignored: Path | None = None):
        """`sync_first`: sync the folder once the watch is set up (False for the articles folder, which the
        app syncs at start unless told not to); `ignored`: a folder inside whose new and changed files the
        app indexes itself (the feeds folder: every saved item made the watcher digest the whole articles
        folder again); a file deleted there is still synced."""
        super().__init__(name="rag-watch", daemon=True)
        self.backend, self.folder = backend, Path(folder)
        self.stopped = threading.Event()
        self.roots: list[Path] = []  # the folders watched now (`_watched_roots`)
        self.synced = not sync_first  # (the first watch's first pass syncs only when this is False)
        self.ignored = ignored.resolve() if ignored is not None else None

    def wanted(self, change: Change, path: str) -> bool:
        """An article file's event, or a folder's: a folder moved in, out or renamed brings only its own
        event, not its files'. A path that is gone (a folder moved out cannot be told from a file any
        more) counts when it was an article file or the store holds files under it, so an editor's
        temporary file does not cost a sync (a digest per file of the folder)."""
        p = Path(path)
        if p in self.roots:  # a watched folder itself deleted or moved (`_watch` sets the watch up again)
            return True
        if self.ignored is not None and p.resolve().is_relative_to(self.ignored):
            return change == Change.deleted  # (a saved item the user deleted: its story leaves the store)
        try:
            relative = p.relative_to(self.folder.resolve())
        except ValueError:
            relative = Path(p.name)
        if is_article_name(relative):
            return True
        if is_hidden(relative):
            return False
        return p.is_dir() if p.exists() else self._holds_under(p.resolve())

    def _holds_under(self, path: Path) -> bool:
        try:
            return self.backend.wait().holds_under(path)
        except Exception:  # (the catalog unreadable for a moment) a sync finds out for sure
            log.exception("cannot tell whether the store holds files under %s", path)
            return True

    def run(self) -> None:
        self.backend.opened.wait()
        if self.backend.chat is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        print(f"rag: watching {shown(self.folder)} for new articles", flush=True)
        failed = False
        while not self.stopped.is_set():
            try:
                self._watch()
                failed = False
            except Exception:  # (a watched folder gone in a way the system's events could not follow)
                if not failed:  # said once, not every half minute
                    log.exception("watching %s failed; syncing it every 30 s until it can be watched", self.folder)
                failed = True
                self.backend.sync([self.folder], label=shown(self.folder), quiet=True)
                self.stopped.wait(30.0)

    def _watch(self) -> None:
        """Sync once the watch is set up (whatever the folder holds now), then at every change, until the
        watch must be set up again. The system's file events follow a folder, not its name, so a folder
        replaced by another of its name (`mv news news.old; mkdir news`) went unwatched; and they do not
        follow symbolic links, so a linked folder is watched where it lives, and the watch is set up again
        when a link comes or goes or a watched folder is replaced."""
        while not self.folder.is_dir():  # (replaced: between the two commands)
            if self.stopped.wait(1.0):
                return
        roots, links = _watched_roots(self.folder)
        self.roots, identities = roots, _identities(roots)
        synced, self.synced = self.synced, False  # (a watch set up again syncs what came meanwhile)
        for changes in watch(*roots, watch_filter=self.wanted, stop_event=self.stopped, debounce=WRITING_MS,
                             step=STILL_MS,
                             rust_timeout=2000, yield_on_timeout=True, raise_interrupt=False,
                             ignore_permission_denied=True):  # (a folder it may not read: `lost+found`)
            if _identities(roots) != identities or any(
                    Path(path) in roots or Path(path).is_symlink() or Path(path).absolute() in links
                    for _, path in changes):
                return  # (the next watch syncs once it is set up)
            if changes or not synced:  # (the first pass: what came while no watch was set up)
                self.backend.sync([self.folder], label=shown(self.folder), quiet=True)
                synced = True


def _identities(roots: list[Path]) -> list[int | None]:
    """Which folder each watched path names now (None: gone)."""
    out = []
    for root in roots:
        try:
            out.append(root.stat().st_ino)
        except OSError:
            out.append(None)
    return out


def _watched_roots(folder: Path) -> tuple[list[Path], set[Path]]:
    """The folders to watch: the folder, and the real folders that symbolic links inside it lead to
    (outside it); and those links, as the system's events name them."""
    folder = folder.absolute()
    inside, roots, links, seen = folder.resolve(), [folder], set(), set()
    for top, dirs, _names in os.walk(folder, followlinks=True):
        if (real_top := Path(top).resolve()) in seen:  # a link back up: read once (`indexing._walk` too)
            dirs.clear()
            continue
        seen.add(real_top)
        for name in dirs:
            path = Path(top) / name
            if path.is_symlink():
                links.add(path.absolute())
                if not (real := path.resolve()).is_relative_to(inside) and real not in roots:
                    roots.append(real)
    return roots, links


class FeedPoller(threading.Thread):
    """Polls the followed feeds (RAG_FEEDS, and those `rag follow` or the page added) every
    RAG_FEED_MINUTES while the app runs; their new and changed items are synced like uploads."""

    def __init__(self, backend: Backend, fetcher: Fetcher | None = None):
        super().__init__(name="rag-feeds", daemon=True)
        self.backend = backend
        self.runner = FeedRunner(self.ingest, backend.feeds, fetcher)
        for error in backend.feeds.follow_configured(backend.settings.feeds):
            log.warning("%s", error)  # said, and the app comes up all the same

    def ingest(self, paths: list[Path]) -> IngestReport:
        return self.backend.sync(paths, label="feeds", quiet=True)

    def poll_soon(self) -> None:
        """Poll now (a feed was added in the page) rather than at the end of the interval."""
        self.runner.poll_soon()

    def stop(self) -> None:
        self.runner.stop()

    def run(self) -> None:
        self.backend.opened.wait()
        if self.backend.chat is None:
            return
        minutes = self.backend.settings.feed_minutes
        if self.backend.feeds.list():
            print(f"rag: following {len(self.backend.feeds.list())} feed(s), {every(minutes)}", flush=True)
        self.runner.run(minutes * 60, on_result=self.said)

    @staticmethod
    def said(result: PollResult) -> None:
        if result.added or result.updated or result.errors:
            print(f"rag: feed {result.line()}", flush=True)
