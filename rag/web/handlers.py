"""What the page's events do: plain functions over the Backend and the page's state, wired to the
layout in `app.py` (and callable from tests without a browser).

Page state: `messages` (the Chatbot's list of {"role", "content"}) and `turns` (one dict per answer,
see `turns.py`), both kept by Gradio per browser tab.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import gradio as gr

from ..feeds import feed_address, same_page
from ..fetching import FetchError
from ..models import IngestReport
from ..service import articles_so_far
from ..settings import ANSWERERS, EXTRACTIVE, every
from . import render
from .runtime import Backend, NotReady, shown
from .turns import ALL_OUTLETS, find_card, make_filters, make_turn, read_question_link
from .uploads import save_uploads, upload_name

log = logging.getLogger("rag.web")


def respond(backend: Backend, question, messages, turns, since, until, outlet, as_of):
    """Ask: the question shows at once with "Searching…", then the answer and its sources.
    Yields (messages, turns, sources, question box, article view, popovers)."""
    question = (question or "").strip()
    messages, turns = list(messages or []), list(turns or [])
    skip = (gr.skip(),) * 6
    if not question:
        yield skip
        return
    try:
        filters = make_filters(since, until, outlet, as_of)
    except ValueError as e:
        gr.Warning(str(e))
        yield skip
        return
    messages.append({"role": "user", "content": render.md_text(question)})
    messages.append({"role": "assistant", "content": "*Searching the articles…*"})
    yield messages, turns, gr.skip(), "", gr.skip(), gr.skip()
    history = conversation(turns)
    try:
        chat = backend.wait()
        answer = chat.ask(question, history=history, filters=filters, indexing=indexing(backend))
        turn = make_turn(chat, answer, filters, earlier=answer.followed)
    except NotReady as e:
        gr.Warning(str(e))
        yield messages[:-2], turns, gr.skip(), question, gr.skip(), gr.skip()
        return
    except Exception as e:  # said in the page and logged (with its traceback, unless the database is down)
        gr.Warning(f"The search failed: {logged_failure(backend, e, f'the question {question!r}')}")
        yield messages[:-2], turns, gr.skip(), question, gr.skip(), gr.skip()
        return
    progress = backend.progress()
    if progress is not None and answer.retrieved:  # (with nothing found, the answer says it is still indexing)
        so_far = articles_so_far(progress.articles_done, progress.articles_total) or "some articles so far"
        turn["note"] = f"still indexing ({so_far}): this answer uses the articles indexed until now"
    turns.append(turn)
    index = len(turns) - 1
    messages[-1] = {"role": "assistant", "content": render.answer_markdown(turn, index)}
    yield (messages, turns, render.sources_html(turns, index), "", gr.Column(visible=False),
           popovers(turns))


def logged_failure(backend: Backend, error: Exception, doing: str) -> str:
    """Why `doing` failed, in one line, once logged: by the store (`Store.log_failure`: one line when its
    database does not answer, else with the traceback), or with the traceback when no store is open."""
    if backend.chat is not None:
        return backend.chat.store.log_failure(log, error, doing)
    log.error("%s failed (no store open: %s): %s", doing, backend.error or "not yet", error, exc_info=error)
    return str(error)


def indexing(backend: Backend) -> tuple[int, int] | None:
    """(articles done, articles in all) of the sync running now, for `NewsChat.ask`; None when none is."""
    progress = backend.progress()
    return None if progress is None else (progress.articles_done, progress.articles_total)


def popovers(turns: list[dict]) -> str:
    """Every citation's popover, as templates the page's script shows on hover or focus of [n]."""
    return "".join(f"<template id='pop-{t}-{c['n']}'>{render.popover_html(c)}</template>"
                   for t, turn in enumerate(turns) for c in turn["cards"])


def show_turn(turns, article: str, evt: gr.SelectData):
    """Clicking an answer (or a question) shows that answer's sources, and closes the article panel when it
    shows another answer's source (its numbers would read as this answer's)."""
    index = evt.index if isinstance(evt.index, int) else (evt.index[0] if evt.index else 0)
    turn = index // 2  # messages alternate: question, answer
    if not turns or turn >= len(turns):
        return gr.skip(), gr.skip()
    same = f"data-turn='{turn}'" in (article or "")
    return render.sources_html(turns, turn), gr.skip() if same else gr.Column(visible=False)


def open_article(backend: Backend, turns, evt: gr.EventData):
    """A card's "Show the whole article here": the article in the side panel, the answer's quotes of it
    highlighted (related reading: its nearest sentences), citation `n`'s in view (the quote whose [n] led
    to the card, else its first)."""
    related = getattr(evt, "related", 0)
    card = find_card(turns or [], getattr(evt, "turn", None), getattr(evt, "n", None), related)
    if card is None:  # (else `turn` and `related` are numbers: find_card read them)
        return gr.skip(), gr.skip()
    article = backend.wait().article(card["article_id"])
    if article is None:
        return "<p>This article is no longer in the store.</p>", gr.Column(visible=True)
    related = bool(int(related or 0))
    label, quoted = render.source_of(turns[int(evt.turn)]["related" if related else "cards"], card)
    shown_first = [card] + [c for c in quoted if c is not card]  # the quote the reader came from
    return (render.article_panel(article, shown_first, "related" if related else label, int(evt.turn), related),
            gr.Column(visible=True))


def clear_chat():
    """Clearing the chat: no turns, no sources, no article, no popovers, and none kept in the browser."""
    return [], render.sources_html([], None), gr.Column(visible=False), "", []


KEPT_TURNS = 30  # the answers a browser keeps over a reload (each with its cards' words: a few kB)


def kept_turns(turns, request: gr.Request | None = None):
    """The turns to keep in the browser (gr.BrowserState), so a reload brings the conversation back. A
    page opened from a question's link (`?q=`) keeps nothing: its conversation is its own, and would
    replace the one the browser kept for the main page in this tab (static/tabs.js)."""
    if _from_link(request):
        return gr.skip()
    return list(turns or [])[-KEPT_TURNS:]


def page_link(request: gr.Request | None) -> tuple[str, list[str], dict[str, str]]:
    """What the page's address asks (`turns.read_question_link`): the question ("" on a page opened without
    one), the earlier questions it follows up, and the filter fields. The one reading of a page's link."""
    return read_question_link(request.query_params.multi_items() if request is not None else [])


