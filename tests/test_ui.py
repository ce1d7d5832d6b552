"""End-to-end tests of the web chat: the real app (`python app.py`) in a subprocess, driven by Chromium.

Needs Debian's chromium (`make browser`); skipped when it is missing. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

from rag.settings import Settings
from rag.ui import safe_name, save_uploads, serve

from processes import free_port, stop, wait_http

PROJECT = Path(__file__).resolve().parent.parent
SEED = PROJECT / "seeds" / "000_11f259bdbcec11cc.txt"
ARTIFACTS = PROJECT / "tests" / "artifacts"
CHROMIUM = os.environ.get("RAG_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

needs_browser = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (run `make browser`)")

HARBOR = """Harbor master warns Port Zephyr lighthouse is failing

The harbor master of Port Zephyr, Ilse Varga, said on Tuesday that the old lighthouse on the north mole must be
rebuilt before winter. "The lamp has failed three times this month and the ferries are navigating blind," Varga
told the town council.

The council agreed to fund a temporary beacon on the breakwater until the lighthouse is repaired.
"""

MARKUP = """Velmora canal festival breaks its record

The Velmora canal festival drew 40,000 visitors on Saturday, organisers said. <script>window.__pwned=1</script>
The organisers said the fireworks over the Velmora canal <img src=x onerror="window.__pwned=1"> were the largest
the festival has ever staged.
"""

WATCHED = """Quarry town elects its first beekeeper mayor

Residents of Brindlecombe elected the beekeeper Tomas Okafor as mayor on Sunday. Okafor promised to plant
wildflower meadows along every road into Brindlecombe and to reopen the old quarry as a public swimming lake.
"""


def app_env() -> dict:
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", ANONYMIZED_TELEMETRY="False",
               RAG_ANSWERER="extractive", PYTHONUNBUFFERED="1")
    for name in ("RAG_AUTH", "RAG_HOST", "RAG_CHROMA_URL", "RAG_EMBEDDING_MODEL", "RAG_WATCH", "RAG_PORT"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """`python app.py` on a free port over a fresh store, a copy of the seed, and a watched folder."""
    root = tmp_path_factory.mktemp("ui")
    articles, watched = root / "articles", root / "watch"
    articles.mkdir()
    watched.mkdir()
    shutil.copy(SEED, articles / SEED.name)
    port = free_port()
    log = root / "app.log"
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(PROJECT / "app.py"), "--store", str(root / "store"), "--port", str(port),
             "--watch", str(watched)],
            cwd=root, env=dict(app_env(), RAG_ARTICLES=str(articles)), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_http(url, proc, log)
        yield {"url": url, "articles": articles, "watch": watched, "root": root, "log": log,
               "page_up": time.monotonic() - started, "started": started}
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} missing (run `make browser`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(app, browser):
    """One page for the whole conversation; every request it makes is recorded."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    pg = context.new_page()
    pg.requests = []
    pg.on("request", lambda r: pg.requests.append(r.url))
    pg.goto(app["url"], wait_until="domcontentloaded")
    pg.wait_for_selector("#status-line .status-ready", timeout=120_000)
    app["ready"] = time.monotonic() - app["started"]
    print(f"\npage up after {app['page_up']:.1f} s, ready (seed ingested) after {app['ready']:.1f} s")
    yield pg
    context.close()


def ask(page, question: str, timeout: float = 60_000) -> str:
    """Ask in the page; returns the text of the new answer once it is complete."""
    before = page.locator("#chat .answer-meta").count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.querySelectorAll('#chat .answer-meta').length > {before}",
                           timeout=timeout)
    return page.locator("#chat [data-testid=bot]").last.inner_text()


def upload(page, *files: Path) -> str:
    page.set_input_files("#upload input[type=file]", [str(f) for f in files])
    done = page.locator("#upload-result [data-result=done]", has_text=", ".join(f.name for f in files))
    done.wait_for(timeout=120_000)
    return page.inner_text("#upload-result")


