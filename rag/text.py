"""Words: the one tokenizer, stop-word lists and stemmer that keyword search, follow-up questions and
sentence choice share.

`terms()` is exactly what the BM25 index holds for a text (bm25s's token pattern and English stop
words, Snowball stems), so a word's document frequency in the index can be looked up for it.
`content_terms()` drops, in addition, the words a news question is full of but that say nothing of
its subject ("said", "week", "according"), and reads an abbreviated title as the word it stands for
("Gov. Holt": governor), as `sentence_terms()` (the ranker's words of a sentence) does: so it is no subset
of `terms()`, and its terms are not what the index holds for that text (look up a word's mentions in
the index with `terms()`). The keyword index itself, and so search, holds titles as written.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from collections.abc import Iterable

import Stemmer
from bm25s.stopwords import STOPWORDS_EN
from wordfreq import get_frequency_dict

TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # bm25s's default: runs of two or more word characters
_TOKEN = re.compile(TOKEN_PATTERN)

# A word as a name is written: a capital, then word characters, apostrophes and hyphens ("O’Brien",
# "Jean-Luc", "WBRK"). A pattern string, for the regular expressions that find names in a question.
NAME_WORD = r"[A-Z][\w'’\-]*"

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
    return Stemmer.Stemmer("english")


def words(text: str) -> list[str]:
    """Lower-cased tokens of `text`, as the keyword index splits it."""
    return _TOKEN.findall(text.lower())


def terms(text: str) -> list[str]:
    """The stemmed words of `text` that the keyword index holds."""
    stop = _index_stopwords()
    return english_stemmer().stemWords([w for w in words(text) if w not in stop])


def content_terms(text: str) -> list[str]:
    """The stemmed words that carry a question's subject (no stop words, no news-question words), its
    abbreviated titles spelled out (`spelled_out`)."""
    return english_stemmer().stemWords([w for w in words(spelled_out(text)) if w not in QUESTION_STOPWORDS])


def sentence_terms(text: str) -> list[str]:
    """`terms` of a sentence or passage with its abbreviated titles spelled out (`spelled_out`): its words
    as the sentence ranker compares them with a question's `content_terms`."""
    return terms(spelled_out(text))


# Titles news writes abbreviated before a name (AP style: "Gov. Marian Holt", "Sen. Ana Ruiz", "Prof. Helen
# Marsh"), where a question asks for "the governor": an answers tester's "What did the governor say?" was
# refused beside "Gov. Marian Holt said ...". Only before a capitalised word ("Gen. Ana Ruiz", not "the gen.
# public"); "Dr." of an address ("Elm Dr. Police said") is read as "doctor", a rare slip.
TITLE_ABBREVIATIONS = {
    "Gov": "Governor", "Sen": "Senator", "Rep": "Representative", "Gen": "General", "Lt": "Lieutenant",
    "Maj": "Major", "Col": "Colonel", "Capt": "Captain", "Sgt": "Sergeant", "Cpl": "Corporal", "Adm": "Admiral",
    "Cmdr": "Commander", "Dr": "Doctor", "Prof": "Professor", "Supt": "Superintendent", "Atty": "Attorney",
    "Det": "Detective", "Insp": "Inspector", "Rev": "Reverend", "Pres": "President",
}
_TITLE = re.compile(r"\b(" + "|".join(TITLE_ABBREVIATIONS) + r")\.(?=\s+[A-Z])")


def spelled_out(text: str) -> str:
    """`text` with each abbreviated title before a name written whole (TITLE_ABBREVIATIONS: "Gov. Marian
    Holt" -> "Governor Marian Holt"): what a question's and a sentence's words are compared by, never what
    is shown, quoted or indexed (the keyword index holds the text as written: `terms`)."""
    return _TITLE.sub(lambda m: TITLE_ABBREVIATIONS[m[1]], text)


@functools.cache
def _index_stopwords() -> frozenset[str]:
    return frozenset(INDEX_STOPWORDS)


# Quotation marks a sentence or a quote may open with: English ones, straight and curly, and the others news
# here comes in (« » „ ‚). Whether an answer's quote is wrapped in “ ” (`answering.compose`) and the ranker's
# `is_quote` read them. (citations.py folds curly marks to straight ones to compare texts: another job.)
QUOTE_MARKS = "\"'“”‘’«»„‚"