def _from_link(request: gr.Request | None) -> bool:
    return bool(page_link(request)[0])


def respond_to_link(backend: Backend, question, messages, turns, since, until, outlet, as_of,
                    request: gr.Request | None = None):
    """The page's load asks the linked question (`respond`), and nothing on any other page: a question
    typed while the page was still loading was asked twice at once, by the load and by Enter."""
    if not _from_link(request):
        yield (gr.skip(),) * 6
        return
    yield from respond(backend, question, messages, turns, since, until, outlet, as_of)


def conversation(turns: list[dict]) -> list[tuple[str, str]]:
    """The (question, answer) pairs a follow-up is asked with (`NewsChat.ask`'s history)."""
    return [(t["question"], t["answer"]) for t in turns]


def replay_link(backend: Backend, since, until, outlet, as_of, request: gr.Request | None = None):
    """A follow-up's link (`?q=...&earlier=...`): the earlier questions it follows up are asked first, in
    order, and shown as the conversation the linked question goes on from (it then asks as the sender's
    page did, with their words). Returns the page's (messages, turns, sources, popovers); nothing to change
    for any other page, or when the earlier questions cannot be asked (a warning says why; the linked
    question is then asked alone)."""
    question, earlier, _ = page_link(request)
    if not question or not earlier:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    turns: list[dict] = []
    try:
        filters = make_filters(since, until, outlet, as_of)
        chat = backend.wait()
        for asked in earlier:
            history = conversation(turns)
            answer = chat.ask(asked, history=history, filters=filters, indexing=indexing(backend))
            turns.append(make_turn(chat, answer, filters, earlier=answer.followed))
    except (ValueError, NotReady) as e:
        gr.Warning(str(e))
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    except Exception as e:  # (as `respond`)
        gr.Warning(f"The search failed: {logged_failure(backend, e, f'the question {earlier!r}')}")
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return shown_turns(turns)


def shown_turns(turns: list) -> tuple:
    """The page showing these turns: (messages, turns, the last answer's sources, every popover); a turn
    that cannot be shown (one a browser kept from an older version, or edited) is left out, never an error.
    Nothing to change when none can."""
    shown, messages = [], []
    for turn in turns:
        try:
            answer = render.answer_markdown(turn, len(shown))
            question = render.md_text(turn["question"])
        except (TypeError, KeyError, AttributeError, ValueError):
            continue
        shown.append(turn)
        messages += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    if not shown:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return messages, shown, render.sources_html(shown, len(shown) - 1), popovers(shown)


