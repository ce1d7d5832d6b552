"""Where the gold answers of retrieval misses sit in their chunks: could a vector for a chunk's tail find them?

usage: python bench/miss_positions.py --store STORE --questions QUESTIONS.jsonl --eval EVAL.jsonl

EVAL is the output of `rag eval QUESTIONS --store STORE --answers --out EVAL` (each question's passages
read). For each answerable question whose gold answer (`evaluation.norm`) is in none of those passages, it
finds the store's chunks that hold the answer and counts the word pieces before it in what was embedded
(the stored text: headline and chunk). Prints how many misses have it within the first MAX_TOKENS - 2 word
pieces of some chunk (read by its vector already), only beyond them, or in no chunk at all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transformers import AutoTokenizer  # noqa: E402

from rag.embeddings import resolve_model  # noqa: E402
from rag.evaluation import norm  # noqa: E402
from rag.service import NewsChat  # noqa: E402
from rag.settings import Settings  # noqa: E402

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length; two of them are [CLS] and [SEP]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--questions", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True)
    args = parser.parse_args()
    questions = {q["id"]: q for q in map(json.loads, args.questions.open())}
    store = NewsChat(Settings(store_dir=args.store, chroma_url="", database_url="")).store
    texts = [norm(t) for t in store.collection.get(include=["documents"])["documents"]]
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("")[1])
    head = tail = nowhere = misses = 0
    for result in map(json.loads, args.eval.open()):
        question = questions.get(result["id"])
        if not question or not question.get("answer"):
            continue
        gold = norm(question["answer"])
        if any(gold in norm(p["text"]) for p in result["results"]):
            continue
        misses += 1
        before = [len(tokenizer(t[:t.find(gold)], add_special_tokens=False)["input_ids"]) for t in texts if gold in t]
        if not before:
            nowhere += 1
        elif min(before) < MAX_TOKENS - 2:
            head += 1
        else:
            tail += 1
    print(f"{misses} answerable questions with the gold answer in none of the passages read: within the first "
          f"{MAX_TOKENS - 2} word pieces of some chunk {head}, only beyond them {tail}, in no chunk {nowhere}")


if __name__ == "__main__":
    main()
