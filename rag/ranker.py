"""Which sentence answers the question: a ranker learned from news-quiz questions with gold answers.

For every sentence of the retrieved passages (whole sentences of the article body, so a quote never
starts mid-sentence at a passage edge) `sentence_features()` describes how it relates to the question: shared
words weighted by their rarity in the store, phrases, neighbouring sentences, the kind of answer the
question asks for (a number, a date, a name, a place) and whether the sentence has one (for a listed
kind such as a country or a US state, whether it names one the question does not), names and
numbers the other passages repeat, the sentence's shape (headline, intertitle, caption, fragment),
its passage's rank and date, and its meaning's closeness to the question (the embedding model, on
the most promising sentences only).

Two logistic models over those features, and a third over the question as a whole, were fitted by
`bench/train_ranker.py` on rtqa-2023 questions (never the ones reported on) and ship as
`rag/data/sentence_ranker.json`: stage 1 ranks every sentence without embeddings, stage 2 re-ranks
its best `candidates` with them, and the answerability model turns the result into the probability
that the chosen quotes contain the answer.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from .dates import MONTH_ABBREVIATIONS, MONTHS, WEEKDAYS, day_number, time_prior, time_window
from .models import Candidate, Chunk, Query, Ranking, Span
from .sentences import split
from .settings import HANDSET, RANKER_WEIGHT_NAMES, SettingsError
from .text import QUOTE_MARKS, content_terms, english_stemmer, sentence_terms, spelled_out, words

WEIGHTS_FILE = "sentence_ranker.json"  # the default: learned by bench/train_ranker.py
HANDSET_FILE = "sentence_ranker_handset.json"  # RAG_RANKER_WEIGHTS=handset: the earlier hand-set rule as weights
KINDS_FILE = "answer_kinds.json"  # answers that are one of a list of names: countries, US states, months ...
# The sentences the lead brings to the answer (answering.lead_quotes): none, the sentence after it, or
# ("around") the sentence after it and, as a quote of its own after the lead's, the sentence before it.
# The answer always opens with the lead. ("around" once quoted the sentences on both sides as one
# passage, so most small-store answers opened with a sentence that does not answer: docs/BENCHMARKS.md,
# "The answer opens with its best sentence". The name stayed: the weights files and the training
# script choose among these.)
QUOTE_CONTEXTS = ("none", "after", "around")
# The passages per question the shipped weights were fitted on (bench/ranker_data.py --k). An answer reads
# more (Settings.answer_passages), but the answerability model's coverage (how much of the question the
# passages hold) reads these first ones: over all 15, every question looked better covered, and 72.4% of
# the unanswerable training questions were refused against 77.0%, at the same support (docs/BENCHMARKS.md).
TRAINED_PASSAGES = 10
EMBEDDED_CHARS = 200  # a long sentence is judged by its start: padding a batch to its full length is slow
RECENCY_SCALE_DAYS = 365  # the date feature: a sentence a year older than the question keeps 1/e of it

# The kind of answer a question asks for.
ASKS = {
    "amount": re.compile(r"\bhow (many|much|long|old|far|tall|big|large|high|fast)\b|"
                         r"\bwhat (percentage|percent|share|number|age|amount|fraction|proportion)\b|"
                         r"\b(what|which) (sum|price|rate|total)\b", re.I),
    "date": re.compile(r"\bwhen\b|\b(what|which) (year|date|day|month|decade|century)\b|\bhow long ago\b", re.I),
    "place": re.compile(r"\bwhere\b|\b(what|which) (country|countries|state|states|city|cities|nation|county|"
                        r"island|region|continent|capital|town|province|territory|airport|port)\b", re.I),
    "name": re.compile(r"\b(who|whom|whose)\b|\b(which|what) [a-z]+", re.I),
}
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
                     r"forty|fifty|hundred|hundreds|thousand|thousands|million|millions|billion|billions|"
                     r"trillion|dozen|dozens|half|third|quarter)\b", re.I)
# A date in a sentence: a month or weekday named, an abbreviated month ("Nov. 20"; before, the pattern's
# closing \b after the full stop let only "Nov.20" match) or a year.
_DATE = re.compile(r"\b(" + "|".join(name.capitalize() for name in (*MONTHS, *WEEKDAYS)) + r")\b|"
                   r"\b(" + "|".join(a.capitalize() for a in MONTH_ABBREVIATIONS) + r")\.(?!\w)|"
                   r"\b(1[89]|20)\d\d\b")
_PLACE = re.compile(r"\b(in|at|from|near|to|of|across|throughout) (the )?[A-Z][a-z]+")
# Not text.NAME_WORD: a word here ends with a letter or digit (no trailing hyphen or apostrophe, no
# one-letter "A"), and numbers count. The learned weights were fitted on the features this pattern gives,
# so changing it would change what they mean.
_CAPITALISED = re.compile(r"\b[A-Z][\w'’\-]*[A-Za-z0-9]|\b\d[\d,.]*\b")

SENTENCE_FEATURES = (
    "overlap",          # share of the question's word rarity (store IDF) found in the sentence
    "overlap_local",    # the same, with rarity among the candidate sentences
    "matched",          # log(1 + question words found)
    "missing_rare",     # the rarest question word is absent (its IDF over the question's highest)
    "bigrams",          # share of the question's word pairs found as pairs
    "context",          # share of the words carried over from earlier questions (follow-ups)
    "neighbour_overlap",  # the better overlap of the sentences before and after it
    "passage_overlap",  # the overlap of its whole passage (with the headline)
    "headline_overlap",  # the overlap of its article's headline
    "proximity",        # a new name or number close to a question word: 1 / (1 + words between them)
    "novel_share",      # share of its words that the question does not have
    "novel_names",      # names (capitalised words) the question does not have, up to 3, over 3
    "votes",            # share of the other passages that repeat one of its new names or numbers
    "has_number", "has_date",
    "asks_amount", "asks_date", "asks_place", "asks_name",
    "amount_match", "date_match", "place_match", "name_match",
    "heading", "caption", "fragment", "is_question", "is_quote", "is_title",
    "length",           # log of its length in characters, over log 300
    "passage_rank",     # 1 / sqrt(rank of its passage)
    "passage_score",    # its passage's cosine similarity to the question
    "lead",             # near the top of its article: exp(-sentence index / 5)
    "recency",          # the date prior (1 inside "this week"; falls off over a year)
    "cosine",           # its embedding's cosine similarity to the question (stage 2 only)
    "reader",           # the reader's score of the question and the sentence read together (stage 2 only)
    "kind_match",       # the question asks for a listed kind ("which country") and it names one the question
                        # does not (stage 2 only; see NamedKind)
    "beyond_headline",  # overlap_local of the question words its article's headline does not have: what
                        # tells apart the sentences of one article, all about the headline's subject (weighted
                        # in no shipped file: on small folders it cost support, docs/BENCHMARKS.md; left for
                        # bench/train_pipeline.sh to weigh at the next retrain)
)
QUESTION_FEATURES = (
    "top_probability", "second_probability", "any_probability", "top_cosine", "passage_score",
    "coverage", "rare_missing", "question_length", "top_reader",
    "lead_reader",  # the reader's score of the sentence that would lead the answer
)


@dataclass(frozen=True)
class NamedKind:
    """A kind of answer that is one of a known list of names, such as a country or a US state
    (rag/data/answer_kinds.json). About one training question in five asks for one ("Which country
    ...?", "Which state ...?"), and the general features only knew that such an answer is a place."""

    name: str
    asked: re.Pattern  # matches a question that asks for one
    names: re.Pattern  # matches any of its names in a text
    same: dict[str, str] = field(default_factory=dict)  # a name (lower case) -> the first of its group of names

    def found(self, text: str) -> set[str]:
        """The names of this kind in the text, lower case, each of a group of names as the first of them
        ("US" and "U.S." as "united states")."""
        return {self.same.get(name, name) for name in (m.group(0).lower() for m in self.names.finditer(text))}


@functools.cache
def named_kinds() -> tuple[NamedKind, ...]:
    """The kinds in rag/data/answer_kinds.json, read once."""
    data = json.loads(resources.files("rag.data").joinpath(KINDS_FILE).read_text(encoding="utf-8"))
    kinds = []
    for name, kind in data["kinds"].items():
        longest_first = sorted(kind["names"], key=len, reverse=True)  # "South Sudan" before "Sudan"
        flags = re.I if kind["ignore_case"] else 0
        pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, longest_first)) + r")(?!\w)", flags)
        same = {alias.lower(): group[0].lower() for group in kind.get("same", []) for alias in group}
        kinds.append(NamedKind(name, re.compile(kind["asked"], re.I), pattern, same))
    return tuple(kinds)