# ---------------------------------------------------------------- how rare a word is in English

# A word at least this rare in English (`english_idf`) is a name: a capitalised question word that an answer
# must be about (answering.unmentioned_names). Set on training questions only (held-out B over its own 1,500
# articles, and 16 folders of 10 and 30 articles, bench/small_stores.py): the capitalised words that
# answerable questions used and their store lacked were all common ("English" 3.3, "European" 3.5,
# "Hollywood" 4.8: "Hollywood stars" in an article that never says Hollywood), while the names an
# unanswerable question brought were rarer ("Hamlin" 8.2, "Gelof" 12.9, "Verstappen" 9.1, "Ofcom" 9.0,
# "Ukraine" 5.2).
NAME_IDF = 5.0

CHUNK_WORDS = 250  # about the words of a 1,500-character passage
UNLISTED_FREQUENCY = 1e-8  # a word wordfreq does not list: rarer than any it does (its rarest are ~2e-8)


@functools.cache
def _english_frequencies() -> dict[str, float]:
    """{stem: share of English running words} from wordfreq, the words of one stem added up.
    Built once per process (about 1.5 s)."""
    listed = get_frequency_dict("en")
    out: dict[str, float] = {}
    for word, stem in zip(listed, english_stemmer().stemWords(list(listed))):
        out[stem] = out.get(stem, 0.0) + listed[word]
    return out


def is_english_word(term: str) -> bool:
    """Whether wordfreq lists the term (as `terms()` gives it): not a number, a typo or another language's word."""
    return term.isalpha() and term in _english_frequencies()


def english_idf(term: str) -> float:
    """How rare a term (as `terms()` gives it) is in English at large, on BM25's IDF scale: -ln of the
    chance that a passage of CHUNK_WORDS words holds it. Stands in for the store's own IDF where the
    store is too small to tell (a folder of a few articles holds its own subject in every passage)."""
    frequency = _english_frequencies().get(term, UNLISTED_FREQUENCY)
    return -math.log(-math.expm1(-CHUNK_WORDS * frequency))


# ---------------------------------------------------------------- scripts

# The script of a letter, by Unicode block (letters outside these count for no script). Enough to tell a
# question from articles written in another alphabet; not a language detector.
SCRIPTS: tuple[tuple[str, tuple[tuple[int, int], ...]], ...] = (
    ("Latin", ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x24F), (0x1E00, 0x1EFF))),
    ("Cyrillic", ((0x400, 0x52F), (0x1C80, 0x1C8F), (0x2DE0, 0x2DFF), (0xA640, 0xA69F))),
    ("Greek", ((0x370, 0x3FF), (0x1F00, 0x1FFF))),
    ("Armenian", ((0x530, 0x58F),)),
    ("Hebrew", ((0x590, 0x5FF),)),
    ("Arabic", ((0x600, 0x6FF), (0x750, 0x77F), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF))),
    ("Devanagari", ((0x900, 0x97F),)),
    ("Bengali", ((0x980, 0x9FF),)),
    ("Thai", ((0xE00, 0xE7F),)),
    ("Georgian", ((0x10A0, 0x10FF),)),
    ("Hangul", ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF))),
    ("Chinese/Japanese", ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))),
)
# Letters of the scripts written without spaces between words (each one counts as a word, `feeds.story_words`)
CJK_LETTER = re.compile("[" + "".join(f"{chr(lo)}-{chr(hi)}" for name, ranges in SCRIPTS
                                      if name in ("Hangul", "Chinese/Japanese") for lo, hi in ranges) + "]")
# Text reads as English when at least this share of its words are English function words (bm25s's
# list: "the", "of", "and"...). Measured: 0.24-0.26 in samples of 200 articles of the rtqa-2023 corpus
# (title and first 400 characters each), at least 0.17 in samples of 5; 0.03-0.08 in GnuPG's help text
# in German, French, Spanish, Italian, Polish, Finnish, Turkish and eight other Latin-script languages.
ENGLISH_SHARE = 0.15