def squash(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- without a browser

def test_upload_names_cannot_leave_the_folder(tmp_path):
    folder, elsewhere = tmp_path / "articles", tmp_path / "elsewhere"
    elsewhere.mkdir()
    names = ["../../evil.txt", "..\\..\\win.md", "/etc/passwd.json", ".hidden.txt", "a/b/../c.html", "..", "ok.jsonl",
             "bad.exe", "<script>.txt"]
    uploads = []
    for i, name in enumerate(names):
        src = elsewhere / f"u{i}"
        src.write_text("Title\n\nSome text.\n")
        uploads.append(type("Upload", (), {"name": str(src), "orig_name": name})())
    saved, failed = save_uploads(uploads, folder, max_mb=1)
    assert all(p.parent == folder.resolve() for p in saved)
    assert sorted(p.name for p in saved) == sorted(
        ["evil.txt", "win.md", "passwd.json", "hidden.txt", "c.html", "ok.jsonl", "script_.txt"])
    assert {f["path"] for f in failed} == {"article", "bad.exe"}
    assert not any(p.name.startswith(".") for p in folder.iterdir())
    assert safe_name("../../../x.txt") == "x.txt"


def test_refuses_to_listen_off_loopback_without_login(tmp_path, capsys):
    settings = Settings(store_dir=tmp_path / "store", articles_dir=tmp_path, host="0.0.0.0", auth="", chroma_url="")
    with pytest.raises(SystemExit) as refused:
        serve(settings)
    assert "RAG_AUTH" in str(refused.value) and "0.0.0.0" in str(refused.value)
    with pytest.raises(SystemExit):
        serve(Settings(store_dir=tmp_path / "store", host="0.0.0.0", auth="no-colon"))


# ---------------------------------------------------------------- the page

@needs_browser
def test_first_start_syncs_the_seed_and_shows_the_index(app, page):
    assert "1 article, " in page.inner_text("#status-line")
    index = page.inner_text("#index-panel")
    assert re.search(r"Articles\s+1\b", index) and "all-MiniLM-L6-v2" in index and "Last update" in index
    assert "extractive" in page.inner_text("#answerer")
    assert "1 added" in app["log"].read_text()


@needs_browser
def test_answer_cites_the_seed_with_cards_and_the_article_view(app, page):
    started = time.monotonic()
    answer = ask(page, "What did Lukashenko say about sending soldiers?")
    print(f"answer on the seed after {time.monotonic() - started:.2f} s")
    assert "[1]" in answer and "soldiers" in answer
    assert "Filters: as of" in answer  # the active filters, next to the answer
    card = page.locator("#src-0-1")
    quote = card.locator("mark").inner_text()
    assert quote and squash(quote) in squash(answer)
    assert "merkur" in card.inner_text() and "2022-12-20" in card.inner_text()
    page.screenshot(path=str(ARTIFACTS / "answer.png"))

    page.locator("#chat [data-testid=bot]").last.locator("a[href='#src-0-2']").click()
    page.wait_for_selector("#src-0-2.flash", timeout=5000)  # [2] leads to card 2

    card.locator("button.open-article").click()
    mark = page.locator("#article-view mark")
    mark.wait_for(timeout=30_000)
    assert squash(mark.inner_text()) == squash(quote)
    assert "Autocrats among themselves" in page.inner_text("#article-view")  # the whole article
    page.wait_for_function("""() => {
        const m = document.querySelector('#article-view mark').getBoundingClientRect();
        return m.top >= 0 && m.bottom <= window.innerHeight; }""", timeout=15_000)  # scrolled into view
    page.screenshot(path=str(ARTIFACTS / "article.png"))
    page.click("#close-article")
    page.wait_for_selector("#article-view", state="hidden", timeout=30_000)


@needs_browser
def test_follow_up_uses_the_conversation_and_earlier_answers_keep_their_sources(page):
    answer = ask(page, "and what did Peskov say?")
    assert "Peskov" in answer and "searched for" in answer  # the question was searched with the earlier topic
    assert "Sources of answer 2" in page.inner_text("#sources-panel")
    page.locator("#chat [data-testid=bot]").first.click()
    page.wait_for_function(
        "() => document.querySelector('#sources-panel').innerText.includes('Sources of answer 1')", timeout=30_000)


@needs_browser
def test_a_question_the_articles_do_not_cover_is_refused(page):
    answer = ask(page, "Who won the 2018 football World Cup?")
    assert "do not cover" in answer and "widen" in answer and "[1]" not in answer
    panel = page.inner_text("#sources-panel")
    assert "Nothing quoted" in panel and "Who won the 2018 football World Cup?" in panel
    assert page.locator("#sources-panel mark").count() == 0
    page.screenshot(path=str(ARTIFACTS / "refused.png"))


@needs_browser
def test_uploaded_articles_can_be_asked_about_at_once(app, page, tmp_path):
    (tmp_path / "harbor.txt").write_text(HARBOR)
    (tmp_path / "empty.txt").write_text("")
    result = upload(page, tmp_path / "harbor.txt", tmp_path / "empty.txt")
    assert "1 added" in result and "1 failed" in result and "empty.txt" in result and "empty" in result
    assert (app["articles"] / "harbor.txt").read_text() == HARBOR
    page.screenshot(path=str(ARTIFACTS / "upload.png"))

    answer = ask(page, "What did the harbor master of Port Zephyr say about the lighthouse?")
    assert "[1]" in answer
    quote = page.locator("#src-3-1 mark").inner_text()
    assert squash(quote) in squash(HARBOR)
    assert "Port Zephyr" in page.inner_text("#src-3-1 .card-title")


@needs_browser
def test_markup_inside_an_article_is_shown_as_text_and_never_runs(page, tmp_path):
    (tmp_path / "festival.txt").write_text(MARKUP)
    assert "1 added" in upload(page, tmp_path / "festival.txt")
    answer = ask(page, "How many visitors did the Velmora canal festival draw, and what about the fireworks?")
    assert "[1]" in answer
    page.locator("#sources-panel .card button.open-article").first.click()
    page.wait_for_function("() => document.querySelector('#article-view')?.innerText.includes('Velmora')",
                           timeout=30_000)
    shown = page.inner_text("#article-view")
    assert "<script>window.__pwned=1</script>" in shown
    assert '<img src=x onerror="window.__pwned=1">' in shown
    time.sleep(0.5)
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#article-view img, #sources-panel img, #chat img, #article-view script").count() == 0
    page.screenshot(path=str(ARTIFACTS / "markup.png"))


@needs_browser
def test_watched_folder_is_synced_and_the_api_answers_in_the_cli_shapes(app, page):
    from gradio_client import Client

    (app["watch"] / "mayor.txt").write_text(WATCHED)
    page.wait_for_function(
        "() => /Articles\\s+4\\b/.test(document.querySelector('#index-panel').innerText)", timeout=30_000)
    # download_files=False: otherwise gradio_client takes every {"path": ...} in the JSON for a file to fetch
    client = Client(app["url"], verbose=False, download_files=False)
    result = client.predict(question="What did the beekeeper mayor of Brindlecombe promise?", api_name="/ask")
    assert {"question", "answer", "refused", "citations", "retrieved"} <= set(result)
    assert not result["refused"] and result["citations"]
    citation = result["citations"][0]
    assert {"n", "quote", "article", "start", "end"} <= set(citation)
    assert citation["article"]["path"].endswith("mayor.txt") and squash(citation["quote"]) in squash(WATCHED)
    found = client.predict(query="Port Zephyr lighthouse", k=3, api_name="/search")
    assert found["query"] == "Port Zephyr lighthouse" and 1 <= len(found["results"]) <= 3
    first = found["results"][0]
    assert {"rank", "score", "text", "article", "start", "end"} <= set(first) and first["rank"] == 1
    assert client.predict(api_name="/status")["articles"] == 4


@needs_browser
def test_filters_in_the_page_narrow_the_search(page):
    page.click("#outlet input")
    page.get_by_role("option", name="merkur").click()  # the outlets come from the store
    page.fill("#since input", "2023-01-01")
    page.press("#since input", "Enter")
    answer = ask(page, "What did Lukashenko say about sending soldiers?")
    assert "do not cover" in answer and "published 2023-01-01 to …, outlet merkur" in answer
    page.fill("#since input", "")
    page.press("#since input", "Enter")
    answer = ask(page, "What did Lukashenko say about sending soldiers?")
    assert "[1]" in answer and "Filters: outlet merkur, as of" in answer


@needs_browser
def test_the_page_asks_nothing_from_outside_the_machine(app, page):
    page.screenshot(path=str(ARTIFACTS / "page.png"), full_page=True)
    outside = [u for u in page.requests if urlparse(u).hostname not in ("127.0.0.1", "localhost")
               and not u.startswith(("data:", "blob:"))]
    assert page.requests and not outside


@needs_browser
def test_off_loopback_the_page_requires_the_login(browser, tmp_path):
    port = free_port()
    log = tmp_path / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(PROJECT / "app.py"), "--host", "0.0.0.0", "--port", str(port), "--no-ingest",
             "--store", str(tmp_path / "store")],
            cwd=tmp_path, env=dict(app_env(), RAG_AUTH="reader:s3cret", RAG_ARTICLES=str(tmp_path)),
            stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/", proc, log)
        assert "login is required" in log.read_text()
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=5)
        context = browser.new_context()
        pg = context.new_page()
        pg.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
        pg.wait_for_selector("input[type=password]", timeout=30_000)
        pg.fill("input[type=text]", "reader")
        pg.fill("input[type=password]", "s3cret")
        pg.keyboard.press("Enter")
        pg.wait_for_selector("#question textarea", timeout=30_000)
        context.close()
    finally:
        stop(proc)
