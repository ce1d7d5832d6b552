"""Two `rag eval --out` runs of the same questions, compared question by question.

usage: python bench/compare_evals.py QUESTIONS.jsonl BASE.jsonl OTHER.jsonl [--names fp32,int8]

For each run: Hits@1/4/10 and MRR@10 (the gold answer in the retrieved passages, scored as
`rag eval` scores them), and answer support when the runs hold answers (the gold answer in an
answer that was not refused: its quotes are verbatim from the articles they cite, which `rag eval`
checks). Then OTHER minus BASE with its paired standard error (the standard deviation of the
per-question differences over the square root of the number of questions): the test the answers
issue sets for a faster embedding variant, "no worse beyond one standard error", on the app's own
retrieval rather than dense search alone (bench/variant_check.py).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.evaluation import RankScores, first_hit, norm  # noqa: E402


def per_question(questions: dict[str, dict], path: Path) -> dict[str, dict[str, float]]:
    """question id -> {"hits@k": 0/1, "mrr@10": ..., "support": 0/1 (answers only)}."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        q = questions.get(row["id"])
        if q is None or q.get("answerable") is False:
            continue
        gold = norm(q["answer"])
        one = RankScores()  # the question's own Hits@k and MRR@10, by the rule `rag eval` sums
        one.add(first_hit(gold in norm(r["text"]) for r in row["results"]))
        scores = one.summary()
        answer = row.get("answer")
        if answer is not None:
            scores["support"] = float(not answer.get("refused") and gold in norm(answer.get("answer", "")))
        out[row["id"]] = scores
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("questions", type=Path)
    ap.add_argument("base", type=Path)
    ap.add_argument("other", type=Path)
    ap.add_argument("--names", default="base,other")
    args = ap.parse_args()
    names = args.names.split(",")
    lines = args.questions.read_text(encoding="utf-8").splitlines()
    questions = {q["id"]: q for q in (json.loads(line) for line in lines if line.strip())}
    base, other = per_question(questions, args.base), per_question(questions, args.other)
    shared = sorted(set(base) & set(other))
    metrics = [m for m in base[shared[0]] if m in other[shared[0]]]
    print(f"{len(shared)} answerable questions in both runs")
    print(f"{'':>8} " + " ".join(f"{m:>9}" for m in metrics))
    for name, run in zip(names, (base, other)):
        print(f"{name:>8} " + " ".join(f"{sum(run[i][m] for i in shared) / len(shared):9.3f}" for m in metrics))
    line = []
    for m in metrics:
        diffs = [other[i][m] - base[i][m] for i in shared]
        mean = sum(diffs) / len(diffs)
        sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))
        line.append(f"{mean:+.3f} ({sd / math.sqrt(len(diffs)):.3f})")
    print(f"{names[1]} minus {names[0]}, paired standard error in brackets:")
    print("  " + "; ".join(f"{m} {d}" for m, d in zip(metrics, line)))


if __name__ == "__main__":
    main()
