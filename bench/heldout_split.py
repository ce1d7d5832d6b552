"""Held-out question sets like rtqa-2023-s150, for checking that a change helps beyond the 150
questions it was tuned on: 150 questions of rtqa-2023 that are not in s150, with the articles their
searches returned. The full corpus lists each question's search results roughly as one run of
lines, so a question's articles are taken as the run from the previous question's to its own last
supporting article (plus a few lines after), and its supporting articles wherever they are. The
result is a little larger than s150's corpus (about 1,850 articles against 1,254), so a little harder.

usage: python bench/heldout_split.py OUT_DIR [--seed 7] [--offset 0]
       (then: rag ingest OUT_DIR/corpus.jsonl --store S; rag eval OUT_DIR/questions.jsonl --store S --answers)
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "shared" / "bench"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def question_runs(corpus: list[dict], questions: list[dict], after: int = 4) -> dict[str, set[int]]:
    """For each question, the corpus lines taken as its search results."""
    line_of = {a["id"]: i for i, a in enumerate(corpus)}
    supporting = [[line_of[x] for x in q["supporting_articles"]] for q in questions]
    first_new, seen_until = [], -1
    for lines in supporting:
        first_new.append(min([n for n in lines if n > seen_until] or [seen_until + 1]))
        seen_until = max(seen_until, *lines)
    runs, run_end = {}, -1
    for i, (q, lines) in enumerate(zip(questions, supporting)):
        last = max(run_end, *lines)
        next_start = first_new[i + 1] if i + 1 < len(questions) else len(corpus)
        end = max(last, min(last + after, next_start - 1))
        runs[q["id"]] = set(range(run_end + 1, end + 1)) | set(lines)
        run_end = end
    return runs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--offset", type=int, default=0, help="0 and 150 give two disjoint sets")
    args = ap.parse_args()
    corpus = read_jsonl(BENCH / "rtqa-2023" / "corpus.jsonl")
    questions = read_jsonl(BENCH / "rtqa-2023" / "questions.jsonl")
    dev = {q["id"] for q in read_jsonl(BENCH / "rtqa-2023-s150" / "questions.jsonl")}
    runs = question_runs(corpus, questions)
    held_out = [q for q in questions if q["id"] not in dev]
    random.Random(args.seed).shuffle(held_out)
    chosen = sorted(held_out[args.offset:args.offset + 150], key=lambda q: q["id"])
    lines = sorted({n for q in chosen for n in runs[q["id"]]})
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "questions.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(q) + "\n" for q in chosen)
    with open(args.out / "corpus.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(corpus[n]) + "\n" for n in lines)
    print(f"{args.out}: {len(chosen)} questions, {len(lines)} articles")


if __name__ == "__main__":
    main()
