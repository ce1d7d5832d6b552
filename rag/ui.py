"""The web chat (`rag serve`, `python app.py`): a Gradio page over the same NewsChat the CLI uses.

The server comes up first; the store is opened and the articles folder synced in a background thread,
with the progress in a status line of the page and in the terminal. Everything taken from an article
(titles, quotes, bodies, file names) is HTML-escaped before it reaches the page.
"""

import html
import ipaddress
import os
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlparse

from .models import Answer, Citation, IngestReport, display_path
from .settings import Settings

UPLOAD_TYPES = [".txt", ".md", ".html", ".htm", ".json", ".jsonl"]
ALL_OUTLETS = "All outlets"
POLL_SECONDS = 2.0

ANSWERER_NOTES = {
    "extractive": "verbatim sentences picked from the articles, no language model",
    "ollama": "a local Ollama chat model picks the quotes",
    "openai": "an OpenAI-compatible chat server picks the quotes",
    "gguf": "a local GGUF model picks the quotes",
}


# ---------------------------------------------------------------- start-up checks

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


# ---------------------------------------------------------------- uploads

_UNSAFE_CHARS = re.compile(r"[^\w.\- ]+")


def safe_name(name: str) -> str:
    """A file name that cannot leave the folder it is saved in: directories, '..', leading dots and
    odd characters are dropped."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE_CHARS.sub("_", base).strip(" .")
    base = base.lstrip(".-_ ") or "article"
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem.strip("._- "):
        base = f"upload.{suffix}" if dot else base
    return base[-150:]


def save_uploads(files: list[str], folder: Path, max_mb: float) -> tuple[list[Path], list[dict]]:
    """Copy uploaded temp files into `folder` under safe names. Returns (saved paths, failures)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    root = folder.resolve()
    saved: list[Path] = []
    failed: list[dict] = []
    for item in files:
        src = Path(getattr(item, "name", item))
        name = safe_name(getattr(item, "orig_name", None) or src.name)
        if Path(name).suffix.lower() not in UPLOAD_TYPES:
            failed.append({"path": name, "error": f"unsupported file type (use {' '.join(UPLOAD_TYPES)})"})
            continue
        try:
            size = src.stat().st_size
        except OSError as e:
            failed.append({"path": name, "error": f"cannot read the upload: {e.strerror}"})
            continue
        if size > max_mb * 1024 * 1024:
            failed.append({"path": name, "error": f"{size / 1024 / 1024:.1f} MB is over the {max_mb:g} MB upload limit"})
            continue
        target = (root / name).resolve()
        if target.parent != root:  # cannot happen after safe_name; checked anyway
            failed.append({"path": name, "error": "file name not allowed"})
            continue
        tmp = target.with_name(f".{target.name}.part")
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)
        saved.append(target)
    return saved, failed


# ---------------------------------------------------------------- the background side

@dataclass
class SyncProgress:
    label: str
    chunks_done: int = 0
    chunks_total: int = 0
    articles_done: int = 0
    articles_total: int = 0


