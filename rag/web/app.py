"""The web chat (`rag serve`, `python app.py`): the Gradio page's layout and the wiring of its events to
`handlers`, each article's own page (/article/ID), and the server itself.

The server comes up first; the store is opened and the articles folder synced in a background thread
(`runtime.Backend`), with the progress in the page's status line and in the terminal.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from gradio.themes.utils.fonts import Font

from ..articles import SUPPORTED_SUFFIXES
from ..dates import as_of_or_today
from ..settings import Settings, SettingsError, passage_count
from . import handlers, render
from .runtime import Backend, FeedPoller, FolderWatcher, NotReady
from .turns import ALL_OUTLETS, make_filters

log = logging.getLogger("rag.web")

STATIC = Path(__file__).resolve().parent / "static"
# Gradio refuses a whole upload when one file is over its limit, before the app sees any: an 11.9 MB file
# cancelled the other files uploaded with it (a tester). Its limit is this many times the app's own, which
# `uploads.save_uploads` checks file by file, naming the file too large and saving the others.
UPLOAD_CEILING = 10
CSS = (STATIC / "app.css").read_text(encoding="utf-8")
PAGE_JS = (STATIC / "app.js").read_text(encoding="utf-8")
CONVERSATION_KEY = "news-chat-conversation"  # where the browser keeps the conversation (gr.BrowserState, tabs.js)
TABS_HEAD = "<script>{}</script>".format(  # each tab's own conversation
    (STATIC / "tabs.js").read_text(encoding="utf-8").replace("__CONVERSATION_KEY__", json.dumps(CONVERSATION_KEY)))
POLL_SECONDS = 2.0
FEEDS_POLL_SECONDS = 5.0  # how often the feeds panel is refreshed (a feed's poll takes seconds, not less)

# A card's "Show the whole article here" asks the server for the article (the sources panel's own event).
SOURCES_JS = """
// Each answer's sources start at the top (its head says which answer, or that nothing was quoted), and
// the answer whose sources they are is marked in the chat.
watch('value', () => {
  for (let box = element; box; box = box.parentElement) {
    box.scrollTop = 0;
    if (box.id === 'sources-panel') break;
  }
  const shown = element.querySelector('.sources[data-turn]');
  const turn = shown ? parseInt(shown.dataset.turn) : -1;
  document.querySelectorAll('#chat [data-testid=bot]').forEach((message, i) => {
    message.classList.toggle('showing-sources', i === turn);
  });
});
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.open-article');
  // the quote the reader came to the card from ([n], app.js), else the card's first
  const n = button && (button.closest('.card').dataset.current || button.dataset.n);
  if (button) trigger('click', {turn: parseInt(button.dataset.turn), n: parseInt(n),
                                related: parseInt(button.dataset.related || '0')});
});
"""
# The article panel scrolls the quote the reader came from (`render.highlighted_body`'s mark#quote) to its
# middle whenever it shows an article; the page
# itself scrolls only as far as the panel needs to be seen, so the answer stays in view where it can.
ARTICLE_JS = """
const reveal = () => {
  const mark = element.querySelector('mark#quote');
  const box = element.querySelector('.article-body');
  if (!mark || !box) return;
  box.scrollTop += mark.getBoundingClientRect().top - box.getBoundingClientRect().top
                   - (box.clientHeight - mark.offsetHeight) / 2;
  box.scrollIntoView({block: 'nearest'});
};
const later = () => { setTimeout(reveal, 50); setTimeout(reveal, 400); };
watch('value', later);
later();
"""


# ---------------------------------------------------------------- who may connect

def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_auth(value: str) -> tuple[str, str] | None:
    """ "user:password" -> (user, password); "" -> None."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise SystemExit("rag serve: RAG_AUTH must look like 'user:password'")
    return user, password


def check_binding(settings: Settings) -> tuple[str, str] | None:
    """The login to require, or SystemExit when the page would be open to the network without one."""
    auth = parse_auth(settings.auth)
    if not is_loopback(settings.host) and auth is None:
        raise SystemExit(
            f"rag serve: refusing to listen on {settings.host} without a login. Anyone who can reach this "
            f"machine could read and add articles. Set RAG_AUTH=user:password (or bind to 127.0.0.1).")
    return auth


