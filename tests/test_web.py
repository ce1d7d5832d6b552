"""The web app without a browser: HTML rendering (escaping), page state, uploads, who may connect, and
the handlers over a real store (the browser tests in test_ui.py drive the same code through Chromium)."""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import time
from dataclasses import replace
from urllib.parse import parse_qs, parse_qsl, urlparse, urlsplit
from html.parser import HTMLParser
from pathlib import Path

import gradio as gr
import pytest
from markdown_it import MarkdownIt
from watchfiles import Change

from rag import cli
from rag.dates import as_of_or_today
from rag.models import Article, Filters, IngestReport, display_path
from rag.service import NewsChat
from rag.settings import ANSWERERS, Settings, SettingsError
from rag.web import handlers, render
from rag.web.app import api_k, browser_secret, check_binding, serve
from rag.web.runtime import Backend, FolderWatcher
from rag.web.turns import find_card, make_filters, question_link, read_question_link
from rag.web.uploads import safe_name, save_uploads

class Tags(HTMLParser):
    """The elements and attributes a browser would build from some HTML."""

    def __init__(self):
        super().__init__()
        self.seen: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs):
        self.seen.append((tag, attrs))


NASTY = "<script>alert(1)</script>\"'&<img src=x onerror=alert(2)>"


def card(**kw) -> dict:
    base = {"n": 1, "quote": NASTY, "start": 0, "end": 5, "article_id": "a<b", "title": NASTY, "source": NASTY,
            "published": NASTY, "url": "javascript:alert(3)", "path": NASTY, "before": NASTY, "after": NASTY,
            "cut_before": True, "cut_after": False}
    return base | kw


def turn(**kw) -> dict:
    base = {"question": NASTY, "answer": f"“{NASTY}” [1]", "refused": False, "query": NASTY, "answerer": "extractive",
            "filters": NASTY, "confidence": 0.5, "link": "/?q=x", "cards": [card()], "related": [], "closest": []}
    return base | kw


@pytest.mark.parametrize("html", [
    render.sources_html([turn()], 0), render.popover_html(card()), render.answer_markdown(turn(), 0),
    render.sources_html([turn(cards=[], related=[card()])], 0), render.failed_list([{"path": NASTY, "error": NASTY}]),
    render.index_table([(NASTY, NASTY)], NASTY, [{"path": NASTY, "error": NASTY}]), render.status_box("ready", NASTY),
])
def test_article_text_never_becomes_markup(html):
    tags = Tags()
    tags.feed(html)
    assert not {"script", "img"} & {t for t, _ in tags.seen}  # the article's markup stayed text
    assert not [a for _, attrs in tags.seen for a, _ in attrs if a.startswith("on")]  # no event handlers
    assert not [v for _, attrs in tags.seen for a, v in attrs if a == "href" and not v.startswith(("/", "http"))]


def test_article_page_escapes_the_body_and_marks_the_quote():

    article = Article(title=NASTY, body=f"Before. {NASTY} After.", path="/x.txt", source="s")
    start = article.body.index(NASTY)
    page = render.article_page(article, [(start, start + len(NASTY), "")], "")
    assert "<script>alert" not in page and f"<mark id='quote'>{render.esc(NASTY)}</mark>" in page
    moved = render.article_page(article, [(0, 3, ""), (5, 999, "")], "")  # a span past the end: no mark, no error
    assert "<mark id='quote'>Bef</mark>ore." in moved and moved.count("<mark") == 1
    assert render.read_spans("8-20,x-3,30-41~0123456789,-,²-3,1-2~zz," + "9" * 5000 + "-1") == \
        [(8, 20, ""), (30, 41, "0123456789")]  # never a 500
    both = render.article_page(article, [(0, 6, ""), (3, 10, ""), (0, 6, "")], "")  # overlapping quotes: one mark
    assert both.count("<mark") == 1 and f"<mark id='quote'>{render.esc(article.body[:10])}</mark>" in both
    # the quote listed first is the one to show (the reader came from its [n]), wherever it is in the article
    later_first = render.article_page(article, [(start, start + 5, ""), (0, 6, "")], "")
    assert later_first.count("<mark") == 2 and "<mark>Before</mark>" in later_first
    assert f"<mark id='quote'>{render.esc(NASTY[:5])}</mark>" in later_first


