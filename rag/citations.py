"""Checking citations: every quote shown must be exactly `body[start:end]` of the article it cites.

Whatever produced a quote (the extractive answerer or a language model), it passes through
`verify()`; a quote that cannot be located in its article is dropped and reported, never shown.
"""

from __future__ import annotations

import re

from .models import UNQUOTED, Chunk, Citation, RawCitation

# Curly quotation marks, dashes and no-break spaces folded to plain ones, to compare a quote with its article
# (which marks open a quote is text.QUOTE_MARKS, another job)
_QUOTE_CHARS = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
                              "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
                              "\u00a0": " ", "\u2013": "-", "\u2014": "-"})


def normalize_with_map(text: str) -> tuple[str, list[int]]:
    """Text with quote characters made plain and white space folded, lower-cased, plus for each
    character of the result the index of the character of `text` it came from."""
    out: list[str] = []
    index: list[int] = []
    previous_space = True
    for i, ch in enumerate(text.translate(_QUOTE_CHARS)):
        if ch.isspace():
            if previous_space:
                continue
            ch = " "
            previous_space = True
        else:
            previous_space = False
        out.append(ch.lower())
        index.append(i)
    while out and out[-1] == " ":
        out.pop()
        index.pop()
    return "".join(out), index


def locate(quote: str, body: str, near: int = 0) -> tuple[int, int] | None:
    """(start, end) of `quote` in `body`, exact first, else with white space and quote marks normalized.
    Where it occurs more than once, the occurrence nearest `near` wins."""
    quote = quote.strip()
    if not quote:
        return None
    exact = _occurrences(body, quote)
    if exact:
        start = min(exact, key=lambda s: abs(s - near))
        return start, start + len(quote)
    norm_body, index = normalize_with_map(body)
    norm_quote, _ = normalize_with_map(quote.strip(" .,;:\"'“”‘’…"))
    if len(norm_quote) < 3:
        return None
    found = _occurrences(norm_body, norm_quote)
    if not found:
        return None
    s = min(found, key=lambda f: abs(index[f] - near))
    return index[s], index[s + len(norm_quote) - 1] + 1


def _occurrences(haystack: str, needle: str) -> list[int]:
    return [m.start() for m in re.finditer(re.escape(needle), haystack)]


def verify(raw: list[RawCitation], retrieved: list[Chunk], bodies: dict[str, str]) -> tuple[list[Citation], list[str]]:
    """Citations whose quotes are located in the cited article, numbered 1.. in order, and the
    reasons the others were dropped. `bodies` maps article id to the stored article body."""
    citations: list[Citation] = []
    dropped: list[str] = []
    for item in raw:
        if item.n == UNQUOTED:
            dropped.append(f"a reply that quotes no passage: \"{item.quote[:60]}\"")
            continue
        if not 1 <= item.n <= len(retrieved):
            dropped.append(f"[{item.n}] cites no retrieved passage: \"{item.quote[:60]}\"")
            continue
        chunk = retrieved[item.n - 1]
        body = bodies.get(chunk.article_id)
        if body and item.at is not None and body[item.at:item.at + len(item.quote)] == item.quote:
            span = (item.at, item.at + len(item.quote))
        else:
            span = locate(item.quote, body, near=chunk.start) if body else None
        if span is None:
            dropped.append(f"[{item.n}] quote not found in \"{chunk.title[:60]}\": \"{item.quote[:60]}\"")
            continue
        start, end = span
        if any(c.chunk.article_id == chunk.article_id and c.start == start for c in citations):
            continue  # the same quote twice
        citations.append(Citation(n=len(citations) + 1, quote=body[start:end], start=start, end=end, chunk=chunk))
    return citations, dropped