class Backend:
    """The NewsChat (opened in a background thread), the state of syncs, and the folder watcher."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.chat = None
        self.error = ""
        self.opened = threading.Event()
        self.query_lock = threading.Lock()
        self.state_lock = threading.Lock()
        self.running: list[SyncProgress] = []
        self.last_sync = ""  # "HH:MM label: summary"
        self.last_failed: list[dict] = []
        self._status: dict = {}
        self._status_at = 0.0
        self.warm = False  # the embedding model is loaded

    # -- start-up
    def start(self, ingest_at_start: bool) -> None:
        try:
            from .service import NewsChat

            self.chat = NewsChat(self.settings)
        except Exception as e:  # StoreError and friends: say so in the page and the terminal
            self.error = f"cannot open the store: {e}"
            print(f"rag: {self.error}", file=sys.stderr, flush=True)
            self.opened.set()
            return
        self.opened.set()
        if ingest_at_start:
            self.sync(None, label=_shown(self.settings.articles_dir))
        try:
            self.chat.embeddings.embed_query("warm up")  # load the model before the first question
            self.chat.lexical.ensure_fresh()  # and the keyword index
        except Exception as e:
            print(f"rag: cannot load the embedding model: {e}", file=sys.stderr, flush=True)
        self.warm = True
        print("rag: ready", flush=True)

    def wait(self, timeout: float = 300.0):
        """The NewsChat, once open (raises gr.Error when it could not be opened)."""
        import gradio as gr

        if not self.opened.wait(timeout):
            raise gr.Error("The store is still opening; try again in a moment.")
        if self.chat is None:
            raise gr.Error(self.error or "The store could not be opened.")
        return self.chat

    # -- syncing
    def sync(self, paths: list[Path] | None, label: str, quiet: bool = False) -> IngestReport:
        """Sync files or folders (None: the articles folder). `quiet`: say nothing when nothing changed."""
        from .progress import TerminalProgress

        chat = self.wait()
        progress = SyncProgress(label)
        with self.state_lock:
            self.running.append(progress)
        if not quiet:
            print(f"rag: syncing {label} ...", flush=True)
        started = time.monotonic()
        try:
            with TerminalProgress() as bar:
                def on_progress(chunks_done, chunks_total, articles_done, articles_total):
                    progress.chunks_done, progress.chunks_total = chunks_done, chunks_total
                    progress.articles_done, progress.articles_total = articles_done, articles_total
                    bar.update(chunks_done, chunks_total, articles_done, articles_total)

                report = chat.ingest(paths, on_progress=on_progress)
        except Exception as e:
            report = IngestReport(failed=[{"path": label, "error": f"sync failed: {e}"}])
        finally:
            with self.state_lock:
                self.running.remove(progress)
        line = report_line(report)
        changed = report.added or report.updated or report.deleted or report.failed
        if quiet and not changed:
            return report
        print(f"rag: {label}: {line} ({report.chunks_embedded} chunks embedded, "
              f"{time.monotonic() - started:.1f} s)", flush=True)
        for failure in report.failed:
            print(f"rag: failed: {failure['path']}: {failure['error']}", file=sys.stderr, flush=True)
        with self.state_lock:
            self.last_sync = f"{time.strftime('%H:%M:%S')} {label}: {line}"
            self.last_failed = report.failed
            self._status_at = 0.0
        return report

    def resync(self) -> IngestReport:
        """The articles folder, and the watched folder when there is one."""
        paths = [Path(self.settings.articles_dir)]
        if self.settings.watch and Path(self.settings.watch).resolve() != paths[0].resolve():
            paths.append(Path(self.settings.watch))
        return self.sync(paths, label=", ".join(_shown(p) for p in paths))

    # -- what the page shows
    def status(self) -> dict:
        if self.chat is None:
            return {}
        now = time.monotonic()
        if now - self._status_at > 10 or not self._status:
            try:
                self._status = self.chat.status()
            except Exception as e:
                self._status = {"error": str(e)}
            self._status_at = now
        return self._status

    def sources(self) -> list[str]:
        if self.chat is None:
            return []
        try:
            return self.chat.store.catalog.sources()
        except Exception:
            return []

    def status_html(self) -> str:
        if not self.opened.is_set():
            return _status_box("busy", "Starting: opening the store and loading the embedding model…")
        if self.chat is None:
            return _status_box("error", self.error)
        with self.state_lock:
            running = list(self.running)
            last = self.last_sync
        if running:
            p = running[0]
            if p.chunks_total:
                detail = (f"{p.chunks_done}/{p.chunks_total} chunks embedded "
                          f"({p.articles_done}/{p.articles_total} articles)")
            else:
                detail = "reading files"
            note = " You can already ask: answers use what is indexed so far."
            return _status_box("busy", f"Indexing {p.label}: {detail}…{note}")
        if not self.warm:
            return _status_box("busy", "Loading the embedding model…")
        s = self.status()
        counts = f"{plural(s.get('articles', 0), 'article')}, {plural(s.get('chunks', 0), 'chunk')}"
        return _status_box("ready", f"Ready: {counts}." + (f" Last sync {last}" if last else ""))

    def index_html(self) -> str:
        s = self.status()
        if not s:
            return "<p class='muted'>The store is not open yet.</p>"
        rows = [("Articles", s.get("articles", "")), ("Chunks", s.get("chunks", "")),
                ("Embedding model", s.get("model", "")), ("Store", s.get("store", "")),
                ("Last update", s.get("last_ingest") or "never"),
                ("Articles folder", _shown(self.settings.articles_dir))]
        if self.settings.watch:
            rows.append(("Watching", f"{_shown(self.settings.watch)} (every {POLL_SECONDS:g} s)"))
        rows.append(("Answerer", answerer_label(self.settings)))
        body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
        with self.state_lock:
            last, failed = self.last_sync, self.last_failed
        extra = f"<p class='muted'>Last sync {esc(last)}</p>" if last else ""
        extra += failed_list(failed)
        return f"<table class='index-table'>{body}</table>{extra}"


class FolderWatcher(threading.Thread):
    """Polls a folder (file names, sizes, mtimes) and syncs it when it changed and then held still."""

    def __init__(self, backend: Backend, folder: Path, interval: float = POLL_SECONDS):
        super().__init__(name="rag-watch", daemon=True)
        self.backend, self.folder, self.interval = backend, Path(folder), interval
        self.stopped = threading.Event()

    def snapshot(self) -> dict[str, tuple[int, int]]:
        from .articles import is_supported

        out = {}
        try:
            for p in self.folder.rglob("*"):
                if p.name.startswith(".") or not is_supported(p):
                    continue
                try:
                    st = p.stat()
                except OSError:
                    continue
                out[str(p)] = (st.st_mtime_ns, st.st_size)
        except OSError:
            pass
        return out

    def run(self) -> None:
        self.backend.opened.wait()
        if self.backend.chat is None:
            return
        print(f"rag: watching {_shown(self.folder)} for new articles", flush=True)
        synced = None  # the first pass syncs whatever the folder holds
        previous = self.snapshot()
        while not self.stopped.is_set():
            current = self.snapshot()
            if current != synced and current == previous:  # changed, and not still being written
                self.backend.sync([self.folder], label=_shown(self.folder), quiet=True)
                synced = current
            previous = current
            self.stopped.wait(self.interval)


# ---------------------------------------------------------------- rendering (everything escaped)

def esc(value) -> str:
    return html.escape(str(value), quote=True)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]()~|$!{}])")
_MD_LINE_START = re.compile(r"^(\s*)([#>+\-=]|\d+[.)])")


def md_text(text: str) -> str:
    """Plain text for the Chatbot's Markdown: Markdown syntax and HTML both neutralised."""
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _MD_LINE_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)
    return html.escape(text, quote=False)


