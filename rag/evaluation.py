"""`rag eval`: every question of a JSONL file through search (and ask), in one process, with scores.

Scoring follows ../shared/bench/README.md: text normalized (straight quotes, folded white space,
lower case); Hits@k and MRR@10 look for the gold answer in the retrieved chunks; answer support
needs it in the answer text and in a cited article; quote validity checks every quote verbatim.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from .models import Filters, results_json


def norm(text: str) -> str:
    text = (text or "").replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    return re.sub(r"\s+", " ", text).strip().lower()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_eval(chat, questions_path: Path, k: int = 10, out: Path | None = None, with_answers: bool = False) -> dict:
    questions = [json.loads(line) for line in open(questions_path, encoding="utf-8") if line.strip()]
    sink = open(out, "w", encoding="utf-8") if out else None
    hits = {1: 0, 4: 0, 10: 0}
    mrr = support = scored = quotes = bad_quotes = refused = 0
    unanswerable = refused_unanswerable = refused_answerable = 0
    latencies: list[float] = []
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
            cited_bodies = [chat.article(c.chunk.article_id).body for c in answer.citations]
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
            scored += 1
            first = next((r for r, c in enumerate(chunks[:10]) if gold in norm(c.text)), None)
            for cutoff in hits:
                hits[cutoff] += first is not None and first < cutoff
            mrr += 0 if first is None else 1 / (first + 1)
            if answer and gold in norm(answer.text) and any(gold in norm(body) for body in cited_bodies):
                support += 1
        if sink:
            sink.write(json.dumps(row) + "\n")
    if sink:
        sink.close()
    n = max(scored, 1)
    summary = {"questions": len(questions), "scored": scored,
               "hits@1": hits[1] / n, "hits@4": hits[4] / n, "hits@10": hits[10] / n, "mrr@10": mrr / n,
               "latency_ms_p50": percentile(latencies, 50), "latency_ms_p95": percentile(latencies, 95)}
    if with_answers:
        answerable = len(questions) - unanswerable
        summary |= {"answer_support": support / n, "refused": refused, "quotes": quotes,
                    "quote_validity": 1.0 if not quotes else (quotes - bad_quotes) / quotes,
                    "answerable_wrongly_refused": refused_answerable / answerable if answerable else 0.0}
        if unanswerable:
            summary |= {"unanswerable": unanswerable, "unanswerable_refused": refused_unanswerable / unanswerable}
    return {key: round(v, 4) if isinstance(v, float) else v for key, v in summary.items()}
