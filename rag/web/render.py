"""The page's HTML, built from plain data: everything taken from an article (titles, quotes, bodies,
file names) or typed by a user is escaped here, so nothing in an article can run in the page.

Functions take the page's state (the turn dicts of `turns.make_turn`) and return strings; none reads the store.
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path
from urllib.parse import urlencode, urlparse

from ..answering import shown_quote
from ..models import UNDATED, UNKNOWN_OUTLET, display_path
from ..settings import every


def esc(value) -> str:
    return html.escape(str(value), quote=True)


# Markdown's marks (CommonMark's and GitHub's: emphasis, code, links, images, tables, strikethrough, math),
# each escaped with a backslash wherever it stands; and what opens a block only at a line's start (a heading,
# a quote block, a list item "-", "+" or "1." / "1)", a setext underline), escaped there: "1\." (a backslash
# before the digit is no escape and would show). Escaped marks show as themselves.
_MD_MARKS = r"\\`*_\[\]()~|$!{}"
_MD_LINE_START = re.compile(r"^(\s*(?:\d+(?=[.)]))?)([#>+\-=.)])", re.M)
_MARKER = re.compile(r"\[(\d+)\]")


def _md_escaped(text: str, marks: str) -> str:
    """`text` with each of `marks`, and each block mark at a line's start, escaped with a backslash."""
    return _MD_LINE_START.sub(r"\1\\\2", re.sub(f"([{marks}])", r"\\\1", text))


def md_text(text: str) -> str:
    """Plain text for the Chatbot's Markdown: Markdown syntax and HTML both neutralised.

    Its HTML ("<", "&") is entity-escaped, not backslash-escaped as `markdown_text` does: the message mixes
    this text with the app's own HTML (the citations' links), and an entity is the escape any HTML reader
    honours; a backslash before "&lt;" would show the entity itself."""
    return _md_escaped(html.escape(text, quote=False), _MD_MARKS)  # (a line's "&gt;" opens no quote block)


def markdown_text(text: str) -> str:
    """Plain text for the copied Markdown (`answer_as_markdown`): every Markdown mark `md_text` escapes, and
    HTML's "<" and "&" (a tag, an autolink, an entity), escaped with a backslash, so that the pasted Markdown,
    rendered, shows exactly the characters written (a quote as the article wrote it: its "*", "_x_", "`",
    "|a|b|", "<b>", "# " or "1. " never becomes emphasis, code, a table, HTML, a heading or a list, and its
    "[2]" never a citation), and read as plain text stays readable (a backslash, not an entity)."""
    return _md_escaped(text, _MD_MARKS + "<&")


def quote_print(quote: str) -> str:
    """A quote's fingerprint, carried in an article page's address beside its span: the page finds the
    quote again, or says it is gone, after the article changed (the span alone then marked other words)."""
    return hashlib.sha256(quote.encode()).hexdigest()[:10]


def span_key(card: dict) -> str:
    """One quote in an article page's `quote=`: `START-END~FINGERPRINT` (`quote_print`)."""
    return f"{card['start']}-{card['end']}~{quote_print(card['quote'])}"


def article_link(article_id: str, cards: list[dict] = (), related: bool = False) -> str:
    """The address of an article's own page, with the quotes to highlight
    (`?quote=300-371~3f2a...,420-480~9bc1...`, `span_key`), or related reading's nearest passages to
    underline (`&related=1`)."""
    fields = {"quote": ",".join(span_key(c) for c in cards)} if cards else {}
    query = f"?{urlencode(fields | ({'related': 1} if related else {}))}" if fields else ""
    return f"/article/{esc(article_id)}{query}"


def read_spans(value: str) -> list[tuple[int, int, str]]:
    """The (start, end, fingerprint) of each quote in an article page's `quote=` (`span_key`; an older
    address's `START-END` has fingerprint ""); anything else in it is left out."""
    spans = []
    for part in value.split(","):
        # (str.isdigit takes "²", which int() refuses)
        if m := re.fullmatch(r"([0-9]{1,9})-([0-9]{1,9})(?:~([0-9a-f]{10}))?", part):
            spans.append((int(m.group(1)), int(m.group(2)), m.group(3) or ""))
    return spans