_MARKER = re.compile(r"\[(\d+)\]")


def answer_markdown(turn: dict, index: int) -> str:
    """The assistant message: escaped answer text, [n] as links to source card n, the active filters."""
    paragraphs = []
    for para in turn["answer"].split("\n\n"):
        pieces = _MARKER.split(para)
        out = []
        for i, piece in enumerate(pieces):
            if i % 2 == 0:
                out.append(md_text(piece))
            else:
                out.append(f'<a class="cite" href="#src-{index}-{piece}" data-turn="{index}" '
                           f'data-n="{piece}">[{piece}]</a>')
        paragraphs.append("".join(out))
    return "\n\n".join(paragraphs) + "\n\n" + meta_line(turn)


def meta_line(turn: dict) -> str:
    parts = [f"Filters: {turn['filters']}"]
    if turn.get("query") and turn["query"] != turn["question"]:
        parts.append(f"searched for “{turn['query']}”")
    parts.append(f"answerer: {turn['answerer']}")
    if turn.get("note"):
        parts.append(turn["note"])
    return f'<span class="answer-meta">{esc(" · ".join(parts))}</span>'


def _article_meta(source: str, published: str, url: str, path: str = "") -> str:
    bits = [f"<span class='outlet'>{esc(source or 'unknown outlet')}</span>",
            f"<span class='date'>{esc(published or 'undated')}</span>"]
    if url and urlparse(url).scheme in ("http", "https"):
        bits.append(f"<a href='{esc(url)}' target='_blank' rel='noopener noreferrer nofollow'>original page</a>")
    elif path:
        bits.append(f"<span class='path'>{esc(path)}</span>")
    return " · ".join(bits)