def test_an_article_page_after_the_article_changed_finds_the_quote_or_says_it_is_gone():
    # After a paragraph was added at the top of an article, an answer's link (?quote=0-190) highlighted the
    # new paragraph's words: the span alone, with nothing to say the article had changed.
    quote = "The director said the two cubs are healthy."
    before = Article(title="Zoo", body=f"{quote} They go on show in May.", path="/zoo.md")
    link = render.article_link("zoo", [card(quote=quote, start=0, end=len(quote))])
    spans = render.read_spans(parse_qs(urlparse(html.unescape(link)).query)["quote"][0])
    assert f"<mark id='quote'>{quote}</mark>" in render.article_page(before, spans, "")
    edited = replace(before, body=f"Update: the zoo corrected the cubs' names on Friday. {before.body}")
    page = render.article_page(edited, spans, "")
    assert f"<mark id='quote'>{quote}</mark>" in page and "changed after" not in page  # found where it is now
    # a sentence the article repeats: the copy quoted is marked, the one nearest where it was
    twice = replace(before, body=f"{quote} Intro. {quote} They go on show in May.")
    second = len(quote) + len(" Intro. ")
    at_second = render.read_spans(render.span_key(card(quote=quote, start=second, end=second + len(quote))))
    page = render.article_page(replace(twice, body="New line. " + twice.body), at_second, "")
    assert page.index("<mark") > page.index("Intro.")
    rewritten = replace(before, body="The director said one cub is ill. They go on show in June.")
    page = render.article_page(rewritten, spans, "")
    assert "<mark" not in page and "This article changed after the answer quoted it: the quoted words are no longer" in page
    # the same in the article panel inside the chat page, which showed the new text with no mark and no note
    quoted = [card(quote=quote, start=0, end=len(quote), article_id="zoo")]
    panel = render.article_panel(rewritten, quoted, "[1]", 0)
    assert "<mark" not in panel and "This article changed after the answer quoted it" in panel
    panel = render.article_panel(edited, quoted, "[1]", 0)
    assert f"<mark id='quote'>{quote}</mark>" in panel and "changed after" not in panel
    at_second = [card(quote=quote, start=second, end=second + len(quote), article_id="zoo")]
    panel = render.article_panel(replace(twice, body="New line. " + twice.body), at_second, "[1]", 0)
    assert panel.index("<mark") > panel.index("Intro.")  # the copy quoted, not the first
    # related reading's page underlines its nearest passages under a note, never highlighting them as quotes
    nearest = render.article_page(before, spans, "", related=True)
    assert f"<mark class='nearest' id='quote'>{quote}</mark>" in nearest and render.RELATED_NOTE in nearest


def test_a_conversation_the_browser_hands_back_is_read_with_care():
    # (gr.BrowserState: an older version's turns, or edited ones) a turn that cannot be shown is left out
    good = turn(question="Q?", answer="“x” [1]")
    messages, turns, sources, popovers = handlers.restore_chat(["junk", {"question": "no answer"}, good, None])
    assert turns == [good] and [m["role"] for m in messages] == ["user", "assistant"] and "Sources of answer 1" in sources
    assert "pop-0-1" in popovers
    assert handlers.restore_chat("junk") == (gr.skip(),) * 4  # nothing to show: the page as it is
    assert len(handlers.kept_turns([good] * 40)) == handlers.KEPT_TURNS
    # kept encrypted with a key the next start of the app has too (a new one each start lost it all)
    settings = Settings(store_dir="/tmp/some-store")
    assert browser_secret(settings) == browser_secret(Settings(store_dir="/tmp/some-store")) != \
        browser_secret(Settings(store_dir="/tmp/other-store"))


def test_answer_markdown_links_each_citation_to_its_article():
    t = turn(answer="“x” [1] and [7]")
    md = render.answer_markdown(t, 2)
    assert f'href="/article/a&lt;b?quote={render.span_key(t["cards"][0])}&amp;cite=2-1&amp;card=2-1"' in md
    assert "\\[7\\]" in md  # a number with no citation stays plain text


# Quotes of one article (and one of another) with the words around them, as make_card gives them
BODY = "Intro words here. The port reopened on Monday. Ships queued for days. Officials blamed the storm."


def quoted(n, text, article="a", **kw):
    start = BODY.index(text)
    return card(n=n, quote=text, start=start, end=start + len(text), article_id=article, title=f"Title {article}",
                source="S", published="2023-01-02", url=f"https://e.x/{article}", path="/home/me/news/a.txt",
                before=BODY[max(0, start - 20):start], cut_before=start > 20, cut_after=True) | \
        {"after": BODY[start + len(text):start + len(text) + 30]} | kw


def test_sources_are_numbered_by_article_as_citation_tools_do():
    # quotes [1] and [3] come from article a, [2] from article b: the page shows [1] [2] [1] and two cards
    cards = [quoted(1, "The port reopened on Monday."), quoted(2, "Ships queued for days.", article="b"),
             quoted(3, "Officials blamed the storm.")]
    t = turn(question="Q?", answer="“The port reopened on Monday.” [1]\n\n“Ships…” [2]\n\n“Officials…” [3]", cards=cards,
             filters="outlet S, as of 2023-02-01")
    md = render.answer_markdown(t, 0)
    assert [m for m in re.findall(r">\[(\d)\]<", md)] == ["1", "2", "1"]
    assert "cite=0-3&amp;card=0-1" in md  # the third quote's popover, its article's card
    panel = render.sources_html([t], 0)
    assert panel.count("class='card'") == 2 and "id='src-0-1'" in panel and "id='src-0-2'" in panel
    first = panel[panel.index("id='src-0-1'"):panel.index("id='src-0-2'")]
    assert first.count("<mark ") == 2 and "quote=" + "%2C".join(render.span_key(c) for c in (cards[0], cards[2])) in first
    assert render.answer_as_markdown(t) == (
        "**Q?**\n\n“The port reopened on Monday.” [1]\n\n“Ships…” [2]\n\n“Officials…” [1]\n\n"
        "_Filters: outlet S, as of 2023-02-01_\n\n"  # an answer from one outlet says so where it is pasted
        "1. Title a, S, 2023-01-02, https://e.x/a\n2. Title b, S, 2023-01-02, https://e.x/b\n")