def located_spans(body: str, spans: list[tuple[int, int, str]]) -> tuple[list[tuple[int, int]], int]:
    """The spans of an article page's quotes in the article as it is now: each where its fingerprint
    says its words are, else where they now are nearest its old place (the article changed since the
    answer; of copies of a repeated sentence, the one quoted), else left out. Returns (spans, how many
    quotes are no longer in the article)."""
    found, gone = [], 0
    for start, end, mark in spans:
        size = end - start
        places = (p for d in range(len(body) + 1) for p in (start + d, start - d) if d or p == start)
        moved = next((p for p in places if 0 <= p <= len(body) - size and body[p:p + size].strip()
                      and quote_print(body[p:p + size]) == mark), None) if mark and size > 0 else start
        if moved is None:
            gone += 1
        else:
            found.append((moved, moved + size))
    return found, gone


# ---------------------------------------------------------------- sources, numbered as readers know them

def by_source(cards: list[dict]) -> list[list[dict]]:
    """An answer's citations grouped by article, in the order the articles are first quoted. The page
    numbers sources, as citation tools and reference lists do: two quotes of one article share its
    number and its card. (The JSON and the CLI number quotes, one `n` each: DESIGN.md.)"""
    groups: dict[str, list[dict]] = {}
    for c in cards:
        groups.setdefault(c["article_id"], []).append(c)
    return list(groups.values())


def source_numbers(cards: list[dict]) -> dict[int, int]:
    """Each citation's `n` -> the number of its source on the page (`by_source`)."""
    return {c["n"]: k for k, group in enumerate(by_source(cards), 1) for c in group}


def source_of(cards: list[dict], card: dict) -> tuple[str, list[dict]]:
    """The label ("[k]") of a citation's source and that source's citations (`by_source`)."""
    for k, group in enumerate(by_source(cards), 1):
        if card in group:
            return f"[{k}]", group
    return f"[{card['n']}]", [card]


def citation_markers(text: str, cards: list[dict]) -> list[re.Match]:
    """The [n] of an answer's text that cite: the number of one of its citations, outside the quoted
    words (an article's own "the audit [2] showed" is its text, never a link, and never renumbered)."""
    quoted = []
    for c in cards:
        quote = shown_quote(c["quote"])
        at = text.find(quote) if quote else -1
        while at >= 0:
            quoted.append((at, at + len(quote)))
            at = text.find(quote, at + 1)
    numbers = {c["n"] for c in cards}
    return [m for m in _MARKER.finditer(text)
            if int(m.group(1)) in numbers and not any(a <= m.start() < b for a, b in quoted)]


def _with_markers(text: str, cards: list[dict], plain, marker) -> str:
    """`text` with `plain(piece)` for its words and `marker(n)` for each citing [n] (`citation_markers`)."""
    out, at = [], 0
    for m in citation_markers(text, cards):
        out += [plain(text[at:m.start()]), marker(int(m.group(1)))]
        at = m.end()
    return "".join(out + [plain(text[at:])])


def numbered_by_source(text: str, cards: list[dict]) -> str:
    """An answer's text as Markdown (`answer_as_markdown`): each citing [n] written as its source's number,
    every other piece escaped (`markdown_text`). An article's own "the audit [2] showed" in a quote read,
    once pasted, as a citation of source 2 (and the Markdown it was pasted into could make it a link or a
    footnote); escaped, it shows as the article wrote it, and only the answer's own markers are bare [k]."""
    numbers = source_numbers(cards)
    return _with_markers(text, cards, markdown_text, lambda n: f"[{numbers[n]}]")