def asked_kind(question: str) -> NamedKind | None:
    """The listed kind of answer the question asks for, if any."""
    return next((kind for kind in named_kinds() if kind.asked.search(question)), None)


def candidates(passages: list[Chunk], bodies: dict[str, str]) -> list[Candidate]:
    """The whole sentences each passage touches, each once (where its passage ranks best)."""
    found: dict[tuple[str, int], Candidate] = {}
    spans_of: dict[str, list[Span]] = {}
    for rank, chunk in enumerate(passages, 1):
        body = bodies.get(chunk.article_id)
        if body is None or body[chunk.start:chunk.end] != chunk.text:
            body, offset = chunk.text, chunk.start  # the article changed since: its passage only
            key = f"{chunk.article_id}@{chunk.start}"
        else:
            offset, key = 0, chunk.article_id
        if key not in spans_of:
            spans_of[key] = split(body)
        spans = spans_of[key]
        lo, hi = chunk.start - offset, chunk.end - offset
        for i, span in enumerate(spans):
            if span.end <= lo or span.start >= hi:
                continue
            at = (chunk.article_id, span.start + offset)
            if at in found:
                continue
            found[at] = Candidate(_shifted(span, offset), rank, chunk, i, sentence_terms(span.text),
                                  _shifted(spans[i - 1], offset) if i else None,
                                  _shifted(spans[i + 1], offset) if i + 1 < len(spans) else None)
    return list(found.values())