def restore_chat(kept, request: gr.Request | None = None):
    """The conversation the browser kept (`kept_turns`), shown again after a reload: the questions and
    answers with their citations, the last answer's sources and every popover; follow-ups go on from it.
    A page opened from a question's link (`?q=`) starts a conversation of its own instead (the linked
    question is no follow-up of whatever was asked before), and does not keep it (`kept_turns`). What the
    browser hands back is read with care (an older version's, or edited): a turn that cannot be shown is
    left out, never an error."""
    if _from_link(request):
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return shown_turns(kept if isinstance(kept, list) else [])


def run_sync(backend: Backend, start, result_label: str):
    """Run `start()` (a sync) in a thread and stream its progress; the last yield is the result."""
    box: dict = {}

    def work():
        try:
            box["report"] = start()
        except Exception as e:  # shown, not raised
            log.exception("%s failed", result_label)
            box["error"] = str(e)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.4)
        progress = backend.progress()
        yield render.status_box("busy", f"Indexing: {progress.describe() if progress else 'reading files'}…")
    if "error" in box:
        yield render.status_box("error", f"{result_label} failed: {box['error']}", result=True)
        return
    report = box["report"]
    kind = "error" if report.failed else "ready"  # (the counts; the list below names each failure, once)
    yield render.status_box(kind, f"{result_label}: {report.counts()}", result=True) + \
        render.failed_list(report.failed, report.warnings)


def upload(backend: Backend, files):
    """Uploaded files are saved into the articles folder (never over a different file) and indexed."""
    if not files:
        yield gr.skip(), gr.skip()
        return
    settings = backend.settings
    saved = save_uploads(list(files), Path(settings.articles_dir), settings.max_upload_mb)
    names = ", ".join(p.name for p in saved.paths) or "nothing"

    def start():
        report = backend.sync(saved.paths, label=f"upload ({names})") if saved.paths else IngestReport()
        if backend.chat is not None:
            saved.drop_rejected(report, backend.chat.holds_file)
        report.failed = saved.failed + report.failed
        return report

    uploaded = ", ".join(dict.fromkeys(upload_name(f) for f in files))
    last = ""
    for step in run_sync(backend, start, f"Upload of {uploaded}"):
        if last:
            yield last, gr.skip()
        last = step
    # The result and the notes about renamed files arrive together, so the result is never shown without them.
    notes = "".join(f"<p class='muted upload-note'>{render.esc(n)}</p>" for n in saved.notes)
    yield last + notes, None


def resync(backend: Backend):
    yield from run_sync(backend, backend.resync, "Re-sync")


def status_html(backend: Backend) -> str:
    """The status line: starting, indexing (you can already ask), an error, or ready with the counts."""
    if not backend.opened.is_set():
        return render.status_box("busy", "Starting: opening the store and loading the embedding model…")
    if backend.chat is None or backend.error:
        return render.status_box("error", backend.error)
    progress = backend.progress()
    if progress is not None:
        return render.status_box("busy", f"Indexing {progress.label}: {progress.describe()}… You can already ask: "
                                         f"answers use what is indexed so far.")
    if not backend.ready.is_set():
        return render.status_box("busy", "Loading the embedding model…")
    s = backend.status()
    if "error" in s:
        return render.status_box("error", s["error"])
    with backend.state_lock:
        last, failed = backend.last_sync, backend.last_failed
    if failed and not s.get("articles"):  # nothing to search, because the sync that was to fill the store failed
        return render.status_box("error", f"No articles to search: the last sync failed. Last sync {last}")
    counts = f"{render.plural(s.get('articles', 0), 'article')}, {render.plural(s.get('chunks', 0), 'chunk')}"
    return render.status_box("ready", f"Ready: {counts}." + (f" Last sync {last}" if last else ""))


def index_html(backend: Backend) -> str:
    s = backend.status()
    if not s:
        return "<p class='muted'>The store is not open yet.</p>"
    if "error" in s:
        return f"<p class='failed'>{render.esc(s['error'])}</p>"
    settings = backend.settings
    rows = [("Articles", s.get("articles", "")), ("Chunks", s.get("chunks", "")),
            ("Embedding model", f"{s.get('model', '')} ({s.get('embedding_variant', '')})"),
            ("Store", s.get("store", "")), ("Last update", s.get("last_ingest") or "never"),
            ("Articles folder", shown(settings.articles_dir))]
    watched = settings.watched_folders()
    rows.append(("Watching", ", ".join(shown(f) for f in watched) if watched else
                 "nothing (after editing files there, press Re-sync now)"))
    rows.append(("Answerer", answerer_label(settings.answerer_kind, settings.llm_model)))
    with backend.state_lock:
        last, failed = backend.last_sync, backend.last_failed
    return render.index_table(rows, last, failed)


