"""The `rag` command: ingest, search, ask, eval, status, serve, follow (../shared/DESIGN.md has the JSON shapes).

A thin shell over `service.NewsChat`: it builds the settings (flags over the environment), runs one
command, prints the result (JSON with --json), and turns known failures into one line and exit 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import textwrap
import warnings
from contextlib import contextmanager
from pathlib import Path

from .dates import DateError, as_of_or_today, check_window, filter_date
from .embeddings import EmbeddingError
from .evaluation import run_eval
from .feeds import feed_address, same_page
from .fetching import FetchError
from .following import FeedRunner, FollowedFeeds
from .llm import LLM_PASSAGES, BackendError
from .models import UNDATED, UNKNOWN_OUTLET, Answer, Filters, display_path
from .progress import TerminalProgress, say_waiting
from .rebuilding import rebuild
from .service import NewsChat
from .settings import (ANSWERERS, DEFAULT_ARTICLES, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STORE, MAX_PASSAGES, Settings,
                       SettingsError, every, offline_environment, passage_count)
from .store import StoreError, is_store_folder

log = logging.getLogger("rag.cli")

ANSWERER_HELP = f"{ANSWERERS[0]} (default), {', '.join(ANSWERERS[1:-1])} or {ANSWERERS[-1]}"


def _date(name: str):
    """The argparse type of a filter's date option (`dates.filter_date`)."""
    def parse(value: str) -> str:
        try:
            return filter_date(value, name)
        except DateError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    return parse


