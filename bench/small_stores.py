"""Answers and refusals on stores of a user's size: a folder of 10 to 1,000 mixed news articles.

usage: python bench/small_stores.py WORK_DIR --questions Q.jsonl [...] --corpus C.jsonl [...]
           [--exclude IDS.txt ...] [--sizes 10:12,30:4,100:2,300:1,600:1,1000:1] [--seed 2026]
           [--write rag/data/sentence_ranker.json] [--weights learned handset [FILE ...]]

The benchmark's own stores are the articles a web search returned for their questions, so every
question meets several articles on its topic. A user's folder is a mix. For each size (in articles)
and draw, this makes such a mix: some questions with up to two of their supporting articles each
(half the store), filled up with other articles of the corpora, plus as many other questions whose
gold answer is in none of the store's articles (unanswerable). Each store is built with `rag ingest`
and asked with `rag eval --answers`, with the learned weights and with the hand-set rule, as the
app runs them (RAG_RANKER_WEIGHTS). It prints, per size and pooled, answer support, answerable
questions wrongly refused and unanswerable questions refused, and the learned answerability score
below which 4% of the answerable questions fall (the rule bench/train_ranker.py sets the threshold by).

--write sets the learned weights' threshold for stores up to the largest folder made here
(`small_store_threshold` in the weights file): the score below which 4% of the answerable questions
fall, every store size where the learned weights answer (SMALL_STORE_CHUNKS chunks and more) counting
the same. Between that size and MAIN_THRESHOLD_CHUNKS the app moves from it to the main threshold
(RankerWeights.threshold_for). Run it on training questions only; run it again
on the questions reported on (without --write) to measure.

--weights asks with other weights as well (RAG_RANKER_WEIGHTS: "learned", "handset" or a weights
file), on the same folders: a variant of the quote rule, say, measured against the shipped one. Each
set's answers are kept as eval_NAME.jsonl (a file's stem) and not asked again: delete them after
editing a weights file.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from train_ranker import MAX_WRONGLY_REFUSED, threshold_at  # noqa: E402

from rag.answering import SMALL_STORE_CHUNKS  # noqa: E402
from rag.evaluation import norm, recorded_answers  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ("learned", "handset")
# The smallest store the main threshold was measured on: rtqa-2023-s150 (9,558 chunks) keeps the
# threshold set on stores of 12,781-54,126 chunks, and refuses 4.7% of its answerable questions with it.
MAIN_THRESHOLD_CHUNKS = 9558


def make_stores(work: Path, questions: list[dict], articles: dict[str, dict], sizes: dict[int, int],
                seed: int) -> list[Path]:
    """One folder per (size, draw) with corpus.jsonl and questions.jsonl (kept when it exists)."""
    texts = {i: norm(f"{a.get('title', '')} {a.get('text', '')}") for i, a in articles.items()}
    usable = [q for q in questions if any(s in articles for s in q.get("supporting_articles", []))]
    rng = random.Random(seed)
    folders = []
    for size, draws in sizes.items():
        for draw in range(draws):
            order = usable[:]
            rng.shuffle(order)
            chosen, picked = [], []
            for q in order:
                support = [s for s in q["supporting_articles"] if s in articles][:2]
                if len(set(picked) | set(support)) > size // 2:
                    continue
                chosen.append(q)
                picked = list(dict.fromkeys(picked + support))
                if len(picked) >= size // 2:
                    break
            rest = [i for i in articles if i not in picked]
            rng.shuffle(rest)
            picked += rest[:size - len(picked)]
            held = " ".join(texts[i] for i in picked)
            unanswerable = [q | {"answerable": False} for q in order
                            if q not in chosen and norm(q["answer"]) not in held][:len(chosen)]
            folder = work / f"articles{size}_draw{draw}"
            folders.append(folder)
            if folder.exists():
                continue
            folder.mkdir(parents=True)
            (folder / "corpus.jsonl").write_text("".join(json.dumps(articles[i]) + "\n" for i in picked))
            (folder / "questions.jsonl").write_text("".join(json.dumps(q) + "\n" for q in chosen + unanswerable))
    return folders


def eval_name(weights: str) -> str:
    """The name a set of weights is reported and saved under: "learned", "handset" or a file's stem."""
    return weights if weights in WEIGHTS else Path(weights).stem


