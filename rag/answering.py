"""Turning retrieved passages into an answer made of quotes.

The default answerer needs no language model: the learned sentence ranker (`ranker.py`) orders the
sentences of the retrieved passages by their probability of containing the answer, and the answer
quotes the best ones, led by a real sentence (never a headline, caption or fragment). When even the
best quotes are unlikely to answer, the reply says the articles do not answer it and offers the
nearest sentences as related reading instead. Optional answerers ask a chat model (`llm.py`).
Either way every quote goes through `citations.verify` before it is shown.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import replace

from .dates import MONTH_ABBREVIATIONS, MONTHS
from .models import Candidate, Chunk, Citation, Filters, Proposal, Query, Ranking, RawCitation, Span, WordsAsked
from .ranker import RankerWeights, SentenceRanker, can_lead, can_quote, question_view, running_text
from .reader import SentenceReader
from .settings import EXTRACTIVE
from .text import (NAME_IDF, NAME_WORD, QUESTION_STOPWORDS, QUOTE_MARKS, abbreviates, content_terms, english_idf,
                   is_english_word, sentence_terms, spelled_alike, spelled_out, terms, unaccented, words)

# ---------------------------------------------------------------- follow-up questions

_FOLLOW_UP_START = re.compile(r"^\s*(and|but|also|so|then|what about|how about|and what|why|what else|more)\b", re.I)
_PRONOUNS = re.compile(r"\b(he|she|they|it|his|her|their|them|that|this|those|these|there|him)\b", re.I)
_NAME = re.compile(rf"\b{NAME_WORD}")


def standalone_query(question: str, history: list[tuple[str, str]], as_of: str = "") -> Query:
    """A follow-up ("and what did Peskov say?") is searched together with the conversation's topic.

    Without a language model this is a rule: a question that opens like a follow-up, leans on a
    pronoun, or is very short borrows the content words of the questions since the last one that was no
    follow-up (`conversation_topic`), so a third turn keeps the subject the first one named."""
    focus = content_terms(question)
    if not _is_follow_up(question, focus) or not (topic := conversation_topic(history)):
        return Query(question, focus, [], as_of, question)
    carried = list(dict.fromkeys(w for earlier in topic for w in re.findall(r"[\w'’\-]+", earlier)
                                 if w.lower() not in QUESTION_STOPWORDS and len(w) > 1))
    carried_terms = list(dict.fromkeys(t for earlier in topic for t in content_terms(earlier) if t not in focus))
    return Query(f"{question} ({' '.join(carried)})", focus, carried_terms, as_of, question, earlier=topic)


def conversation_topic(history: list[tuple[str, str]]) -> list[str]:
    """The earlier questions a follow-up borrows its subject from: the last one that was no follow-up
    (it named the subject) and, when the last question was a follow-up of it, that one too ("When will
    the Corva plant open?", "and how much did it cost?", then "what did the mayor say?" is about the
    Corva plant). Follow-ups in between are left out, so the words carried stay few. [] without history."""
    previous = [q for q, _ in history if q and q.strip()]
    if not previous:
        return []
    named = next((i for i in range(len(previous) - 1, -1, -1)
                  if i == 0 or not _is_follow_up(previous[i], content_terms(previous[i]))), 0)
    return list(dict.fromkeys([previous[named], previous[-1]]))


# A question word this rare in English names a subject of its own: "What is the price of potash?" (8.7)
# after a question about football is no follow-up. Set by hand before bench/conversations.py existed, and
# not tuned on its conversations since (docs/BENCHMARKS.md, "Follow-up questions", has their figures): set
# between such words (potash 8.7, ceasefire 7.5) and the words a short follow-up asks about (sanctions
# 5.5, ferry 5.5, mayor 4.4, army 3.5; english_idf). Only English words count: a number, a typo or a word
# of another language is unlisted, and so as rare as a word can be.
OWN_SUBJECT_IDF = 7.0


def _is_follow_up(question: str, focus: list[str]) -> bool:
    """Opens like a follow-up, or leans on a pronoun, or is very short without naming anyone or anything
    new."""
    if _FOLLOW_UP_START.match(question):
        return True
    if capitalised_words(question):  # names someone
        return False
    very_short = len(focus) <= 2 and not any(is_english_word(t) and english_idf(t) >= OWN_SUBJECT_IDF for t in focus)
    return bool(_PRONOUNS.search(question)) or very_short


def capitalised_words(question: str) -> list[str]:
    """The capitalised words of a question past its first word, as written: what names the people,
    places and things it asks about ("How much did the Corva plant cost?" -> ["Corva"])."""
    return _NAME.findall(past_first_word(question))


def question_names(question: str) -> list[tuple[str, str]]:
    """(as written, word) for each word of the question's `capitalised_words` that is no question word:
    "Did Corva’s mayor say so?" -> [("Corva’s", "corva")]. What `naming_articles` and `unmentioned_names`
    read as the names a question asks about."""
    return [(written, word) for written in capitalised_words(question) for word in words(written)
            if word not in QUESTION_STOPWORDS]


def past_first_word(question: str) -> str:
    """The question without its first word, where its names are looked for: a question's first word is
    capitalised whatever it is ("Who", "Did", "Corva")."""
    rest = question.strip().split(None, 1)
    return rest[1] if len(rest) > 1 else ""


def bare_name(written: str) -> str:
    """A capitalised word without its possessive: "Corva’s" -> "Corva", "Jones’" -> "Jones"."""
    return written.rstrip("'’").removesuffix("’s").removesuffix("'s")


# ---------------------------------------------------------------- an outlet the question names

def name_letters(name: str) -> str:
    """An outlet's name as its letters and digits, in lower case: "Valley Courier" and "valleycourier"
    alike, and "TechWire" and "techwire"; a web address's ".example" or "www." are not taken out."""
    return "".join(c for c in name.casefold() if c.isalnum())


