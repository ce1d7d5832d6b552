"""Unanswerable questions for a corpus: questions whose gold answer occurs in none of its articles
(normalized as the bench scores), written with "answerable": false for `rag eval`.

usage: python bench/unanswerable_split.py --questions Q.jsonl [Q.jsonl ...] --corpus CORPUS.jsonl --out OUT.jsonl

For example the held-out questions against the rtqa-2023-s150 corpus: asked over the s150 store,
each should be refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.evaluation import norm  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", nargs="+", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    texts = [norm(a.get("title", "") + "\n" + a.get("text", "")) for a in map(json.loads, open(args.corpus))]
    kept = []
    for path in args.questions:
        for q in map(json.loads, open(path)):
            gold = norm(q["answer"])
            if not any(gold in t for t in texts):
                kept.append(q | {"answerable": False})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(q) + "\n" for q in kept))
    print(f"{args.out}: {len(kept)} questions whose answer is in none of {len(texts)} articles")


if __name__ == "__main__":
    main()