def run(folder: Path, weights_asked: list[str]) -> None:
    """Ingest the folder's corpus, then ask its questions with each set of weights."""
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    python = [sys.executable, "-m", "rag"]
    if not (folder / "ingest.json").exists():
        out = subprocess.run(python + ["ingest", str(folder / "corpus.jsonl"), "--store", str(folder / "store"),
                                       "--json", "--quiet"], cwd=ROOT, env=env, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"{folder}: rag ingest failed: {out.stderr[-2000:]}")
        (folder / "ingest.json").write_text(out.stdout)
    asked = sum(1 for line in open(folder / "questions.jsonl") if line.strip())
    for weights in weights_asked:
        done = folder / f"eval_{eval_name(weights)}.jsonl"
        if done.exists() and sum(1 for line in open(done) if line.strip()) == asked:
            continue  # asked already (delete the file to ask again)
        out = subprocess.run(python + ["eval", str(folder / "questions.jsonl"), "--store", str(folder / "store"),
                                       "--answers", "--out", str(done)],
                             cwd=ROOT, env=env | {"RAG_RANKER_WEIGHTS": weights}, capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(f"{folder}: rag eval failed: {out.stderr[-2000:]}")


def answers(folder: Path, weights: str) -> list[tuple[bool, float, bool, bool]]:
    """(answerable, answerability score, refused, supported) per question of one eval."""
    return [(r.answerable, r.confidence, r.refused, r.supported)
            for r in recorded_answers(folder / f"eval_{eval_name(weights)}.jsonl", folder / "questions.jsonl")]


def summary(rows: list[tuple[bool, float, bool, bool]]) -> dict:
    """Support (the gold answer in an answer that was not refused), both refusal rates, and the score
    below which 4% of the answerable questions fall."""
    yes = [r for r in rows if r[0]]
    no = [r for r in rows if not r[0]]
    return {"answerable": len(yes), "support": round(sum(r[3] for r in yes) / len(yes), 3) if yes else None,
            "wrongly_refused": round(sum(r[2] for r in yes) / len(yes), 3) if yes else None,
            "unanswerable": len(no), "unanswerable_refused": round(sum(r[2] for r in no) / len(no), 3) if no else None,
            "threshold_at_4pct": round(threshold_at([r[1] for r in yes]), 4) if yes else None}


def balanced_threshold(sizes: list[list[tuple[bool, float, bool, bool]]]) -> float:
    """The score below which 4% of the answerable questions fall when every store size counts the same
    (the 1,000-article store has 253 questions, a 100-article store 30: pooled by question, the large
    stores set the threshold and the 100-article stores refused 10% of theirs)."""
    weighted = sorted((r[1], 1 / len(yes)) for yes in ([r for r in rows if r[0]] for rows in sizes) for r in yes)
    total, seen = len(sizes), 0.0
    for score, weight in weighted:
        seen += weight
        if seen / total > MAX_WRONGLY_REFUSED:
            return round(score, 4)
    return round(weighted[-1][0], 4)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("work", type=Path)
    ap.add_argument("--questions", nargs="+", type=Path, required=True)
    ap.add_argument("--corpus", nargs="+", type=Path, required=True)
    ap.add_argument("--exclude", nargs="*", type=Path, default=[])
    ap.add_argument("--sizes", default="10:12,30:4,100:2,300:1,600:1,1000:1", help="ARTICLES:DRAWS,...")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--write", type=Path, help="a weights file to set the small-store threshold in")
    ap.add_argument("--weights", nargs="+", default=list(WEIGHTS),
                    help="learned, handset or weights files (RAG_RANKER_WEIGHTS), each asked on every folder")
    args = ap.parse_args()
    if args.write and "learned" not in args.weights:
        ap.error("--write needs learned among --weights: the threshold is the learned weights'")
    args.weights = [w if w in WEIGHTS else str(Path(w).resolve()) for w in args.weights]
    names = [eval_name(w) for w in args.weights]
    if len(set(names)) < len(names):  # each set's answers are saved as eval_NAME.jsonl in every folder
        ap.error(f"--weights: two sets would share a name ({', '.join(names)}); rename a file")
    excluded = set().union(*(set(p.read_text().split()) for p in args.exclude)) if args.exclude else set()
    questions = [q for p in args.questions for q in map(json.loads, open(p)) if q["id"] not in excluded]
    articles = {a["id"]: a for p in args.corpus for a in map(json.loads, open(p))}
    sizes = {int(s): int(d) for s, d in (part.split(":") for part in args.sizes.split(","))}
    folders = make_stores(args.work, questions, articles, sizes, args.seed)
    per_size: dict[tuple[str, int], list] = defaultdict(list)
    chunks: Counter = Counter()
    largest = 0  # chunks of the largest folder
    for n, folder in enumerate(folders, 1):
        print(f"{n}/{len(folders)} {folder.name}", file=sys.stderr, flush=True)
        run(folder, args.weights)
        size = int(folder.name.removeprefix("articles").split("_")[0])
        made = json.loads((folder / "ingest.json").read_text())["chunks_embedded"]
        chunks[size] += made
        largest = max(largest, made)
        for weights in args.weights:
            per_size[(weights, size)] += answers(folder, weights)
    for weights in args.weights:
        for size, draws in sizes.items():
            print(json.dumps({"weights": eval_name(weights), "articles": size, "stores": draws,
                              "chunks_per_store": chunks[size] // draws} | summary(per_size[(weights, size)])))
        pooled = summary([r for size in sizes for r in per_size[(weights, size)]])
        print(json.dumps({"weights": eval_name(weights), "articles": "all"} | pooled))
    # the learned weights answer stores of SMALL_STORE_CHUNKS chunks and more; the hand-set rule the others
    learned = [per_size[("learned", size)] for size, draws in sizes.items()
               if chunks[size] // draws >= SMALL_STORE_CHUNKS and any(r[0] for r in per_size[("learned", size)])]
    if not learned:
        return  # no store where the learned weights answer, or they were not asked
    threshold = balanced_threshold(learned)
    print(json.dumps({"small_store_threshold": threshold, "sizes": len(learned),
                      "rule": f"{MAX_WRONGLY_REFUSED:.0%} of answerable questions refused, every size counting the same, "
                              f"stores of {SMALL_STORE_CHUNKS} chunks and more"}))
    if args.write:
        data = json.loads(args.write.read_text())
        data["small_store_threshold"] = {"threshold": threshold, "up_to_chunks": largest,
                                         "main_from_chunks": MAIN_THRESHOLD_CHUNKS,
                                         "made_by": "bench/small_stores.py",
                                         "answerable": sum(r[0] for rows in learned for r in rows)}
        args.write.write_text(json.dumps(data, indent=1) + "\n")
        print(f"wrote the small-store threshold {threshold} into {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