def outlet_letters(name: str) -> str:
    """An outlet's name as a question would write it, in `name_letters`: a web address without "www." and its
    domain ("valleycourier.example" -> valleycourier, "theweek.co.uk" -> theweek). For matching only, never
    stored: not `feeds.outlet_of`, which names a stored outlet by its address (the host kept whole, as the
    outlet filter matches it); a stored outlet may also be a site's own name or an imported file's, with
    its "www." still on."""
    name = name.strip().casefold().removeprefix("www.")
    if "." in name and " " not in name:
        name = name.split(".", 1)[0]
    return name_letters(name)


# A run of capitalised words, as a question names an outlet ("the Valley Courier", "WBRK", "Reuters").
_CAPITALISED_RUN = re.compile(rf"{NAME_WORD}(?:\s+{NAME_WORD})*")
# What a question asks of an outlet: without such a word "How hot is the Sun?" is no question to The Sun.
# Two other lists of reporting words differ on purpose: `_SPEECH_VERBS` (a speaker's verb after the name:
# "added", "warned", no nouns) and dates._REPORTED_ON (a reporting verb before a day: "dated", no
# "according" or "story"). These also take nouns ("story", "coverage", "headlines") and "tell".
_REPORTING = re.compile(r"\b(report\w*|say|says|said|writ\w*|wrote|according|cover\w*|stor(y|ies)|articles?|"
                        r"publish\w*|tell|told|headlines?|coverage)\b", re.I)


def named_outlet(question: str, outlets: list[str]) -> str:
    """The stored outlet a question names, as its letters (`outlet_letters`, at least three), by a whole
    run of capitalised words past its first word ("The" before it or not), when it asks what was reported
    (`_REPORTING`): "What did WBRK report about the budget?" -> "wbrk.example", "... according to the
    Valley Courier?" -> "valleycourier"; "" when none. Part of a run is no outlet ("Michael Bloomberg" is
    not Bloomberg, "Fox News" not news.sky.com), nor is one common English word, unless written in
    capitals ("What did Time report?" may ask about anything at all; "NEWS" is a name)."""
    if not _REPORTING.search(question):
        return ""
    by_letters = {}
    for name in outlets:
        letters = outlet_letters(name)
        for key in (letters, letters.removeprefix("the")):  # "The Guardian" named "the Guardian"
            if len(key) >= 3:
                by_letters.setdefault(key, name)
    for run in _CAPITALISED_RUN.findall(past_first_word(question)):
        parts = [bare_name(w) for w in run.split()]
        for named in (parts, parts[1:] if parts[0] in ("The", "THE") else []):
            found = by_letters.get(name_letters("".join(named)))
            common = len(named) == 1 and not named[0].isupper() and \
                any(english_idf(t) < NAME_IDF for t in terms(named[0]))
            if found and not common:
                return found
    return ""


# ---------------------------------------------------------------- names no article mentions

# A capitalised question word at least `text.NAME_IDF` rare in English names something an answer must be
# about (how that was set: text.py).
# Not names to look up (set by hand, from a review's examples; no questions of these kinds to measure on):
# a question with more than this share of its words past the first capitalised (Title Case, ALL CAPS),
# and an all-capital word this short ("USD", "MW", "ECB": articles write "dollars", "megawatts",
# "European Central Bank"). Such names ("NBA", "BTS") are then answered as before the rule. A question this
# short is never Title Case: "Who owns Café Lumière?" names a café in two of its three words (a tester:
# answered with Café Étoile's owner).
TITLE_CASE_SHARE = 0.6
TITLE_CASE_WORDS = 4
ACRONYM_LETTERS = 4


def unmentioned_names(question: str, mentioned: Callable[[str], bool]) -> list[str]:
    """The names a question asks about (`capitalised_words` at least NAME_IDF rare in English, not
    numbers) for which `mentioned(term)` is False, as the question writes them: "How much did the
    AlphaOstrava plant cost?" over articles that only know BetaOstrava -> ["AlphaOstrava"]. An answer
    to it would quote another place's figure."""
    capitalised = capitalised_words(question)
    words_past_first = len(question.split()) - 1
    if words_past_first >= TITLE_CASE_WORDS and len(capitalised) > TITLE_CASE_SHARE * words_past_first:
        return []  # "What Did The Plant In Corva Cost?": its capitals name nothing
    missing = []
    for written, word in question_names(question):
        shown = bare_name(written)
        if (shown.isupper() and len(shown) <= ACRONYM_LETTERS) or not word.isalpha():
            continue  # "USD", "MW", "ECB": the articles may spell them out; "19" of "Covid-19"
        if any(english_idf(t) >= NAME_IDF and not mentioned(t) for t in terms(word)):
            missing.append(shown)
    return list(dict.fromkeys(missing))


# A question that weighs one subject against another ("Northwind or Castlepeak?", "more in Elena than in the
# tornado?") is answered from two articles, each naming one side. Not "more than 2,000 cars", "rather than".
_COMPARES = re.compile(r"\b(or|versus|vs|compared (?:to|with))\b|"
                       r"(?<!\brather )(?<!\bother )\bthan\b(?!\s+(?:about\s+)?\d)", re.I)