def _shifted(span: Span, offset: int) -> Span:
    return Span(span.text, span.start + offset, span.end + offset, span.paragraph_start, span.shape)


# A follow-up's words carried from the earlier questions (`Query.context`) count this share of their
# rarity among the question's words: enough to keep the sentences about the conversation's subject among
# the candidates when the follow-up's own words are in none of them ("and when did it happen?" after a
# question about a bridge collapse had the German tram article's sentences lead, and was refused), too
# little to bring the earlier answer back. Set by hand on 10 turns of 4 conversations over 12 articles a
# review wrote (questions asked alone carry none, so the benchmark figures do not move): 0.1 and 0.2
# answered every follow-up those articles answer; from 0.3 on "and how much did it cost?" after "When will
# the Corva plant open?" led with the opening date again. Not tuned on the 60 conversations written later
# (bench/conversations.py; docs/BENCHMARKS.md, "Follow-up questions", has their figures with it).
CARRIED_WEIGHT = 0.15


class QuestionView:
    """What the features need to know of the question, computed once."""

    def __init__(self, text: str, focus: list[str], context: list[str], as_of: str,
                 idf: Callable[[str], float] | None):
        self.text = text
        self.focus = list(dict.fromkeys(focus))
        self.context = [t for t in dict.fromkeys(context) if t not in self.focus]
        self.words = set(words(spelled_out(text)))  # (as a sentence's names are read: `sentence_features`)
        sequence = sentence_terms(text)
        self.bigrams = {(a, b) for a, b in zip(sequence, sequence[1:]) if a != b}
        self.asks = {kind: bool(pattern.search(text)) for kind, pattern in ASKS.items()}
        if self.asks["amount"] or self.asks["date"] or self.asks["place"]:
            self.asks["name"] = False  # "which country" asks a place, not any name
        self.kind = asked_kind(text)
        self.kind_named = self.kind.found(text) if self.kind else set()
        self.as_of_day = day_number(as_of)
        self.window = time_window(text, as_of)
        self.idf = idf or (lambda term: 1.0)
        self.context_weights = {t: self.idf(t) for t in self.context}
        # the words a sentence is scored on: the question's own, and a follow-up's carried ones, lightly
        self.weights = {t: self.idf(t) for t in self.focus} | {
            t: CARRIED_WEIGHT * w for t, w in self.context_weights.items()}

    def share(self, term: str) -> float:
        """How much of its rarity a word counts among the question's words (`CARRIED_WEIGHT`)."""
        return CARRIED_WEIGHT if term in self.context_weights else 1.0

    def names_new_of_kind(self, text: str) -> bool:
        """Whether the text names one of the kind of answer asked for that the question does not name."""
        return bool(self.kind and self.kind.found(text) - self.kind_named)

    def overlap(self, found: set[str], weights: dict[str, float] | None = None) -> float:
        weights = self.weights if weights is None else weights
        total = sum(weights.values())
        return sum(w for t, w in weights.items() if t in found) / total if total else 0.0


