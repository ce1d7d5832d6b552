"""What the page keeps of each answer (a "turn"): plain dicts in Gradio state, built from an `Answer`
and the articles its quotes come from. `render.py` turns them into HTML."""

from __future__ import annotations

from urllib.parse import urlencode

from ..dates import as_of_or_today, check_window, filter_date
from ..models import Answer, Citation, Filters, display_path

ALL_OUTLETS = "All outlets"
CONTEXT_CHARS = 160  # characters of the article shown on each side of a quote, on its card and in its popover
# (240 made four cards of one answer about 450 characters each: two fitted the panel)


def make_turn(chat, answer: Answer, filters: Filters, earlier: list[str] | tuple = ()) -> dict:
    """One answer as the page keeps it. Its link asks the question again after `earlier` (the questions
    a follow-up went on from: `answering.conversation_topic`), so opened alone it shows the conversation
    that led to it and finds what it found."""
    return {"question": answer.question, "answer": answer.text, "refused": answer.refused,
            "query": answer.query, "answerer": answer.answerer, "filters": filters.describe(),
            "confidence": answer.confidence, "link": question_link(answer.question, filters, earlier),
            "cards": [make_card(chat, c) for c in answer.citations],
            "related": [make_card(chat, c) for c in answer.related],
            "closest": [{"title": c.title, "source": c.source, "published": c.published}
                        for c in list({c.article_id: c for c in answer.retrieved[:5]}.values())[:3]]}


def make_card(chat, citation: Citation, context: int = CONTEXT_CHARS) -> dict:
    """A citation with the words around its quote, cut at word boundaries."""
    chunk = citation.chunk
    article = chat.article(chunk.article_id)
    if article is not None and article.body[citation.start:citation.end] == citation.quote:
        body, offset = article.body, 0
    else:
        body, offset = chunk.text, chunk.start
    s, e = citation.start - offset, citation.end - offset
    lo, hi = max(0, s - context), min(len(body), e + context)
    if lo > 0:
        space = body.find(" ", lo, s)
        lo = space + 1 if space >= 0 else lo
    if hi < len(body):
        space = body.rfind(" ", e, hi)
        hi = space if space >= 0 else hi
    return {"n": citation.n, "quote": citation.quote, "start": citation.start, "end": citation.end,
            "article_id": chunk.article_id, "title": chunk.title, "source": chunk.source,
            "published": chunk.published, "url": chunk.url, "path": display_path(chunk.path),
            "before": body[lo:s], "after": body[e:hi], "cut_before": lo > 0, "cut_after": hi < len(body)}


# A question link's keys after "q", by Filters field: /?q=...&since=...&until=...&outlet=...&as_of=...
# ("outlet", as the page calls Filters.source).
LINK_KEYS = {"since": "since", "until": "until", "source": "outlet", "as_of": "as_of"}
# The most earlier questions a link asks before its own (`answering.conversation_topic` gives two at most):
# a crafted link must not make the app answer a hundred questions.
LINK_EARLIER = 2
MAX_QUESTION_CHARS = 1000  # of each earlier question a link holds


def question_link(question: str, filters: Filters, earlier: list[str] | tuple = ()) -> str:
    """The page's address that asks this question again with these filters (as-of left out when it is
    today, so a saved link keeps asking as of the day it is opened), after the `earlier` questions of the
    conversation it follows up (`&earlier=`, in order)."""
    params = [("q", question), *(("earlier", q) for q in earlier)]
    for name, key in LINK_KEYS.items():
        value = getattr(filters, name)
        if value and not (name == "as_of" and value == as_of_or_today("")):
            params.append((key, value))
    return "/?" + urlencode(params)


def read_question_link(params: list[tuple[str, str]]) -> tuple[str, list[str], dict[str, str]]:
    """The question, the earlier questions it follows up and the filter fields (Filters field -> text, ""
    when absent) of a question link's query parameters (as pairs: `earlier` repeats); the fields are
    checked later, as typed ones are (`make_filters`)."""
    given = dict(params)  # (a key given twice: its last value)
    earlier = [value[:MAX_QUESTION_CHARS] for key, value in params if key == "earlier" and value.strip()]
    fields = {name: given.get(key) or "" for name, key in LINK_KEYS.items()}
    return given.get("q") or "", earlier[:LINK_EARLIER], fields


def make_filters(since: str | None, until: str | None, outlet: str | None, as_of: str | None) -> Filters:
    """Filters from the page's fields (or the API's); raises ValueError (dates.DateError) naming a
    malformed date's field."""
    source = "" if not outlet or outlet == ALL_OUTLETS else outlet
    since, until = filter_date(since, "since"), filter_date(until, "until")
    check_window(since, until)
    return Filters(since=since, until=until, source=source, as_of=as_of_or_today(filter_date(as_of, "as of")))


def find_card(turns: list[dict], turn: object, n: object, related: object = 0) -> dict | None:
    """The card `n` of answer `turn` (from the page's data attributes), or None."""
    try:
        cards = turns[int(turn)]["related" if int(related or 0) else "cards"]
        return next(c for c in cards if c["n"] == int(n))
    except (TypeError, ValueError, IndexError, KeyError, StopIteration):
        return None