def without_spans(panel: str) -> str:
    """A sources panel without its marks' spans (data-span, which the article's address is made from)."""
    return re.sub(r" data-span='[0-9]+-[0-9]+~[0-9a-f]+'", "", panel)


def test_quotes_near_each_other_share_one_snippet():
    port, storm = "The port reopened on Monday.", "Officials blamed the storm."
    near = [quoted(1, port), quoted(2, storm)]  # the words after the first reach the second
    overlapping = [quoted(1, port, after=" Ships queued"), quoted(2, storm, before="ed for days. ")]
    far = [quoted(1, port, after=" Ships"), quoted(2, storm, before="days. ")]
    for cards in (near, overlapping):
        one = without_spans(render.sources_html([turn(cards=cards)], 0))
        assert one.count("class='snippet'") == 1  # " Ships queued for days. " between them, shown once
        assert "</mark> Ships queued for days. <mark data-n='2'>" in one
    assert render.sources_html([turn(cards=far)], 0).count("class='snippet'") == 2  # too far apart: two
    # quotes that overlap (or repeat) show their words once
    twice = without_spans(render.sources_html([turn(cards=[quoted(1, "reopened on Monday. Ships"),
                                                           quoted(2, "Monday. Ships queued"), quoted(3, "Ships")])], 0))
    assert twice.count("class='snippet'") == 1 and twice.count("Ships") == 1 and twice.count("Monday") == 1
    assert "<mark data-n='1'>reopened on Monday. Ships</mark><mark data-n='2'> queued</mark>" in twice


def test_a_bracketed_number_in_a_quote_is_the_articles_text_not_a_citation():
    # "the audit [2] showed" was made a link to citation 2, and renumbered as a source, in a verbatim quote
    audit = card(n=1, quote="Engineers said the audit [2] showed cracks.", article_id="a")
    other = card(n=2, quote="Repairs take a year.", article_id="b", start=40, end=60)
    t = turn(answer="“Engineers said the audit [2] showed cracks.” [1]\n\n“Repairs take a year.” [2]", cards=[audit, other])
    md = render.answer_markdown(t, 0)
    assert md.count("class=\"cite\"") == 2 and "audit \\[2\\] showed" in md
    # copied as Markdown, it is escaped: shown as the article wrote it, never read as source 2
    assert "audit \\[2\\] showed cracks.” [1]" in render.answer_as_markdown(t)
    asked = render.answer_as_markdown(turn(question="What did audit [2] show?", answer=t["answer"], cards=[audit, other]))
    assert asked.startswith("**What did audit \\[2\\] show?**")  # (the question's own brackets too)


def test_related_reading_is_one_card_per_article():
    near = [quoted(1, "The port reopened on Monday."), quoted(2, "Officials blamed the storm."),
            quoted(3, "Ships queued for days.", article="b")]
    panel = render.sources_html([turn(cards=[], related=near)], 0)
    assert panel.count("class='card related'") == 2 and "<mark" not in panel
    # copied as Markdown, a refusal lists them as such (a tester: only the refusal was copied)
    text = render.answer_as_markdown(turn(question="Q?", answer="The articles do not answer this.", cards=[],
                                          related=near, filters="as of 2023-02-01"))
    assert text.endswith("Related reading, not an answer:\n\n- Title a, S, 2023-01-02, https://e.x/a\n"
                         "- Title b, S, 2023-01-02, https://e.x/b\n"), text


def test_copy_as_markdown_lists_web_addresses_not_paths_on_this_machine():
    local = card(title="T", source="S", published="2023-01-02", url="", path="/home/me/news/t.txt", quote="A.")
    text = render.answer_as_markdown(turn(question="Q?", answer="“A.” [1]", cards=[local], filters="as of 2023-02-01"))
    assert text == "**Q?**\n\n“A.” [1]\n\n_Filters: as of 2023-02-01_\n\n1. T, S, 2023-01-02\n"


# An article's (or a reader's) text that Markdown would read as its own: emphasis, code, a table, HTML, an
# entity, a heading, a quote block, a list, a setext underline, strikethrough, an image, a citation, an escape
MARKDOWN_NASTY = ["a * b ** c", "_x_ and *y* and __z__", "use `rm -rf` now", "|a|b|", "<b>bold</b> &amp; co",
                  "# Not a heading", "> not a quote", "1. not a list", "2) nor this", "- not a bullet", "+ nor this",
                  "===", "~~kept~~", "![img](x.png)", "the audit [2] showed", "C:\\new\\table \\*"]


