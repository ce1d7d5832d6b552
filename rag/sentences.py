"""Sentences of an article body, with their offsets, and the shape of each (a real sentence, or a
headline, intertitle, caption, photo credit or fragment).

Splitting is a regular expression that knows news abbreviations ("Dec. 11", "Mr.", "U.S. Army",
"George W. Bush"), written here rather than taken from pysbd: on the same bodies pysbd took about
60 ms per 3,000 characters, 20 times the regular expression, which a question (ten 1,500-character
passages) cannot afford; the boundaries it finds that the expression does not are measured in
docs/BENCHMARKS.md ("Sentence splitting").
"""

from __future__ import annotations

import re

from .dates import MONTH_ABBREVIATIONS, MONTHS, WEEKDAYS
from .models import Span
from .text import NAME_IDF, QUESTION_STOPWORDS, english_idf, terms

# A period after these never ends a sentence when a capitalised word or a number follows.
_TITLES = {"mr", "mrs", "ms", "dr", "prof", "sen", "rep", "gov", "gen", "lt", "col", "sgt", "capt", "adm",
           "cmdr", "rev", "st", "mt", "ft", "fr", "pres", "supt", "det", "insp", "hon", "no", "nos", "vs", "v",
           *MONTH_ABBREVIATIONS, "ave", "blvd",
           "rd", "ariz", "calif", "colo", "conn", "fla", "ill", "ind", "kan", "mass", "mich", "minn", "miss",
           "neb", "nev", "okla", "ore", "pa", "penn", "tenn", "tex", "va", "wash", "wis", "wyo", "approx", "est",
           "fig", "op", "ed"}
# After these a sentence may or may not end: it ends only when a word of QUESTION_STOPWORDS follows
# ("... in the U.S. The ..." ends; "the U.S. Army" does not). That list also holds a few common news
# words ("said", "new", "first"), so "the U.S. New ..." ends too; a change of list changes the splits
# (and the answers): measure it with bench/sentence_split.py first.
_AMBIGUOUS = {"u.s", "u.k", "u.n", "e.u", "d.c", "a.m", "p.m", "inc", "co", "corp", "ltd", "jr", "sr", "llc",
              "etc", "al", "bros"}
# After "a.m." or "p.m." a capitalised word starts a sentence ("The polls close at 8 p.m. Voters must ..."):
# a common English word (not a name: "10 a.m. Brussels time") in lower-case company (not "11 p.m. Election
# Day"), and not one that goes on with the time: a day, a month, a time zone ("8 p.m. Tuesday", "6 p.m.
# ET", "7:30 p.m. AEST": any all-capital word).
_AFTER_TIME = {*WEEKDAYS, *MONTHS, *MONTH_ABBREVIATIONS,
               "et", "est", "edt", "ct", "cst", "cdt", "mt", "mst", "mdt", "pt", "pst", "pdt", "gmt", "bst", "utc",
               "cet", "cest", "eastern", "central", "mountain", "pacific", "local", "today", "tonight", "tomorrow"}

# A day of the month written as an ordinal, as in German ("am 3. Oktober", "zum 1. Januar"): the period
# after the number ends no sentence when a German month's name follows. Only German names: an English
# sentence may end in a number before "March", "May" or "June" ("They won 3-1. May ...").
_MONTHS = "Januar|Jänner|Februar|März|April|Mai|Juni|Juli|August|September|Oktober|November|Dezember"
_DAY_ORDINAL = re.compile(rf"(?<![\d.,])(0?[1-9]|[12]\d|3[01])\.\s+({_MONTHS})\b")

# A sentence may end here (`_ends_sentence` decides, by the words around it). Not chunking's rule
# (`chunking._SENTENCE_START`, where an overlapping chunk may start): that one fixes every stored chunk's
# boundaries and stays as it is, so that no store is embedded again (chunking.py says by how much).
_BOUNDARY = re.compile(r"[.!?…]+[\"”’')\]]*\s+(?=[\"“‘'(\[]?[A-Z0-9])")
_PARAGRAPH = re.compile(r"\n\s*\n|\n")
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")
_END_PUNCT = re.compile(r"[.!?…][\"”’')\]]*$|[\"”’]$")
_CREDIT = re.compile(r"(\b(photo|image|video|illustration|graphic)s?\b\s*(by|:|/|credit)|getty images|\bap photo|"
                     r"reuters/|afp via|shutterstock|\bfile photo\b|©|\(photo\b|\bcredit:|\bcaption:|"
                     r"\ball rights reserved\b|^copyright\b|"
                     r"^(watch|read more|related|see also|click here|sign up|subscribe)\b)", re.I)
_CAPTION_END = re.compile(r"\((ap|afp|reuters|getty|photo|file)[^)]*\)\s*$", re.I)
# Who is where in a picture: "Lukashenko (left) and Putin", "(pictured)", "(second from right)".
_PICTURE_PLACE = re.compile(r"\((left|right|center|centre|top|bottom|pictured|front|background|foreground|"
                            r"(second|third) from (left|right)|[lr]\.? ?to ?[lr]\.?)\)", re.I)


# A paragraph of one short question under a label, an intertitle or a teaser link that asks: "Alexander
# Lukashenko: Will he drop Vladimir Putin if necessary?", "Important Putin announcement - is he putting
# everything on one card?". A label with a digit ("Question 3: Which ...?") is a quiz's question, which
# leads its answer line (answering.lead_quotes), so it stays a sentence.
_ASKING_TITLE = re.compile(r"^[A-Z][^.!?:\d]{2,80}(?::| [-–—]) .{3,}\?$")
ASKING_TITLE_CHARS = 150