def check_port(host: str, port: int) -> None:
    """SystemExit with a clear message when the port is taken (instead of the server's traceback)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: a closing socket is no conflict
        try:
            s.bind((host, port))
        except OSError as e:
            raise SystemExit(f"rag serve: cannot listen on {host}:{port}: {e.strerror}. Another program "
                             f"(or another `rag serve`) uses it; choose another port with --port or RAG_PORT.") from None


# ---------------------------------------------------------------- the page

def make_theme():
    # System fonts only: the page loads nothing from outside this machine.
    # The default orange primary button has white text at under 3:1 (axe-core); blue 700 gives 6.7:1.
    theme = gr.themes.Default(primary_hue=gr.themes.colors.blue,
                              font=[Font("system-ui"), Font("Segoe UI"), Font("Helvetica"), "sans-serif"],
                              font_mono=[Font("ui-monospace"), Font("Menlo"), Font("Consolas"), "monospace"])
    return theme.set(button_primary_background_fill="*primary_700", button_primary_background_fill_dark="*primary_700",
                     button_primary_background_fill_hover="*primary_800",
                     button_primary_background_fill_hover_dark="*primary_800",
                     button_primary_text_color="white", button_primary_text_color_dark="white")


def linked_question(backend: Backend, request: gr.Request):
    """A link to a question (/?q=...&since=...&until=...&outlet=...&as_of=...) fills the page."""
    question, _, fields = handlers.page_link(request)
    if not question:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), as_of_or_today("")
    outlet = fields["source"] or ALL_OUTLETS
    choices = list(dict.fromkeys([ALL_OUTLETS, *backend.outlets(), outlet]))
    return (question, fields["since"] or None, fields["until"] or None, gr.update(choices=choices, value=outlet),
            as_of_or_today(fields["as_of"]))


SHUTDOWN_SECONDS = 3


class _WhileRunning(logging.Filter):
    """Lets a log record through until the server is told to stop (`serve`)."""

    def __init__(self, server):
        super().__init__()
        self.server = server

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.server.should_exit


PRIVATE = {"api_visibility": "private"}  # the page's own events are not part of the API


@dataclass
class ChatParts:
    """The conversation column: the chat, the question box and the filters."""

    chatbot: gr.Chatbot
    question: gr.Textbox
    send: gr.Button
    since: gr.DateTime
    until: gr.DateTime
    outlet: gr.Dropdown
    as_of: gr.DateTime

    def filters(self) -> list:
        return [self.since, self.until, self.outlet, self.as_of]


@dataclass
class SourceParts:
    """The sources column: the source cards, the article panel, and the citations' popovers."""

    sources: gr.HTML
    article_box: gr.Column
    article: gr.HTML
    close: gr.Button
    popovers: gr.HTML


@dataclass
class LibraryParts:
    """The row under the chat: uploads, the index and its re-sync, the followed feeds."""

    files: gr.File
    upload_result: gr.HTML
    index: gr.HTML
    resync: gr.Button
    resync_result: gr.HTML
    feeds: gr.HTML
    feed_url: gr.Textbox
    follow: gr.Button
    followed: gr.Dropdown
    unfollow: gr.Button
    feed_result: gr.HTML


def build_ui(backend: Backend) -> gr.Blocks:
    """The page: a header, the chat beside its sources, the library row; then its events and its API."""
    with gr.Blocks(title="News chat", fill_width=True) as demo:
        turns = gr.State([])
        # the turns, over a reload; with a secret of its own each start, Gradio could not read them after a restart
        # (each browser tab's own: static/tabs.js files it under the tab's id)
        kept = gr.BrowserState([], storage_key=CONVERSATION_KEY, secret=browser_secret(backend.settings))
        status = header(backend)
        with gr.Row(equal_height=False, elem_id="main-row"):
            chat = chat_column(backend)
            shown = sources_column()
        library = library_row(backend)
        wire_chat(backend, demo, chat, shown, turns, kept)
        wire_library(backend, library)
        wire_polling(backend, demo, status, library, chat.outlet)
        add_api(backend)
    return demo


def browser_secret(settings) -> str:
    """The key the page's kept conversation is encrypted with in the browser: the same at every start of
    the app on this machine over this store (it is no password: it keeps other pages of the address from
    reading the conversation as text)."""
    try:
        machine = Path("/etc/machine-id").read_text().strip()
    except OSError:
        machine = ""
    seed = f"{machine}\n{socket.gethostname()}\n{Path(settings.store_dir).resolve()}"
    return hashlib.sha256(seed.encode()).hexdigest()