# A year a question names ("How many passengers used Harwick Airport in 2018?" was answered with 2025's and
# 2019's figures: a tester). The lead's article must write it, or be published in it (its "this year").
# Only a year as years are written: after "in", "the", "of" ... or before "'s" ("Did 2000 people march?"
# names no year: the review).
_YEAR = re.compile(r"(?:\b(?:in|since|by|of|during|until|before|after|from|the|between|and|or|early|late|mid)[\s-]+"
                   r"((?:19|20)\d\d)\b)|\b((?:19|20)\d\d)(?=['’]s\b)", re.I)
_CAPITALISED_WORD = re.compile(r"\b[A-Z][a-z]+")  # an article's words as names are written ("United")


def names_missing_from(question: str, text: str, outlet: str = "", known: Callable[[str], bool] | None = None,
                       published: str = "") -> list[str]:
    """The names the question asks about (as `unmentioned_names` reads them) that one article, its title and
    body as `text`, mentions in no spelling (`text.spelled_alike`), nor its outlet's name: "Who won the men's
    race at the Riverton Marathon?" answered from an article on the Brookhaven Marathon -> ["Riverton"]. An
    answer led from that article is another subject's, though other articles name Riverton. Of a question
    that compares (`_COMPARES`), none when the article names one side whole and nothing of the other.
    `known(term)`: whether the store holds the name as the question spells it; another spelling in this
    article is then another name ("Corva" is no mention of "Corvo" in a store with both: a tester's
    "How much did the Corvo water plant cost?" quoted the Corva plant's cost). The years the question names
    (`_YEAR`) that the article neither writes nor was `published` in are missing too."""
    compared = _COMPARES.search(question)
    asked = list(dict.fromkeys(a or b for a, b in _YEAR.findall(question)))
    years = [year for year in asked if year != published[:4] and not re.search(rf"\b{year}\b", text)]
    if compared and len(years) < len(asked):
        years = []  # ("more in 2024 or in 2018?": one side's article)
    vocabulary = {unaccented(t) for t in terms(text)}  # ("Zurich" is the article's "Zürich": the review)
    capitalised = {w.lower() for w in _CAPITALISED_WORD.findall(text)}  # ("Utd" abbreviates its "United")
    letters = outlet_letters(outlet) if outlet else ""

    def mentioned(term: str) -> bool:
        bare = unaccented(term)
        alike = not (known and known(term)) and spelled_alike(bare, vocabulary, NAME_IDF)
        return (bare in vocabulary or alike or (len(bare) >= 4 and bare in letters)
                or abbreviates(bare, capitalised))
    missing = unmentioned_names(question, mentioned)
    if missing and compared:  # one side of the comparison named whole, and none of the other side
        named = unmentioned_names(question, lambda _: False)
        before = {name for name in named if question.find(name) < compared.start()}
        if before and before != set(named) and set(missing) in (before, set(named) - before):
            return years
    return missing + years


def quotes_on_subject(question: str, citations: list[Citation], article_text: Callable[[Chunk], str],
                      known: Callable[[str], bool] | None = None) -> tuple[list[Citation], list[str]]:
    """The quotes from the first whose own article (`article_text` of its passage: title and body) mentions
    the question's names (`names_missing_from`, with `known`) on, numbered again from 1; and, when none
    does, the names the lead's article lacks (the refusal's reason). "How much rain fell in Plymouth?" led
    with Hurricane Ian's rain in Florida, then quoted "Nine inches of rain was reported in Plymouth,
    Vermont": that quote leads. The quotes after it stay as the answerer chose them (`choose_quotes`' own
    rule): leaving out every quote from an article without all the names lost gold answers on the training
    stores. A later quote leads only if it, the words around it or its headline also have one of the
    question's words that are not names (`_near_quote`), when the question has such words: "When will the
    Harbor Foods plant in Dunmore close?" was answered with "The Millbrook Mariners opened the season with a
    3-1 win over Dunmore City on Saturday at Harbor Field" (its article names Harbor and Dunmore; the
    plant's names no Dunmore: an answers tester). Each article is read once, however many of the quotes
    are its."""
    texts: dict[str, str] = {}
    missing: dict[str, list[str]] = {}
    asked = other_words(question)
    for first, c in enumerate(citations):
        key = c.chunk.article_id
        if key not in texts:
            texts[key] = article_text(c.chunk)
        if first and asked and not _near_quote(asked, c, texts[key]):
            continue
        if key not in missing:
            missing[key] = names_missing_from(question, texts[key], c.chunk.source, known, c.chunk.published)
        if not missing[key]:
            return [replace(c, n=n) for n, c in enumerate(citations[first:], 1)], []
    return [], (missing[citations[0].chunk.article_id] if citations else [])


# Words that ask about anything ("What happened to the Starliner?"): no quote needs them (the review).
_GENERIC_TERMS = frozenset(content_terms("happen happened do does did get go make take say come give"))
NEAR_QUOTE_CHARS = 300  # about a sentence on either side of a quote (judgement, not measured)
STEM_PREFIX = 4  # "rain" is "rainfall"'s word, "council" a "councillor"'s (at least this long)


def other_words(question: str) -> set[str]:
    """The question's words that are not its names (`question_names`) nor ask about anything: what a quote
    from another story than the names' must speak of too (`quotes_on_subject`, `speaks_of`)."""
    named = {t for _, word in question_names(spelled_out(question)) for t in content_terms(word)}  # ("Gov. Holt")
    return set(content_terms(question)) - named - _GENERIC_TERMS


