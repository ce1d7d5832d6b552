"""Training and evaluation data for the sentence ranker: for each question, the candidate sentences the
answerer would see (the product's own retrieval, candidates and features), whether each contains the
gold answer, and the embedding cosine of every candidate (so any number of re-ranked candidates can
be simulated). Written to a pickle under bench/out/ (benchmark text: never committed).

usage: python bench/ranker_data.py --store STORE --questions QUESTIONS.jsonl --out OUT.pkl
           [--mode answerable|without-gold|without-week] [--ids IDS.txt] [--k 10]

Modes (the last two make unanswerable questions from answerable ones, for training refusals):
  answerable    the question as asked (labels say which sentences hold the gold answer)
  without-gold  retrieval with every passage of an article containing the gold answer removed
  without-week  retrieval limited to articles published more than three weeks before the question
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answering import standalone_query  # noqa: E402
from rag.evaluation import norm  # noqa: E402
from rag.models import Filters  # noqa: E402
from rag.ranker import (EMBEDDED_CHARS, TRAINED_PASSAGES, add_column, candidates, coverage,  # noqa: E402
                        question_view, sentence_features)
from rag.service import NewsChat  # noqa: E402
from rag.settings import Settings  # noqa: E402


def examples(chat: NewsChat, q: dict, mode: str, k: int) -> dict | None:
    gold = norm(q["answer"])
    as_of = q.get("date") or ""
    filters = Filters(as_of=as_of)
    if mode == "without-week" and as_of:
        filters.until = (date.fromisoformat(as_of) - timedelta(days=21)).isoformat()
    query = standalone_query(q["question"], [], as_of=as_of)
    chunks = chat.retriever.search(query.text, filters, 3 * k if mode == "without-gold" else k)
    bodies = chat.bodies(chunks)
    if mode != "answerable":
        chunks = [c for c in chunks if gold not in norm(bodies.get(c.article_id, c.text))][:k]
        if any(gold in norm(bodies.get(c.article_id, c.text)) for c in chunks):
            return None
    view = question_view(query, chat.lexical.snapshot.idf)
    cands = candidates(chunks, bodies)
    rows = sentence_features(view, cands, chunks)
    if cands:
        vectors = np.asarray(chat.embeddings.embed_queries([query.text] + [c.span.text[:EMBEDDED_CHARS] for c in cands]))
        add_column(rows, "cosine", list(range(len(cands))), list(vectors[1:] @ vectors[0]))
    return {"id": q["id"], "mode": mode, "answerable": mode == "answerable" and q.get("answerable", True) is not False,
            "gold": gold,
            "rows": rows, "labels": [gold in norm(c.span.text) for c in cands],
            "lengths": [len(c.span.text) for c in cands],
            "before": [(gold in norm(c.previous.text), len(c.previous.text), c.previous.shape) if c.previous
                       else None for c in cands],
            "after": [(gold in norm(c.following.text), len(c.following.text), c.following.shape) if c.following
                      else None for c in cands],
            "shapes": [c.span.shape for c in cands], "terms": [c.terms for c in cands],
            "question": query.text, "texts": [c.span.text for c in cands],
            "titles": [c.chunk.title for c in cands],
            "passages": [c.passage for c in cands], "coverage": coverage(view, chunks),
            "hit10": any(gold in norm(c.text) for c in chunks)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--questions", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--mode", default="answerable", choices=["answerable", "without-gold", "without-week"])
    ap.add_argument("--ids", type=Path, help="only the question ids listed in this file")
    ap.add_argument("--k", type=int, default=TRAINED_PASSAGES)
    args = ap.parse_args()
    chat = NewsChat(Settings(store_dir=Path(args.store)))
    questions = [json.loads(line) for line in open(args.questions, encoding="utf-8") if line.strip()]
    if args.ids:
        wanted = set(args.ids.read_text().split())
        questions = [q for q in questions if q["id"] in wanted]
    chat.lexical.ensure_fresh()
    out, started = [], time.perf_counter()
    for i, q in enumerate(questions, 1):
        item = examples(chat, q, args.mode, args.k)
        if item is not None:
            out.append(item)
        if i % 50 == 0:
            print(f"{i}/{len(questions)} questions, {time.perf_counter() - started:.0f} s", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "wb") as f:
        pickle.dump(out, f)
    print(f"{args.out}: {len(out)} questions ({args.mode}), "
          f"{sum(len(x['labels']) for x in out)} sentences, {sum(sum(x['labels']) for x in out)} with the answer")


if __name__ == "__main__":
    main()