def script_of(letter: str) -> str | None:
    """The script a letter belongs to (None for a character that is not a letter of a listed script)."""
    if not letter.isalpha():
        return None
    point = ord(letter)
    for name, ranges in SCRIPTS:
        if any(lo <= point <= hi for lo, hi in ranges):
            return name
    return None


def main_script(text: str) -> str | None:
    """The script most of the text's letters are written in; None when it has none."""
    counts: dict[str, int] = {}
    for ch in text:
        if (name := script_of(ch)) is not None:
            counts[name] = counts.get(name, 0) + 1
    return max(counts, key=counts.get) if counts else None


def written_in(text: str) -> tuple[str | None, str]:
    """(main script, "English" when the text reads as English, else "")."""
    script = main_script(text)
    if script != "Latin":
        return script, ""
    found = words(text)
    share = sum(w in _index_stopwords() for w in found) / len(found) if found else 0.0
    return script, "English" if share >= ENGLISH_SHARE else ""


def script_hint(question: str, articles: tuple[str | None, str]) -> str:
    """A sentence for a refusal when the question is written in another script than the articles
    (`articles` as `written_in` gives it); "" when the scripts agree or either is unknown."""
    asked, (script, language) = main_script(question), articles
    if asked is None or script is None or asked == script:
        return ""
    if language:
        return f"The articles appear to be in {language}; ask in {language}."
    return f"The articles appear to be written in the {script} script; ask in their language."


# ---------------------------------------------------------------- two spellings of one name

# Two spellings of one name: "Zelensky" and Zelenskyy 0.82, Kharkov and Kharkiv 0.86, Lukashenko and
# Lukaschenko 0.95, a question's "Boheim" and the articles' Boeheim 0.92 (as `terms` stems them);
# AlphaOstrava and BetaOstrava differ in their first letters; "Knicks" and knock are 0.8 alike, but knock is
# no name. Set by hand on these examples; no store of name variants to measure on. (With the first three
# letters required, s150's "Boheim" question was refused: the check is on two.)
SPELLING_SIMILARITY = 0.8


def unaccented(word: str) -> str:
    """A word without its accents, in any script: "zürich" -> "zurich", "škoda" -> "skoda"."""
    if word.isascii():
        return word
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


def spelled_alike(name: str, candidates: Iterable[str], rarity: float) -> bool:
    """Whether one of `candidates` (terms, as `terms` gives them) is another spelling of the name `name`: a
    word with the same first two letters, at least SPELLING_SIMILARITY alike (difflib's ratio) and itself a
    name, at least `rarity` rare in English: "Knicks" is not "knock"."""
    matcher = difflib.SequenceMatcher(a=name, autojunk=False)
    for word in candidates:
        if word[:2] != name[:2]:
            continue
        matcher.set_seq2(word)
        if (matcher.real_quick_ratio() >= SPELLING_SIMILARITY and matcher.ratio() >= SPELLING_SIMILARITY
                and english_idf(word) >= rarity):
            return True
    return False


# A short form of a word as names abbreviate them: "Man Utd" (United), "Intl" (International), "Dept", "Natl",
# "Ltd". A question's "Man Utd" was refused ("an article that does not mention “Utd”") over the article on
# Manchester United's cup (held-out B). Only forms of consonants after the first letter: "Ada" or "Ana" are
# names, not short for "adapted" or "Anna", nor "Bryn" for "Bryant" (the review). Set by hand on these examples.
_SHORT_FORM = re.compile(r"[a-z][b-df-hj-np-tv-xz]{1,3}")  # (no "y": "Bryn" is a name, not short for Bryant)


def abbreviates(short: str, words: Iterable[str]) -> bool:
    """Whether one of `words` (lower-case, unstemmed: a text's capitalised words, as names are written; not
    "understood" for "Utd") is the word the short form `short` abbreviates: its first letter, then the short
    form's other letters in order, and at least two letters more."""
    if not _SHORT_FORM.fullmatch(short):
        return False
    pattern = re.compile(short[0] + "".join(f".*{re.escape(c)}" for c in short[1:]))
    return any(len(word) >= len(short) + 2 and word[0] == short[0] and pattern.match(word) for word in words)