def has_word_of(asked: set[str], text: str) -> bool:
    """Whether `text` has one of the `asked` terms, or a word they begin or that begins them (STEM_PREFIX):
    "Plymouth, Vermont, recorded nine inches of rainfall" has "rain"."""
    return any(t == w or (min(len(t), len(w)) >= STEM_PREFIX and (w.startswith(t) or t.startswith(w)))
               for w in set(content_terms(text)) for t in asked)


def _near_quote(asked: set[str], citation: Citation, article: str) -> bool:
    """Whether a quote, the NEAR_QUOTE_CHARS of its article on either side of it, or its headline (the first
    line of `article`, as `quotes_on_subject` reads it) hold one of the `asked` terms (`has_word_of`)."""
    at = article.find(citation.quote)
    window = article[max(0, at - NEAR_QUOTE_CHARS):at + len(citation.quote) + NEAR_QUOTE_CHARS] if at >= 0 else \
        citation.quote
    return has_word_of(asked, f"{article.partition(chr(10))[0]}\n{window}")


# A name with a number: "Ward 7", "Game 7", "Flight 370", "Route 66", "District 12", "Stage 12". Not a
# year ("Euro 2024" may be "the 2024 Euro"), a date ("March 3") or a score ("Panthers 9-3").
_NUMBERED = re.compile(r"\b([A-Z][a-z]+)[ -](\d{1,3})\b(?![-–.,:/]?\d)")
_NOT_NUMBERED = {*MONTHS, *MONTH_ABBREVIATIONS, "about", "around", "nearly", "over", "under", "some", "top",
                 "approximately", "almost", "only", "just", "all", "page", "chapter", "section", "number", "no"}
_NUMBER_WORDS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                 "sixteen seventeen eighteen nineteen twenty").split()
_ROMAN = "0 i ii iii iv v vi vii viii ix x xi xii xiii xiv xv xvi xvii xviii xix xx".split()


def unmatched_numbers(question: str, texts: list[str]) -> list[str]:
    """The numbered names a question asks about ("Ward 7") that none of `texts` (the articles found) writes,
    in digits, in words ("Game Seven") or in Roman numerals ("World War II"), when some of them write
    the name's word: "Who won the Ward 7 election?" over articles on Ward 4's quoted Ward 4's winner. The
    question's first word is not looked at, as in `unmentioned_names`."""
    folded = [" ".join(re.findall(r"\w+", text.casefold())) for text in texts]
    missing = []
    for word, number in _NUMBERED.findall(past_first_word(question)):
        name, n = word.casefold(), int(number)
        if name in _NOT_NUMBERED or name in QUESTION_STOPWORDS:
            continue
        spellings = {str(n)} | ({_NUMBER_WORDS[n], _ROMAN[n]} if n <= 20 else set())
        pattern = re.compile(rf"\b{name} ({'|'.join(sorted(spellings))})\b")
        if any(re.search(rf"\b{name}\b", t) for t in folded) and not any(pattern.search(t) for t in folded):
            missing.append(f"{word} {number}")
    return missing


# How alike (difflib's ratio) a word of the articles found must be to a name they lack to be offered as its
# spelling: "Reginal" / "Regional" 0.93, "Cheif" / "Chief" 0.8, "Millian" / "million" 0.86; "Ostrava" /
# "Corva" 0.67 is no spelling of it, nor "Rosa" / "road" 0.75 (a tester's refusal offered it at 0.75). Set by
# hand on these; the refusal stands either way.
SPELLING_HINT = 0.8


def nearest_spellings(names: list[str], texts: list[str]) -> dict[str, str]:
    """For each name a question asks about that no article mentions, the word of `texts` (the articles
    found) spelled most like it, as they write it, when one is SPELLING_HINT alike: a typo's refusal
    ("none of them mentions “Reginal”") can say what the articles write ("Regional")."""
    written: dict[str, str] = {}
    for text in texts:
        for word in re.findall(r"[^\W\d_][\w'’\-]{2,}", text):
            written.setdefault(word.casefold(), word)
    found = {}
    for name in names:
        close = difflib.get_close_matches(name.casefold(), written, n=1, cutoff=SPELLING_HINT)
        if close and close[0] != name.casefold():
            found[name] = written[close[0]]
    return found


# ---------------------------------------------------------------- what an answerer proposes

# Below this many chunks the hand-set rule (rag/data/sentence_ranker_handset.json) chooses the sentences.
# The learned weights were fitted and measured on stores of 9,558 to 54,126 chunks, where they lean on
# what many articles tell apart (passage rank, names other passages repeat, a sentence's place in its
# article). On the seed alone (one article, 15 chunks) they led 3 of the 4 seed questions in
# tests/test_answering.py with the wrong sentence, where the hand-set rule leads with the answer.
# docs/BENCHMARKS.md, "Small folders of mixed news", measured folders of 10 to 1,000 articles (64 to 7,979
# chunks) with both weight sets. Under 500 chunks (10 and 30 articles, 64-210 chunks) neither wins
# outright: on the training questions support 0.675 hand-set / 0.675 learned at 10 articles and 0.639 /
# 0.694 at 30, with the hand-set rule wrongly refusing fewer answerable questions (5.0% / 12.5%, 2.8% /
# 5.6%); on the reported questions 0.711 / 0.737 and 0.743 / 0.714. At 100 articles (815-860 chunks) the
# learned weights, with their small-store threshold (RankerWeights.threshold_for), wrongly refused 10.0%
# (training) and 3.4% (reported) and answer from there up. No folder between 210 and 815 chunks was
# measured: where in that gap the switch lies is a choice. (retrieval.BACKGROUND_CHUNKS is also 500, a
# separate rule: how a store's word rarity is blended with English rarity.)
SMALL_STORE_CHUNKS = 500