def sources_html(turns: list[dict], index: int | None) -> str:
    if not turns or index is None or not 0 <= index < len(turns):
        return ("<div class='sources-empty'>Ask a question: the sources of the answer appear here, "
                "each with its quoted words highlighted.</div>")
    turn = turns[index]
    head = (f"<div class='sources-head'>Sources of answer {index + 1}: "
            f"<q>{esc(turn['question'])}</q></div>")
    if not turn["cards"]:
        closest = "".join(
            f"<li><b>{esc(c['title'] or 'untitled')}</b> ({_article_meta(c['source'], c['published'], '')})</li>"
            for c in turn["closest"])
        searched = (f"<p>Nothing quoted. Searched for <q>{esc(turn['query'] or turn['question'])}</q> "
                    f"({esc(turn['filters'])}).</p>")
        listing = f"<p>Closest passages were from:</p><ul>{closest}</ul>" if closest else "<p>No passages matched.</p>"
        return f"<div class='sources' data-turn='{index}'>{head}{searched}{listing}</div>"
    cards = []
    for c in turn["cards"]:
        before = ("…" if c["cut_before"] else "") + c["before"]
        after = c["after"] + ("…" if c["cut_after"] else "")
        cards.append(
            f"<div class='card' id='src-{index}-{c['n']}' data-n='{c['n']}'>"
            f"<div class='card-head'><span class='card-n'>[{c['n']}]</span> "
            f"<span class='card-title'>{esc(c['title'] or 'untitled')}</span></div>"
            f"<div class='card-meta'>{_article_meta(c['source'], c['published'], c['url'], c['path'])}</div>"
            f"<p class='snippet'>{esc(before)}<mark>{esc(c['quote'])}</mark>{esc(after)}</p>"
            f"<button class='open-article' data-turn='{index}' data-n='{c['n']}'>Open the whole article</button>"
            f"</div>")
    return f"<div class='sources' data-turn='{index}'>{head}{''.join(cards)}</div>"


def article_html(article, card: dict) -> str:
    body = article.body
    start, end = card["start"], card["end"]
    if body[start:end] != card["quote"]:  # the article changed since the answer: find the quote again
        found = body.find(card["quote"])
        start, end = (found, found + len(card["quote"])) if found >= 0 else (0, 0)
    return (f"<div class='article' data-article='{esc(article.id)}'>"
            f"<div class='article-head'><span class='card-n'>[{card['n']}]</span> "
            f"<span class='article-title'>{esc(article.title or 'untitled')}</span>"
            f"<div class='card-meta'>{_article_meta(article.source, article.published, article.url, card['path'])}"
            f"</div></div>"
            f"<div class='article-body'>{esc(body[:start])}<mark id='article-mark'>{esc(body[start:end])}</mark>"
            f"{esc(body[end:])}</div></div>")


def failed_list(failed: list[dict]) -> str:
    if not failed:
        return ""
    items = "".join(f"<li><b>{esc(Path(f['path']).name)}</b>: {esc(f['error'])}</li>" for f in failed)
    return f"<ul class='failed'>{items}</ul>"


def report_line(report: IngestReport) -> str:
    """ "2 added, 1 updated, 1 failed: empty.txt: file is empty" """
    parts = [f"{report.added} added", f"{report.updated} updated"]
    if report.unchanged:
        parts.append(f"{report.unchanged} unchanged")
    if report.deleted:
        parts.append(f"{report.deleted} deleted")
    line = ", ".join(parts)
    if report.failed:
        reasons = "; ".join(f"{Path(f['path']).name}: {f['error']}" for f in report.failed[:3])
        more = f" (+{len(report.failed) - 3} more)" if len(report.failed) > 3 else ""
        line += f", {len(report.failed)} failed: {reasons}{more}"
    return line


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _status_box(kind: str, text: str) -> str:
    return f"<div class='status status-{kind}' data-state='{kind}'>{esc(text)}</div>"


def _shown(path) -> str:
    return display_path(str(Path(path).resolve())) + "/" if Path(path).is_dir() else display_path(str(path))


def answerer_label(settings: Settings) -> str:
    kind = (settings.answerer or "extractive").lower()
    model = f" ({settings.llm_model})" if kind != "extractive" and settings.llm_model else ""
    return f"{kind}{model}: {ANSWERER_NOTES.get(kind, 'a chat model picks the quotes')}"


# ---------------------------------------------------------------- turning answers into page state

