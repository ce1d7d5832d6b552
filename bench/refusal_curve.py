"""Answer support and refusal rates against the answerability threshold, for the shipped ranker.

Reads ranker data (bench/ranker_data.py pickles) of answerable questions and of unanswerable ones
(questions whose gold answer is in none of the store's articles, from bench/unanswerable_split.py),
scores them with the weights in rag/data/sentence_ranker.json (or --weights), and prints, for each
threshold, the answer support, the share of answerable questions wrongly refused and the share of
unanswerable questions refused. With --plot it also draws the three curves to a PNG.

Or it reads what the app itself answered: `rag eval --answers --out` files (--evals) with their question
files (--questions; a question marked "answerable": false is unanswerable). Each answer's confidence is
then the app's own, with the passages, sentences and quotes the app chose (the pickles hold what
ranker_data.py recorded, ranker.TRAINED_PASSAGES passages per question). Below the threshold the app
refuses and shows related reading: the same quotes but the sentence before the lead, which here stands
for the answer it would have given.

usage: python bench/refusal_curve.py --answerable A.pkl [A.pkl ...] --unanswerable U.pkl [U.pkl ...]
           [--weights rag/data/sentence_ranker.json] [--plot docs/refusal_curve.png]
       python bench/refusal_curve.py --evals EVAL.jsonl [...] --questions QUESTIONS.jsonl [...] [--plot ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_ranker import OUT, Fitted, load, question_rows, rank, supported  # noqa: E402

from rag.evaluation import recorded_answers  # noqa: E402
from rag.ranker import QUESTION_FEATURES, LinearModel  # noqa: E402


def scored(weights: dict, items: list[dict]) -> tuple[np.ndarray, list[bool]]:
    """Each question's answerability score, and whether its answer (never refused) holds the gold answer."""
    fitted = Fitted(LinearModel(**weights["stage1"]), LinearModel(**weights["stage2"]), weights["candidates"])
    rankings = [rank(it, fitted) for it in items]
    scores = LinearModel(**weights["answerable"]).probabilities(question_rows(items, rankings), QUESTION_FEATURES)
    held = [it["answerable"] and supported(r, weights["max_quotes"], weights["relative"], weights.get("context", "none"))
            for it, (r, _) in zip(items, rankings)]
    return np.asarray(scores), held


def answered(evals: list[Path], question_files: list[Path]) -> tuple[np.ndarray, list[bool], np.ndarray]:
    """From `rag eval --answers` files, each with the question file it asked (the same question can be
    answerable over one store and not over another): the answerable questions' confidences, whether
    each answer's quotes hold the gold answer, and the unanswerable questions' confidences."""
    rows = [r for pair in zip(evals, question_files, strict=True) for r in recorded_answers(*pair)]
    return (np.asarray([r.confidence for r in rows if r.answerable]), [r.quoted for r in rows if r.answerable],
            np.asarray([r.confidence for r in rows if not r.answerable]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--answerable", nargs="+", type=Path, help="ranker_data.py pickles of answerable questions")
    ap.add_argument("--unanswerable", nargs="+", type=Path, help="ranker_data.py pickles of unanswerable ones")
    ap.add_argument("--evals", nargs="+", type=Path, help="rag eval --answers --out files, instead of pickles")
    ap.add_argument("--questions", nargs="+", type=Path, help="the question file of each --evals file, in order")
    ap.add_argument("--weights", type=Path, default=OUT)
    ap.add_argument("--plot", type=Path)
    args = ap.parse_args()
    weights = json.loads(args.weights.read_text())
    if args.evals:
        if len(args.questions or []) != len(args.evals):
            ap.error("--evals needs --questions: one question file for each eval file, in the same order")
        yes_scores, held, no_scores = answered(args.evals, args.questions)
        source = "answers of rag eval"
    elif args.answerable and args.unanswerable:
        yes_items = [it for it in load(args.answerable) if it["answerable"]]
        yes_scores, held = scored(weights, yes_items)
        no_scores, _ = scored(weights, load(args.unanswerable))
        source = "ranker data"
    else:
        ap.error("give --answerable and --unanswerable, or --evals and --questions")
    # a grid of thresholds, and the shipped one itself (so its row is exactly what the app does)
    thresholds = sorted(set(np.round(np.arange(0.0, 0.81, 0.02), 2).tolist()) | {weights["threshold"]})
    rows = []
    for t in thresholds:
        support = float(np.mean([h and s >= t for h, s in zip(held, yes_scores)]))
        rows.append((float(t), support, float(np.mean(yes_scores < t)), float(np.mean(no_scores < t))))
    print(f"{len(yes_scores)} answerable and {len(no_scores)} unanswerable questions ({source}); "
          f"shipped threshold {weights['threshold']}")
    print("threshold  support  answerable_refused  unanswerable_refused")
    for t, s, wr, ur in rows:
        mark = "  <- shipped" if t == weights["threshold"] else ""
        print(f"{t:9.4g}  {s:7.3f}  {wr:18.3f}  {ur:20.3f}{mark}")
    at = weights["threshold"]
    print(json.dumps({"threshold": at,
                      "support": round(float(np.mean([h and s >= at for h, s in zip(held, yes_scores)])), 3),
                      "answerable_wrongly_refused": round(float(np.mean(yes_scores < at)), 3),
                      "unanswerable_refused": round(float(np.mean(no_scores < at)), 3)}))
    if args.plot:
        import matplotlib  # only for the picture: not a dependency of the app

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        t, s, wr, ur = map(np.asarray, zip(*rows))
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        ax.plot(t, s, label="answer support (answerable questions)")
        ax.plot(t, wr, label="answerable questions refused")
        ax.plot(t, ur, label="unanswerable questions refused")
        ax.axvline(at, color="grey", linestyle="--", linewidth=1, label=f"shipped threshold {at:.2f}")
        ax.set_xlabel("answerability threshold")
        ax.set_ylabel("share of questions")
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="center right")
        ax.set_title(f"{len(yes_scores)} answerable, {len(no_scores)} unanswerable questions, none used in training "
                     f"({source})", fontsize=9)
        fig.tight_layout()
        fig.savefig(args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