def shown(markdown: str) -> tuple[list[str], set[str]]:
    """What a reader sees of Markdown rendered (CommonMark, with GitHub's tables and strikethrough): the text
    of each paragraph and list item, and the elements it made."""
    rendered = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    blocks = [html.unescape(re.sub(r"<[^>]+>", "", inner)) for _, inner in re.findall(r"<(p|li)>(.*?)</\1>", rendered, re.S)]
    return blocks, set(re.findall(r"<(\w+)", rendered))


@pytest.mark.parametrize("escape", [render.markdown_text, render.md_text])
@pytest.mark.parametrize("text", MARKDOWN_NASTY + ["Heading\n===", "|a|b|\n|-|-|", "a line\n- and a bullet"])
def test_markdown_escapes_show_the_text_as_written(escape, text):
    # the copied Markdown's escape and the chat's: rendered, each shows its text's own characters, in one
    # paragraph (and its lines' too: a setext heading, a table, a list)
    assert shown(escape(text)) == ([text], {"p"})


def test_copy_as_markdown_shows_quotes_question_headlines_and_filters_as_written():
    # a quote's "*", "`", "<b>" or "# " changed the pasted answer (italics, code, HTML, a heading), a
    # question's "*" broke its bold, and a headline was not escaped at all
    a = dict(article_id="a", title="# 1. *Breaking* <i>news</i> | [2] _x_", source="The_Outlet*", url="https://e.x/a")
    b = dict(article_id="b", title="> Quoted `code`", source="[Wire]", url="https://e.x/news_*b*?x=1&y=2")
    cards = [card(n=n, quote=q, published="2023-01-02", **(a if n <= 8 else b)) for n, q in enumerate(MARKDOWN_NASTY, 1)]
    answer = "\n\n".join(f"{q} [{n}]" for n, q in enumerate(MARKDOWN_NASTY, 1))  # each at a line's start
    question, filters = "What did **audit [2]** mean by `a*b` and <b>x</b>? _y_ \\", "outlet Foo_Bar* `x` <b>W</b> [2], as of 2023-02-01"
    copied = render.answer_as_markdown(turn(question=question, answer=answer, cards=cards, filters=filters))
    blocks, elements = shown(copied)
    assert blocks == [question, *(f"{q} [{1 if n <= 8 else 2}]" for n, q in enumerate(MARKDOWN_NASTY, 1)),
                      f"Filters: {filters}",
                      "# 1. *Breaking* <i>news</i> | [2] _x_, The_Outlet*, 2023-01-02, https://e.x/a",
                      "> Quoted `code`, [Wire], 2023-01-02, https://e.x/news_*b*?x=1&y=2"]
    assert elements == {"p", "strong", "em", "ol", "li", "a"}  # bold question, italic filters, the source list
    assert copied.startswith("**What did ") and "\n_Filters: outlet Foo\\_Bar\\* \\`x\\` \\<b>W\\</b> \\[2\\], as of 2023-02-01_\n" in copied
    assert '<a href="https://e.x/news_*b*?x=1&amp;y=2">' in MarkdownIt("commonmark").render(copied)  # still a link
    assert "\n1. Title a, S, 2023-01-02, https://e.x/a\n" in render.answer_as_markdown(
        turn(question="Q?", answer="“A.” [1]", cards=[quoted(1, "The port reopened on Monday.")]))  # a plain one as it is
    # the bare [k] are the answer's citations, numbered by source; every other bracket is the text's own
    assert re.findall(r"(?<!\\)\[(\d+)\]", copied) == ["1"] * 8 + ["2"] * 8


def test_copy_as_markdown_keeps_a_web_address_or_a_line_break_from_breaking_out():
    # an address with a line break and a heading in it stays one link in the source's list item
    odd = card(title="T", source="S", published="2023-01-02", url="https://e.x/a b\n# Heading <i>", quote="A.")
    copied = render.answer_as_markdown(turn(question="Q?", answer="“A.” [1]", cards=[odd], filters="f"))
    assert copied.endswith("\n1. T, S, 2023-01-02, <https://e.x/a%20b%0A#%20Heading%20%3Ci%3E>\n")
    rendered = MarkdownIt("commonmark").render(copied)
    assert shown(copied)[1] == {"p", "strong", "em", "ol", "li", "a"}  # no heading, no <i>
    assert '<li>T, S, 2023-01-02, <a href="https://e.x/a%20b%0A#%20Heading%20%3Ci%3E">' in rendered
    # a question's blank line ended its bold (both "**" shown), as a headline's its list item
    split = render.answer_as_markdown(turn(question=" Q\n\non two *lines* ", answer="“A.” [1]", cards=[odd | {"title": "T\n\n# x"}]))
    assert shown(split)[0][0] == "Q on two *lines*" and shown(split)[0][-1].startswith("T # x, S, ")


