"""End-to-end tests of the web chat: the real app (`python app.py`) in a subprocess, driven by Chromium.

Each test opens its own page (a new browser context), so none depends on another's conversation; a
test that adds articles adds its own and asserts only about them. Needs Debian's chromium
(`make browser`); skipped when it is missing. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote_plus, urlparse

import pytest

from news_fixtures import BRIDGE, write_corpus
from processes import free_port, stop, wait_http
from rag.following import FollowedFeeds
from rag.models import Feed
from rag.settings import OFFLINE_ENVIRONMENT
from rag.web.app import CONVERSATION_KEY

PROJECT = Path(__file__).resolve().parent.parent
SEED = PROJECT / "seeds" / "000_11f259bdbcec11cc.txt"
ARTIFACTS = PROJECT / "tests" / "artifacts"
CHROMIUM = os.environ.get("RAG_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
AXE = PROJECT / "node_modules" / "axe-core" / "axe.min.js"
SOLDIERS = "What did Lukashenko say about sending soldiers?"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing (run `make browser`)")

HARBOR = """Harbor master warns Port Zephyr lighthouse is failing

The harbor master of Port Zephyr, Ilse Varga, said on Tuesday that the old lighthouse on the north mole must be
rebuilt before winter. "The lamp has failed three times this month and the ferries are navigating blind," Varga
told the town council.

The council agreed to fund a temporary beacon on the breakwater until the lighthouse is repaired.
"""
OTHER_HARBOR = """Harbor festival draws sailors to Kelp Bay

Hundreds of sailors came to Kelp Bay for the harbor festival, where the oldest schooner won the regatta.
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

# One story in two articles (two sources, two cards); the second quotes with a bracketed reference number
# of its own, as Wikipedia's articles do.
TRAM_CLOSED = """Quillmere tram bridge closed after cracks are found

Engineers closed the Quillmere tram bridge on Monday after cracks were found in two of its piers. "We cannot
risk a single tram on it," the city engineer, Marta Kolb, said.
"""
TRAM_REPAIRS = """Quillmere council pays for the tram bridge repairs

The Quillmere city council voted on Thursday to pay for repairs to the tram bridge,[2] the first since 1961.
The mayor, Otto Brenn, said trams would cross the bridge again by December.
"""
TRAM = "What happened to the Quillmere tram bridge?"
TRAM_AGAIN = "When will trams cross the Quillmere bridge again?"


def app_env() -> dict:
    env = dict(os.environ, **OFFLINE_ENVIRONMENT, RAG_ANSWERER="extractive", PYTHONUNBUFFERED="1")
    for name in ("RAG_AUTH", "RAG_HOST", "RAG_CHROMA_URL", "RAG_DATABASE_URL", "RAG_EMBEDDING_MODEL", "RAG_WATCH",
                 "RAG_WATCH_ARTICLES", "RAG_PORT", "RAG_EMBEDDING_VARIANT"):
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
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(app, browser, path: str = "", width: int = 1400, height: int = 950, dark: bool = False):
    context = browser.new_context(viewport={"width": width, "height": height},
                                  color_scheme="dark" if dark else "light")
    page = context.new_page()
    page.requests = []
    page.on("request", lambda r: page.requests.append(r.url))
    page.goto(app["url"] + path, wait_until="domcontentloaded")
    page.wait_for_selector("#status-line .status-ready", timeout=180_000)
    return page


def wait_for_first_sync(app, browser) -> None:
    """Before opening a question link (it asks as the page loads): the seed is indexed, so the link is
    answered and not told "still indexing" when a test runs alone."""
    open_page(app, browser).context.close()


@pytest.fixture
def page(app, browser):
    """A fresh page (its own conversation) on the running app."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg = open_page(app, browser)
    yield pg
    pg.context.close()


@pytest.fixture(scope="module")
def tram_bridge(app):
    """The tram bridge's two articles (TRAM_CLOSED, TRAM_REPAIRS) in the articles folder, synced."""
    from gradio_client import Client

    (app["articles"] / "tram-closed.txt").write_text(TRAM_CLOSED)
    (app["articles"] / "tram-repairs.txt").write_text(TRAM_REPAIRS)
    client = Client(app["url"], verbose=False, download_files=False)

    def synced() -> bool:
        try:
            results = client.predict(query="Quillmere tram bridge", k=4, api_name="/search")["results"]
        except Exception:  # (the store still opening)
            return False
        return len({r["article"]["path"] for r in results if "Quillmere" in r["text"]}) == 2

    deadline = time.monotonic() + 60
    while not synced():
        assert time.monotonic() < deadline, "the tram bridge's articles were not synced within a minute"
        time.sleep(0.5)


def ask(page, question: str, timeout: float = 60_000) -> str:
    """Ask in the page; returns the text of the new answer once it is complete."""
    before = page.locator("#chat .answer-meta").count()
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.querySelectorAll('#chat .answer-meta').length > {before}",
                           timeout=timeout)
    return page.locator("#chat [data-testid=bot]").last.inner_text()


def upload(page, *files: Path) -> str:
    """Upload in the page; returns the result of this upload (not the one an earlier upload left there)."""
    done = "#upload-result [data-result=done]"
    before = page.inner_text(done) if page.locator(done).count() else ""
    page.set_input_files("#upload input[type=file]", [str(f) for f in files])
    names = ", ".join(f.name for f in files)
    page.wait_for_function(
        """([selector, names, before]) => {
            const done = document.querySelector(selector);
            return done && done.innerText.includes(names) && done.innerText !== before;
        }""", arg=[done, names, before], timeout=120_000)
    return page.inner_text("#upload-result")


