"""Chunk size and overlap, measured on the lexical side (BM25 needs no embedding, so each size takes
seconds instead of the ~20 minutes a dense rebuild of the split costs on 2 cores).

usage: python bench/chunk_sizes.py [--split ../shared/bench/rtqa-2023-s150]

For each (size, overlap): chunks the split's articles with the project's own chunker (title first),
indexes them with the project's BM25 tokenizer, and scores each question (as-of date applied) with the
bench's Hits@k / MRR@10 on the chunk text. Also prints chunk counts, since embedding time grows with them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.articles import read_file  # noqa: E402
from rag.chunking import chunk_article, embedding_text, make_splitter  # noqa: E402
from rag.evaluation import MRR_DEPTH, RankScores, first_hit, norm  # noqa: E402
from rag.retrieval import tokenize  # noqa: E402
from rag.dates import day_number  # noqa: E402

SIZES = [(500, 75), (750, 110), (1000, 150), (1000, 0), (1250, 190), (1500, 225)]


def main() -> None:
    import bm25s

    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default=str(Path(__file__).resolve().parents[2] / "shared/bench/rtqa-2023-s150"))
    args = ap.parse_args()
    articles = read_file(Path(args.split) / "corpus.jsonl", max_jsonl_mb=1024).articles
    questions = [json.loads(line) for line in open(Path(args.split) / "questions.jsonl", encoding="utf-8")]
    print("size overlap chunks | hits@1 hits@4 hits@10 mrr@10   (BM25 only)")
    for size, overlap in SIZES:
        splitter = make_splitter(size, overlap)
        chunks = [c for a in articles for c in chunk_article(a, splitter)]
        index = bm25s.BM25()
        index.index(tokenize([embedding_text(c) for c in chunks]), show_progress=False)
        days = np.asarray([day_number(c.published) for c in chunks])
        texts = [norm(c.text) for c in chunks]
        ranks = RankScores()
        for q in questions:
            mask = (days <= day_number(q["date"])).astype(np.float32)
            found, _ = index.retrieve(tokenize([q["question"]]), k=MRR_DEPTH, weight_mask=mask, show_progress=False)
            gold = norm(q["answer"])
            ranks.add(first_hit(gold in texts[int(i)] for i in found[0]))
        s = ranks.summary()
        scores = f"{s['hits@1']:.3f} {s['hits@4']:.3f} {s['hits@10']:.3f} {s['mrr@10']:.3f}"
        print(f"{size} {overlap} {len(chunks)} | {scores}")


if __name__ == "__main__":
    main()