def make_turn(chat, answer: Answer, filters_text: str) -> dict:
    return {"question": answer.question, "answer": answer.text, "refused": answer.refused,
            "query": answer.query, "answerer": answer.answerer, "filters": filters_text,
            "cards": [make_card(chat, c) for c in answer.citations],
            "closest": [{"title": c.title, "source": c.source, "published": c.published}
                        for c in list({c.article_id: c for c in answer.retrieved[:5]}.values())[:3]]}


def make_card(chat, citation: Citation, context: int = 240) -> dict:
    chunk = citation.chunk
    article = chat.article(chunk.article_id)
    if article is not None and article.body[citation.start:citation.end] == citation.quote:
        body, offset = article.body, 0
    else:
        body, offset = chunk.text, chunk.start
    s, e = citation.start - offset, citation.end - offset
    lo, hi = max(0, s - context), min(len(body), e + context)
    if lo > 0:  # start and end the snippet on word boundaries
        space = body.find(" ", lo, s)
        lo = space + 1 if space >= 0 else lo
    if hi < len(body):
        space = body.rfind(" ", e, hi)
        hi = space if space >= 0 else hi
    return {"n": citation.n, "quote": citation.quote, "start": citation.start, "end": citation.end,
            "article_id": chunk.article_id, "title": chunk.title, "source": chunk.source,
            "published": chunk.published, "url": chunk.url, "path": display_path(chunk.path),
            "before": body[lo:s], "after": body[e:hi], "cut_before": lo > 0, "cut_after": hi < len(body)}


def make_filters(since: str | None, until: str | None, outlet: str | None, as_of: str | None):
    """Filters from the page's fields; raises ValueError with a message for a malformed date."""
    from .models import Filters

    def day(value, name):
        value = (value or "").strip()[:10]
        if not value:
            return ""
        try:
            return date.fromisoformat(value).isoformat()
        except ValueError:
            raise ValueError(f"“{value}” is not a date for “{name}”: use YYYY-MM-DD") from None

    source = "" if not outlet or outlet == ALL_OUTLETS else outlet
    return Filters(since=day(since, "since"), until=day(until, "until"), source=source,
                   as_of=day(as_of, "as of") or date.today().isoformat())


# ---------------------------------------------------------------- the page

CSS = """
#app-title h1 { margin: 0; font-size: 1.5rem; }
.status { padding: 6px 10px; border-radius: 6px; font-size: 0.95em; }
.status-busy { background: #fff7e0; border: 1px solid #f0c36d; }
.status-ready { background: #eef8ee; border: 1px solid #9fd39f; }
.status-error { background: #fdecec; border: 1px solid #e39b9b; }
.answerer-note { font-size: 0.9em; color: #555; }
.answer-meta { display: block; font-size: 0.8em; color: #666; margin-top: 4px; }
a.cite { font-weight: 600; text-decoration: none; }
.sources-head { font-weight: 600; margin-bottom: 8px; }
.sources-empty { color: #666; padding: 12px; }
.card { border: 1px solid #ddd; border-radius: 8px; padding: 10px 12px; margin-bottom: 10px; background: #fff; }
.card.flash { outline: 3px solid #f59e0b; }
.card-n { font-weight: 700; color: #b45309; margin-right: 4px; }
.card-title, .article-title { font-weight: 600; }
.card-meta { font-size: 0.85em; color: #555; margin: 2px 0 6px; }
.snippet { font-size: 0.92em; line-height: 1.45; margin: 4px 0 8px; }
mark { background: #fde68a; color: inherit; padding: 0 1px; }
button.open-article { font-size: 0.85em; padding: 3px 10px; border: 1px solid #bbb; border-radius: 6px;
                      background: #f6f6f6; cursor: pointer; }
button.open-article:hover { background: #eee; }
#article-view .article-body { white-space: pre-wrap; line-height: 1.5; padding: 8px 14px 12px; max-height: 460px;
                              overflow-y: auto; }
.article-head { padding: 10px 14px 4px; border-bottom: 1px solid #ddd; }
#index-panel table, #index-panel tr { border: none; }
.index-table th { text-align: left; padding-right: 12px; font-weight: 600; white-space: nowrap; }
#filters .timebox { display: flex; }
#filters .timebox input.time { min-width: 0; width: 100%; flex: 1 1 auto; }
.index-table { border-collapse: collapse; width: 100%; font-size: 0.92em; border: none; }
.index-table th, .index-table td { border: none; border-bottom: 1px solid #eee; padding: 3px 6px; }
.index-table td { overflow-wrap: anywhere; }
ul.failed { color: #a11; margin: 4px 0; }
.muted { color: #666; font-size: 0.9em; }
"""

