"""Made-up training questions for the reader (rag/reader.py), from articles alone: a sentence with a
name or a number becomes a question about it ("Microsoft announced 10,000 job cuts." -> "Microsoft
announced how many job cuts?"), and the sentences that answer it come from *other* articles of the
same weeks that name the same answer and share the question's words, so the reader learns to find
the answer in another writer's words, not to match a sentence to itself. The sentences without the
answer that share most of the question's words (keyword search over every sentence) are its
negatives, as the first stage's favourites are in bench/train_reader.py.

usage: python bench/cloze_questions.py --corpus CORPUS.jsonl [...] --out GROUPS.pkl [--questions 1500]

Run it on the training splits' articles only (bench/train_pipeline.sh: split150 and split300), never
on the corpora reported on. Writes a pickle of (question, sentences, number of answer sentences
first) groups, the shape bench/train_reader.py trains on (benchmark text: never committed).
"""

from __future__ import annotations

import argparse
import json
import pickle
import random
import re
import sys
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.evaluation import norm  # noqa: E402
from rag.ranker import named_kinds  # noqa: E402
from rag.retrieval import tokenize  # noqa: E402
from rag.sentences import split  # noqa: E402
from rag.text import content_terms  # noqa: E402

import bm25s  # noqa: E402
from train_reader import EASY, HARD, POSITIVES  # noqa: E402  (the group's shape the reader trains on)

SAME_WEEKS = 21  # days between the question's article and an answering one
SHARED_TERMS = 3  # question words (besides the answer's) an answering sentence must share
POOL = 100  # keyword hits read per question
_NAME = re.compile(r"(?<![\w-])[A-Z][\w'’.&-]*(?:\s+(?:of\s+|the\s+|&\s+|de\s+|del\s+|la\s+|van\s+|von\s+|al\s+|bin\s+)?[A-Z][\w'’.&-]*){0,3}")
# capitalised words that name no answer: a sentence's opening words, months and days (abbreviated too)
_NOT_NAMES = frozenset("""the a an but and or so this that these those it he she they we i you his her their our its
in on at as if when while after before since for from with by to of yes no not mr ms mrs dr
jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july august
september october november december monday tuesday wednesday thursday friday saturday sunday""".split())
_NUMBER = re.compile(r"(?<![\w$-])\$?\d[\d,.]*\d(?:\s?(?:%|percent|million|billion|trillion))?(?!\w)")
_YEAR = re.compile(r"^(1[89]|20)\d\d$")


def sentences_of(corpus: list[Path]) -> list[dict]:
    out = []
    for path in corpus:
        for line in open(path, encoding="utf-8"):
            if not line.strip():
                continue
            a = json.loads(line)
            day = (a.get("published") or "")[:10]
            for s in split(a.get("text") or ""):
                if s.shape == "sentence" and 60 <= len(s.text) <= 300:
                    out.append({"article": a["id"], "day": day, "text": " ".join(s.text.split())})
    return out


def answer_spans(text: str, kinds) -> list[tuple[int, int, str]]:
    """(start, end, question words) of the names and numbers a question could ask for."""
    out = []
    for m in _NUMBER.finditer(text):
        value = m.group()
        if len(value) < 4:
            continue  # "24" is in too many sentences about other things to say which one answers
        words = "what year" if _YEAR.match(value) else ("how much" if "$" in value else "how many")
        out.append((m.start(), m.end(), words))
    for m in _NAME.finditer(text):
        name = m.group().rstrip(".")
        end = m.start() + len(name)
        kind = next((k.name for k in kinds if k.name in ("country", "state") and k.names.fullmatch(name)), None)
        if m.start() == 0 and " " not in name and kind is None:
            continue  # a capitalised first word is as often no name at all
        if len(name) < 3 or name.split()[0].lower().rstrip(".") in _NOT_NAMES:
            continue
        out.append((m.start(), end, f"which {kind}" if kind else "which"))
    return out


def as_question(text: str, start: int, end: int, words: str) -> str:
    """The sentence with the answer replaced by question words, ending in a question mark; of a long
    sentence only the clauses around the answer (news-quiz questions run 10-30 words)."""
    before, after = text[:start].rstrip(), text[end:].lstrip()
    before = re.sub(r"\b(the|The)$", "", before).rstrip().lstrip("\"“‘'")
    after = re.sub(r"[.!\"”’']+$", "", after).rstrip(" ,;:")
    before_parts, after_parts = re.split(r"(?<=[,;:—])\s+", before), re.split(r"\s+(?=[,;:—])", after)
    while len(" ".join(before_parts + after_parts).split()) > 28 and (len(before_parts) > 1 or len(after_parts) > 1):
        if len(before_parts) >= len(after_parts):
            before_parts.pop(0)
        else:
            after_parts.pop()
    before, after = " ".join(before_parts).strip(), " ".join(after_parts).rstrip(" ,;:—")
    if not before:
        words = "who" if words == "which" else words
        return f"{words[0].upper()}{words[1:]} {after}?"
    return re.sub(r"\s+([,;:])", r"\1", f"{before} {words} {after}".strip()) + "?"


def same_words(a: str, b: str) -> bool:
    x, y = set(content_terms(a)), set(content_terms(b))
    return bool(x and y) and len(x & y) / len(x | y) > 0.5


def days_apart(a: str, b: str) -> int:
    try:
        return abs((date.fromisoformat(a) - date.fromisoformat(b)).days)
    except ValueError:
        return 10 ** 6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", nargs="+", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--questions", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    kinds = named_kinds()
    pool = sentences_of(args.corpus)
    texts = [s["text"] for s in pool]
    normed = [norm(t) for t in texts]
    index = bm25s.BM25()
    index.index(tokenize(texts), show_progress=False)
    print(f"{len(pool)} sentences", file=sys.stderr)
    groups, tried = [], 0
    order = list(range(len(pool)))
    rng.shuffle(order)
    for i in order:
        if len(groups) >= args.questions:
            break
        source = pool[i]
        spans = answer_spans(source["text"], kinds)
        if not spans:
            continue
        start, end, words = rng.choice(spans)
        answer = norm(source["text"][start:end])
        question = as_question(source["text"], start, end, words)
        asked = set(content_terms(question)) - set(content_terms(answer))
        if len(asked) < 3:
            continue
        tried += 1
        hits, _ = index.retrieve(tokenize([question]), k=POOL, show_progress=False)
        positives, negatives = [], []
        for j in (int(h) for h in hits[0]):
            other = pool[j]
            if other["article"] == source["article"]:
                continue
            if same_words(texts[j], source["text"]):
                continue  # a syndicated copy of the question's own sentence teaches matching, not reading
            if re.search(rf"(?<!\w){re.escape(answer)}(?!\w)", normed[j]):
                near = days_apart(other["day"], source["day"]) <= SAME_WEEKS
                if near and len(asked & set(content_terms(texts[j]))) >= SHARED_TERMS:
                    positives.append(texts[j])
            else:
                negatives.append(texts[j])
        positives = list(dict.fromkeys(positives))[:POSITIVES]
        if not positives or len(negatives) < HARD + EASY:
            continue
        easy = rng.sample(negatives[HARD:], EASY)
        groups.append((question, positives + negatives[:HARD] + easy, len(positives)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "wb") as f:
        pickle.dump(groups, f)
    print(f"{args.out}: {len(groups)} questions of {tried} tried, "
          f"{np.mean([g[2] for g in groups]):.2f} answer sentences each")
    for q, sentences, n in groups[:8]:
        print(json.dumps({"question": q, "answer_sentence": sentences[0]}), file=sys.stderr)


if __name__ == "__main__":
    main()