# The second line of a caption ("Lukashenko (left) and Putin.", then "Putin and Lukashenko meet in
# Minsk.") is a short paragraph of its own, right under the first line or the photo credit.
CAPTION_CHARS = 150


def split(body: str, min_chars: int = 25) -> list[Span]:
    """The sentences of `body` in order. A piece shorter than `min_chars` inside a paragraph is joined
    to the sentence after it ("Sovereign." stays; "No. 3" never stood alone)."""
    spans: list[Span] = []
    for p_start, p_end in _paragraphs(body):
        pieces = _sentence_pieces(body, p_start, p_end)
        pending = None
        for i, (s, e) in enumerate(pieces):
            if pending is not None:
                s, pending = pending, None
            if e - s < min_chars and i + 1 < len(pieces):
                pending = s
                continue
            spans.append(Span(body[s:e], s, e, paragraph_start=s == pieces[0][0]))
    for span in spans:
        span.shape = shape_of(span)
    under_caption = [False] + [bool(_PICTURE_PLACE.search(s.text) or _CAPTION_END.search(s.text)) for s in spans[:-1]]
    for i, span in enumerate(spans):
        alone = span.paragraph_start and (i + 1 == len(spans) or spans[i + 1].paragraph_start)
        if under_caption[i] and alone and span.shape == "sentence" and len(span.text) < CAPTION_CHARS:
            span.shape = "caption"  # a short paragraph of its own right under a caption or photo credit
        elif alone and span.shape == "sentence" and len(span.text) < ASKING_TITLE_CHARS and \
                _ASKING_TITLE.match(span.text):
            span.shape = "heading"
    return spans


def _paragraphs(body: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for m in list(_PARAGRAPH.finditer(body)) + [None]:
        end = m.start() if m else len(body)
        s, e = _strip(body, pos, end)
        if e > s:
            out.append((s, e))
        pos = m.end() if m else len(body)
    return out


def _strip(body: str, s: int, e: int) -> tuple[int, int]:
    while s < e and body[s].isspace():
        s += 1
    while e > s and body[e - 1].isspace():
        e -= 1
    return s, e


def _sentence_pieces(body: str, start: int, end: int) -> list[tuple[int, int]]:
    pieces, pos = [], start
    for m in _BOUNDARY.finditer(body, start, end):
        if not _ends_sentence(body, pos, m):
            continue
        s, e = _strip(body, pos, m.end())
        if e > s:
            pieces.append((s, e))
        pos = m.end()
    s, e = _strip(body, pos, end)
    if e > s:
        pieces.append((s, e))
    return pieces


def _ends_sentence(body: str, piece_start: int, m: re.Match) -> bool:
    """Whether the punctuation matched at `m` ends a sentence, given the word before and after it."""
    if body[m.start()] != ".":
        return True
    if any(_DAY_ORDINAL.match(body, start) for start in (m.start() - 2, m.start() - 1) if start >= piece_start):
        return False  # "am 3. Oktober"
    before = _WORD_BEFORE.search(body, piece_start, m.start() + 1)
    if not before:
        return True
    word = before.group(1).lower()
    following = re.match(r"[\"“‘'(\[]?([\w]+)", body[m.end():m.end() + 40])
    nxt = following.group(1) if following else ""
    if len(word) == 1 and word.isalpha():  # an initial: "George W. Bush", "J. K. Rowling"
        return False
    if word in _TITLES:
        return False
    if word.rstrip(".") in ("a.m", "p.m") and nxt[:1].isupper() and nxt.lower() not in QUESTION_STOPWORDS:
        return _starts_sentence(nxt, body[m.end():m.end() + 60])
    if word.rstrip(".") in _AMBIGUOUS or "." in word.rstrip("."):  # U.S., a.m., Inc., e.g. "N.Y."
        return nxt.lower() in QUESTION_STOPWORDS
    return True


def _starts_sentence(word: str, after: str) -> bool:
    """Whether `word`, capitalised after "a.m." or "p.m.", starts a sentence (`_AFTER_TIME`)."""
    if word.isupper() or word.lower() in _AFTER_TIME or any(english_idf(t) >= NAME_IDF for t in terms(word)):
        return False
    following = re.match(r"[\"“‘'(\[]?[\w'’\-]+\s+([\w'’\-]+)", after)
    return bool(following) and following.group(1)[:1].islower()


def shape_of(span: Span) -> str:
    """"caption" (photo credits, captions, "Read more"), "heading" (a paragraph without a full stop:
    a headline or intertitle), "fragment" (starts mid-sentence or has no verb-sized length), else
    "sentence". `split` then looks at each sentence's paragraph: a short paragraph under a caption is a
    caption too, and a one-line paragraph asking under a label (`_ASKING_TITLE`) a heading."""
    text = span.text
    if _CREDIT.search(text[:80]) or _CAPTION_END.search(text) or _PICTURE_PLACE.search(text):
        return "caption"
    if span.paragraph_start and not _END_PUNCT.search(text) and len(text) < 200:
        return "heading"
    if text[0].islower() or not text[0].isalnum() and text[0] not in "\"“‘'([" or len(text) < 20:
        return "fragment"
    return "sentence"
