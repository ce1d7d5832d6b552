"""Turning retrieved passages into an answer made of verified quotes.

The default answerer needs no language model: it picks the sentences of the retrieved passages
that best match the question. Optional answerers ask a chat model (Ollama, an OpenAI-compatible
server, or a local GGUF file) for quotes with passage numbers. Either way every quote goes through
`citations.verify` before it is shown.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .citations import RawCitation, verify
from .models import Answer, Chunk
from .retrieval import english_stemmer, time_prior, time_window
from .store import date_number

if TYPE_CHECKING:
    from .retrieval import Filters
    from .service import NewsChat
    from .settings import Settings

MAX_QUOTES = 4
MIN_RELEVANCE = 0.30  # cosine similarity of the best passage; below it (and with few shared words) we refuse
# The closest sentence must be at least this near the question. On the rtqa-2023-s150 questions (all
# answerable) the lowest was 0.45; off-topic questions over that store scored 0.38-0.40, over the seed < 0.35.
MIN_SENTENCE_SIMILARITY = 0.42

# A question about the news wants the latest reporting: of two sentences that match equally, the one
# from the article nearer the as-of date wins, gently (the prior is 0.37 a year away). Checked on
# three question sets (README "Held-out questions"): 0.2 over a year beat 0.1 over 30 days on each.
RECENCY_WEIGHT = 0.2
RECENCY_SCALE_DAYS = 365

_STOPWORDS = set("""a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
now of off on once only or other our ours ourselves out over own same she should so some such than that the their
theirs them themselves then there these they this those through to too under until up very was we were what when
where which while who whom why will with would you your yours yourself yourselves said say says tell told week
weeks year years month months day days today yesterday according also new one two three first last many much
its it's did does""".split())
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
_FOLLOW_UP_START = re.compile(r"^\s*(and|but|also|so|then|what about|how about|and what|why|what else|more)\b", re.I)
_ASKS_AMOUNT = re.compile(r"\bhow (many|much|long|old)\b|\bwhat (year|percentage|age)\b", re.I)
_PRONOUNS = re.compile(r"\b(he|she|they|it|his|her|their|them|that|this|those|these|there|him)\b", re.I)


# ---------------------------------------------------------------- words

def stem(word: str) -> str:
    return english_stemmer().stemWord(word)


def content_terms(text: str) -> list[str]:
    """Stemmed words of `text` that carry meaning (no stop words)."""
    words = [w.lower().replace("’", "'").removesuffix("'s") for w in _WORD.findall(text)]
    return [stem(w) for w in words if w not in _STOPWORDS and len(w) > 1]


# ---------------------------------------------------------------- follow-up questions

@dataclass
class Query:
    """What is searched for a question, and which words the answer should contain."""

    text: str
    focus: list[str]  # terms of the question itself
    context: list[str]  # terms carried over from earlier questions
    as_of: str = ""  # the date "this week" counts from (YYYY-MM-DD)


def standalone_query(question: str, history: list[tuple[str, str]], as_of: str = "") -> Query:
    """A follow-up ("and what did Peskov say?") is searched together with the earlier question's topic.

    Without a language model this is a rule: a question that opens like a follow-up, leans on a
    pronoun, or is very short borrows the content words of the previous questions."""
    focus = content_terms(question)
    previous = [q for q, _ in history if q and q.strip()]
    if not previous or not _is_follow_up(question, focus):
        return Query(question, focus, [], as_of)
    earlier = previous[-1]
    carried = [w for w in _WORD.findall(earlier) if w.lower() not in _STOPWORDS and len(w) > 1]
    carried_terms = [t for t in content_terms(earlier) if t not in focus]
    return Query(f"{question} ({' '.join(carried)})", focus, carried_terms, as_of)


def _is_follow_up(question: str, focus: list[str]) -> bool:
    """Opens like a follow-up, or leans on a pronoun or is very short without naming anyone new."""
    if _FOLLOW_UP_START.match(question):
        return True
    names_someone = any(w[0].isupper() for w in _WORD.findall(question)[1:])
    return not names_someone and bool(_PRONOUNS.search(question) or len(focus) <= 2)