def is_small(store_chunks: int | None) -> bool:
    """Whether a store of this many chunks (None: unknown) is a small one (SMALL_STORE_CHUNKS)."""
    return store_chunks is not None and store_chunks < SMALL_STORE_CHUNKS


class ExtractiveAnswerer:
    """Quotes the retrieved sentences the sentence ranker finds most likely to contain the answer."""

    name = EXTRACTIVE

    def __init__(self, embeddings=None, weights: RankerWeights | None = None,
                 small_store_weights: RankerWeights | None = None):
        """`weights`: the ranker's (default: the learned ones in rag/data); `small_store_weights`: used
        instead on a store of fewer than SMALL_STORE_CHUNKS chunks (None: `weights` on every store)."""
        self.ranker = SentenceRanker(weights or RankerWeights.load(), embeddings)
        self.small_store_ranker = (SentenceRanker(small_store_weights, embeddings) if small_store_weights
                                   else self.ranker)
        reading = [r for r in (self.ranker, self.small_store_ranker) if r.uses_reader]
        self.reader = SentenceReader() if reading else None  # one reader, whichever ranker reads
        for ranker in reading:
            ranker.reader = self.reader

    def ranker_for(self, store_chunks: int | None) -> SentenceRanker:
        """The ranker for a store of this many chunks (None: unknown, the main one)."""
        return self.small_store_ranker if is_small(store_chunks) else self.ranker

    def warm_up(self) -> None:
        """Load the reader and the English word frequencies now, not at the first question."""
        if self.reader is not None:
            self.reader.scores("warm up", ["Warm up."])
        english_idf("warm")

    def propose(self, query: Query, chunks: list[Chunk], bodies: dict[str, str],
                idf: Callable[[str], float] | None = None, store_chunks: int | None = None) -> Proposal:
        """`models.Answerer.propose`: the ranker's best sentences, led by the most likely real sentence,
        or related reading when the ranking's answerability is under the store's threshold."""
        ranker = self.ranker_for(store_chunks)
        weights = ranker.weights
        ranking = ranker.rank(question_view(query, idf), chunks, bodies)
        # (a quote from another story must speak of the question on a small store only: on s150 it left out
        # two quotes that named the gold in passing, support 0.673 -> 0.660; on 32 small folders of
        # training questions support was unchanged, 0.699, with shorter answers; docs/BENCHMARKS.md)
        chosen = choose_quotes(ranking, weights.max_quotes, weights.relative, weights.context,
                               on_topic=naming_articles(query.text, bodies),
                               about=speaks_of(query.text) if is_small(store_chunks) else None)
        context = weights.context
        asked = words_asked(query.question)
        speaks = quotes_speaker(asked, chosen[0] if chosen else None)
        if speaks:  # "and what did Tom Baker say?": his words, not the mayor's beside them (a tester)
            lead = chosen[0]
            chosen = chosen[:1] + [c for c in chosen[1:] if gives_words_of(
                asked, c.span.text, c.previous.text if c.previous else "")]
            if context == "around" and lead.previous and not gives_words_of(asked, lead.previous.text,
                                                                             lead.span.text):
                context = "after"  # (the sentence before the lead is quoted only when it is theirs too)
        spans = quote_spans(chosen, context, bodies)
        quotes = [RawCitation(n=c.passage, quote=text, at=start) for c, start, text in spans]
        if not quotes or ranking.answerable < weights.threshold_for(store_chunks) and not (
                speaks or introduces(query.question, chosen[0])):
            # related reading: the best sentences, not the sentence before the lead quoted apart
            related = [q for q, (c, start, _) in zip(quotes, spans) if c is not chosen[0] or start == c.span.start]
            return Proposal([], ranking.answerable, related=related[:3])
        return Proposal(quotes, ranking.answerable)


# "What did Tom Becker say?", "What did the fire chief tell reporters about the flood?": a question for
# someone's words. A few words, so its answerability was low (refused at 18-41%) with the answer first in
# the related reading. Set by hand from two testers' questions; on s150 and held-out A no question has
# this form, so their figures cannot move.
_ASKS_WORDS = re.compile(r"^\s*(?:(?:and|but|so|also|then),?\s+)?what did (?P<who>.{2,60}?) "
                         r"(say|tell|announce|write|claim|reveal)\b"
                         r"(?:.*?\b(about|on|regarding)\b(?P<about>.*?))?\s*\??\s*$", re.I)
# The verbs that follow a speaker's name ("Tom Becker, 52, said"); not `_REPORTING` (what a question asks
# of an outlet, nouns included) nor dates._REPORTED_ON (a verb before the day something was reported on).
_SPEECH_VERBS = "said|says|saying|told|tells|announced|wrote|writes|claimed|stated|added|adds|warned|insisted"
_SAYS = re.compile(rf"({_SPEECH_VERBS}|according|[\"“”:])$", re.I)
SAYS_WITHIN = 6  # "Fire chief Tom Becker, 52, said": the speech verb this few words after the speaker


def with_neighbours(cand: Candidate) -> str:
    """A candidate sentence with the sentences before and after it, under its article's headline: where
    `quotes_speaker` and `speaks_of` look for the question's words."""
    around = " ".join(span.text for span in (cand.previous, cand.span, cand.following) if span is not None)
    return f"{cand.chunk.title}\n{around}" if cand.chunk is not None else around