def squash(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- answers, cards, articles

def test_first_start_syncs_the_seed_and_shows_the_index(app, page):
    assert "Ready:" in page.inner_text("#status-line")
    index = page.inner_text("#index-panel")
    assert "all-MiniLM-L6-v2" in index and "Last update" in index
    assert "extractive" in page.inner_text("#answerer")
    assert "1 added" in app["log"].read_text()
    print(f"\npage up after {app['page_up']:.1f} s")


def later_quote(page, card_id: str):
    """A [n] of the last answer whose quote is not the one its source's card opens the article at when
    no [n] led to it (the source's first cited in the answer), and its citation's n."""
    first = page.locator(f"#{card_id}").get_attribute("data-n")
    for cite in page.locator("#chat [data-testid=bot]").last.locator("a.cite").all():
        n = parse_qs(urlparse(cite.get_attribute("href")).query)["cite"][0].split("-")[1]
        if n != first:
            return cite, n
    pytest.fail("every [n] of the answer cites its card's first quote: nothing to open at another one")


def test_answer_cites_the_seed_with_cards_and_the_article_view(page):
    started = time.monotonic()
    answer = ask(page, SOLDIERS)
    print(f"\nanswer on the seed after {time.monotonic() - started:.2f} s")
    assert "[1]" in answer and "soldiers" in answer
    assert "Answer 1 · Filters: as of" in answer  # numbered as the sources panel names it, with the active filters
    card = page.locator("#src-0-1")
    quotes = [squash(q) for q in card.locator("mark").all_inner_texts()]
    assert quotes and all(q in squash(answer) for q in quotes)
    # the seed is one article: however many of its sentences are quoted, it is source [1] with one card
    assert page.locator("#sources-panel .card").count() == 1
    markers = page.locator("#chat [data-testid=bot]").last.locator("a.cite").all_inner_texts()
    assert len(markers) == len(quotes) and {m.split("]")[0] + "]" for m in markers} == {"[1]"}
    assert "merkur" in card.inner_text() and "2022-12-20" in card.inner_text()
    # a screen reader names the answer by its words (Gradio named it by its HTML: "<a class=cite ...")
    names = page.locator("#chat [aria-label]").evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    assert any(n.startswith("Answer: ") and "Lukashenko" in n for n in names) and not any("<" in n for n in names), names
    panel = page.inner_text("#sources-panel")  # the seed's intertitle does not run into the next sentence
    assert "Ukraine invasion\nAccording to him" in panel and "invasion According" not in panel
    page.screenshot(path=str(ARTIFACTS / "answer.png"))

    cite, _ = later_quote(page, "src-0-1")  # (not its card's first: where its article opens, below)
    cite.hover()
    page.locator(".cite-popover").wait_for(timeout=10_000)
    cite.click()
    page.locator("#sources-panel .card.flash").wait_for(timeout=10_000)  # [n] leads to its card,
    assert page.locator(".cite-popover").count() == 0  # not hidden under the popover,
    n = cite.inner_text().strip("[]").split("]")[0]
    focused = page.evaluate("() => document.activeElement.id")
    assert focused == f"src-0-{n}"  # and the keyboard goes on from the card
    page.wait_for_timeout(2000)
    assert page.locator(f"#src-0-{n}.flash").count() == 1  # marked while the reader is on it (it went in 1.5 s)
    quoted = parse_qs(urlparse(cite.get_attribute("href")).query)["cite"][0].split("-")[1]
    assert page.locator(f"#src-0-{n} mark.current").get_attribute("data-n") == quoted  # its own words picked out
    page.keyboard.press("Escape")  # and Escape goes back to the [n], as a reference list's backlink does
    assert page.evaluate("() => document.activeElement.classList.contains('cite')")
    page.evaluate("() => document.activeElement.blur()")
    back = page.locator(f"#src-0-{n} button.back-to-answer")  # so does a button, for a mouse or a finger
    assert back.inner_text() == f"Back to [{n}] in the answer"
    back.click()
    assert page.evaluate("() => document.activeElement.classList.contains('cite')")
    assert page.locator(".cite-popover").count() == 0 and page.locator("mark.current").count() == 0

    card.locator("button.open-article").click()
    mark = page.locator("#article-view mark").first
    mark.wait_for(timeout=30_000)
    assert [squash(m) for m in page.locator("#article-view mark").all_inner_texts()] == quotes  # every quote of it
    assert "Autocrats among themselves" in page.inner_text("#article-view")  # the whole article
    # shown at the quote the reader came from (the last [n], not the article's first quote)
    assert squash(page.locator("#article-view mark#quote").inner_text()) == \
        squash(card.locator(f"mark[data-n='{quoted}']").inner_text())
    page.wait_for_function("""() => {
        const m = document.querySelector('#article-view mark#quote').getBoundingClientRect();
        const box = document.querySelector('#article-view .article-body').getBoundingClientRect();
        return m.top >= 0 && m.bottom <= window.innerHeight && m.top >= box.top && m.bottom <= box.bottom;
        }""", timeout=15_000)  # scrolled into view, inside the article's own box
    assert page.locator("#article-view .article-body").get_attribute("tabindex") == "0"  # the keyboard scrolls it
    page.click("#close-article")
    page.wait_for_selector("#article-view", state="hidden", timeout=30_000)
    # the keyboard goes on from the card's button that opened it, not from the page's top
    page.wait_for_function("() => document.activeElement.classList.contains('open-article')", timeout=5_000)


def test_citation_popover_on_hover_and_keyboard_focus(page):
    answer = ask(page, SOLDIERS)
    assert "[1]" in answer
    marker = page.locator("#chat a.cite").first
    marker.hover()
    popover = page.locator(".cite-popover")
    popover.wait_for(timeout=10_000)
    text = popover.inner_text()
    assert "merkur" in text and "2022-12-20" in text and "Open the whole article" in text
    # this quote, in the words around it, and one of those its source's card marks
    assert squash(popover.locator("mark").inner_text()) in [squash(m) for m in page.locator("#src-0-1 mark").all_inner_texts()]
    line, box = marker.bounding_box(), popover.bounding_box()
    assert box["y"] >= line["y"] + line["height"] - 1 or box["y"] + box["height"] <= line["y"] + 1  # not over the line
    page.screenshot(path=str(ARTIFACTS / "popover.png"))
    page.keyboard.press("Escape")  # Escape closes a popover opened by the mouse too, and it stays closed
    popover.wait_for(state="detached", timeout=5_000)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert popover.count() == 0
    page.mouse.move(5, 5)
    marker.hover()
    popover.wait_for(timeout=5_000)
    page.mouse.move(5, 5)
    popover.wait_for(state="detached", timeout=5_000)

    marker.focus()  # the keyboard: focus shows it, Escape closes it
    popover.wait_for(timeout=5_000)
    assert marker.get_attribute("aria-describedby") == "cite-popover"
    page.keyboard.press("Escape")
    popover.wait_for(state="detached", timeout=5_000)
    inside = "() => !!document.activeElement.closest('.cite-popover')"
    page.evaluate("() => document.activeElement.blur()")
    marker.focus()  # Tab goes into the popover (it sits at the end of the page), Shift+Tab back to the [n]
    popover.wait_for(timeout=5_000)
    page.keyboard.press("Tab")
    assert page.evaluate(inside) and page.evaluate("() => document.activeElement.textContent") == "Open the whole article"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("() => document.activeElement.classList.contains('cite')") and popover.count() == 1
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # and on to what follows the [n] (here the next [n], with its own popover)
    assert not page.evaluate(inside) and page.evaluate("() => document.activeElement !== document.body")
    assert marker.get_attribute("aria-describedby") is None
    assert page.evaluate("() => document.activeElement.textContent").startswith(("[", "link to this question"))


def test_back_to_the_answer_leads_only_to_the_citation_followed_last(page, tram_bridge):
    # Each card a [n] had led to kept its "Back to [n]", and Escape's way back outlived the answer: with
    # answer 2's sources shown, Escape in them jumped to a [n] of answer 1.
    ask(page, TRAM)
    cites = page.locator("#chat [data-testid=bot]").last.locator("a.cite")
    back = page.locator("button.back-to-answer")
    cites.filter(has_text="[1]").first.click()
    page.locator("#src-0-1 button.back-to-answer").wait_for(timeout=10_000)
    cites.filter(has_text="[2]").first.click()
    page.locator("#src-0-2 button.back-to-answer").wait_for(timeout=10_000)
    assert back.count() == 1 and back.inner_text() == "Back to [2] in the answer"  # card [1]'s went
    page.screenshot(path=str(ARTIFACTS / "back-to-answer.png"))
    back.click()
    assert page.evaluate("() => document.activeElement.textContent").startswith("[2]")
    ask(page, TRAM_AGAIN)
    page.wait_for_function("() => document.querySelector('#sources-panel').innerText.includes('Sources of answer 2')",
                           timeout=10_000)
    assert back.count() == 0  # answer 2's sources lead back to nothing of answer 1, by button or by Escape
    page.focus("#sources-panel .card button.open-article")
    page.keyboard.press("Escape")
    assert page.evaluate("() => document.activeElement.classList.contains('open-article')")


def test_the_article_has_its_own_address_with_the_quote_in_view(page):
    ask(page, SOLDIERS)
    with page.context.expect_page() as opened:
        page.locator("#src-0-1 a.article-page").click()
    article = opened.value
    article.wait_for_load_state("domcontentloaded")
    assert urlparse(article.url).path.startswith("/article/") and "quote=" in article.url
    mark = article.locator("mark#quote")  # at the source's quote that the answer cites first
    first = page.locator("#src-0-1").get_attribute("data-n")
    assert squash(mark.inner_text()) == squash(page.locator(f"#src-0-1 mark[data-n='{first}']").inner_text())
    # come to the card from a later quote's [n], the article opens at that quote
    cite, quoted = later_quote(page, "src-0-1")
    cite.click()
    page.locator("#src-0-1.flash").wait_for(timeout=10_000)
    with page.context.expect_page() as reopened:
        page.locator("#src-0-1 a.article-page").click()
    at_quote = reopened.value
    at_quote.wait_for_load_state("domcontentloaded")
    came_from = squash(page.locator(f"#src-0-1 mark[data-n='{quoted}']").inner_text())
    assert squash(at_quote.locator("mark#quote").inner_text()) == came_from
    assert at_quote.locator("mark").count() == page.locator("#src-0-1 mark").count()  # every quote still marked
    at_quote.close()
    assert article.locator("mark").count() == page.locator("#src-0-1 mark").count()  # each quote of it marked
    article.wait_for_function("""() => { const m = document.querySelector('mark#quote').getBoundingClientRect();
                                 return m.top >= 0 && m.bottom <= window.innerHeight; }""", timeout=10_000)
    assert "Autocrats among themselves" in article.inner_text("main")
    article.screenshot(path=str(ARTIFACTS / "article-page.png"))
    with urllib.request.urlopen(article.url) as response:  # the same address works on its own (a bookmark)
        assert "<mark id='quote'>" in response.read().decode()


def test_a_question_can_be_linked_with_its_filters(app, browser):
    wait_for_first_sync(app, browser)
    link = f"?q={quote(SOLDIERS)}&outlet=merkur&since=2022-01-01"
    page = open_page(app, browser, link)
    try:
        page.wait_for_function("() => document.querySelectorAll('#chat .answer-meta').length > 0", timeout=60_000)
        answer = page.locator("#chat [data-testid=bot]").last.inner_text()
        assert "[1]" in answer and "outlet merkur" in answer and "2022-01-01" in answer
        href = page.locator("#chat a.question-link").last.get_attribute("href")
        assert "q=" in href and "outlet=merkur" in href  # and the answer offers its own link
    finally:
        page.context.close()


def test_a_follow_ups_link_shows_the_conversation_it_follows(app, browser):
    # A follow-up's link asked its search words alone ("and what did Peskov say? (Lukashenko ...)") as the
    # question, and its answer differed from the one the sender saw (the page tester).
    page = open_page(app, browser)
    try:
        ask(page, SOLDIERS)
        ask(page, "and what did Peskov say?")
        follow_up = ask(page, "and what did Putin say?")
        href = page.locator("#chat a.question-link").last.get_attribute("href")
    finally:
        page.context.close()
    linked = open_page(app, browser, href.lstrip("/"))
    try:
        linked.wait_for_function("() => document.querySelectorAll('#chat .answer-meta').length === 3", timeout=60_000)
        asked = [squash(q) for q in linked.locator("#chat [data-testid=user]").all_inner_texts()]
        assert asked == [SOLDIERS, "and what did Peskov say?", "and what did Putin say?"]
        assert squash(linked.locator("#chat [data-testid=bot]").last.inner_text()) == squash(follow_up)
        links = linked.locator("#chat a.question-link")  # (the replayed follow-up's own link goes on from it too)
        assert "earlier=" in links.nth(1).get_attribute("href") and "earlier=" in links.nth(2).get_attribute("href")
    finally:
        linked.context.close()
    bare = open_page(app, browser, "?earlier=" + quote(SOLDIERS))  # (the review) no question: nothing is asked
    try:
        bare.wait_for_timeout(3000)
        assert bare.locator("#chat .answer-meta").count() == 0
    finally:
        bare.context.close()


def test_follow_up_uses_the_conversation_and_earlier_answers_keep_their_sources(page):
    ask(page, SOLDIERS)
    answer = ask(page, "and what did Peskov say?")
    assert "Peskov" in answer and "searched for" in answer  # searched with the earlier topic
    link = unquote_plus(page.locator("#chat a.question-link").last.get_attribute("href"))
    assert "Peskov" in link and "Lukashenko" in link  # the link asks what was searched, not the bare follow-up
    assert "Sources of answer 2" in page.inner_text("#sources-panel")
    marked = "() => [...document.querySelectorAll('#chat [data-testid=bot]')].map(m => m.classList.contains('showing-sources'))"
    assert page.evaluate(marked) == [False, True]  # the chat marks the answer whose sources are shown
    page.locator("#sources-panel .card button.open-article").first.click()  # answer 2's source, opened
    page.locator("#article-view mark").first.wait_for(timeout=30_000)
    page.locator("#chat [data-testid=bot]").first.click()
    page.wait_for_function(
        "() => document.querySelector('#sources-panel').innerText.includes('Sources of answer 1')", timeout=30_000)
    # the article panel closes: under answer 1's numbers it read as answer 1's source
    page.wait_for_selector("#article-view", state="hidden", timeout=30_000)
    page.wait_for_timeout(300)
    assert page.evaluate(marked) == [True, False]


def test_a_reload_brings_the_conversation_back(page):
    # A reload lost the whole conversation: its answers, their sources, and the topic a follow-up goes on from.
    ask(page, SOLDIERS)
    page.wait_for_timeout(500)  # (the turns are kept in the browser once the answer is complete)
    page.reload(wait_until="domcontentloaded")
    page.wait_for_function("() => document.querySelectorAll('#chat .answer-meta').length === 1", timeout=60_000)
    answer = page.locator("#chat [data-testid=bot]").last
    assert "35,000 to 40,000 men" in answer.inner_text() and answer.locator("a.cite").count() > 0
    assert "Sources of answer 1" in page.inner_text("#sources-panel")
    answer.locator("a.cite").first.hover()  # its citations' popovers too
    page.locator(".cite-popover").wait_for(timeout=10_000)
    follow_up = ask(page, "and what did Peskov say?")
    assert "Peskov" in follow_up and "searched for" in follow_up  # searched with the earlier topic
    page.wait_for_timeout(500)
    # a question's link opened in the same browser starts a conversation of its own (no follow-up of this one)
    page.goto(page.url.split("?")[0] + "?q=" + quote("What did Lukashenko say about sending soldiers?"),
              wait_until="domcontentloaded")
    page.wait_for_function("() => document.querySelectorAll('#chat .answer-meta').length > 0", timeout=60_000)
    page.wait_for_timeout(1000)
    assert page.locator("#chat .answer-meta").count() == 1
    page.goto(page.url.split("?")[0], wait_until="domcontentloaded")  # nor replaces the one kept for the page
    page.wait_for_function("() => document.querySelectorAll('#chat .answer-meta').length === 2", timeout=60_000)
    page.locator("#chat button[aria-label='Clear']").first.click()  # and a cleared chat stays cleared
    page.wait_for_function("() => document.querySelectorAll('#chat .answer-meta').length === 0", timeout=30_000)
    page.wait_for_timeout(500)
    page.goto(page.url.split("?")[0], wait_until="domcontentloaded")  # (the link would ask again)
    page.wait_for_selector("#status-line .status-ready", timeout=60_000)
    page.wait_for_timeout(1500)
    assert page.locator("#chat .answer-meta").count() == 0


def test_each_tab_keeps_its_own_conversation(app, browser):
    # One conversation was kept for the whole address: a second tab opened on the first one's, and its Clear
    # (or its questions) replaced the first tab's for good.
    answers = "() => document.querySelectorAll('#chat .answer-meta').length"
    first = open_page(app, browser)
    try:
        ask(first, SOLDIERS)
        first.wait_for_timeout(500)
        second = first.context.new_page()  # (the same browser: the same localStorage)
        second.goto(app["url"], wait_until="domcontentloaded")
        second.wait_for_function(f"{answers} === 1", timeout=60_000)  # a new tab goes on from it
        second.locator("#chat button[aria-label='Clear']").first.click()
        second.wait_for_function(f"{answers} === 0", timeout=30_000)
        second.wait_for_timeout(500)
        first.reload(wait_until="domcontentloaded")
        first.wait_for_function(f"{answers} === 1", timeout=60_000)
        second.reload(wait_until="domcontentloaded")
        second.wait_for_selector("#status-line .status-ready", timeout=60_000)
        second.wait_for_timeout(1500)
        assert second.locator("#chat .answer-meta").count() == 0
        # a tab the browser duplicates has its original's id (sessionStorage is copied): it takes its own
        second.evaluate("id => sessionStorage.setItem('news-chat-tab', id)",
                        first.evaluate("() => sessionStorage.getItem('news-chat-tab')"))
        second.reload(wait_until="domcontentloaded")
        second.wait_for_function(f"{answers} === 1", timeout=60_000)  # (a copy of the first tab's)
        second.wait_for_timeout(1000)
        second.locator("#chat button[aria-label='Clear']").first.click()
        second.wait_for_function(f"{answers} === 0", timeout=30_000)
        second.wait_for_timeout(500)
        first.reload(wait_until="domcontentloaded")
        first.wait_for_function(f"{answers} === 1", timeout=60_000)
        # Tabs opened and left (never asked in, nor cleared) do not count among the ten conversations kept
        # (tabs.js's KEEP): every tab opened was filed (Gradio writes back what it read as a page loads), and
        # ten such tabs dropped the first tab's conversation; its reload showed the latest, another tab's.
        army = "How big is the Belarusian army, according to Lukashenko?"
        ask(second, army)  # the latest conversation, which a new tab shows
        second.wait_for_timeout(500)
        first.context.add_init_script(WRITTEN_BACK.replace("KEY", json.dumps(CONVERSATION_KEY)))
        for _ in range(10):
            idle = first.context.new_page()
            idle.goto(app["url"], wait_until="commit")
            idle.wait_for_function("() => window.writtenBack", timeout=60_000)
            idle.close()  # (an open page holds a connection: the browser opens six at most to the app)
        first.reload(wait_until="domcontentloaded")
        first.wait_for_function(f"{answers} === 1", timeout=60_000)
        first.wait_for_timeout(500)
        asked = first.locator("#chat [data-testid=user]").all_inner_texts()
        assert [squash(q) for q in asked] == [SOLDIERS]
    finally:
        first.context.close()


# Sets window.writtenBack once the page has written its conversation to the browser's storage (gr.BrowserState,
# under KEY; tabs.js files it).
WRITTEN_BACK = """(() => {
    const setItem = Storage.prototype.setItem;
    Storage.prototype.setItem = function (key, value) {
        if (this === window.localStorage && key === KEY) window.writtenBack = true;
        return setItem.call(this, key, value);
    };
})()"""


# The panel's scrolled boxes, from the sources up to the panel: scrolled to their ends, how far each went.
SCROLL_SOURCES_DOWN = """() => {
    const moved = [];
    for (let box = document.querySelector('#sources-panel .sources'); box; box = box.parentElement) {
        box.scrollTop = box.scrollHeight;
        moved.push(box.scrollTop);
        if (box.id === 'sources-panel') break;
    }
    return Math.max(...moved); }"""


def test_a_question_the_articles_do_not_answer_is_refused_with_related_reading(app, browser):
    page = open_page(app, browser, width=900, height=900)  # a panel narrow enough to scroll
    ask(page, SOLDIERS)
    assert page.evaluate(SCROLL_SOURCES_DOWN) > 0  # this answer's sources read down to the last card
    answer = ask(page, "Who won the 2018 football World Cup?")
    assert "do not answer" in answer and "[1]" not in answer
    bots = page.locator("#chat [data-testid=bot]")  # the refusal is marked apart from the answer before it
    assert bots.last.locator(".not-answered").inner_text() == "Not answered by the articles"
    assert bots.first.locator(".not-answered").count() == 0
    panel = page.inner_text("#sources-panel")
    assert "Nothing quoted" in panel and "Who won the 2018 football World Cup?" in panel
    assert "not an answer" in panel  # what is listed is labelled related reading (its italics explained),
    assert "the sentences nearest the question in italics" in panel
    page.wait_for_function("""() => {  // and is seen from its head: the new sources start at the top
        const head = document.querySelector('#sources-panel .sources-head').getBoundingClientRect();
        const panel = document.querySelector('#sources-panel').getBoundingClientRect();
        return head.top >= panel.top - 1; }""", timeout=10_000)
    related = page.locator("#sources-panel .card.related")
    assert related.count() > 0 and related.locator("mark").count() == 0  # nothing in it looks like a quote
    related.first.locator("button.open-article").click()  # nor in its whole article: underlined, with a note
    page.locator("#article-view mark").first.wait_for(timeout=30_000)
    assert page.locator("#article-view mark:not(.nearest)").count() == 0
    assert page.locator("#article-view mark.nearest").first.evaluate("m => getComputedStyle(m).backgroundColor") \
        == "rgba(0, 0, 0, 0)"
    assert "Related reading, not an answer" in page.inner_text("#article-view")
    own_page = related.first.locator("a.article-page").get_attribute("href")
    assert "related=1" in own_page
    page.screenshot(path=str(ARTIFACTS / "related-article.png"))
    page.screenshot(path=str(ARTIFACTS / "refused.png"))
    page.context.close()


def test_a_long_question_does_not_push_the_sources_out_of_view(page):
    question = SOLDIERS + " " + " ".join(["And please say which units they were, where they were sent, and who"
                                          " announced it first, with the date of that announcement."] * 5)
    ask(page, question)
    title = page.locator("#sources-panel .sources-title")
    assert title.get_attribute("title") == question  # the whole question on hover
    assert title.bounding_box()["height"] < 3 * 24  # two lines of it, not ten
    page.screenshot(path=str(ARTIFACTS / "long-question.png"))


def test_copy_as_markdown_gives_the_answer_with_numbered_sources(page):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    ask(page, SOLDIERS)
    page.click("#sources-panel button.copy-md")
    page.wait_for_function("() => document.querySelector('#sources-panel button.copy-md').innerText === 'Copied'")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied.startswith(f"**{SOLDIERS}**") and "[1]" in copied
    assert "\n1. US analysts claim that Putin rigorously rebuffed two plans from Lukashenko, merkur, 2022-12-20\n" in copied
    assert "[2]" not in copied and "\n2. " not in copied  # the seed's quotes all cite its one article, source 1
    # the answer selected and copied as it reads: "[1]", without the screen reader's "source: ..." glued on
    page.locator("#chat [data-testid=bot]").last.locator("a.cite").first.scroll_into_view_if_needed()
    page.evaluate("""() => { const range = document.createRange();
        range.selectNodeContents(document.querySelector('#chat [data-testid=bot]:last-of-type .cite').parentElement);
        getSelection().removeAllRanges(); getSelection().addRange(range); document.execCommand('copy'); }""")
    selected = page.evaluate("() => navigator.clipboard.readText()")
    assert "[1]" in selected and "source:" not in selected, selected


def test_copy_as_markdown_tells_a_quotes_own_bracketed_number_from_the_citations(page, tram_bridge):
    # A quote's own "[2]" (the article's reference number) was copied bare: pasted, it read as a citation
    # of source 2, the other article.
    from markdown_it import MarkdownIt

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    ask(page, TRAM_AGAIN)
    page.click("#sources-panel button.copy-md")
    page.wait_for_function("() => document.querySelector('#sources-panel button.copy-md').innerText === 'Copied'")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "to the tram bridge,\\[2\\] the first since 1961." in copied, copied
    sources = re.findall(r"^(\d+)\. ", copied, re.M)
    markers = re.findall(r"(?<!\\)\[(\d+)\]", copied)  # the bare [k]: the answer's citations, and only they
    assert "2" in sources and len(markers) == page.locator("#chat [data-testid=bot]").last.locator("a.cite").count()
    assert "to the tram bridge,[2] the first since 1961." in MarkdownIt().render(copied)  # shown as the article has it


# ---------------------------------------------------------------- adding articles

def test_uploaded_articles_can_be_asked_about_at_once(app, page, tmp_path):
    (tmp_path / "harbor.txt").write_text(HARBOR)
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.4 a scanned page")  # named in the result, not a passing toast
    result = upload(page, tmp_path / "harbor.txt", tmp_path / "empty.txt", tmp_path / "scan.pdf")
    assert "1 added" in result and "2 failed" in result and "empty.txt" in result and "empty" in result
    assert result.count("scan.pdf: unsupported file type") == 1  # (listed once, not in the counts' line too)
    assert (app["articles"] / "harbor.txt").read_text() == HARBOR
    # a file rejected whole is not left in the folder to fail again at every later sync
    assert "not kept" in result and not (app["articles"] / "empty.txt").exists()
    page.screenshot(path=str(ARTIFACTS / "upload.png"))

    answer = ask(page, "What did the harbor master of Port Zephyr say about the lighthouse?")
    assert "[1]" in answer
    assert squash(page.locator("#src-0-1 mark").first.inner_text()) in squash(HARBOR)
    assert "Port Zephyr" in page.inner_text("#src-0-1 .card-title")


def test_a_file_over_the_upload_limit_is_named_and_the_others_are_saved(app, page, tmp_path):
    # Gradio refused the whole upload when one file was over the limit: "File(s) exceed the maximum allowed
    # size", and the good file beside it was not saved either (a tester).
    (tmp_path / "huge.txt").write_text("Filler text about nothing in particular.\n" * 290_000)  # about 11.9 MB
    (tmp_path / "kites.md").write_text("# Kite festival draws crowds\n\nThe Brindle kite festival drew 4,000 "
                                       "visitors on Saturday, organisers said.\n")
    result = upload(page, tmp_path / "huge.txt", tmp_path / "kites.md")
    assert "1 added" in result and "huge.txt" in result and "over the 10 MB upload limit" in result, result
    assert (app["articles"] / "kites.md").exists() and not (app["articles"] / "huge.txt").exists()


def test_an_upload_never_replaces_a_different_file_of_the_same_name(app, page, tmp_path):
    (app["articles"] / "festival.txt").write_text(OTHER_HARBOR)  # the user's own file, already there
    (tmp_path / "festival.txt").write_text(HARBOR.replace("Port Zephyr", "Port Quillon"))
    result = upload(page, tmp_path / "festival.txt")
    assert "saved as festival-2.txt" in result
    assert (app["articles"] / "festival.txt").read_text() == OTHER_HARBOR
    assert "Port Quillon" in (app["articles"] / "festival-2.txt").read_text()
    again = upload(page, tmp_path / "festival.txt")  # the same bytes a second time: nothing new
    assert "0 added, 0 updated" in again and not (app["articles"] / "festival-3.txt").exists()


def test_markup_inside_an_article_is_shown_as_text_and_never_runs(page, tmp_path):
    (tmp_path / "canal.txt").write_text(MARKUP)
    assert "1 added" in upload(page, tmp_path / "canal.txt")
    answer = ask(page, "How many visitors did the Velmora canal festival draw, and what about the fireworks?")
    assert "[1]" in answer
    page.locator("#sources-panel .card button.open-article").first.click()
    page.wait_for_function("() => document.querySelector('#article-view')?.innerText.includes('Velmora')",
                           timeout=30_000)
    shown = page.inner_text("#article-view")
    assert "<script>window.__pwned=1</script>" in shown
    assert '<img src=x onerror="window.__pwned=1">' in shown
    page.locator("#chat a.cite").first.hover()
    page.locator(".cite-popover").wait_for(timeout=10_000)
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#article-view img, #sources-panel img, #chat img, .cite-popover img, script#x").count() == 0


def test_watched_folder_is_synced_and_the_api_answers_in_the_cli_shapes(app):
    from gradio_client import Client

    (app["watch"] / "mayor.txt").write_text(WATCHED)
    # download_files=False: otherwise gradio_client takes every {"path": ...} in the JSON for a file to fetch
    client = Client(app["url"], verbose=False, download_files=False)
    deadline = time.monotonic() + 60

    def found_in_store() -> bool:
        results = client.predict(query="Brindlecombe beekeeper mayor", k=1, api_name="/search")["results"]
        return bool(results) and "Brindlecombe" in results[0]["text"]

    while not found_in_store():  # each search is a round trip of its own: no sleep needed
        assert time.monotonic() < deadline, "the watched folder was not synced within a minute"
    result = client.predict(question="What did the beekeeper mayor of Brindlecombe promise?", api_name="/ask")
    assert {"question", "answer", "refused", "citations", "retrieved", "confidence"} <= set(result)
    assert not result["refused"] and result["citations"]
    citation = result["citations"][0]
    assert {"n", "quote", "article", "start", "end"} <= set(citation)
    assert citation["article"]["path"].endswith("mayor.txt") and squash(citation["quote"]) in squash(WATCHED)
    found = client.predict(query="Lukashenko soldiers", k=3, api_name="/search")
    assert found["query"] == "Lukashenko soldiers" and 1 <= len(found["results"]) <= 3
    assert {"rank", "score", "text", "article", "start", "end"} <= set(found["results"][0])
    assert client.predict(api_name="/status")["articles"] >= 2
    with pytest.raises(Exception, match="k must be"):
        client.predict(query="Lukashenko", k=0, api_name="/search")


MOVED = """Ferry to Skerry Island gets a second boat

The ferry company of Skerry Island bought a second boat, the Gannet, which doubles the crossings to eight a day.
"""


def test_a_folder_moved_out_of_and_into_the_watched_folder_is_synced(app):
    # The watcher took only article files' own events: a folder moved out (or renamed) left its articles
    # cited from files that were gone, and one moved in was not indexed until some file changed.
    from gradio_client import Client

    client = Client(app["url"], verbose=False, download_files=False)
    outside, batch = app["root"] / "moved-out", app["watch"] / "batch"
    batch.mkdir()
    (batch / "ferry.txt").write_text(MOVED)

    def cited_from() -> str:
        results = client.predict(query="Skerry Island ferry Gannet", k=1, api_name="/search")["results"]
        return results[0]["article"]["path"] if results and "Gannet" in results[0]["text"] else ""

    def wait_until(condition, what: str) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert time.monotonic() < deadline, f"not synced within a minute: {what}"
            time.sleep(0.5)

    wait_until(lambda: cited_from().endswith("batch/ferry.txt"), "a new file")
    batch.rename(outside)
    wait_until(lambda: cited_from() == "", "a folder moved out")
    outside.rename(app["watch"] / "renamed")
    wait_until(lambda: cited_from().endswith("renamed/ferry.txt"), "a folder moved in")


def test_an_article_edited_or_deleted_in_the_articles_folder_reaches_the_answers(app):
    # The articles folder is watched by default: a tester's edited article was quoted as it was, and a
    # deleted one still cited, until they pressed "Re-sync now".
    from gradio_client import Client

    client = Client(app["url"], verbose=False, download_files=False)
    article = app["articles"] / "lighthouse.txt"
    question = "Who runs the Tarnmouth lighthouse museum?"

    def answered() -> str:
        result = client.predict(question=question, api_name="/ask")
        return "" if result["refused"] else " ".join(c["quote"] for c in result["citations"])

    def wait_until(condition, what: str) -> None:
        deadline = time.monotonic() + 60
        while not condition():
            assert time.monotonic() < deadline, f"not synced within a minute: {what}"
            time.sleep(0.5)

    text = ("Tarnmouth lighthouse reopens as a museum\n\nThe Tarnmouth lighthouse museum is run by the {} "
            "Heritage Trust, which bought the tower in 2024.\n\nVisitors can climb its 120 steps on weekends.")
    article.write_text(text.format("Harbour"))
    wait_until(lambda: "Harbour Heritage Trust" in answered(), "a new file")
    article.write_text(text.format("Coastal"))
    wait_until(lambda: "Coastal Heritage Trust" in answered(), "an edited file")
    assert "Harbour" not in answered()
    article.unlink()
    wait_until(lambda: "Heritage Trust" not in answered(), "a deleted file")


def test_filters_in_the_page_narrow_the_search(page):
    page.click("#outlet input")
    page.get_by_role("option", name="merkur").click()  # the outlets come from the store
    page.fill("#since input", "2023-01-01")
    page.press("#since input", "Enter")
    answer = ask(page, SOLDIERS)
    assert "do not cover" in answer and "published 2023-01-01 to …, outlet merkur" in answer
    page.fill("#since input", "")
    page.press("#since input", "Enter")
    answer = ask(page, SOLDIERS)
    assert "[1]" in answer and "Filters: outlet merkur, as of" in answer


def test_a_date_filter_that_is_not_a_date_stops_the_question_and_says_so(page):
    # Gradio keeps filtering by the last good date while its field shows the text typed over it.
    page.fill("#since input", "2023-01-01")
    page.press("#since input", "Enter")
    assert "do not cover" in ask(page, SOLDIERS)
    page.fill("#since input", "last week")
    page.press("#since input", "Tab")
    answers = page.locator("#chat .answer-meta").count()
    page.fill("#question textarea", SOLDIERS)
    page.press("#question textarea", "Enter")
    page.wait_for_function("() => (document.querySelector('#date-note') || {}).textContent", timeout=10_000)
    assert "“last week” in Published since is not a date" in page.inner_text("#date-note")
    page.click("#ask-button")  # the button is stopped too
    time.sleep(2)
    assert page.locator("#chat .answer-meta").count() == answers  # no answer filtered by the hidden date
    page.fill("#since input", "2026-02-30")  # the right shape, no such day: the server refused it in a passing toast
    page.press("#since input", "Tab")
    page.click("#ask-button")
    page.wait_for_function("() => document.querySelector('#date-note').textContent.includes('2026-02-30')",
                           timeout=10_000)
    assert "“2026-02-30” in Published since is not a date" in page.inner_text("#date-note")
    assert page.get_attribute("#since input", "aria-label") == "Published since"  # not its placeholder
    page.fill("#since input", "")  # mended: the note goes as the field is cleared, and Ask asks again
    page.wait_for_function("() => document.querySelector('#date-note').textContent === ''", timeout=10_000)
    page.click("#ask-button")
    page.wait_for_function(f"() => document.querySelectorAll('#chat .answer-meta').length > {answers}",
                           timeout=60_000)
    answer = page.locator("#chat [data-testid=bot]").last.inner_text()
    assert "[1]" in answer and "published" not in answer


def test_long_feed_addresses_wrap_in_the_feeds_panel(app, page):
    # A site followed through the feed its page names shows both addresses; long ones stretched the
    # row to a column of one word per line before.
    feeds = FollowedFeeds(app["articles"])
    site = "http://127.0.0.1:9/" + "-".join(["harbour-courier-local-news-section"] * 4) + "/"
    feeds.add(site)
    feeds.save_feed(Feed(site, title="Harbour Courier", feed_url=site + "feeds/all-stories/rss.xml"))
    try:
        page.wait_for_function("() => document.querySelector('#feeds-panel').innerText.includes('its feed')",
                               timeout=30_000)
        table, panel = page.locator("#feeds-panel table").bounding_box(), page.locator("#feeds-panel").bounding_box()
        assert table["width"] <= panel["width"] + 1 and table["height"] < 250, (table, panel)
    finally:
        feeds.remove(site)


@pytest.fixture(scope="module")
def bridge_server(tmp_path_factory):
    """One `python app.py` over the bridge articles (BRIDGE), shared by the tests that need an app of their
    own rather than `app` (its seed and watched folder): started by `bridge_app` when first needed, and
    again if a test stopped it. `test_a_page_whose_app_stopped_says_so` stops it, so it comes last in the
    file."""
    server: dict = {}
    yield server
    if "proc" in server:
        stop(server["proc"])
        assert "Traceback" not in server["log"].read_text(), server["log"].read_text()


@pytest.fixture
def bridge_app(bridge_server, tmp_path_factory):
    """The running app of `bridge_server`: three articles (the Baltimore bridge collapse, and gun violence
    and Covid deaths, which share "died" and "workers" with a follow-up), synced at start."""
    if "proc" in bridge_server and bridge_server["proc"].poll() is None:
        return bridge_server
    if "proc" in bridge_server:  # (stopped by an earlier test: its log was checked there)
        stop(bridge_server["proc"])
    root = tmp_path_factory.mktemp("bridge")
    articles = root / "articles"
    articles.mkdir()
    write_corpus(articles, BRIDGE)
    port, log = free_port(), root / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(PROJECT / "app.py"), "--store", str(root / "store"), "--port", str(port)],
            cwd=root, env=dict(app_env(), RAG_ARTICLES=str(articles)),
            stdout=out, stderr=subprocess.STDOUT)
    bridge_server.update(proc=proc, log=log, url=f"http://127.0.0.1:{port}/")
    wait_http(bridge_server["url"], proc, log)
    return bridge_server