def answer_markdown(turn: dict, index: int) -> str:
    """The assistant message: escaped answer text, each [n] a link to its article with a popover
    (headline, outlet, date, the quote in its sentence) and numbered by its source, and the filters used."""
    cards = {c["n"]: c for c in turn["cards"]}
    numbers = source_numbers(turn["cards"])
    text = _with_markers(turn["answer"], turn["cards"], md_text,
                         lambda n: citation_marker(cards[n], index, numbers[n]))
    if turn.get("refused"):  # marked apart from an answer, as its sources' related reading is (app.css)
        text = f'<span class="not-answered">Not answered by the articles</span>\n\n{text}'
    return text + "\n\n" + meta_line(turn, index)


def citation_marker(card: dict, turn: int, source: int) -> str:
    """[k] (its source's number) as a link to the article's page at this quote; hovering or focusing it
    shows this quote's popover, found by the `cite=TURN-N` in the address, and a click the source's card,
    by `card=TURN-K` (app.js; the Chatbot keeps an href, not data attributes)."""
    href = f"{article_link(card['article_id'], [card])}&amp;cite={turn}-{card['n']}&amp;card={turn}-{source}"
    return (f'<a class="cite" href="{href}" target="_blank" rel="noopener">[{source}]'
            f'<span class="visually-hidden"> source: {esc(card["title"] or "untitled")}</span></a>')


def popover_html(card: dict) -> str:
    """What hovering [n] shows: headline, outlet, date, and the quote with the words around it."""
    before, after = _around(card)
    return (f"<div class='pop-title'>{esc(card['title'] or 'untitled')}</div>"
            f"<div class='pop-meta'>{esc(card['source'] or UNKNOWN_OUTLET)} · {esc(card['published'] or UNDATED)}</div>"
            f"<div class='pop-text'>{esc(before)}<mark>{esc(_lines(card['quote']))}</mark>{esc(after)}</div>"
            f"<a class='pop-open' href='{article_link(card['article_id'], [card])}' "
            f"target='_blank' rel='noopener'>Open the whole article</a>")


def meta_line(turn: dict, index: int | None = None) -> str:
    parts = ([f"Answer {index + 1}"] if index is not None else []) + [f"Filters: {turn['filters']}"]
    if turn.get("query") and turn["query"] != turn["question"]:
        parts.append(f"searched for “{turn['query']}”")
    if turn.get("confidence") is not None:
        parts.append(f"confidence {turn['confidence']:.0%}")
    parts.append(f"answerer: {turn['answerer']}")
    if turn.get("note"):
        parts.append(turn["note"])
    link = ""
    if turn.get("link"):
        link = f' · <a class="question-link" href="{esc(turn["link"])}" target="_blank" rel="noopener">link to this question</a>'
    return f'<span class="answer-meta">{esc(" · ".join(parts))}{link}</span>'


def article_meta(source: str, published: str, url: str, path: str = "") -> str:
    # <bdi>: an outlet in Arabic or Hebrew turned the line right to left ("01-06-2024 · صحيفة المدينة")
    bits = [f"<bdi class='outlet'>{esc(source or UNKNOWN_OUTLET)}</bdi>",
            f"<bdi class='date'>{esc(published or UNDATED)}</bdi>"]
    if _is_web(url):
        bits.append(f"<a href='{esc(url)}' target='_blank' rel='noopener noreferrer nofollow'>original page</a>")
    elif path:
        bits.append(f"<span class='path'>{esc(path)}</span>")
    return " · ".join(bits)


def _is_web(url: str) -> bool:
    return bool(url) and urlparse(url).scheme in ("http", "https")


EMPTY_SOURCES = ("<div class='sources-empty'>Ask a question: the sources of the answer appear here, "
                 "each with its quoted words highlighted.</div>")