def words_asked(question: str) -> WordsAsked | None:
    """The speaker and subject of a question for someone's words (`_ASKS_WORDS`), read from its own words
    (`Query.question`); None for any other question."""
    asked = _ASKS_WORDS.match(question)
    speaker = content_terms(asked["who"]) if asked else []
    return WordsAsked(speaker, content_terms(asked["about"] or "")) if speaker else None


def quotes_speaker(asked: WordsAsked | None, lead: Candidate | None) -> bool:
    """Whether a question asks what someone said (`words_asked`) and the lead sentence is that one speaking:
    it names the speaker with a speech verb ("said", "told", a quotation mark) at most SAYS_WITHIN words
    after them, or right before them as the clause ends ("..., said Tom Becker."), and it, a sentence beside
    it or the headline names what the question asks it about ("about the flood"). Such a lead answers,
    whatever its answerability. Not "Tom Becker did not respond to requests for comment, the paper said",
    nor "Biden said Trump was unfit" for what Trump said."""
    if asked is None or lead is None:
        return False
    # what it is asked about, in the lead sentence, the sentences beside it or the headline: the fire chief's
    # "crews rescued 14 people" under "Storm floods Harbor streets" answers "What did the fire chief say about
    # the storm?"; not the rest of the passage ("Biden said the economy was strong" is no answer to what he
    # said about Trump because the passage names Trump further on: the review)
    if not set(asked.about) <= set(content_terms(with_neighbours(lead))):
        return False
    tokens = re.findall(r"[\w'’\-]+|[\"“”:,.;!?]", spelled_out(lead.span.text))  # ("Gov. Holt": the governor)
    stems = [next(iter(content_terms(t)), t.casefold()) for t in tokens]
    speaker = asked.speaker
    for i in range(len(tokens)):
        if stems[i:i + len(speaker)] != speaker:
            continue
        end = i + len(speaker)
        if any(_SAYS.search(t) for t in tokens[end:end + SAYS_WITHIN]):
            return True
        closes = end == len(tokens) or tokens[end] in ",.;!?"
        if closes and any(_SAYS.search(t) for t in tokens[max(0, i - 3):i]):
            return True
    return False


# Someone's words given with a pronoun: "According to him, the army ...", "..., she said."
_PRONOUN_SAYS = re.compile(rf"\b(according to (him|her|them)|(he|she|they) ({_SPEECH_VERBS}))\b", re.I)


def gives_words_of(asked: WordsAsked | None, text: str, beside: str = "") -> bool:
    """Whether a sentence gives the words of whom a question asks about (`words_asked`): beside a lead
    that quotes them (`quotes_speaker`), the answer's other quotes must. It names them ("Councillor Tom
    Baker, who voted against the plan, said ...": his verb too far for `quotes_speaker`, his words all the
    same) or by the last word of their name, as news names someone after the first mention ("Baker added
    that ..."), or gives words with a pronoun (`_PRONOUN_SAYS`) next to a sentence or heading (`beside`)
    that names them ("Alexander Lukashenko: ..." then "According to him, the army ...")."""
    if asked is None:
        return False
    if asked.speaker[-1] in content_terms(text):
        return True
    return bool(_PRONOUN_SAYS.search(text)) and set(asked.speaker) <= set(content_terms(beside))


# "Who is Lou Ferrante?": refused at 33% with "Transit director Lou Ferrante said ..." as related reading.
# Only a name (capitalised words); "Who is the mayor of Riverton?" asks for more than a mention. Set by
# hand, as `_ASKS_WORDS`; no s150, held-out A or conversation question has this form. Its words are
# `text.NAME_WORD` with full stops too, for initials and titles ("Who is J. R. Holt?", "Dr. Ames").
_WHO_IS = re.compile(r"^\s*(?i:who (is|was)) (?P<name>(?:[A-Z][\w'’.\-]*\s*){1,4})\??\s*$")


def introduces(question: str, lead: Candidate | None) -> bool:
    """Whether a question asks who someone named is (`_WHO_IS`; one word of it at least NAME_IDF rare) and
    the lead sentence names them whole:
    the sentence the articles say of them ("Transit director Lou Ferrante said ...") answers."""
    asked = _WHO_IS.match(question)
    wanted = set(content_terms(asked["name"])) if asked else set()
    named = any(english_idf(t) >= NAME_IDF for t in wanted)  # a name, not "Who was Mayor?" or "President"
    return named and lead is not None and wanted <= set(content_terms(lead.span.text))


def lead_quotes(lead: Candidate, context: str) -> list[tuple[Span, Span]]:
    """The first and last sentence of each quote the lead brings, in the order they are shown. The lead
    opens the answer, with the sentence after it ("after" and "around") when that goes on with the
    article's running text (a sentence or a fragment), or is the short line that answers a lead that
    asks (a quiz: "3. Which new series ...?" then "Naked Education"); never a caption, or a line such
    as "___", "More: ..." or "Here's why:" after a statement. With "around" the sentence before it
    follows as a quote of its own when it is running text: it holds the answer when the lead goes on
    from it ("It has 35,000 men, he said."), but the answer never opens with it (ranker.QUOTE_CONTEXTS)."""
    answer_line = (lead.following is not None and lead.following.shape == "heading" and lead.span.text.endswith("?")
                   and not lead.following.text.endswith("?"))  # an answer, not an intertitle that asks
    following = context in ("after", "around") and (running_text(lead.following) or answer_line)
    quotes = [(lead.span, lead.following if following else lead.span)]
    if context == "around" and running_text(lead.previous):
        quotes.append((lead.previous, lead.previous))
    return quotes


