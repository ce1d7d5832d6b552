"""`rag eval`: every question of a JSONL file through search (and ask), in one process, with scores.

Scoring follows ../shared/bench/README.md: text normalized (straight quotes, folded white space,
lower case); Hits@k and MRR@10 look for the gold answer in the retrieved chunks; answer support
(`run_eval`) needs it in the answer text and in a cited article's body; quote validity checks every quote
verbatim. An answer read back from a `--out` file (`RecordedAnswer.supported`) is judged by a looser check:
not refused and the gold answer in the answer text (the file holds the quotes, not the cited bodies).
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from .models import Filters, results_json

HITS_AT = (1, 4, 10)  # the bench's cutoffs: Hits@1, Hits@4, Hits@10
MRR_DEPTH = 10  # MRR@10: a gold answer found lower down counts as not found


def norm(text: str) -> str:
    text = (text or "").replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


def first_hit(holds_gold: Iterable[bool]) -> int | None:
    """The rank (0 = first) of the first result that holds the gold answer, looking at the first
    MRR_DEPTH results in ranked order; None when none of them does."""
    return next((rank for rank, hit in enumerate(islice(holds_gold, MRR_DEPTH)) if hit), None)


@dataclass
class RankScores:
    """Hits@k and MRR@10 over a set of questions, added one question at a time by its `first_hit`."""

    hits: dict[int, int] = field(default_factory=lambda: dict.fromkeys(HITS_AT, 0))
    reciprocal_ranks: float = 0.0
    questions: int = 0

    def add(self, first: int | None) -> None:
        """One more question, whose first result holding the gold answer is at rank `first`."""
        self.questions += 1
        for k in self.hits:
            self.hits[k] += first is not None and first < k
        self.reciprocal_ranks += 0 if first is None else 1 / (first + 1)

    def summary(self) -> dict[str, float]:
        """{"hits@1": ..., "hits@4": ..., "hits@10": ..., "mrr@10": ...}, each a share of the questions."""
        n = max(self.questions, 1)
        shares = {f"hits@{k}": hits / n for k, hits in self.hits.items()}
        return shares | {f"mrr@{MRR_DEPTH}": self.reciprocal_ranks / n}


@dataclass
class RecordedAnswer:
    """One answer of a `rag eval --answers --out` file, judged against its question file.

    `supported` is a looser check than `run_eval`'s answer support: not refused and the gold answer in the
    answer text, without looking for it in a cited article's body (a recorded row holds the quotes and where
    they are, not the cited articles' bodies). An answer `run_eval` counts as supported is supported here
    too, not always the other way round. bench/small_stores.py reports its support with it (bench/
    refusal_curve.py reads recorded answers too, but uses `quoted`)."""

    answerable: bool  # False where the question file marks it "answerable": false
    confidence: float  # the answerability score the app compared with its threshold
    refused: bool
    supported: bool  # not refused, and the gold answer is in the answer text (not checked in the cited bodies)
    quoted: bool  # the gold answer is in one of the quotes, refused or not (what a lower threshold would show)


def recorded_answers(eval_path: Path, questions_path: Path) -> list[RecordedAnswer]:
    """The answers of one `rag eval --answers --out` file, with the question file it asked (the same
    question can be answerable over one store and not over another)."""
    def rows(path: Path) -> list[dict]:
        return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]

    questions = {q["id"]: q for q in rows(questions_path)}
    out = []
    for row in rows(eval_path):
        q, answer = questions[row["id"]], row.get("answer") or {}
        gold = norm(q.get("answer", ""))
        refused = bool(answer.get("refused"))
        out.append(RecordedAnswer(
            answerable=q.get("answerable", True) is not False, confidence=answer.get("confidence") or 0.0,
            refused=refused, supported=bool(gold) and not refused and gold in norm(answer.get("answer", "")),
            quoted=bool(gold) and any(gold in norm(c["quote"]) for c in answer.get("citations", []))))
    return out


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def _body(chat, article_id: str) -> str:
    """A cited article's stored body; "" when it was removed meanwhile (its quotes then count as invalid)."""
    article = chat.article(article_id)
    return article.body if article is not None else ""


def run_eval(chat, questions_path: Path, k: int | None = None, out: Path | None = None,
             with_answers: bool = False) -> dict:
    """Hits@k and MRR@10 of the retrieved passages, and with `with_answers` the answers' support and
    refusals. `k` None: as the app retrieves (`Settings.top_k` searched, `Settings.answer_passages` read for
    an answer); the retrieval scores read the first MRR_DEPTH either way."""
    questions = [json.loads(line) for line in Path(questions_path).read_text(encoding="utf-8").splitlines()
                 if line.strip()]
    ranks = RankScores()
    support = quotes = bad_quotes = refused = 0
    unanswerable = refused_unanswerable = refused_answerable = 0
    latencies: list[float] = []
    with open(out, "w", encoding="utf-8") if out else contextlib.nullcontext() as sink:
        for i, q in enumerate(questions, 1):
            if i % 25 == 0:
                print(f"eval: {i}/{len(questions)} questions", file=sys.stderr)
            filters = Filters(as_of=q.get("date") or "")
            started = time.perf_counter()
            if with_answers:
                answer = chat.ask(q["question"], filters=filters, k=k)
                chunks = answer.retrieved
            else:
                answer = None
                chunks = chat.search(q["question"], filters, k)
            latencies.append((time.perf_counter() - started) * 1000)
            row = {"id": q.get("id"), "question": q["question"], "results": results_json(chunks)}
            cited_bodies = []  # the body of each cited article, read once
            if answer:
                row["answer"] = answer.to_json()
                refused += answer.refused
                cited_bodies = [_body(chat, c.chunk.article_id) for c in answer.citations]
                quotes += len(answer.citations)
                bad_quotes += sum(body[c.start:c.end] != c.quote for c, body in zip(answer.citations, cited_bodies))
            if answer and q.get("answerable") is False:  # the corpus cannot answer it: refusing is right
                unanswerable += 1
                refused_unanswerable += answer.refused
                if sink:
                    sink.write(json.dumps(row) + "\n")
                continue
            if answer:
                refused_answerable += answer.refused
            gold = norm(q.get("answer", ""))
            if gold:
                ranks.add(first_hit(gold in norm(c.text) for c in chunks))
                if answer and gold in norm(answer.text) and any(gold in norm(body) for body in cited_bodies):
                    support += 1
            if sink:
                sink.write(json.dumps(row) + "\n")
    n = max(ranks.questions, 1)
    summary = {"questions": len(questions), "scored": ranks.questions, **ranks.summary(),
               "latency_ms_p50": percentile(latencies, 50), "latency_ms_p95": percentile(latencies, 95)}
    if with_answers:
        answerable = len(questions) - unanswerable
        summary |= {"answer_support": support / n, "refused": refused, "quotes": quotes,
                    "quote_validity": 1.0 if not quotes else (quotes - bad_quotes) / quotes,
                    "answerable_wrongly_refused": refused_answerable / answerable if answerable else 0.0}
        if unanswerable:
            summary |= {"unanswerable": unanswerable, "unanswerable_refused": refused_unanswerable / unanswerable}
    return {key: round(v, 4) if isinstance(v, float) else v for key, v in summary.items()}