ANSWERER_NOTES = {  # one for each of settings.ANSWERERS
    EXTRACTIVE: "verbatim sentences picked from the articles, no language model",
    "ollama": "a local Ollama chat model picks the quotes",
    "openai": "an OpenAI-compatible chat server picks the quotes",
    "gguf": "a local GGUF model picks the quotes",
}
assert set(ANSWERER_NOTES) == set(ANSWERERS), "a note for each answerer of settings.ANSWERERS"


def answerer_label(kind: str, model: str = "") -> str:
    """The answerer as the index panel names it: its name (`Settings.answerer_kind`), its model, and how it
    picks the quotes."""
    model = f" ({model})" if kind != EXTRACTIVE and model else ""
    return f"{kind}{model}: {ANSWERER_NOTES.get(kind, 'a chat model picks the quotes')}"


def tick(backend: Backend, seen):
    """The page's poll: status line, index panel and outlets, sent only when they changed."""
    status, index, outlets = status_html(backend), index_html(backend), backend.outlets()
    key = [status, index, outlets]
    if key == seen:
        return gr.skip(), gr.skip(), gr.skip(), seen
    outlet_update = gr.skip() if seen and seen[2] == outlets else gr.update(choices=[ALL_OUTLETS] + outlets)
    return status, index, outlet_update, key


# ---------------------------------------------------------------- the feeds panel

def feeds_html(backend: Backend) -> str:
    """The followed feeds: each one's last poll, what it added, and the errors of that poll."""
    reading = backend.poller.runner.reading if backend.poller is not None else None
    return render.feeds_table(backend.feeds.list(), backend.settings.feed_minutes, reading)


def feed_choices(backend: Backend) -> list[str]:
    return [f.url for f in backend.feeds.list()]


def follow_feed(backend: Backend, url):
    """The page's "Follow": the address is added to the followed feeds and polled at once.
    Returns (message, address box, feeds panel, the list to remove from)."""
    url = (url or "").strip()
    if not url:
        return render.status_box("error", "Type the address of a feed or a news page first (http:// or https://)."), gr.skip(), \
            gr.skip(), gr.skip()
    try:
        backend.feeds.check([url])  # (a new address is read once first: a mistyped one is not followed)
        url = backend.feeds.add(url).url  # as it is followed ("feed://host/x" is http://host/x)
    except FetchError as e:
        return render.status_box("error", str(e)), gr.skip(), gr.skip(), gr.skip()
    if backend.poller is not None:
        backend.poller.poll_soon()
        when = f"now, then {every(backend.settings.feed_minutes)}"
    else:
        when = "while the app runs"
    return (render.status_box("ready", f"Following {url}: its items are fetched {when}."), "", feeds_html(backend),
            gr.update(choices=feed_choices(backend), value=None))


def unfollow_feed(backend: Backend, url):
    """The page's "Stop following": the feed is polled no more (the articles saved from it stay).
    Returns (message, feeds panel, the list to remove from)."""
    url = (url or "").strip()
    if not url:
        return render.status_box("error", "Choose a followed feed first."), gr.skip(), gr.skip()
    removed = backend.feeds.remove(url)
    if not removed:
        return render.status_box("error", f"Not followed: {url}"), feeds_html(backend), \
            gr.update(choices=feed_choices(backend), value=None)
    configured = [feed_address(u) for u in backend.settings.feeds]  # as written there ("feed://", no "/")
    note = " It is also in RAG_FEEDS, so it comes back when the app starts again." \
        if any(same_page(c, r) for c in configured for r in removed) else ""
    return (render.status_box("ready", f"No longer following {url}; the articles saved from it stay.{note}"),
            feeds_html(backend), gr.update(choices=feed_choices(backend), value=None))


def feeds_tick(backend: Backend, seen):
    """The feeds panel's poll: the panel and the list, sent only when they changed."""
    panel, choices = feeds_html(backend), feed_choices(backend)
    key = [panel, choices]
    if key == seen:
        return gr.skip(), gr.skip(), seen
    list_update = gr.skip() if seen and seen[1] == choices else gr.update(choices=choices)
    return panel, list_update, key