def in_lead_quotes(cand: Candidate, lead: Candidate, context: str) -> bool:
    """Whether the quotes the lead brings (`lead_quotes`) already hold this sentence, or, for another
    article's, a copy of a sentence they bring beside the lead (`_alike`): of two versions of one story the
    answer quoted the director's words after the lead, then again from the other file, as [1] and [2]."""
    quotes = lead_quotes(lead, context)
    if cand.chunk.article_id == lead.chunk.article_id:
        return any(first.start <= cand.span.start < last.end for first, last in quotes)
    beside = {span.text for pair in quotes for span in pair if span is not lead.span}
    return any(_alike(set(cand.terms), set(sentence_terms(text))) for text in beside)


def quote_spans(chosen: list[Candidate], context: str, bodies: dict[str, str]) -> list[tuple[Candidate, int, str]]:
    """(candidate, start, text) of each quote: the lead's (`lead_quotes`), then the others as they are;
    a sentence the lead's quotes already hold is left out."""
    if not chosen:
        return []
    lead = chosen[0]
    out = [(lead, first.start, text) for first, last in lead_quotes(lead, context)
           if (text := _text(lead, first.start, last.end, bodies))]
    for c in chosen[1:]:
        if in_lead_quotes(c, lead, context):
            continue
        out.append((c, c.span.start, c.span.text))
    return out


def _text(c: Candidate, start: int, end: int, bodies: dict[str, str]) -> str:
    """body[start:end] of the candidate's article; when the body is not at hand, the part of it in the
    candidate's passage ("" when none is)."""
    body = bodies.get(c.chunk.article_id)
    if body is not None and body[c.span.start:c.span.end] == c.span.text:
        return body[start:end]
    lo, hi = max(start, c.chunk.start), min(end, c.chunk.end)
    return c.chunk.text[lo - c.chunk.start:hi - c.chunk.start] if lo < hi else ""


def naming_articles(question: str, bodies: dict[str, str]) -> Callable[[Candidate], bool] | None:
    """Whether a candidate's article names one of the names the question asks about (its capitalised
    words past the first: "How much did the Corva water plant cost?" -> corva); None when it names none.
    Of the names' words those at least NAME_IDF rare in English count when there are any: "Hollin River
    bridge" is named by "Hollin", not by the "River Road" of another town's article, and "the Corva plant
    in March" by "Corva", not by any article that says "March". (So in "Trump and Biden" only Biden counts:
    an article naming Trump alone is left out beside a lead that names Biden; a rule per name let every
    month, weekday and "US" count.)"""
    names = {word for _, word in question_names(question)}
    rare = {word for word in names if any(english_idf(t) >= NAME_IDF for t in terms(word))}
    names = rare or names
    if not names:
        return None
    said: dict[str, bool] = {}

    def names_one(cand: Candidate) -> bool:
        key = cand.chunk.article_id
        if key not in said:
            said[key] = bool(names & set(words(cand.chunk.title + " " + bodies.get(key, cand.chunk.text))))
        return said[key]
    return names_one


def speaks_of(question: str) -> Callable[[Candidate], bool] | None:
    """Whether a candidate, the sentences beside it or its headline have one of the question's other words
    (`other_words`); None when it has none. Asked of a quote from another article than the lead's
    (`choose_quotes`): "Who won the Millbrook mayoral election?" quoted "Westfield won the state girls
    basketball championship" second, from an article that names Millbrook (an answers tester)."""
    asked = other_words(question)
    if not asked:
        return None
    return lambda cand: has_word_of(asked, with_neighbours(cand))


def choose_quotes(ranking: Ranking, max_quotes: int, relative: float, context: str | None = None,
                  on_topic: Callable[[Candidate], bool] | None = None,
                  about: Callable[[Candidate], bool] | None = None) -> list[Candidate]:
    """The quotes of an answer, best first: the most likely real sentence leads (a headline,
    intertitle, caption or fragment never does), then any others at least `relative` times as
    likely as it (never an intertitle or caption). Of copies of one quote (syndicated passages) the most
    recent is quoted, if it names the same people and places (`_copy`). With `on_topic` (`naming_articles`),
    when the lead's article names what the question names, so must the article of every other quote, and
    a quote from another article must speak of what the question asks (`about`: `speaks_of`). With
    `context`, a sentence the lead's quote already holds (the sentence after it, say) takes none of the
    `max_quotes` places; without it (the training script's recorded candidates know no positions) it takes
    one.
    """
    pairs = list(zip(ranking.candidates, ranking.probabilities))
    leads = [pair for pair in pairs if can_lead(pair[0])]
    if not leads:
        return []
    lead, lead_p = leads[0]
    chosen = [lead]
    full = False
    apart = on_topic is not None and on_topic(lead)  # (a lead's article that names none: the names may differ)
    for cand, p in pairs:
        if cand is lead or not can_quote(cand):
            continue
        if apart and cand.chunk.article_id != lead.chunk.article_id and not (
                on_topic(cand) and (about is None or about(cand))):
            continue  # another article, about something else: its numbers would read as the answer's
        # chosen[0], not `lead`: the lead as it will be quoted (a newer copy of it may replace it below)
        if context is not None and in_lead_quotes(cand, chosen[0], context):
            continue
        twin = next((i for i, other in enumerate(chosen) if _same_words(cand, other)), None)
        if twin is not None:
            if (cand.chunk.published or "") > (chosen[twin].chunk.published or "") and _copy(cand, chosen[twin]):
                chosen[twin] = cand
            continue
        full = full or len(chosen) == max_quotes or p < relative * lead_p
        if not full:
            chosen.append(cand)
    return chosen