def test_the_page_the_api_and_the_cli_read_a_filter_date_by_one_rule():
    # YYYY-MM-DD only (with a time the date picker may add): 01/02/2023 is January or February depending
    # on the reader, so it is refused everywhere, and so is a date with something else after it.
    assert make_filters("2023-01-06 00:00:00", "2023-02-01", "", "2023-03-01T12:00:00").since == "2023-01-06"
    parse_since = cli._parser().parse_args
    assert parse_since(["search", "q", "--since", "2023-01-06"]).since == "2023-01-06"
    for bad in ("01/02/2023", "2023-01-01garbage", "2023-02-30", "yesterday"):
        with pytest.raises(ValueError, match=re.escape(f"'{bad}' is not a")):
            make_filters(bad, "", "", "")
        with pytest.raises(SystemExit):
            parse_since(["search", "q", "--since", bad])
    # a window no article can be in ("since" after "until") is said, not searched ("no article within those filters")
    with pytest.raises(ValueError, match="'since' date 2024-09-01 is after the 'until' date 2024-01-01"):
        make_filters("2024-09-01", "2024-01-01", "", "")
    with pytest.raises(SettingsError, match="is after the 'until' date"):
        cli.filters_from(parse_since(["ask", "q", "--since", "2024-09-01", "--until", "2024-01-01"]))


def test_the_page_load_asks_only_a_linked_question():
    # a question typed while the page was loading was asked by the load too (the new-user run)
    assert list(handlers.respond_to_link(None, "What now?", [], [], "", "", "", "")) == [(gr.skip(),) * 6]


def test_page_state_helpers():
    assert make_filters("2023-01-01", "", "All outlets", "").source == ""
    with pytest.raises(ValueError, match="not a date"):
        make_filters("yesterday", "", "", "")
    link = question_link("What now?", Filters(since="2023-01-01", source="cnn.com", as_of="2023-02-01"))
    assert link == "/?q=What+now%3F&since=2023-01-01&outlet=cnn.com&as_of=2023-02-01"
    question, earlier, fields = read_question_link(parse_qsl(urlsplit(link).query))  # the page reads it back whole
    assert question == "What now?" and earlier == [] and make_filters(fields["since"], fields["until"], fields["source"],
                                                     fields["as_of"]) == Filters(since="2023-01-01", source="cnn.com",
                                                                                 as_of="2023-02-01")
    # a follow-up's link names the questions it went on from, in order
    link = question_link("and then?", Filters(as_of=as_of_or_today("")), ["Who won?", "and where?"])
    assert read_question_link(parse_qsl(urlsplit(link).query))[:2] == ("and then?", ["Who won?", "and where?"])
    assert len(read_question_link([("q", "x")] + [("earlier", "y")] * 100)[1]) == 2  # (a crafted link asks 3)
    assert find_card([turn()], "0", "1")["n"] == 1 and find_card([turn()], "x", "1") is None
    assert find_card([turn()], 5, 1) is None


def test_upload_names_cannot_leave_the_folder(tmp_path):
    folder, elsewhere = tmp_path / "articles", tmp_path / "elsewhere"
    elsewhere.mkdir()
    names = ["../../evil.txt", "..\\..\\win.md", "/etc/passwd.json", ".hidden.txt", "a/b/../c.html", "..", "ok.jsonl",
             "bad.exe", "<script>.txt"]
    uploads = []
    for i, name in enumerate(names):
        src = elsewhere / f"u{i}"
        src.write_text(f"Title {i}\n\nSome text {i}.\n")
        uploads.append(type("Upload", (), {"name": str(src), "orig_name": name})())
    saved = save_uploads(uploads, folder, max_mb=1)
    assert all(p.parent == folder.resolve() for p in saved.paths)
    assert sorted(p.name for p in saved.paths) == sorted(
        ["evil.txt", "win.md", "passwd.json", "hidden.txt", "c.html", "ok.jsonl", "script_.txt"])
    assert {f["path"] for f in saved.failed} == {"article", "bad.exe"}
    assert not any(p.name.startswith(".") for p in folder.iterdir())
    assert safe_name("../../../x.txt") == "x.txt"


def test_an_upload_keeps_a_different_file_of_the_same_name(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "harbor.txt").write_text("Mine\n\nThe user's own harbor story.\n")
    new = tmp_path / "harbor.txt"
    new.write_text("Theirs\n\nAnother harbor story.\n")
    saved = save_uploads([new], folder, max_mb=1)
    assert [p.name for p in saved.paths] == ["harbor-2.txt"] and "saved as harbor-2.txt" in saved.notes[0]
    assert (folder / "harbor.txt").read_text().startswith("Mine")
    again = save_uploads([new], folder, max_mb=1)  # the same upload twice: it is there already, as harbor-2
    assert [p.name for p in again.paths] == ["harbor-2.txt"] and again.notes == []
    assert sorted(p.name for p in folder.iterdir()) == ["harbor-2.txt", "harbor.txt"]