def _k(value: str) -> int:
    try:
        return passage_count(value)
    except SettingsError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Ask questions about a folder of news articles.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", type=Path, help=f"store directory (default {DEFAULT_STORE}/, env RAG_STORE)")
    common.add_argument("--model", help="sentence-transformers model path or name (default: packaged all-MiniLM-L6-v2)")
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--as-of", type=_date("--as-of"), help="date the question is asked (default today)")
    filters.add_argument("--since", type=_date("--since"), help="only articles published on or after this date")
    filters.add_argument("--until", type=_date("--until"), help="only articles published on or before this date")
    filters.add_argument("--source", help="only articles from this outlet, e.g. cnn.com")
    filters.add_argument("--json", action="store_true", help="print JSON")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common], help="embed new and changed articles; folders are synced")
    p.add_argument("paths", nargs="*", type=Path, help=f"files or folders (default {DEFAULT_ARTICLES}/, env RAG_ARTICLES)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--rebuild", action="store_true", help="read every file and embed everything again (in place "
                   "with the store's own model; for another model a new store built beside it takes its place)")
    p.add_argument("--prune", action="store_true", help="a folder found empty loses its stored articles too "
                   "(without it they are kept: a drive not mounted?), and so do files gone from the folders that "
                   "another machine of a shared store stored (RAG_MACHINE)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("search", parents=[common, filters], help="ranked passages for a query")
    p.add_argument("query")
    p.add_argument("-k", type=_k, help=f"how many passages to list (1-{MAX_PASSAGES}, default {Settings.top_k})")
    p = sub.add_parser("ask", parents=[common, filters], help="an answer in quotes with citations")
    p.add_argument("question")
    p.add_argument("-k", type=_k,
                   help=f"how many passages the answer reads (1-{MAX_PASSAGES}, default {Settings.answer_passages}; "
                        f"a chat model answerer reads {LLM_PASSAGES} at most)")
    p.add_argument("--answerer", help=ANSWERER_HELP)
    p.add_argument("--quiet", action="store_true", help="only the answer's text, for scripts")

    p = sub.add_parser("eval", parents=[common], help="run a question file through search and ask")
    p.add_argument("questions", type=Path)
    p.add_argument("-k", type=_k, help=f"passages per question (default: {Settings.top_k} searched, "
                                       f"{Settings.answer_passages} read for an answer with --answers)")
    p.add_argument("--out", type=Path, help="write one JSON line per question")
    p.add_argument("--answers", action="store_true", help="also answer each question (not only retrieve)")
    p.add_argument("--answerer", help=ANSWERER_HELP)

    p = sub.add_parser("status", parents=[common], help="what the store holds")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("serve", parents=[common], help="the web chat (same as python app.py)")
    p.add_argument("--host", help=f"address to bind (default {DEFAULT_HOST}, env RAG_HOST)")
    p.add_argument("--port", type=int, help=f"port (default {DEFAULT_PORT}, env RAG_PORT)")
    p.add_argument("--watch", help="another folder to watch for new articles (the articles folder is watched)")
    p.add_argument("--no-watch", action="store_true", help="do not watch the articles folder (env RAG_WATCH_ARTICLES=0)")
    p.add_argument("--no-ingest", action="store_true", help="do not sync the articles folder at start")
    p.add_argument("--answerer", help=ANSWERER_HELP)

    p = sub.add_parser("follow", parents=[common], help="follow RSS/Atom/JSON feeds: new items saved and indexed")
    p.add_argument("urls", nargs="*", help="feed addresses to add to the followed feeds")
    p.add_argument("--once", action="store_true", help="poll every followed feed once, then stop")
    p.add_argument("--remove", nargs="+", metavar="URL", help="stop following these feeds")
    p.add_argument("--list", action="store_true", help="list the followed feeds and their last poll")
    p.add_argument("--json", action="store_true")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if getattr(args, "store", None):
        settings.store_dir = args.store
    if getattr(args, "model", None):
        settings.embedding_model = args.model
    if getattr(args, "answerer", None):
        settings.answerer = args.answerer
    for name in ("host", "port", "watch"):
        if getattr(args, name, None):
            setattr(settings, name, getattr(args, name))
    if getattr(args, "no_watch", False):
        settings.watch_articles = False
    return settings.validate()


def existing_store(settings: Settings) -> Settings:
    """The settings of a command that asks a store (search, ask, eval): a local store that is not there is
    named, not made (a mistyped --store made an empty store and said "No articles are indexed"). (`rag
    status` of a store not made yet reports it empty, as before.)"""
    folder = Path(settings.store_dir)  # (an empty folder, a mount point with nothing in it, is no store either;
    if not settings.chroma_url and not is_store_folder(folder) and _empty(folder):  # another, the store names)
        raise SettingsError(f"no store at {settings.store_dir} (check --store or RAG_STORE); "
                            f"`rag ingest FOLDER --store {settings.store_dir}` builds one")
    return settings


def _empty(folder: Path) -> bool:
    """Whether a folder is not there or holds nothing (False when it may not be listed)."""
    try:
        return not any(folder.iterdir())
    except FileNotFoundError:
        return True
    except OSError:
        return False


def filters_from(args: argparse.Namespace) -> Filters:
    """The filters of `search` and `ask` (SettingsError for a window no article can be in)."""
    try:
        check_window(args.since or "", args.until or "")
    except DateError as e:
        raise SettingsError(str(e)) from None
    return Filters(since=args.since or "", until=args.until or "", source=args.source or "",
                   as_of=as_of_or_today(args.as_of))


def quiet_libraries() -> None:
    """Only our own output on a normal run: third-party warnings and progress bars are switched off."""
    warnings.filterwarnings("ignore")
    warnings.filterwarnings("default", module=r"rag(\.|$)")
    logging.basicConfig(level=logging.WARNING, format="rag: %(message)s")
    for name in ("httpx", "chromadb", "sentence_transformers", "transformers", "bm25s", "urllib3"):
        logging.getLogger(name).setLevel(logging.ERROR)


def main(argv: list[str] | None = None) -> int:
    offline_environment()
    quiet_libraries()
    args = _parser().parse_args(argv)
    try:
        settings = settings_from(args)
        return COMMANDS[args.command](args, settings)
    except (SettingsError, StoreError, BackendError, EmbeddingError) as e:
        print(f"rag: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `rag ask ... | head`
        return 0
    except Exception as e:  # not foreseen: said in one line after its traceback, never as success
        log.exception("%s failed", args.command)
        print(f"rag: {args.command} failed: {e}", file=sys.stderr)
        return 1


@contextmanager
def outage_in_one_line(chat: NewsChat):
    """The store's Chroma or database server not answering (`Store.unreachable`) said in one line and exit 2,
    as `rag ingest` and the page say it: `rag ask` printed the HTTP client's whole traceback."""
    try:
        yield
    except Exception as e:
        if why := chat.store.unreachable(e):
            raise StoreError(why) from None
        raise


def cmd_ingest(args, settings: Settings) -> int:
    with TerminalProgress(enabled=not args.quiet and sys.stderr.isatty()) as progress:
        if args.rebuild and args.prune:
            raise SettingsError("--prune works with a sync, not with --rebuild: run `rag ingest --prune` first")
        if args.rebuild:
            report = rebuild(settings, args.paths or None, on_progress=progress.update, on_wait=say_waiting)
        else:
            report = NewsChat(settings).ingest(args.paths or None, on_progress=progress.update, on_wait=say_waiting,
                                               prune=args.prune)
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        for problem in report.problem_lines():
            print(problem, file=sys.stderr)
        print(f"{report.counts()} ({report.embedded()})")
    return 1 if report.failed else 0


def cmd_search(args, settings: Settings) -> int:
    existing_store(settings)
    chat = NewsChat(settings)
    with outage_in_one_line(chat):
        found = chat.search_json(args.query, filters_from(args), args.k)
    if args.json:
        print(json.dumps(found))
        return 0
    if not found["results"]:
        print("No passages found.")
    width = _width()
    for r in found["results"]:
        a = r["article"]
        print(f"{r['rank']}. [{r['score']:.2f}] {a['title']} ({a['source'] or UNKNOWN_OUTLET}, {a['published'] or UNDATED})")
        print(textwrap.fill(" ".join(r["text"].split())[:300], width, initial_indent="   ", subsequent_indent="   "))
    return 0


def cmd_ask(args, settings: Settings) -> int:
    existing_store(settings)
    chat = NewsChat(settings)
    with outage_in_one_line(chat):
        answer = chat.ask(args.question, filters=filters_from(args), k=args.k)
    if args.json:
        print(json.dumps(answer.to_json()))
    else:
        print(answer.text if args.quiet else answer_for_terminal(answer, _width()))
    return 0


def answer_for_terminal(answer: Answer, width: int) -> str:
    """The answer wrapped to the terminal, then its numbered sources (or the related reading)."""
    lines = [textwrap.fill(" ".join(p.split()), width) for p in answer.text.split("\n\n")]
    listed = answer.citations or answer.related
    if listed:
        lines += ["", "Sources:" if answer.citations else "Related reading (not an answer):"]
    for c in listed:
        where = c.chunk.url or display_path(c.chunk.path)
        head = f"[{c.n}] " if answer.citations else "- "
        lines.append(textwrap.fill(f"{head}{c.chunk.title} ({c.chunk.source or UNKNOWN_OUTLET}, "
                                   f"{c.chunk.published or UNDATED}) {where}", width, subsequent_indent="    "))
        if not answer.citations:
            lines.append(textwrap.fill(f"“{' '.join(c.quote.split())}”", width, initial_indent="    ",
                                       subsequent_indent="    "))
    return "\n".join(lines)


def _width() -> int:
    return max(40, min(100, shutil.get_terminal_size((100, 24)).columns))


def cmd_eval(args, settings: Settings) -> int:
    existing_store(settings)
    chat = NewsChat(settings)
    with outage_in_one_line(chat):
        chat.warm_up()  # the models load before the clock starts, as the app loads them before its first question
        summary = run_eval(chat, args.questions, k=args.k, out=args.out, with_answers=args.answers)
    print(json.dumps(summary))
    return 0


def cmd_status(args, settings: Settings) -> int:
    chat = NewsChat(settings)
    with outage_in_one_line(chat):
        status = chat.status()
    if args.json:
        print(json.dumps(status))
    else:
        for key, value in status.items():
            print(f"{key}: {value}")
    return 0


def cmd_serve(args, settings: Settings) -> int:
    # Imported here, not at the top: Gradio and its web stack take about 1.5 s to import, which every
    # other command (ingest, ask, search) would pay for nothing.
    from .web.app import serve

    serve(settings, ingest_at_start=not args.no_ingest)
    return 0


def cmd_follow(args, settings: Settings) -> int:
    """Add or remove followed feeds, list them, poll them once (--once) or every RAG_FEED_MINUTES."""
    feeds = FollowedFeeds(settings.articles_dir)
    try:
        follow(feeds, settings.feeds, args.urls)
    except FetchError as e:
        print(f"rag: {e}", file=sys.stderr)
        return 2
    unknown = []
    for url in args.remove or []:
        stopped = feeds.remove(url)
        if not stopped:
            unknown.append(url)
            print(f"rag: not followed: {url}", file=sys.stderr)
        elif not any(same_page(s, feed_address(url)) for s in stopped):  # a feed address: the pages that named it
            print(f"rag: no longer following {', '.join(stopped)} (its feed {feed_address(url)})", file=sys.stderr)
    if args.list or (args.remove and not args.urls and not args.once):
        print_feeds(feeds.list(), args.json)
        return 1 if unknown else 0
    if not feeds.list():
        print("rag: no feeds followed yet: rag follow URL [URL ...] (or set RAG_FEEDS)", file=sys.stderr)
        return 2
    chat = NewsChat(settings)
    earlier_failed = False
    if feeds.folder.is_dir():  # items saved earlier (polled into another store, or never indexed) are indexed
        report = chat.ingest([feeds.folder])  # (files stored already are only compared by their digests)
        earlier_failed = bool(report.failed)
        if report.changed or report.failed:
            print(f"rag: {display_path(str(feeds.folder))} (saved earlier): {report.line()}", file=sys.stderr)
    runner = FeedRunner(lambda paths: chat.ingest(paths), feeds)

    def said(result) -> None:
        print(json.dumps(result.to_json()) if args.json else result.line(), flush=True)

    try:
        if args.once:
            results = runner.poll_all(on_result=said)
            return 1 if earlier_failed or any(r.errors for r in results) else 0
        print(f"rag: following {len(feeds.list())} feed(s), {every(settings.feed_minutes)} (Ctrl-C stops)",
              file=sys.stderr, flush=True)
        try:
            runner.run(settings.feed_minutes * 60, on_result=said)
        except KeyboardInterrupt:
            pass
        return 0
    finally:
        runner.fetcher.close()


def follow(feeds: FollowedFeeds, from_settings: list[str], urls: list[str]) -> None:
    """Add the feeds of RAG_FEEDS (a bad address is said and skipped, as the web app does, so it never
    blocks --list or --remove) and of the command line (FetchError for a bad address, or one that cannot be
    read now)."""
    for error in feeds.follow_configured(from_settings):
        print(f"rag: warning: {error}", file=sys.stderr)
    feeds.check(urls)  # every new address read first: none followed when one cannot be
    for url in urls:
        feeds.add(url)


def print_feeds(listed, as_json: bool) -> None:
    """`rag follow --list`: each followed feed, its last poll and what it added."""
    if as_json:
        print(json.dumps([f.to_json() for f in listed]))
        return
    for f in listed:
        named = (f" ({f.title})" if f.title else "") + (f", its feed {f.feed_url}" if f.feed_url else "") + \
            (", its headline links" if f.page_links else "")
        print(f"{f.url}{named}\n    last poll {f.last_poll or 'never'}: "
              f"{f.last_result or '-'}; {f.added} added in all")


COMMANDS = {"ingest": cmd_ingest, "search": cmd_search, "ask": cmd_ask, "eval": cmd_eval,
            "status": cmd_status, "serve": cmd_serve, "follow": cmd_follow}