def sources_html(turns: list[dict], index: int | None) -> str:
    """The side panel for answer `index`: a card per source (its quotes highlighted in it), or what was
    searched when nothing was quoted (with the nearest passages as related reading)."""
    if not turns or index is None or not 0 <= index < len(turns):
        return EMPTY_SOURCES
    turn = turns[index]
    # a long question is cut to two lines (app.css), whole in the tooltip, so the cards stay in view
    head = (f"<div class='sources-head'><span class='sources-title' title='{esc(turn['question'])}'>"
            f"Sources of answer {index + 1}: <q>{esc(turn['question'])}</q></span>"
            f"<button type='button' class='copy-md' data-turn='{index}'>Copy as Markdown</button></div>"
            f"<textarea class='md-source' hidden aria-hidden='true' readonly>{esc(answer_as_markdown(turn))}</textarea>")
    if not turn["cards"]:
        searched = (f"<p>Nothing quoted. Searched for <q>{esc(turn['query'] or turn['question'])}</q> "
                    f"({esc(turn['filters'])}).</p>")
        if turn.get("related"):
            related = "".join(_card(group, index, f"rel-{index}-{group[0]['n']}", "related", related=True)
                              for group in by_source(turn["related"]))
            listing = (f"<p class='related-head'>Related reading: the nearest passages, the sentences nearest the "
                       f"question in italics. <strong>They are not an answer.</strong></p>{related}")
        elif turn["closest"]:
            closest = "".join(f"<li><b>{esc(c['title'] or 'untitled')}</b> "
                              f"({article_meta(c['source'], c['published'], '')})</li>" for c in turn["closest"])
            listing = f"<p>Closest passages were from:</p><ul>{closest}</ul>"
        else:
            listing = "<p>No passages matched.</p>"
        return f"<div class='sources' data-turn='{index}'>{head}{searched}{listing}</div>"
    cards = "".join(_card(group, index, f"src-{index}-{k}", f"[{k}]")
                    for k, group in enumerate(by_source(turn["cards"]), 1))
    return f"<div class='sources' data-turn='{index}'>{head}{cards}</div>"


def _card(group: list[dict], index: int, anchor: str, label: str, related: bool = False) -> str:
    """One source's card: headline, outlet, date, the words around each of its quotes (highlighted), and
    its whole article (in the panel or on its own page) with every quote marked."""
    c = group[0]
    snippets = "".join(f"<p class='snippet'>{s}</p>" for s in _snippets(group, related))
    return (f"<div class='card{' related' if related else ''}' id='{anchor}' data-n='{c['n']}'>"
            f"<div class='card-head'><span class='card-n'>{esc(label)}</span> "
            f"<span class='card-title'>{esc(c['title'] or 'untitled')}</span></div>"
            f"<div class='card-meta'>{article_meta(c['source'], c['published'], c['url'], c['path'])}</div>"
            f"{snippets}<div class='card-actions'>"
            f"<button type='button' class='open-article' data-turn='{index}' data-n='{c['n']}' "
            f"data-related='{int(related)}'>Show the whole article here</button> "
            f"<a class='article-page' href='{article_link(c['article_id'], group, related)}' target='_blank' "
            f"rel='noopener'>Open the whole article<span class='visually-hidden'> (new tab)</span></a></div></div>")


def _snippets(group: list[dict], related: bool) -> list[str]:
    """The shown words of one article's quotes, in the article's order: quotes whose shown words meet or
    overlap (the words after one reach the words before the next) share one snippet, so no words are
    shown twice."""
    shown: list[list[str]] = []
    last = None
    for c in sorted(group, key=lambda c: c["start"]):
        if last is not None and c["start"] < last["end"]:  # overlaps the last quote: only what goes beyond it
            if c["end"] > last["end"]:
                shown[-1].append(_marked(c | {"quote": c["quote"][last["end"] - c["start"]:]}, related))
                last = c
            continue
        # The article's words between the two quotes, when the words shown around them reach across:
        # `after` is body[last end : last end + len(after)] and `before` body[c start - len(before) : c start],
        # so with a gap of 30 characters, 20 after and 15 before, the words between are all of `after`
        # and the last 10 of `before`.
        gap = c["start"] - last["end"] if last else -1
        if last is not None and gap <= len(last["after"]) + len(c["before"]):
            after, before = last["after"], c["before"]  # body[last end:...] and body[...:c start]
            between = after[:gap] if gap <= len(after) else after + before[len(after) + len(before) - gap:]
            shown[-1] += [esc(_lines(between)), _marked(c, related)]
        else:
            if last is not None:
                shown[-1].append(esc(_around(last)[1]))
            shown.append([esc(_around(c)[0]), _marked(c, related)])
        last = c
    if last is not None:
        shown[-1].append(esc(_around(last)[1]))
    return ["".join(parts) for parts in shown]