# ---------------------------------------------------------------- sentences

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’')\]]*\s+(?=[\"“‘'(\[]?[A-Z0-9])|\n\s*\n")


@dataclass
class Sentence:
    text: str
    start: int  # offset in the article body
    passage: int  # 1-based index of the retrieved passage


def sentences_of(chunk: Chunk, passage: int) -> list[Sentence]:
    """The chunk's sentences with their offsets in the article body (short ones joined to the next)."""
    out: list[Sentence] = []
    pos = 0
    pieces = []
    for m in _SENTENCE_END.finditer(chunk.text):
        pieces.append((pos, m.start()))
        pos = m.end()
    pieces.append((pos, len(chunk.text)))
    pending_start = None
    for start, end in pieces:
        if pending_start is not None:
            start = pending_start
        text = chunk.text[start:end].strip()
        if len(text) < 40 and (start, end) != pieces[-1]:
            pending_start = start
            continue
        pending_start = None
        if text:
            lead = len(chunk.text[start:end]) - len(chunk.text[start:end].lstrip())
            out.append(Sentence(text=text, start=chunk.start + start + lead, passage=passage))
    return out


# ---------------------------------------------------------------- the extractive answerer

class ExtractiveAnswerer:
    """Quotes the retrieved sentences that best answer the question.

    A sentence scores by the question words it shares (rarer words count more), its meaning's
    closeness to the question (the embedding model, on the most promising sentences only), names
    it adds that the question does not have, a number when the question asks how many, the rank
    of its passage, and how near its article's date is to the as-of date (or to "this week").
    The weights were chosen on the rtqa-2023-s150 dev questions and checked on held-out ones (README).
    """

    name = "extractive"
    candidates = 12  # sentences embedded per question: enough to reorder the best ones
    embedded_chars = 150  # a long sentence is judged by its start: padding a batch to it is slow

    def __init__(self, embeddings=None):
        self.embeddings = embeddings

    def propose(self, query: Query, chunks: list[Chunk]) -> tuple[str, list[RawCitation]]:
        sentences = [s for i, c in enumerate(chunks, 1) for s in sentences_of(c, i)]
        if not sentences:
            return "", []
        sentence_terms = [set(content_terms(s.text)) for s in sentences]
        df = Counter(t for terms in sentence_terms for t in terms)
        n = len(sentences)

        def weight(term: str) -> float:
            return math.log(1 + n / (1 + df[term]))

        wanted = {t: weight(t) for t in query.focus} | {t: 0.3 * weight(t) for t in query.context}
        total = sum(wanted.values()) or 1.0
        question_words = {w.lower() for w in _WORD.findall(query.text)}
        asks_amount = bool(_ASKS_AMOUNT.search(query.text))
        recency = passage_recency(query, chunks)
        scored = []
        for s, terms in zip(sentences, sentence_terms):
            overlap = sum(w for t, w in wanted.items() if t in terms) / total
            names = [w for w in _WORD.findall(s.text)[1:] if w[0].isupper() and w.lower() not in question_words]
            score = (overlap + 0.3 / math.sqrt(s.passage) + 0.2 * min(len(names), 3) / 3
                     + (0.1 if asks_amount and re.search(r"\d", s.text) else 0.0)
                     + RECENCY_WEIGHT * recency[s.passage - 1])
            scored.append([score, s, terms])
        scored.sort(key=lambda x: x[0], reverse=True)
        closest = self._add_similarity(query, scored[: self.candidates])
        if closest < MIN_SENTENCE_SIMILARITY:
            return "", []  # no sentence is about the question: the caller refuses
        scored.sort(key=lambda x: x[0], reverse=True)
        chosen: list[tuple[Sentence, set]] = []
        for _, s, terms in scored:
            if any(_similar(terms, other) for _, other in chosen):
                continue  # a syndicated copy of a sentence already chosen
            chosen.append((s, terms))
            if len(chosen) == MAX_QUOTES:
                break
        return "", [RawCitation(n=s.passage, quote=s.text) for s, _ in chosen]

    def _add_similarity(self, query: Query, top: list[list]) -> float:
        """Add each sentence's closeness to the question to its score; returns the closest one's."""
        if self.embeddings is None or not top:
            return 1.0
        texts = [query.text] + [s.text[: self.embedded_chars] for _, s, _ in top]
        vectors = np.asarray(self.embeddings.embed_queries(texts))
        similarities = vectors[1:] @ vectors[0]
        for item, similarity in zip(top, similarities):
            item[0] += 0.5 * float(similarity)
        return float(similarities.max())