def header(backend: Backend) -> gr.HTML:
    """The title, the status line (returned: it is refreshed) and which answerer answers."""
    settings = backend.settings
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=240):
            gr.Markdown("# News chat", elem_id="app-title")
        with gr.Column(scale=5, min_width=240):
            status = gr.HTML(handlers.status_html(backend), elem_id="status-line")
        with gr.Column(scale=3, min_width=240):
            gr.HTML(f"<div class='answerer-note' id='answerer'>Answerer: "
                    f"<b>{render.esc(handlers.answerer_label(settings.answerer_kind, settings.llm_model))}</b></div>")
    return status


def chat_column(backend: Backend) -> ChatParts:
    with gr.Column(scale=3, min_width=300):
        chatbot = gr.Chatbot(
            label="Chat", show_label=False,  # (its floating label hid the first line of a scrolled chat)
            elem_id="chat", height=560, autoscroll=False,  # app.js scrolls to each new question instead
            latex_delimiters=[], feedback_options=None,
            buttons=[], sanitize_html=True,  # its copy button copied the message's HTML: "Copy as Markdown" copies
            placeholder="Ask about the articles, for example: <i>What did Lukashenko say about "
                        "sending soldiers?</i> Follow-up questions use the conversation.")
        with gr.Row():
            question = gr.Textbox(placeholder="Ask a question about the articles…", label="Question",
                                  show_label=False, scale=5, elem_id="question", autofocus=True,
                                  lines=1, max_lines=4)
            send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask-button")
        with gr.Row(elem_id="filters"):
            since = gr.DateTime(None, include_time=False, type="string", label="Published since", elem_id="since")
            until = gr.DateTime(None, include_time=False, type="string", label="Published until", elem_id="until")
            # A custom value is allowed: a question link may name an outlet the store does not hold yet
            # (opened while the first sync runs, or from another machine's store); the page's poll then
            # resets the choices to the stored outlets, and Gradio would refuse the linked question.
            outlet = gr.Dropdown([ALL_OUTLETS] + backend.outlets(), value=ALL_OUTLETS, label="Outlet",
                                 elem_id="outlet", allow_custom_value=True)
            as_of = gr.DateTime(as_of_or_today(""), include_time=False, type="string",
                                label="As of (for “this week”)", elem_id="as-of")
    return ChatParts(chatbot, question, send, since, until, outlet, as_of)


def sources_column() -> SourceParts:
    with gr.Column(scale=2, min_width=300):
        sources = gr.HTML(render.EMPTY_SOURCES, elem_id="sources-panel", js_on_load=SOURCES_JS,
                          max_height=620, padding=True, container=True)
        with gr.Column(visible=False) as article_box:
            article = gr.HTML("", elem_id="article-view", js_on_load=ARTICLE_JS, padding=False, container=True)
            close = gr.Button("Close the article", size="sm", elem_id="close-article")
    popovers = gr.HTML("", elem_id="popovers")
    return SourceParts(sources, article_box, article, close, popovers)


def library_row(backend: Backend) -> LibraryParts:
    types = sorted(SUPPORTED_SUFFIXES)
    with gr.Row(equal_height=False):
        with gr.Column(min_width=300):
            gr.Markdown("### Add articles")
            # No `file_types`: Gradio would drop a .pdf dropped among articles with a passing toast; the
            # upload's lasting result names it, with the reason (`uploads.save_uploads`).
            files = gr.File(label=f"Upload {' '.join(types)} (up to {backend.settings.max_upload_mb:g} MB each)",
                            file_count="multiple", elem_id="upload", height=140)
            upload_result = gr.HTML("", elem_id="upload-result")
        with gr.Column(min_width=300):
            gr.Markdown("### Index")
            index = gr.HTML(handlers.index_html(backend), elem_id="index-panel")
            resync = gr.Button("Re-sync now", size="sm", elem_id="resync")
            resync_result = gr.HTML("", elem_id="resync-result")
        with gr.Column(min_width=300):
            gr.Markdown("### Feeds")
            feeds = gr.HTML(handlers.feeds_html(backend), elem_id="feeds-panel")
            with gr.Row():
                feed_url = gr.Textbox(label="Feed or news page address (RSS, Atom, JSON Feed, or a page's headlines)",
                                      elem_id="feed-url", placeholder="https://example.com/rss.xml", scale=4)
                follow = gr.Button("Follow", size="sm", elem_id="follow-feed", scale=1, min_width=80)
            with gr.Row():
                followed = gr.Dropdown(handlers.feed_choices(backend), value=None, label="Followed feeds",
                                       elem_id="followed-feeds", scale=4)
                unfollow = gr.Button("Stop following", size="sm", elem_id="unfollow-feed", scale=1, min_width=80)
            feed_result = gr.HTML("", elem_id="feed-result")
    return LibraryParts(files, upload_result, index, resync, resync_result, feeds, feed_url, follow, followed,
                        unfollow, feed_result)