def test_a_follow_up_answer_is_not_padded_with_sentences_that_only_share_a_word(bridge_app, browser):
    # Three articles: the Baltimore bridge collapse, and gun violence and Covid deaths, which share "died"
    # and "workers" with the follow-up. A store this small is answered by the hand-set rule (the learned
    # weights take over at 500 chunks; tests/test_answering.py checks both on this case).
    page = open_page(bridge_app, browser)
    try:
        ask(page, "What happened to the Key Bridge in Baltimore?")
        answer = ask(page, "And how many workers died?")
        assert "Six construction workers" in answer, answer
        assert "Covid" not in answer and "gun violence" not in answer, answer
        titles = page.locator("#sources-panel .card-title").all_inner_texts()
        assert titles and all("Key Bridge" in t for t in titles), titles
        page.screenshot(path=str(ARTIFACTS / "follow-up-not-padded.png"))
    finally:
        page.context.close()
    assert "Traceback" not in bridge_app["log"].read_text(), bridge_app["log"].read_text()


# ---------------------------------------------------------------- the page as a whole

def test_a_new_answer_is_read_from_its_question_down(app, browser):
    # The chat kept to its bottom, so on a phone a long answer opened at its last lines, its question
    # and first quotes above, out of sight.
    wait_for_first_sync(app, browser)
    page = open_page(app, browser, width=390, height=844)
    try:
        for question in (SOLDIERS, "How big is the Belarusian army, according to Lukashenko?"):
            ask(page, question)
            page.wait_for_timeout(1500)  # (the answer laid out)
            top = page.evaluate("""() => { const log = document.querySelector('#chat [role=log]');
                const asked = [...log.querySelectorAll('[data-testid=user]')].pop();
                return asked.getBoundingClientRect().top - log.getBoundingClientRect().top; }""")
            assert 0 <= top <= 40, f"{question!r} is {top:.0f} px from the top of the chat"
    finally:
        page.context.close()