def sentence_features(view: QuestionView, cands: list[Candidate], passages: list[Chunk]) -> np.ndarray:
    """One row of SENTENCE_FEATURES per candidate; the cosine column is left at 0 (see `add_column`)."""
    n = len(cands)
    sets = [set(c.terms) for c in cands]
    df = Counter(t for s in sets for t in s)
    local = {t: math.log(1 + n / (1 + df[t])) * view.share(t) for t in view.weights}
    highest = max(view.weights.values(), default=0.0)
    passage_terms = [set(sentence_terms(f"{p.title} {p.text}")) for p in passages]
    headline_terms = [set(sentence_terms(p.title)) for p in passages]
    passage_tokens = [set(_CAPITALISED.findall(f"{p.title} {p.text}")) for p in passages]
    days = [day_number(p.published) for p in passages]
    rows = np.zeros((n, len(SENTENCE_FEATURES)), dtype=np.float32)
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    for r, (c, found) in enumerate(zip(cands, sets)):
        text = c.span.text
        sequence = c.terms
        read = spelled_out(text)  # its names and words as the question's are read ("Gov." is "Governor")
        novel = [w for w in _CAPITALISED.findall(read)[1:] if w.lower() not in view.words]
        names = [w for w in novel if not w[0].isdigit()]
        others = [i for i in range(len(passages)) if i != c.passage - 1]
        votes = max((sum(token in passage_tokens[i] for i in others) for token in set(novel)), default=0)
        has_number, has_date = bool(_NUMBER.search(text)), bool(_DATE.search(text))
        has_place = bool(_PLACE.search(text))
        missing = [view.weights[t] for t in view.focus if t not in found]
        pairs = set(zip(sequence, sequence[1:]))
        values = {
            "overlap": view.overlap(found),
            "overlap_local": view.overlap(found, local),
            "matched": math.log1p(sum(t in found for t in view.focus)),
            "missing_rare": max(missing) / highest if missing and highest else 0.0,
            "bigrams": len(view.bigrams & pairs) / len(view.bigrams) if view.bigrams else 0.0,
            "context": view.overlap(found, view.context_weights) if view.context else 0.0,
            "neighbour_overlap": max(view.overlap(set(sentence_terms(n.text))) if n else 0.0 for n in (c.previous, c.following)),
            "passage_overlap": view.overlap(passage_terms[c.passage - 1]),
            "headline_overlap": view.overlap(headline_terms[c.passage - 1]),
            "proximity": _proximity(read, view, novel),
            "novel_share": sum(t not in view.weights for t in found) / len(found) if found else 0.0,
            "novel_names": min(len(set(names)), 3) / 3,
            "votes": votes / len(others) if others else 0.0,
            "has_number": has_number, "has_date": has_date,
            "asks_amount": view.asks["amount"], "asks_date": view.asks["date"],
            "asks_place": view.asks["place"], "asks_name": view.asks["name"],
            "amount_match": view.asks["amount"] and has_number,
            "date_match": view.asks["date"] and has_date,
            "place_match": view.asks["place"] and has_place,
            "name_match": view.asks["name"] and bool(names),
            "heading": c.span.shape == "heading", "caption": c.span.shape == "caption",
            "fragment": c.span.shape == "fragment", "is_question": text.rstrip("\"”’' ").endswith("?"),
            "is_quote": bool(text) and text[0] in QUOTE_MARKS,
            "is_title": " ".join(text.split()) == " ".join(c.chunk.title.split()),
            "length": math.log(max(len(text), 1)) / math.log(300),
            "passage_rank": 1 / math.sqrt(c.passage),
            "passage_score": c.chunk.score,
            "lead": math.exp(-c.index / 5),
            "recency": time_prior(days[c.passage - 1], view.as_of_day, view.window, RECENCY_SCALE_DAYS),
            "kind_match": view.names_new_of_kind(text),
            "beyond_headline": view.overlap(found - headline_terms[c.passage - 1], local),
        }
        for name, value in values.items():
            rows[r, col[name]] = float(value)
    return rows