def test_refuses_to_listen_off_loopback_without_login(tmp_path):
    settings = Settings(store_dir=tmp_path / "store", articles_dir=tmp_path, host="0.0.0.0", auth="", chroma_url="")
    with pytest.raises(SystemExit) as refused:
        serve(settings)
    assert "RAG_AUTH" in str(refused.value) and "0.0.0.0" in str(refused.value)
    with pytest.raises(SystemExit):
        check_binding(Settings(store_dir=tmp_path / "store", host="0.0.0.0", auth="no-colon"))


# ---------------------------------------------------------------- handlers over a real store

@pytest.fixture
def backend(settings):
    backend = Backend(settings)
    backend.start(ingest_at_start=True)
    assert backend.ready.is_set(), backend.error
    return backend


def run(generator):
    *_, last = list(generator)
    return last


def test_respond_answers_with_cards_and_popovers(backend):
    messages, turns, sources, box, article_box, popovers = run(handlers.respond(
        backend, "What did Lukashenko say about sending soldiers?", [], [], None, None, "All outlets", ""))
    assert len(messages) == 2 and "cite=0-1" in messages[1]["content"] and turns[0]["cards"]
    assert "Sources of answer 1" in sources and "<template id='pop-0-1'>" in popovers and box == ""
    assert "Ready: 1 article" in handlers.status_html(backend)


