"""Words: the one tokenizer, stop-word lists and stemmer that keyword search, follow-up questions and
sentence choice share.

`terms()` is exactly what the BM25 index holds for a text (bm25s's token pattern and English stop
words, Snowball stems), so a word's document frequency in the index can be looked up for it.
`content_terms()` drops, in addition, the words a news question is full of but that say nothing of
its subject ("said", "week", "according").
"""

from __future__ import annotations

import functools
import re

from bm25s.stopwords import STOPWORDS_EN

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # bm25s's default: runs of two or more word characters
_TOKEN = re.compile(TOKEN_PATTERN)

# What the keyword index leaves out (bm25s's English list: articles, pronouns, a few verbs).
INDEX_STOPWORDS: tuple[str, ...] = tuple(STOPWORDS_EN)

# Also left out of a question's subject: function words the index keeps, and the vocabulary of news
# questions themselves ("this week", "according to", "said").
QUESTION_STOPWORDS = frozenset(INDEX_STOPWORDS) | frozenset("""
about above after again against all am any because been before being below between both can could did do
does doing down during each few from further had has have having he her here hers herself him himself his
how i its itself just me more most my myself nor now off once only other our ours ourselves out over own
same she should so some than them themselves then these those through too under until up very we were
what when where which while who whom why would you your yours yourself yourselves said say says tell told
week weeks year years month months day days today yesterday according also new one two three first last
many much""".split())


@functools.cache
def english_stemmer():
    """The Snowball English stemmer (PyStemmer), shared by BM25, follow-ups and sentence choice."""
    import Stemmer

    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased tokens of `text`, as the keyword index splits it."""
    return _TOKEN.findall(text.lower())


def terms(text: str) -> list[str]:
    """The stemmed words of `text` that the keyword index holds."""
    stop = _index_stopwords()
    return english_stemmer().stemWords([w for w in words(text) if w not in stop])


def content_terms(text: str) -> list[str]:
    """The stemmed words that carry a question's subject (no stop words, no news-question words)."""
    return english_stemmer().stemWords([w for w in words(text) if w not in QUESTION_STOPWORDS])


@functools.cache
def _index_stopwords() -> frozenset[str]:
    return frozenset(INDEX_STOPWORDS)