def test_narrow_screen_dark_mode_puts_the_sources_below_the_answer(app, browser):
    wait_for_first_sync(app, browser)
    page = open_page(app, browser, width=390, height=844)
    try:
        box = page.locator("#question textarea").bounding_box()
        assert page.evaluate("() => window.scrollY") == 0 and box["y"] + box["height"] <= 844  # on the first screen
    finally:
        page.context.close()
    page = open_page(app, browser, f"?q={quote(SOLDIERS)}", width=390, height=844, dark=True)
    try:
        page.wait_for_function("() => document.querySelectorAll('#chat .answer-meta').length > 0", timeout=60_000)
        chat, sources = page.locator("#chat").bounding_box(), page.locator("#sources-panel").bounding_box()
        assert sources["y"] >= chat["y"] + chat["height"] - 1  # below, not beside
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 392  # nothing runs off the side
        as_of = page.locator("#as-of input").first
        assert as_of.evaluate("i => i.scrollWidth <= i.clientWidth")  # a date shown whole, not "2026-12-0"
        background = page.evaluate("() => getComputedStyle(document.querySelector('.card')).backgroundColor")
        assert background != "rgb(255, 255, 255)"  # the cards follow the dark theme
        page.screenshot(path=str(ARTIFACTS / "phone-dark.png"), full_page=True)
    finally:
        page.context.close()


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is not installed (npm install, as `make test` does)")
def test_the_page_passes_an_accessibility_check(page):
    ask(page, SOLDIERS)
    page.locator("#chat a.cite").first.focus()  # a citation's popover open too (its outlet and date were faint)
    page.locator(".cite-popover").wait_for(timeout=10_000)
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
               if v["impact"] in ("serious", "critical")]
    assert serious == [], json.dumps(serious, indent=1)