def test_respond_reports_a_failure_instead_of_searching_forever(backend, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(backend.chat, "ask", broken)
    warnings = []
    monkeypatch.setattr(handlers.gr, "Warning", warnings.append)
    messages, turns, *_ = run(handlers.respond(backend, "Anything?", [], [], None, None, None, ""))
    assert messages == [] and turns == [] and "disk on fire" in warnings[0]


def test_a_store_that_cannot_open_is_shown_as_an_error_not_ready(tmp_path):
    (tmp_path / "store").write_text("a file where the store folder should be")
    backend = Backend(Settings(store_dir=tmp_path / "store", articles_dir=tmp_path))
    backend.start(ingest_at_start=False)
    status = handlers.status_html(backend)
    assert "status-error" in status and "is a file, not a folder" in status and "Ready" not in status


@pytest.mark.parametrize("trouble", ["every file fails", "the sync itself fails", "no files"])
def test_a_first_sync_that_leaves_the_store_empty_by_failing_is_an_error_not_ready(settings, monkeypatch, trouble):
    articles = Path(settings.articles_dir)
    if trouble == "every file fails":
        for f in articles.iterdir():
            f.write_bytes(b"")
    elif trouble == "the sync itself fails":
        def broken(*a, **k):
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(NewsChat, "ingest", broken)
    else:
        for f in articles.iterdir():
            f.unlink()
    backend = Backend(settings)
    backend.start(ingest_at_start=True)
    status = handlers.status_html(backend)
    if trouble == "no files":  # an empty folder is no failure: the page is ready for uploads
        assert "status-ready" in status and "Ready: 0 articles" in status
        return
    assert "status-error" in status and "Ready" not in status and "No articles to search" in status
    assert ("file is empty" if trouble == "every file fails" else "disk on fire") in status


def test_every_answerer_has_a_note():
    assert set(handlers.ANSWERER_NOTES) == set(ANSWERERS)
    for unset in ("", ANSWERERS[0].upper()):  # RAG_ANSWERER empty, or in capitals: the default, named as such
        label = handlers.answerer_label(Settings(answerer=unset).answerer_kind)
        assert label == f"{ANSWERERS[0]}: {handlers.ANSWERER_NOTES[ANSWERERS[0]]}"


def test_a_question_during_the_first_indexing_is_answered_from_what_is_there(settings, tmp_path):
    backend = Backend(settings)
    backend.chat = None

    backend.chat = NewsChat(settings)
    backend.opened.set()
    backend.chat.ingest()  # the seed is in; now a sync is running (its progress is showing)
    from rag.web.runtime import SyncProgress

    backend.running.append(SyncProgress("articles/", 128, 9000, 12, 800))
    messages, turns, *_ = run(handlers.respond(backend, "What did Lukashenko say about sending soldiers?",
                                               [], [], None, None, None, ""))
    assert turns[0]["cards"] and "still indexing (12 of 800 articles so far)" in messages[1]["content"]
    assert "Indexing articles/" in handlers.status_html(backend) and "You can already ask" in handlers.status_html(backend)
    # chunks go up as they are embedded; articles only once written, and the line says what that count means
    assert "128 of 9000 chunks embedded; 12 of 800 articles ready to ask about" in handlers.status_html(backend)


def test_run_sync_streams_progress_then_the_result(backend):
    last = run(handlers.run_sync(backend, lambda: IngestReport(added=2, failed=[{"path": "x.txt", "error": "bad"}]),
                                 "Upload of x.txt"))
    assert "data-result='done'" in last and "2 added" in last and "x.txt" in last and "status-error" in last


def test_a_re_sync_that_keeps_an_emptied_folder_says_so_on_the_page(backend):
    # A folder found empty (a drive not mounted) keeps its stored articles: the page's sync result names
    # the folder and how to remove them on purpose, instead of a bare "0 deleted".
    folder = Path(backend.settings.articles_dir)
    (folder / "ferry.txt").write_text("Ferry line opens\n\nThe new ferry line to the island opened on Monday.\n")
    assert "1 added" in run(handlers.resync(backend))
    for f in folder.iterdir():
        f.unlink()
    last = run(handlers.resync(backend))
    assert "0 deleted" in last and "holds no article files now" in last and "--prune" in last
    assert render.esc(str(folder)) in last or render.esc(display_path(str(folder))) in last
    assert backend.chat.status()["articles"] == 2


def test_the_watcher_syncs_for_what_was_stored_not_for_every_file_that_goes(backend):
    # Any gone path used to start a sync (a digest of every file in the folder): an editor's backup or
    # temporary file deleted cost as much as a deleted article.
    folder = Path(backend.settings.articles_dir)
    (folder / "wire").mkdir()
    (folder / "wire" / "ferry.txt").write_text("Ferry service resumes\n\nThe island ferry runs again.\n")
    (folder / "notes").mkdir()
    backend.sync(None, label="articles/")
    watcher = FolderWatcher(backend, folder)
    assert watcher.wanted(Change.added, str(folder / "new.txt")) and watcher.wanted(Change.added, str(folder / "notes"))
    shutil.rmtree(folder / "wire")
    shutil.rmtree(folder / "notes")
    assert watcher.wanted(Change.deleted, str(folder / "wire"))  # a folder of stored articles moved out
    assert watcher.wanted(Change.deleted, str(folder / "gone.md"))  # an article file, stored or not
    assert not watcher.wanted(Change.deleted, str(folder / "notes"))  # nothing stored under it
    assert not watcher.wanted(Change.deleted, str(folder / "draft.txt~"))
    assert not watcher.wanted(Change.deleted, str(folder / "4913"))  # vim's test of a folder's permissions
    # the feeds folder's saved items are indexed by the poll that saves them, not digested again by the watcher
    fed = FolderWatcher(backend, folder, ignored=folder / "feeds")
    assert not fed.wanted(Change.added, str(folder / "feeds" / "courier" / "item.json"))
    assert not fed.wanted(Change.modified, str(folder / "feeds" / "courier" / "item.json"))
    assert fed.wanted(Change.deleted, str(folder / "feeds" / "courier" / "item.json"))  # a user's clean-up
    assert fed.wanted(Change.added, str(folder / "new.txt"))


def test_a_file_written_in_pieces_is_synced_once_it_holds_still(backend, capsys):
    # A JSON export written a piece every 0.6 s was synced after 200 ms of quiet each time: seven failures
    # ("invalid JSON ... Unterminated string") before it was whole (a tester).
    folder = Path(backend.settings.articles_dir)
    watcher = FolderWatcher(backend, folder)
    watcher.start()
    try:
        time.sleep(2)  # the watch set up
        capsys.readouterr()
        record = json.dumps({"title": "Kite festival", "text": "The Brindle kite festival drew 4,000 visitors."})
        path, pieces = folder / "slow.json", [record[i:i + 20] for i in range(0, len(record), 20)]
        with open(path, "w") as out:
            for piece in pieces:
                out.write(piece)
                out.flush()
                time.sleep(0.6)
        deadline = time.monotonic() + 60
        while str(path.resolve()) not in backend.chat.store.catalog.paths():
            assert time.monotonic() < deadline, "the finished file was not indexed"
            time.sleep(0.3)
        out = capsys.readouterr().out
        assert "rag: failed:" not in out and "updated" not in out.replace("0 updated", ""), out
    finally:
        watcher.stopped.set()
        watcher.join(10)


def test_the_articles_folder_watcher_does_not_sync_at_start(backend):
    # The app syncs the articles folder at start itself, or not at all (--no-ingest), and the watcher
    # synced it again once its watch was set up (the review).
    folder = Path(backend.settings.articles_dir)
    (folder / "tram.txt").write_text("Tram line extended\n\nThe tram line now runs to the harbour.\n")
    watcher = FolderWatcher(backend, folder, sync_first=False)
    watcher.start()
    try:
        time.sleep(3)  # the watch set up, and time for a first sync
        assert str((folder / "tram.txt").resolve()) not in backend.chat.store.catalog.paths()
        (folder / "bus.txt").write_text("Night bus returns\n\nThe night bus runs again on Fridays.\n")
        deadline = time.monotonic() + 60
        while str((folder / "bus.txt").resolve()) not in backend.chat.store.catalog.paths():
            assert time.monotonic() < deadline, "a file dropped into the folder was not indexed"
            time.sleep(0.3)
    finally:
        watcher.stopped.set()
        watcher.join(10)


def test_the_watcher_follows_a_replaced_folder_and_links_to_folders(backend, tmp_path, monkeypatch):
    # The system's file events follow a folder, not its name, and do not follow symbolic links: a file
    # dropped into a folder put in the watched one's place, or into a folder linked from it, was never
    # indexed (until something else changed).
    import watchfiles.main

    folder = Path(backend.settings.articles_dir)
    outside = tmp_path / "outside"
    outside.mkdir()
    (folder / "sub").mkdir()  # two links back up: a walk that follows them without a check never ends
    (folder / "sub" / "up").symlink_to(folder)
    (folder / "sub" / "up2").symlink_to(folder)
    set_up: list[set[Path]] = []  # the folders of each of the system's watches, once it is in place
    system_watch = watchfiles.main.RustNotify

    def recorded(paths, *args):
        notify = system_watch(paths, *args)  # (the watches are in place when it returns)
        set_up.append({Path(p) for p in paths})
        return notify

    monkeypatch.setattr(watchfiles.main, "RustNotify", recorded)
    watcher = FolderWatcher(backend, folder)
    watcher.start()

    def indexed(path: Path) -> bool:
        deadline = time.monotonic() + 60
        while str(path.resolve()) not in backend.chat.store.catalog.paths():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.3)
        return True

    def watched(*folders: Path, after: int) -> None:
        """Wait until a watch set up after the first `after` ones is in place on `folders` (where they
        are now: a link's folder where it lives)."""
        wanted = {f.resolve() for f in folders}
        deadline = time.monotonic() + 60
        while not any(wanted <= {p.resolve() for p in paths} for paths in set_up[after:]):
            assert time.monotonic() < deadline, f"no watch was set up on {sorted(wanted)}: {set_up}"
            time.sleep(0.05)

    try:
        watched(folder, after=0)  # the first watch in place
        before = len(set_up)
        (folder / "linked").symlink_to(outside)
        watched(folder, outside, after=before)
        (outside / "ferry.txt").write_text("Ferry service resumes\n\nThe island ferry runs again.\n")
        assert indexed(outside / "ferry.txt"), "a file dropped into a linked folder was not indexed"
        before = len(set_up)
        folder.rename(tmp_path / "old")
        folder.mkdir()
        (folder / "tram.txt").write_text("Tram line extended\n\nThe tram line now runs to the harbour.\n")
        assert indexed(folder / "tram.txt")
        watched(folder, after=before)
        (folder / "bus.txt").write_text("Night bus returns\n\nThe night bus runs again on Fridays.\n")
        assert indexed(folder / "bus.txt"), "a second file in the replacing folder was not indexed"
        before = len(set_up)
        (folder / "linked").symlink_to(outside)
        watched(folder, outside, after=before)
        before = len(set_up)
        shutil.rmtree(outside)  # the linked folder deleted and made again: the watch followed the old one
        outside.mkdir()
        watched(folder, outside, after=before)
        (outside / "taxi.txt").write_text("Taxi fares fall\n\nTaxi fares fall by a tenth in June.\n")
        assert indexed(outside / "taxi.txt"), "a file in a linked folder made again was not indexed"
        folder.rename(tmp_path / "older")  # gone a while, then made again with a file in it at once
        time.sleep(3)  # (the while: longer than the events' quiet time, STILL_MS, so the watch ends meanwhile)
        folder.mkdir()
        (folder / "boat.txt").write_text("Boat race postponed\n\nThe boat race moves to Sunday.\n")
        assert indexed(folder / "boat.txt"), "a file in a folder made again was not indexed"
    finally:
        watcher.stopped.set()
        watcher.join(10)