def passage_recency(query: Query, chunks: list[Chunk]) -> list[float]:
    """For each passage, the retriever's time prior in [0, 1]: 1 inside the question's time window
    ("this week"), falling off with distance from it or from the as-of date."""
    as_of_day, window = date_number(query.as_of), time_window(query.text, query.as_of)
    return [time_prior(date_number(c.published), as_of_day, window, RECENCY_SCALE_DAYS) for c in chunks]


def passage_overlap(query: Query, chunks: list[Chunk]) -> float:
    """Share of the question's words found in the best passage (a signal for refusing)."""
    if not query.focus:
        return 0.0
    wanted = set(query.focus)
    return max((len(wanted & set(content_terms(c.title + " " + c.text))) / len(wanted) for c in chunks),
               default=0.0)


def _similar(a: set, b: set) -> bool:
    return bool(a and b) and len(a & b) / len(a | b) > 0.6


# ---------------------------------------------------------------- wiring

def make_answerer(settings: Settings, embeddings=None):
    kind = (settings.answerer or "extractive").lower()
    if kind == "extractive":
        return ExtractiveAnswerer(embeddings)
    from .llm import LLMAnswerer, make_chat_model

    return LLMAnswerer(make_chat_model(settings), name=kind)


def compose(citations, lead: str = "") -> str:
    """The answer text: the quotes, most relevant first, each followed by its citation number."""
    parts = [lead.strip()] if lead.strip() else []
    parts += [f"“{' '.join(c.quote.split())}” [{c.n}]" for c in citations]
    return "\n\n".join(parts)


def refusal_text(query: Query, filters: Filters, chunks: list[Chunk]) -> str:
    searched = f"The articles do not cover this. I searched for “{query.text}” ({filters.describe()})"
    if not chunks:
        return f"{searched} and found no article within those filters. Try widening the date or outlet filters."
    looked_at = ", ".join(dict.fromkeys(f"“{c.title}”" for c in chunks[:3]))
    return (f"{searched}; the closest passages were from {looked_at}, and none of them answers the question. "
            f"Try other words, or widen the date or outlet filters.")


def answer_question(question: str, history: list[tuple[str, str]], filters: Filters, chat: NewsChat,
                    k: int) -> Answer:
    query = standalone_query(question, history, as_of=filters.as_of)
    chunks = chat.retriever.search(query.text, filters, k)
    answerer = chat.answerer
    answer = Answer(question=question, text="", retrieved=chunks, query=query.text,
                    answerer=getattr(answerer, "name", "extractive"))
    relevant = chunks and (chunks[0].score >= MIN_RELEVANCE or passage_overlap(query, chunks) >= 0.75)
    if not relevant:
        answer.refused, answer.text = True, refusal_text(query, filters, chunks)
        return answer
    lead, raw = answerer.propose(query, chunks)
    bodies = {c.article_id: body for c in chunks if (body := _body(chat, c.article_id)) is not None}
    answer.citations, answer.dropped = verify(raw, chunks, bodies)
    if not answer.citations:
        answer.refused, answer.text = True, refusal_text(query, filters, chunks)
    else:
        answer.text = compose(answer.citations, lead)
    if answer.dropped:
        answer.text += (f"\n\n({len(answer.dropped)} part(s) of the model's reply left out: "
                        f"not found word for word in the cited articles.)")
    return answer


def _body(chat: NewsChat, article_id: str) -> str | None:
    article = chat.article(article_id)
    return article.body if article else None