def wire_chat(backend: Backend, demo: gr.Blocks, chat: ChatParts, shown: SourceParts, turns: gr.State,
              kept: gr.BrowserState) -> None:
    """Asking (the button, Enter, or a linked question on load), choosing a turn, clearing, opening an
    article from a source card, and the conversation kept in the browser (`kept`) over a reload."""
    ask_inputs = [chat.question, chat.chatbot, turns, *chat.filters()]
    ask_outputs = [chat.chatbot, turns, shown.sources, chat.question, shown.article_box, shown.popovers]
    respond = functools.partial(handlers.respond, backend)
    for asked in (chat.question.submit(respond, ask_inputs, ask_outputs, **PRIVATE),
                  chat.send.click(respond, ask_inputs, ask_outputs, **PRIVATE)):
        asked.then(handlers.kept_turns, [turns], [kept], **PRIVATE)
    chat.chatbot.select(handlers.show_turn, [turns, shown.article], [shown.sources, shown.article_box], **PRIVATE)
    # (tabs.js files a tab's conversation once its reader clears it: told so here, not by the Clear button's
    # label, which Gradio writes in the browser's language)
    chat.chatbot.clear(handlers.clear_chat, None, [turns, shown.sources, shown.article_box, shown.popovers, kept],
                       js="() => { window.newsChatOwn?.(); }", **PRIVATE)

    def open_article(turns_state, evt: gr.EventData):  # Gradio finds `evt` by this signature's type hint
        return handlers.open_article(backend, turns_state, evt)

    shown.sources.click(open_article, [turns], [shown.article, shown.article_box], **PRIVATE)
    shown.close.click(lambda: gr.Column(visible=False), None, [shown.article_box], **PRIVATE)

    def from_link(request: gr.Request):  # Gradio passes the request by this signature's type hint
        return linked_question(backend, request)

    def replay(since, until, outlet, as_of, request: gr.Request):  # (the request: as `from_link`)
        return handlers.replay_link(backend, since, until, outlet, as_of, request)

    def ask_linked(question, messages, turns_state, since, until, outlet, as_of, request: gr.Request):
        yield from handlers.respond_to_link(backend, question, messages, turns_state, since, until, outlet, as_of,
                                            request)

    shown_parts = [chat.chatbot, turns, shown.sources, shown.popovers]
    # Each step reads the page's link from its own request (`handlers.page_link`: microseconds), not from a
    # gr.State the first step would fill: `kept_turns` runs after a typed question too, which may be asked
    # before this chain's first step has run, and every event has its request.
    demo.load(handlers.restore_chat, [kept], shown_parts, show_progress="hidden", **PRIVATE).then(
        from_link, None, [chat.question, *chat.filters()], show_progress="hidden", **PRIVATE).then(
        replay, chat.filters(), shown_parts, **PRIVATE).then(  # a follow-up's link: its conversation first
        ask_linked, ask_inputs, ask_outputs, **PRIVATE).then(handlers.kept_turns, [turns], [kept], **PRIVATE)


def wire_library(backend: Backend, library: LibraryParts) -> None:
    """Uploads, re-sync, and following or unfollowing feeds."""
    library.files.upload(functools.partial(handlers.upload, backend), [library.files],
                         [library.upload_result, library.files], **PRIVATE)
    library.resync.click(functools.partial(handlers.resync, backend), None, [library.resync_result], **PRIVATE)
    follow_feed = functools.partial(handlers.follow_feed, backend)
    feed_outputs = [library.feed_result, library.feed_url, library.feeds, library.followed]
    library.follow.click(follow_feed, [library.feed_url], feed_outputs, **PRIVATE)
    library.feed_url.submit(follow_feed, [library.feed_url], feed_outputs, **PRIVATE)
    library.unfollow.click(functools.partial(handlers.unfollow_feed, backend), [library.followed],
                           [library.feed_result, library.feeds, library.followed], **PRIVATE)