def test_the_page_asks_nothing_from_outside_the_machine(page):
    ask(page, SOLDIERS)
    page.screenshot(path=str(ARTIFACTS / "page.png"), full_page=True)
    outside = [u for u in page.requests if urlparse(u).hostname not in ("127.0.0.1", "localhost")
               and not u.startswith(("data:", "blob:"))]
    assert page.requests and not outside


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
        with pytest.raises(urllib.error.HTTPError) as denied:  # an article's page asks for the same login
            urllib.request.urlopen(f"http://127.0.0.1:{port}/article/x", timeout=5)
        assert denied.value.code == 401
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


def test_a_page_whose_app_stopped_says_so(bridge_app, browser):
    # After Ctrl-C the status line still said "Ready", and Ask did nothing (a tester). It stops the shared
    # `bridge_app` (a blip, then Ctrl-C), so it is the last test in the file to use it.
    proc, log = bridge_app["proc"], bridge_app["log"]
    pg = open_page(bridge_app, browser)  # (the first sync over: Ctrl-C comes with nothing else running)
    try:
        pg.wait_for_timeout(4000)  # (asked while it runs: no false alarm)
        assert not pg.locator("#status-line [data-state=stopped]").count()
        proc.send_signal(signal.SIGSTOP)  # a blip: the same app answers again, and the page is as it was
        try:
            pg.wait_for_selector("#status-line [data-state=stopped]", timeout=30_000)
        finally:
            proc.send_signal(signal.SIGCONT)
        pg.wait_for_selector("#status-line [data-state=stopped]", state="detached", timeout=30_000)
        assert pg.locator("#ask-button").is_enabled() and "reload" not in pg.inner_text("#status-line")
        # Ctrl-C stops the app while the page is still open on it (it waited on the page's connection forever)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        pg.wait_for_selector("#status-line [data-state=stopped]", timeout=20_000)
        assert "not running" in pg.inner_text("#status-line")
        assert pg.locator("#ask-button").is_disabled()
    finally:
        pg.context.close()
    assert "Traceback" not in log.read_text(), log.read_text()


def test_a_port_in_use_is_one_clear_line(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run([sys.executable, str(PROJECT / "app.py"), "--port", str(port), "--no-ingest",
                              "--store", str(tmp_path / "store")], cwd=tmp_path, env=app_env(),
                             capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr and "--port" in out.stderr