def test_a_question_before_anything_is_searchable_says_it_is_still_indexing(settings):
    from rag.web.runtime import SyncProgress

    backend = Backend(settings)
    backend.chat = NewsChat(settings)  # an empty store: the first sync has not written anything yet
    backend.opened.set()
    backend.running.append(SyncProgress("articles/", 0, 9000, 12, 800))
    question = "What did Lukashenko say about sending soldiers?"
    messages, turns, *_ = run(handlers.respond(backend, question, [], [], None, None, None, ""))
    reply = messages[1]["content"]
    assert turns[0]["refused"] and "do not cover" not in reply and "note" not in turns[0]
    assert "Still indexing: 12 of 800 articles so far; ask again in a moment" in reply
    backend.running.clear()  # the sync is over (and wrote nothing): now it is a plain refusal
    messages, turns, *_ = run(handlers.respond(backend, question, [], [], None, None, None, ""))
    assert "No articles are indexed yet" in messages[1]["content"]


def test_the_api_and_the_cli_check_k_by_the_one_rule():
    # no k: ask reads Settings.answer_passages (15) and search lists Settings.top_k (10)
    assert api_k(None) is None and api_k("") is None
    assert api_k("5") == 5 and cli._k("5") == 5
    for bad, message in (("abc", "k must be a whole number from 1 to 100, not 'abc'"),
                         ("0", "k must be from 1 to 100, not 0"), ("101", "k must be from 1 to 100, not 101")):
        with pytest.raises(gr.Error) as refused:
            api_k(bad)
        assert refused.value.message == message
        with pytest.raises(argparse.ArgumentTypeError, match=re.escape(message)):
            cli._k(bad)