def wire_polling(backend: Backend, demo: gr.Blocks, status: gr.HTML, library: LibraryParts,
                 outlet: gr.Dropdown) -> None:
    """The status line, the index panel and the outlet list refresh every POLL_SECONDS (and on load); the
    feeds panel and the followed feeds every FEEDS_POLL_SECONDS (and on load)."""
    seen, feeds_seen = gr.State([]), gr.State([])
    tick = functools.partial(handlers.tick, backend)
    gr.Timer(POLL_SECONDS).tick(tick, [seen], [status, library.index, outlet, seen], show_progress="hidden",
                                **PRIVATE)
    demo.load(tick, [seen], [status, library.index, outlet, seen], show_progress="hidden", **PRIVATE)
    feeds_tick = functools.partial(handlers.feeds_tick, backend)
    gr.Timer(FEEDS_POLL_SECONDS).tick(feeds_tick, [feeds_seen], [library.feeds, library.followed, feeds_seen],
                                      show_progress="hidden", **PRIVATE)
    # (on load too: the list was built with the page, before the feeds of RAG_FEEDS were added, and stayed
    # empty for the first seconds while the panel above it named them)
    demo.load(feeds_tick, [feeds_seen], [library.feeds, library.followed, feeds_seen], show_progress="hidden",
              **PRIVATE)


def add_api(backend: Backend) -> None:
    """The API: the same JSON as `rag ask --json`, `rag search --json` and `rag status --json`."""

    def ask(question: str, since: str = "", until: str = "", source: str = "", as_of: str = "",
            k: int | None = None) -> dict:
        """Answer a question from the articles: {question, answer, refused, citations, retrieved, ...}; `k`
        passages read (default: as the chat reads, Settings.answer_passages)."""
        return api_chat(backend).ask(question, filters=api_filters(since, until, source, as_of),
                                     k=api_k(k), indexing=handlers.indexing(backend)).to_json()

    def search(query: str, since: str = "", until: str = "", source: str = "", as_of: str = "",
               k: int | None = None) -> dict:
        """Ranked passages for a query: {query, results: [{rank, score, text, article, start, end}]}; `k`
        passages (default: Settings.top_k)."""
        return api_chat(backend).search_json(query, api_filters(since, until, source, as_of), api_k(k))

    def status_api() -> dict:
        """What the store holds: {articles, chunks, model, store, ...}."""
        return api_chat(backend).status()

    gr.api(ask, api_name="ask")
    gr.api(search, api_name="search")
    gr.api(status_api, api_name="status")


def bad_request(message: str) -> gr.Error:
    """An API caller's mistake (or a store still opening): the message goes back to the caller, and no
    traceback goes to the log, which is kept for the app's own failures."""
    return gr.Error(message, print_exception=False)


def api_chat(backend: Backend):
    try:
        return backend.wait()
    except NotReady as e:
        raise bad_request(str(e)) from None


def api_filters(since, until, source, as_of):
    try:
        return make_filters(since, until, source, as_of)
    except ValueError as e:
        raise bad_request(str(e)) from None


def api_k(k) -> int | None:
    """A k from the API as a number of passages (`settings.passage_count`; None or "": the default of
    the command)."""
    if k is None or k == "":
        return None
    try:
        return passage_count(k)
    except SettingsError as e:
        raise bad_request(str(e)) from None


# ---------------------------------------------------------------- each article's own page