def _same_words(a: Candidate, b: Candidate) -> bool:
    """Two quotes that say the same: most of their words shared, or nearly all of the shorter one's
    words inside the longer one (a pull quote repeating part of a paragraph). The second rule changed
    no answer's support on the 554 rtqa-2023 questions (s150, held-out A and B, the rest) and removes
    the seed's repeated "We don't interfere ..." quote. (The shares, 0.6 and 0.8, were set by hand; no
    other values were measured.)"""
    return _alike(set(a.terms), set(b.terms))


def _alike(x: set[str], y: set[str]) -> bool:
    """`_same_words` for two sentences' terms."""
    if not (x and y):
        return False
    shared = len(x & y)
    return shared / len(x | y) > 0.6 or shared / min(len(x), len(y)) > 0.8


def _copy(a: Candidate, b: Candidate) -> bool:
    """Whether two quotes that say the same (`_same_words`) are about the same people and places, so the
    newer may stand for the older: an update of a story with new numbers ("1,900 have died") does, but
    "The plant in Dunmere cost 55 million" does not stand for "The plant in Corva cost 48 million"
    (templated news), though it is left out beside it all the same."""
    shorter, longer = (a, b) if len(a.terms) <= len(b.terms) else (b, a)
    return _names(shorter.span.text) <= _names(longer.span.text)


def _names(text: str) -> set[str]:
    """The names of a sentence: its capitalised words that are no common words ("The", "However"), the
    first one included ("Corva's new plant ...")."""
    return {w for w in _NAME.findall(text) if w.lower() not in QUESTION_STOPWORDS}


# ---------------------------------------------------------------- the answer's text

def shown_quote(quote: str) -> str:
    """A quote as the answer's text shows it: on one line, its white space single spaces."""
    return " ".join(quote.split())


def compose(citations: list[Citation]) -> str:
    """The answer text: the quotes, most relevant first, each followed by its citation number. A quote
    that opens with quotation marks of its own ("We don't interfere," he said.) is not wrapped in more;
    one that only ends with a quotation (... as an attempt to "cover up ...") is, or its opening words
    would read as ours."""
    parts = []
    for c in citations:
        text = shown_quote(c.quote)
        quoted = text[0] in QUOTE_MARKS
        parts.append(f"{text if quoted else f'“{text}”'} [{c.n}]")
    return "\n\n".join(parts)


def searched(query: Query, filters: Filters) -> str:
    return f"I searched for “{query.text}” ({filters.describe()})"


def refusal_text(query: Query, filters: Filters, chunks: list[Chunk], confidence: float | None = None,
                 empty_store: bool = False, unembedded: tuple[int, int] | None = None,
                 unmentioned: list[str] | None = None, spellings: dict[str, str] | None = None,
                 off_subject: list[str] | None = None) -> str:
    """Why there is no answer: no article stored yet, passages not embedded (`unembedded`: the passages of
    the stored articles, and how many of them have vectors), nothing within the filters, a name the
    question asks about that no article mentions (`unmentioned_names`; with the words the articles found
    spell most like them, `nearest_spellings`), one the article an answer would come from does not mention
    (`off_subject`, `names_missing_from`), or nothing that answers."""
    if empty_store:
        return "No articles are indexed yet: add some (a folder, uploads or a feed), then ask again."
    if not chunks and unembedded:
        passages, vectors = unembedded
        return (f"The store's search index is missing: only {vectors} of the {passages} passages of its articles "
                f"can be searched (its vectors were removed, or a sync stopped). Sync the articles again "
                f"(`rag ingest`, or restart the app) to embed them, then ask again.")
    if not chunks:
        narrowed = filters.since or filters.until or filters.source
        return (f"The articles do not cover this. {searched(query, filters)} and found no article within "
                f"those filters. " + ("Try widening the date or outlet filters." if narrowed else
                                      "Every stored article was published later: try a later “as of” date."))
    if unmentioned:
        named = _either(unmentioned)
        hints = ", ".join(f"“{word}”" for name, word in (spellings or {}).items() if name in unmentioned)
        spelling = f"Check the spelling (the articles found write {hints})" if hints else "Check the spelling"
        return (f"The articles do not answer this: none of them mentions {named}. {searched(query, filters)}; "
                f"the nearest passages are listed as related reading, not as an answer. {spelling}, "
                f"or add articles about it.")
    if off_subject:
        return (f"The articles do not answer this: the passage nearest an answer is from an article that does "
                f"not mention {_either(off_subject)}. {searched(query, filters)}; the nearest passages are "
                f"listed as related reading, not as an answer. Try other words, or add articles about it.")
    sure = f" (confidence {confidence:.0%})" if confidence is not None else ""
    return (f"The articles do not answer this{sure}. {searched(query, filters)}; the nearest passages are "
            f"listed as related reading, not as an answer. Try other words, or widen the date or outlet filters.")


def _either(names: list[str]) -> str:
    """Names as a refusal gives them: “Ward 7” or “Corvo”."""
    return " or ".join(f"“{name}”" for name in names)


def empty_question_text() -> str:
    return "Ask a question about the articles, for example: What did Lukashenko say about sending soldiers?"


def no_words_text(question: str) -> str:
    return (f"“{question.strip()[:80]}” has no words to search for. Ask about a person, a place or an event "
            f"in the articles.")


def has_words(question: str) -> bool:
    return bool(words(question))