def _around(card: dict) -> tuple[str, str]:
    """The words before and after a card's quote, as shown (app.css keeps their line breaks): a paragraph
    break as one line break, so a heading does not run into the next sentence nor take three lines."""
    before = ("…" if card["cut_before"] else "") + card["before"]
    after = card["after"] + ("…" if card["cut_after"] else "")
    return _lines(before), _lines(after)


def _lines(text: str) -> str:
    return re.sub(r"\s*\n\s*", "\n", text)


def _marked(card: dict, related: bool) -> str:
    """A card's quote, highlighted (named by its citation's `n`: a click on that [n] picks it out, app.js);
    related reading's nearest sentence only set apart (it answers nothing)."""
    shown = esc(_lines(card["quote"]))
    return f"<span class='nearest'>{shown}</span>" if related else \
        f"<mark data-n='{card['n']}' data-span='{span_key(card)}'>{shown}</mark>"


def answer_as_markdown(turn: dict) -> str:
    """The answer with its quotes and a numbered list of its sources, as the page numbers them, for
    pasting into a report: headline, outlet, date and the web address (a file's path on this machine
    means nothing to the report's readers, so it is left out), and the filters it was asked with (an
    answer from one outlet or one month says so where it is pasted). A refusal lists its related reading,
    as such."""
    lines = [f"**{_markdown_line(turn['question'])}**", "", numbered_by_source(turn["answer"], turn["cards"]), "",
             f"_Filters: {_markdown_line(turn['filters'])}_", ""]
    for k, group in enumerate(by_source(turn["cards"]), 1):
        lines.append(f"{k}. {_source_line(group[0])}")
    if not turn["cards"] and turn.get("related"):  # a refusal: the nearest articles, said not to answer
        lines += ["Related reading, not an answer:", ""]
        lines += [f"- {_source_line(group[0])}" for group in by_source(turn["related"])]
    return "\n".join(lines).strip() + "\n"


def _source_line(c: dict) -> str:
    """A source as a pasted answer lists it: headline, outlet, date, web address."""
    return (_markdown_line(f"{c['title'] or 'untitled'}, {c['source'] or UNKNOWN_OUTLET}, {c['published'] or UNDATED}")
            + (f", {_markdown_address(c['url'])}" if _is_web(c["url"]) else ""))


def _markdown_line(text: str) -> str:
    """`markdown_text` on one line, its white space single spaces: a bold question, the italic filters and
    a list item's headline end at a line break (and bold at a space before its closing "**")."""
    return markdown_text(" ".join(text.split()))


def _markdown_address(url: str) -> str:
    """A web address in the copied Markdown, clickable: as it is where Markdown reads nothing in it
    (`markdown_text` leaves it alone), else an autolink <...>, inside which Markdown reads nothing, with
    what would end it early (white space, "<", ">", a control character) percent-encoded."""
    if markdown_text(url) == url:
        return url
    return "<" + re.sub(r"[\x00-\x20<>\x7f]", lambda m: f"%{ord(m.group()):02X}", url) + ">"