def add_article_pages(app: FastAPI, backend: Backend, auth: tuple[str, str] | None) -> None:
    """/article/ID?quote=START-END[,START-END...]: the whole article, the quotes highlighted and the
    first scrolled into view.
    With a login (RAG_AUTH) the page asks for the same user and password."""
    basic = HTTPBasic(auto_error=bool(auth))

    def allowed(credentials: HTTPBasicCredentials | None = Depends(basic)) -> None:
        if auth is None:
            return
        ok = credentials is not None and secrets.compare_digest(credentials.username.encode(), auth[0].encode()) \
            and secrets.compare_digest(credentials.password.encode(), auth[1].encode())
        if not ok:
            raise HTTPException(401, "log in with the user and password from RAG_AUTH",
                                headers={"WWW-Authenticate": "Basic"})

    @app.get("/article/{article_id}", response_class=HTMLResponse, dependencies=[Depends(allowed)])
    def article_page(article_id: str, request: Request) -> HTMLResponse:
        spans = render.read_spans(request.query_params.get("quote", ""))
        try:
            chat = backend.wait(timeout=30)
        except NotReady as e:
            return HTMLResponse(f"<p>{render.esc(e)}</p>", status_code=503)
        try:
            article = chat.article(article_id)
        except Exception as e:
            if not chat.store.unreachable(e):
                raise
            why = chat.store.log_failure(log, e, f"reading the article {article_id}")
            return HTMLResponse(f"<p>{render.esc(why)}. Try again in a moment.</p>", status_code=503)
        if article is None:
            return HTMLResponse(render.missing_article_page(CSS), status_code=404)
        return HTMLResponse(render.article_page(article, spans, CSS, related=request.query_params.get("related") == "1"))


# ---------------------------------------------------------------- the server

def serve(settings: Settings, ingest_at_start: bool = True, block: bool = True):
    """Start the web chat. Returns (server, backend) when `block` is False (tests)."""
    try:
        settings.validate()
    except SettingsError as e:
        raise SystemExit(f"rag serve: {e}") from None
    auth = check_binding(settings)
    check_port(settings.host, settings.port)
    backend = Backend(settings)
    demo = build_ui(backend)
    demo.queue(default_concurrency_limit=4)
    app = FastAPI()
    add_article_pages(app, backend, auth)
    started = secrets.token_hex(8)  # the page asks /alive to tell a stopped app, and a restarted one (app.js)
    app.add_api_route("/alive", lambda: Response(started, media_type="text/plain"))
    app = gr.mount_gradio_app(app, demo, path="", auth=auth,
                              auth_message="Log in with the user and password from RAG_AUTH." if auth else None,
                              show_error=True, max_file_size=f"{UPLOAD_CEILING * settings.max_upload_mb:g}mb", footer_links=["api"],
                              theme=make_theme(), css=CSS, js=PAGE_JS, head=TABS_HEAD)
    # Ctrl-C waits this long for open pages' connections (a page keeps one open): without a limit, `rag
    # serve` never stopped while a browser tab was open on it
    server = uvicorn.Server(uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning",
                                           timeout_graceful_shutdown=SHUTDOWN_SECONDS))
    threading.Thread(target=backend.start, args=(ingest_at_start,), name="rag-open", daemon=True).start()
    for folder in settings.watched_folders():  # (the articles folder is synced by `backend.start`, or not at all)
        watcher = FolderWatcher(backend, folder, sync_first=folder != Path(settings.articles_dir),
                                ignored=backend.feeds.folder)
        backend.watchers.append(watcher)
        watcher.start()
    backend.poller = FeedPoller(backend)  # RAG_FEEDS and the followed feeds, every RAG_FEED_MINUTES
    backend.poller.start()
    where = f"http://{settings.host}:{settings.port}/"
    if auth:
        print(f"rag: listening on {settings.host}: a login is required (user '{auth[0]}', from RAG_AUTH)", flush=True)
    print(f"rag: the chat is at {where}", flush=True)
    if block:
        # the open pages' connections, cut SHUTDOWN_SECONDS after Ctrl-C, are no error to print a traceback of
        quiet = _WhileRunning(server)
        logging.getLogger("uvicorn.error").addFilter(quiet)
        try:
            server.run()
        except KeyboardInterrupt:  # (uvicorn raises Ctrl-C again once it has stopped, or returns)
            pass
        finally:
            logging.getLogger("uvicorn.error").removeFilter(quiet)
        print("rag: stopped", flush=True)
        if backend.progress() is not None:
            # A sync still running cannot be stopped mid-batch: Python's exit then tore down the embedding
            # model's threads under it ("terminate called without an active exception", exit 134). The store
            # is left as a killed process leaves it, which the next sync repairs (tests/test_crash_recovery.py).
            print("rag: stopped during a sync: the next start finishes it, and nothing indexed before is lost",
                  flush=True)
            os._exit(130)
        return server, backend
    thread = threading.Thread(target=server.run, name="rag-server", daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.05)
    return server, backend