def _proximity(text: str, view: QuestionView, novel: list[str]) -> float:
    """1 / (1 + the fewest words between a question word and a name or number the question lacks)."""
    if not novel:
        return 0.0
    tokens = text.split()
    stems = english_stemmer().stemWords([t.strip(".,;:!?\"“”'’()").lower() for t in tokens])
    asked = [i for i, t in enumerate(stems) if t in view.weights]
    new = set(novel)
    answers = [i for i, t in enumerate(tokens) if t.strip(".,;:!?\"“”'’()") in new]
    if not asked or not answers:
        return 0.0
    return 1 / (1 + min(abs(a - b) for a in asked for b in answers))


def add_column(rows: np.ndarray, name: str, which: list[int], values: list[float]) -> None:
    """Fill a stage-2 feature ("cosine", "reader") for the rows `which`."""
    column = SENTENCE_FEATURES.index(name)
    for i, v in zip(which, values):
        rows[i, column] = v


def coverage(view: QuestionView, passages: list[Chunk]) -> dict[str, float]:
    """How much of the question the retrieved passages hold at all (the question features that do not
    depend on sentence choice)."""
    everywhere = set().union(*(set(sentence_terms(f"{p.title} {p.text}")) for p in passages)) if passages else set()
    missing = [view.weights[t] for t in view.focus if t not in everywhere]
    highest = max(view.weights.values(), default=0.0)
    return {"passage_score": passages[0].score if passages else 0.0, "coverage": view.overlap(everywhere),
            "rare_missing": max(missing) / highest if missing and highest else 0.0,
            "question_length": math.log1p(len(view.focus))}


def question_features(covered: dict[str, float], probabilities: list[float], cosines: list[float],
                      readings: list[float], lead_score: float) -> np.ndarray:
    """One row of QUESTION_FEATURES: how sure the best sentences are, how well the passages cover the
    question, and how well the reader thinks the answer's first sentence answers it."""
    top = sorted(probabilities, reverse=True)[:3] + [0.0, 0.0, 0.0]
    values = covered | {
        "top_probability": top[0], "second_probability": top[1],
        "any_probability": 1 - (1 - top[0]) * (1 - top[1]) * (1 - top[2]),
        "top_cosine": max(cosines, default=0.0), "top_reader": max(readings, default=0.0),
        "lead_reader": lead_score,
    }
    return np.asarray([[values[name] for name in QUESTION_FEATURES]], dtype=np.float32)


def can_lead(c: Candidate) -> bool:
    """Whether an answer may open with this sentence: a real sentence, never a headline, intertitle,
    caption or fragment."""
    return c.span.shape == "sentence"