def highlighted_body(body: str, quotes: list[tuple[int, int, str]], related: bool = False) -> tuple[str, bool]:
    """The body as HTML with each quote's `body[start:end]` marked, the mark of the first quote given (the
    one the reader clicked) `id='quote'`, to be scrolled into view; a quote no longer at its place (the
    article changed since) is looked for again, and left out when gone (`quote` "" takes the span as it
    is). Related reading's nearest passages (`related`) are marked apart from quotes: they answer nothing.
    Returns (html, whether any quote was found)."""
    spans = []
    for start, end, quote in quotes:
        if not (0 <= start < end <= len(body)) or (quote and body[start:end] != quote):
            found = body.find(quote) if quote else -1
            if found < 0:
                continue
            start, end = found, found + len(quote)
        spans.append((start, end))
    shown = spans[0][0] if spans else -1  # where the quote to show is (the first found, in the order given)
    merged: list[list[int]] = []  # overlapping quotes marked as one
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts, at = [], 0
    for start, end in merged:
        kind = " class='nearest'" if related else ""
        opening = f"<mark{kind} id='quote'>" if start <= shown < end else f"<mark{kind}>"
        parts += [esc(body[at:start]), opening, esc(body[start:end]), "</mark>"]
        at = end
    return "".join(parts) + esc(body[at:]), bool(spans)


RELATED_NOTE = ("Related reading, not an answer: the passages nearest the question are underlined; the "
                "articles do not answer it.")


def changed_note(gone: int, quotes: int) -> str:
    """The note over an article that `gone` of an answer's `quotes` are no longer in (it changed since)."""
    if not gone:
        return ""
    what = "the quoted words are" if gone == quotes else f"{gone} of the {quotes} quotes {'is' if gone == 1 else 'are'}"
    return (f"<p class='page-changed' role='note'>This article changed after the answer quoted it: {what} no "
            f"longer in it. Ask again to quote it as it is now.</p>")


def article_panel(article, cards: list[dict], label: str, turn: int, related: bool = False) -> str:
    """The whole article inside the page, answer `turn`'s quotes highlighted (the first of `cards`, the one
    the reader came from, scrolled into view by ARTICLE_JS); related reading's passages underlined, not
    highlighted, under a note that they answer nothing. A quote is found in an article changed since as on
    its own page (`located_spans`, `changed_note`)."""
    located, gone = located_spans(article.body, [(c["start"], c["end"], quote_print(c["quote"])) for c in cards])
    text, _ = highlighted_body(article.body, [(start, end, "") for start, end in located], related)
    note = f"<p class='related-note' role='note'>{RELATED_NOTE}</p>" if related else ""
    return (f"<div class='article' data-article='{esc(article.id)}' data-turn='{turn}'>"
            f"{note}{changed_note(gone, len(cards))}"
            f"<div class='article-head'><span class='card-n'>{esc(label)}</span> "
            f"<span class='article-title'>{esc(article.title or 'untitled')}</span>"
            f"<div class='card-meta'>{article_meta(article.source, article.published, article.url, cards[0]['path'])}"
            # a box that scrolls: reachable by the keyboard, and named for a screen reader
            f"</div></div><div class='article-body' tabindex='0' role='region' aria-label='The whole article'>"
            f"{text}</div></div>")


def article_page(article, spans: list[tuple[int, int, str]], css: str, related: bool = False) -> str:
    """An article's own page (/article/ID?quote=START-END~FINGERPRINT,...): the whole text, the quotes
    highlighted and the first listed (the one the reader came from, app.js) scrolled into view, linkable
    and bookmarkable. When the article changed since, a quote is marked where its words now are, and one
    no longer in it is said to be gone. Related reading (`related`) is underlined under a note saying so."""
    located, gone = located_spans(article.body, spans)
    text, found = highlighted_body(article.body, [(start, end, "") for start, end in located], related)
    authors = f"<div class='page-authors'>By {esc(', '.join(article.authors))}</div>" if article.authors else ""
    scroll = ("<script>document.getElementById('quote')?.scrollIntoView({block: 'center'});</script>"
              if found else "")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{esc(article.title or 'untitled')}</title><style>{css}</style></head>"
            f"<body class='article-page'><main><h1>{esc(article.title or 'untitled')}</h1>"
            f"<div class='card-meta'>{article_meta(article.source, article.published, article.url, display_path(article.path))}</div>"
            f"{authors}{changed_note(gone, len(spans))}{f'<p class=related-note role=note>{RELATED_NOTE}</p>' if related else ''}"
            f"<div class='article-body'>{text}</div>"
            f"<p class='page-foot'><a href='/'>Ask a question about the articles</a></p></main>{scroll}</body></html>")