# Clicking [n] in an answer: show that answer's sources (the Chatbot's select event does it) and
# scroll card n into view once it is there.
PAGE_JS = """
() => {
  document.addEventListener('click', (event) => {
    const link = event.target.closest ? event.target.closest('a[href^="#src-"]') : null;
    if (!link) return;
    event.preventDefault();
    const id = link.getAttribute('href').slice(1);
    let tries = 0;
    const show = () => {
      const card = document.getElementById(id);
      if (card) {
        card.scrollIntoView({block: 'nearest'});
        card.classList.add('flash');
        setTimeout(() => card.classList.remove('flash'), 1500);
      } else if (tries++ < 50) {
        setTimeout(show, 100);
      }
    };
    show();
  }, true);
}
"""

SOURCES_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.open-article');
  if (button) trigger('click', {turn: parseInt(button.dataset.turn), n: parseInt(button.dataset.n)});
});
"""

ARTICLE_JS = """
const reveal = () => {
  const mark = element.querySelector('mark');
  if (mark) mark.scrollIntoView({block: 'center'});
};
const later = () => { setTimeout(reveal, 50); setTimeout(reveal, 400); };
watch('value', later);
later();  // the view is created hidden: it first renders with an article already in it
"""


def make_theme():
    import gradio as gr
    from gradio.themes.utils.fonts import Font

    # System fonts only: the page loads nothing from outside this machine.
    return gr.themes.Default(font=[Font("system-ui"), Font("Segoe UI"), Font("Helvetica"), "sans-serif"],
                             font_mono=[Font("ui-monospace"), Font("Menlo"), Font("Consolas"), "monospace"])


def build_ui(backend: Backend):
    import gradio as gr

    settings = backend.settings

    def respond(question, messages, turns, since, until, outlet, as_of):
        question = (question or "").strip()
        messages, turns = list(messages or []), list(turns or [])
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        try:
            filters = make_filters(since, until, outlet, as_of)
        except ValueError as e:
            gr.Warning(str(e))
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        messages.append({"role": "user", "content": md_text(question)})
        messages.append({"role": "assistant", "content": "*Searching the articles…*"})
        yield messages, turns, gr.skip(), "", gr.skip()
        history = [(t["question"], t["answer"]) for t in turns]
        try:
            chat = backend.wait()
            with backend.query_lock:
                answer = chat.ask(question, history=history, filters=filters)
            turn = make_turn(chat, answer, filters.describe())
        except Exception as e:  # say it in the chat rather than leave "Searching…" standing
            import traceback

            traceback.print_exc()
            gr.Warning(f"The search failed: {e}")
            yield messages[:-2], turns, gr.skip(), question, gr.skip()
            return
        if backend.running:
            turn["note"] = "indexing is still running: this answer uses the articles indexed so far"
        turns.append(turn)
        index = len(turns) - 1
        full = answer_markdown(turn, index)
        paragraphs = full.split("\n\n")
        sources = sources_html(turns, index)
        for i in range(1, len(paragraphs)):  # stream the answer quote by quote
            messages[-1] = {"role": "assistant", "content": "\n\n".join(paragraphs[:i])}
            yield messages, turns, sources, "", gr.skip()
            time.sleep(0.05)
        messages[-1] = {"role": "assistant", "content": full}
        yield messages, turns, sources, "", gr.Column(visible=False)

    def show_turn(turns, evt: gr.SelectData):
        index = evt.index if isinstance(evt.index, int) else (evt.index[0] if evt.index else 0)
        turn = index // 2  # messages alternate: question, answer
        if not turns or turn >= len(turns):
            return gr.skip()
        return sources_html(turns, turn)

    def open_article(turns, evt: gr.EventData):
        data = getattr(evt, "_data", None) or {}
        try:
            turn, n = int(data.get("turn")), int(data.get("n"))
            card = next(c for c in turns[turn]["cards"] if c["n"] == n)
        except (TypeError, ValueError, IndexError, StopIteration):
            return gr.skip(), gr.skip()
        article = backend.wait().article(card["article_id"])
        if article is None:
            return "<p>This article is no longer in the store.</p>", gr.Column(visible=True)
        return article_html(article, card), gr.Column(visible=True)

    def clear_chat():
        return [], sources_html([], None), gr.Column(visible=False)

    def run_sync(start, result_label):
        """Run `start()` (a sync) in a thread and stream its progress; the last yield is the result."""
        box: dict = {}

        def work():
            try:
                box["report"] = start()
            except Exception as e:  # shown, not raised
                box["error"] = str(e)

        worker = threading.Thread(target=work, daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.4)
            with backend.state_lock:
                running = list(backend.running)
            if running and running[-1].chunks_total:
                p = running[-1]
                text = f"Embedding {p.chunks_done}/{p.chunks_total} chunks ({p.articles_done}/{p.articles_total} articles)…"
            else:
                text = "Reading files…"
            yield _status_box("busy", text)
        if "error" in box:
            yield _status_box("error", box["error"])
            return
        report = box["report"]
        kind = "error" if report.failed else "ready"
        yield (f"<div class='status status-{kind}' data-result='done'>{esc(result_label)}: "
               f"{esc(report_line(report))}</div>{failed_list(report.failed)}")

    def upload(files):
        if not files:
            yield gr.skip(), gr.skip()
            return
        saved, failed = save_uploads(list(files), Path(settings.articles_dir), settings.max_upload_mb)
        names = ", ".join(p.name for p in saved) or "nothing"

        def start():
            report = backend.sync(saved, label=f"upload ({names})") if saved else IngestReport()
            report.failed = failed + report.failed
            return report

        uploaded = ", ".join(dict.fromkeys([p.name for p in saved] + [f["path"] for f in failed]))
        for text in run_sync(start, f"Upload of {uploaded}"):
            yield text, gr.skip()
        yield gr.skip(), None

    def resync():
        yield from run_sync(backend.resync, "Re-sync")

    def tick(seen):
        status, index, outlets = backend.status_html(), backend.index_html(), backend.sources()
        key = [status, index, outlets]
        if key == seen:
            return gr.skip(), gr.skip(), gr.skip(), seen
        outlet_update = gr.skip() if seen and seen[2] == outlets else gr.update(choices=[ALL_OUTLETS] + outlets)
        return status, index, outlet_update, key

    with gr.Blocks(title="News chat", fill_width=True) as demo:
        turns = gr.State([])
        seen = gr.State([])
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=240):
                gr.Markdown("# News chat", elem_id="app-title")
            with gr.Column(scale=5):
                status = gr.HTML(backend.status_html(), elem_id="status-line")
            with gr.Column(scale=3, min_width=240):
                gr.HTML(f"<div class='answerer-note' id='answerer'>Answerer: "
                        f"<b>{esc(answerer_label(settings))}</b></div>")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat", elem_id="chat", height=560, latex_delimiters=[], feedback_options=None,
                    buttons=["copy"], sanitize_html=True,
                    placeholder="Ask about the articles, for example: <i>What did Lukashenko say about "
                                "sending soldiers?</i> Follow-up questions use the conversation.")
                with gr.Row():
                    question = gr.Textbox(placeholder="Ask a question about the articles…", show_label=False,
                                          scale=5, elem_id="question", autofocus=True, lines=1, max_lines=4)
                    send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask-button")
                with gr.Row(elem_id="filters"):
                    since = gr.DateTime(None, include_time=False, type="string", label="Published since",
                                        elem_id="since")
                    until = gr.DateTime(None, include_time=False, type="string", label="Published until",
                                        elem_id="until")
                    outlet = gr.Dropdown([ALL_OUTLETS] + backend.sources(), value=ALL_OUTLETS, label="Outlet",
                                         elem_id="outlet")
                    as_of = gr.DateTime(date.today().isoformat(), include_time=False, type="string",
                                        label="As of (for “this week”)", elem_id="as-of")
            with gr.Column(scale=2):
                sources = gr.HTML(sources_html([], None), elem_id="sources-panel", js_on_load=SOURCES_JS,
                                  max_height=620, padding=True, container=True)
                with gr.Column(visible=False) as article_box:
                    article = gr.HTML("", elem_id="article-view", js_on_load=ARTICLE_JS, padding=False,
                                      container=True)
                    close = gr.Button("Close the article", size="sm", elem_id="close-article")
        with gr.Row(equal_height=False):
            with gr.Column():
                gr.Markdown("### Add articles")
                files = gr.File(label=f"Upload {' '.join(UPLOAD_TYPES)} (up to {settings.max_upload_mb:g} MB each)",
                                file_count="multiple", file_types=UPLOAD_TYPES, elem_id="upload", height=140)
                upload_result = gr.HTML("", elem_id="upload-result")
            with gr.Column():
                gr.Markdown("### Index")
                index = gr.HTML(backend.index_html(), elem_id="index-panel")
                resync_button = gr.Button("Re-sync now", size="sm", elem_id="resync")
                resync_result = gr.HTML("", elem_id="resync-result")

        private = {"api_visibility": "private"}
        ask_outputs = [chatbot, turns, sources, question, article_box]
        ask_inputs = [question, chatbot, turns, since, until, outlet, as_of]
        question.submit(respond, ask_inputs, ask_outputs, **private)
        send.click(respond, ask_inputs, ask_outputs, **private)
        chatbot.select(show_turn, [turns], [sources], **private)
        chatbot.clear(clear_chat, None, [turns, sources, article_box], **private)
        sources.click(open_article, [turns], [article, article_box], **private)
        close.click(lambda: gr.Column(visible=False), None, [article_box], **private)
        files.upload(upload, [files], [upload_result, files], **private)
        resync_button.click(resync, None, [resync_result], **private)
        timer = gr.Timer(POLL_SECONDS)
        timer.tick(tick, [seen], [status, index, outlet, seen], show_progress="hidden", **private)
        demo.load(tick, [seen], [status, index, outlet, seen], show_progress="hidden", **private)
        demo.load(lambda: date.today().isoformat(), None, [as_of], show_progress="hidden", **private)

        # The API: the same JSON as `rag ask --json` and `rag search --json`.
        def api_filters(since, until, source, as_of):
            try:
                return make_filters(since, until, source, as_of)
            except ValueError as e:
                raise gr.Error(str(e)) from None

        def ask(question: str, since: str = "", until: str = "", source: str = "", as_of: str = "",
                k: int = 10) -> dict:
            """Answer a question from the articles: {question, answer, refused, citations, retrieved, ...}."""
            filters = api_filters(since, until, source, as_of)
            chat = backend.wait()
            with backend.query_lock:
                return chat.ask(question, filters=filters, k=int(k) or None).to_json()

        def search(query: str, since: str = "", until: str = "", source: str = "", as_of: str = "",
                   k: int = 10) -> dict:
            """Ranked passages for a query: {query, results: [{rank, score, text, article, start, end}]}."""
            filters = api_filters(since, until, source, as_of)
            chat = backend.wait()
            with backend.query_lock:
                chunks = chat.search(query, filters, int(k) or 10)
            return {"query": query, "results": [c.to_json(i + 1) for i, c in enumerate(chunks)]}

        def status_api() -> dict:
            """What the store holds: {articles, chunks, model, store, ...}."""
            return backend.wait().status()

        gr.api(ask, api_name="ask")
        gr.api(search, api_name="search")
        gr.api(status_api, api_name="status")
    return demo


def serve(settings: Settings, ingest_at_start: bool = True, block: bool = True):
    """Start the web chat. Returns (demo, backend) when `block` is False (tests)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    settings.host = settings.host or "127.0.0.1"
    auth = check_binding(settings)
    backend = Backend(settings)
    demo = build_ui(backend)
    demo.queue(default_concurrency_limit=2)
    if auth:
        print(f"rag: listening on {settings.host}: a login is required (user '{auth[0]}', from RAG_AUTH)",
              flush=True)
    demo.launch(server_name=settings.host, server_port=int(settings.port), auth=auth,
                auth_message="Log in with the user and password from RAG_AUTH." if auth else None,
                prevent_thread_lock=True, show_error=True, max_file_size=f"{settings.max_upload_mb:g}mb",
                footer_links=["api"], theme=make_theme(), css=CSS, js=PAGE_JS, quiet=False)
    threading.Thread(target=backend.start, args=(ingest_at_start,), name="rag-open", daemon=True).start()
    if settings.watch:
        FolderWatcher(backend, Path(settings.watch)).start()
    if not block:
        return demo, backend
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    return demo, backend