def running_text(span: Span | None) -> bool:
    """Whether a sentence is the article's running text (a sentence or a fragment): not a headline,
    intertitle or caption."""
    return span is not None and span.shape not in ("heading", "caption")


def can_quote(c: Candidate) -> bool:
    """Whether a sentence may be quoted after the lead: running text, not an intertitle or a caption.
    Leaving them out raised out-of-fold support on the training questions from 0.640 to 0.648
    (intertitles were 67 of 1,502 further quotes, captions none) and left it unchanged on s150 and
    held-out A."""
    return running_text(c.span)


def lead_reading(ranked: list[Candidate], readings: list[float]) -> float:
    """The reader's score of the answer's lead, the best-ranked sentence that can lead; `readings` in the
    order of `ranked`."""
    return next((r for c, r in zip(ranked, readings) if can_lead(c)), 0.0)


@dataclass
class LinearModel:
    """A logistic model over named features (standardised with the training mean and scale)."""

    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float

    def __post_init__(self):
        self._mean = np.asarray(self.mean, dtype=np.float32)
        self._scale = np.asarray(self.scale, dtype=np.float32)
        self._coef = np.asarray(self.coef, dtype=np.float32)

    def probabilities(self, rows: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        columns = [names.index(f) for f in self.features]
        z = ((rows[:, columns] - self._mean) / self._scale) @ self._coef + self.intercept
        return 1 / (1 + np.exp(-z))

    def to_json(self) -> dict:
        return {"features": self.features, "mean": self.mean, "scale": self.scale, "coef": self.coef,
                "intercept": self.intercept}


@dataclass
class RankerWeights:
    """The contents of rag/data/sentence_ranker.json (written by bench/train_ranker.py)."""

    stage1: LinearModel
    stage2: LinearModel
    answerable: LinearModel
    candidates: int  # sentences re-ranked with embeddings
    threshold: float  # below this answerability the reply says the articles do not answer
    max_quotes: int
    relative: float  # a further quote needs at least this share of the first quote's probability
    context: str = "none"  # the lead quote's neighbours that join it: one of QUOTE_CONTEXTS
    about: dict = field(default_factory=dict)
    # {"threshold": T, "up_to_chunks": N, "main_from_chunks": M}: the threshold on a store of up to N
    # chunks, set by bench/small_stores.py. The answerability scores run lower on a folder of mixed news
    # than on the benchmark's stores the main threshold was set on: in folders of 100-1,000 articles it
    # refused 5.5-15% of the answerable training questions. N is the largest such folder measured, M the
    # smallest benchmark store the main threshold was measured on; see threshold_for in between.
    small_store_threshold: dict | None = None

    def threshold_for(self, store_chunks: int | None) -> float:
        """The refusal threshold on a store of this many chunks (None: unknown, the main one).

        Between the largest folder the small-store threshold was measured on and the smallest store the
        main one was, neither was measured, so the threshold moves from one to the other in proportion
        to the logarithm of the store's size: a few more articles never change it by a step. The two ends
        are the weights file's fields: `small_store_threshold["threshold"]` up to `["up_to_chunks"]`, and
        `threshold` from `["main_from_chunks"]` (the shipped values: rag/data/sentence_ranker.json). (With a
        step at 9,000 chunks, as before, a store of 8,999 chunks would have refused at the small-store
        threshold where one of 9,000 did at the main one: on held-out set A's questions, with the thresholds
        of that time, 15% of unanswerable ones refused against 58%; docs/BENCHMARKS.md, "Small folders of
        mixed news".)"""
        small = self.small_store_threshold
        if not small or store_chunks is None or store_chunks >= small["main_from_chunks"]:
            return self.threshold
        low, high = small["up_to_chunks"], small["main_from_chunks"]
        if store_chunks <= low:
            return float(small["threshold"])
        share = math.log(store_chunks / low) / math.log(high / low)
        return float(small["threshold"]) + share * (self.threshold - float(small["threshold"]))

    @classmethod
    def load(cls, path=None) -> RankerWeights:
        """`path`: a weights file; "handset" for the earlier hand-set rule; None or "learned" for the
        learned weights (bench/train_ranker.py)."""
        if path and path not in RANKER_WEIGHT_NAMES:
            name = path
            with open(path, encoding="utf-8") as f:
                text = f.read()
        else:
            name = HANDSET_FILE if path == HANDSET else WEIGHTS_FILE
            text = resources.files("rag.data").joinpath(name).read_text(encoding="utf-8")
        data = json.loads(text)
        if data.get("context", "none") not in QUOTE_CONTEXTS:
            raise SettingsError(f"{name}: context must be one of {', '.join(QUOTE_CONTEXTS)}, "
                                f"not {data['context']!r}")
        return cls(stage1=LinearModel(**data["stage1"]), stage2=LinearModel(**data["stage2"]),
                   answerable=LinearModel(**data["answerable"]), candidates=data["candidates"],
                   threshold=data["threshold"], max_quotes=data["max_quotes"], relative=data["relative"],
                   context=data.get("context", "none"), about=data.get("about", {}),
                   small_store_threshold=data.get("small_store_threshold"))


class SentenceRanker:
    """Ranks the sentences of retrieved passages by their probability of containing the answer."""

    def __init__(self, weights: RankerWeights, embeddings=None, reader=None):
        self.weights = weights
        self.embeddings = embeddings
        self.reader = reader  # a reader.SentenceReader, when the weights use its scores
        uses = set(weights.stage2.features) | set(weights.answerable.features)
        self.uses_cosine = bool(uses & {"cosine", "top_cosine"})
        self.uses_reader = bool(uses & {"reader", "top_reader"})

    def rank(self, view: QuestionView, passages: list[Chunk], bodies: dict[str, str],
             keep_features: bool = False) -> Ranking:
        cands = candidates(passages, bodies)
        if not cands:
            return Ranking([], [], 0.0)
        rows = sentence_features(view, cands, passages)
        first = self.weights.stage1.probabilities(rows, SENTENCE_FEATURES)
        best = [int(i) for i in np.argsort(-first)[: self.weights.candidates]]
        texts = [cands[i].span.text for i in best]
        cosines = self._similarities(view.text, texts) if self.uses_cosine else [0.0] * len(best)
        readings = self._readings(view.text, texts) if self.uses_reader else [0.0] * len(best)
        add_column(rows, "cosine", best, cosines)
        add_column(rows, "reader", best, readings)
        second = self.weights.stage2.probabilities(rows[best], SENTENCE_FEATURES)
        order = np.argsort(-second)
        ranked = [cands[best[i]] for i in order]
        probabilities = [float(second[i]) for i in order]
        lead = lead_reading(ranked, [readings[i] for i in order])
        covered = coverage(view, passages[:TRAINED_PASSAGES])
        answerable = float(self.weights.answerable.probabilities(
            question_features(covered, probabilities, cosines, readings, lead), QUESTION_FEATURES)[0])
        return Ranking(ranked, probabilities, answerable, rows if keep_features else None)

    def _similarities(self, question: str, texts: list[str]) -> list[float]:
        if self.embeddings is None or not texts:
            return [0.0] * len(texts)
        vectors = np.asarray(self.embeddings.embed_queries([question] + [t[:EMBEDDED_CHARS] for t in texts]))
        return [float(s) for s in vectors[1:] @ vectors[0]]

    def _readings(self, question: str, texts: list[str]) -> list[float]:
        if self.reader is None:
            return [0.0] * len(texts)
        return self.reader.scores(question, texts)


def question_view(query: Query, idf: Callable[[str], float] | None) -> QuestionView:
    """The ranker's view of a query (its text, subject words, carried-over words, as-of date)."""
    return QuestionView(query.text, query.focus or content_terms(query.text), query.context, query.as_of, idf)