def missing_article_page(css: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Article not found</title>"
            f"<style>{css}</style></head><body class='article-page'><main><h1>Article not found</h1>"
            f"<p>This article is no longer in the store: its file was removed, renamed, moved or changed. "
            f"Ask again to find it where it is now.</p>"
            f"<p><a href='/'>Ask a question about the articles</a></p></main></body></html>")


def failed_list(failed: list[dict], warnings: list[dict] | None = None) -> str:
    """The files a sync could not index, by name, then its warnings (`IngestReport.warnings`) by path."""
    items = "".join(f"<li><b>{esc(Path(f['path']).name)}</b>: {esc(f['error'])}</li>" for f in failed)
    items += "".join(f"<li><b>{esc(w['path'])}</b>: {esc(w['warning'])}</li>" for w in warnings or [])
    return f"<ul class='failed'>{items}</ul>" if items else ""


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def status_box(kind: str, text: str, result: bool = False) -> str:
    done = " data-result='done'" if result else ""
    return f"<div class='status status-{kind}' data-state='{kind}' role='status'{done}>{esc(text)}</div>"


def index_table(rows: list[tuple[str, object]], last_sync: str, failed: list[dict]) -> str:
    body = "".join(f"<tr><th scope='row'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    extra = f"<p class='muted'>Last sync {esc(last_sync)}</p>" if last_sync else ""
    return f"<table class='index-table'>{body}</table>{extra}{failed_list(failed)}"


def feeds_table(feeds: list, minutes: float, reading=None) -> str:
    """The followed feeds (`models.Feed`s): each one's title and address, its last poll and what it
    brought, items added in all, and the errors of its last poll; the one being polled says how far the
    poll is (`reading`, a `models.Reading`)."""
    if not feeds:
        return ("<p class='muted'>No feeds followed yet. Add the address of an RSS, Atom or JSON Feed, or of a "
                "news page, below (or run <code>rag follow URL</code>).</p>")
    rows = []
    for f in feeds:
        address = esc(f.url) + (f"<br>its feed: {esc(f.feed_url)}" if f.feed_url else "") + \
            ("<br>its headline links" if f.page_links else "")
        name = f"{esc(f.title)}<br><span class='muted'>{address}</span>" if f.title else address
        errors = "".join(f"<li>{esc(e)}</li>" for e in f.errors)
        failed = f"<ul class='failed'>{errors}</ul>" if errors else ""
        now = (f"<p class='polling'>Polling now: {esc(reading.describe())}</p>"
               if reading is not None and reading.url == f.url else "")
        # a feed whose last poll could not read it at all (gone, refused, not a feed) stands out from
        # the ones that only lost an item or two
        failing = any(e.startswith("the feed:") for e in f.errors)
        badge = "<span class='feed-failing-badge'>Failing: not read at the last poll</span><br>" if failing else ""
        rows.append(f"<tr{' class=feed-failing' if failing else ''}><th scope='row'>{badge}{name}</th><td>{now}"
                    f"Last poll: {esc(f.last_poll or 'not yet')}"
                    f"{': ' + esc(f.last_result) if f.last_result else ''}. {plural(f.added, 'item')} added in all."
                    f"{failed}</td></tr>")
    return (f"<table class='index-table feeds-table'>{''.join(rows)}</table>"
            f"<p class='muted'>Polled {every(minutes)} (RAG_FEED_MINUTES).</p>")
