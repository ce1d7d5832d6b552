"""The BM25 side at full-year scale: build, save, load and query times of the project's bm25s index
over every chunk of rtqa-2023 (about 60,000 chunks at 1500/225; no embedding needed).

usage: python bench/bm25_scale.py [--split ../shared/bench/rtqa-2023]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.articles import read_file  # noqa: E402
from rag.chunking import chunk_article, embedding_text, make_splitter  # noqa: E402
from rag.retrieval import tokenize  # noqa: E402
from rag.settings import Settings  # noqa: E402


def main() -> None:
    import bm25s

    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default=str(Path(__file__).resolve().parents[2] / "shared/bench/rtqa-2023"))
    args = ap.parse_args()
    settings = Settings()
    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)
    articles = read_file(Path(args.split) / "corpus.jsonl", max_jsonl_mb=1024).articles
    texts = [embedding_text(c) for a in articles for c in chunk_article(a, splitter)]
    print(f"{len(articles)} articles, {len(texts)} chunks")
    started = time.perf_counter()
    tokens = tokenize(texts)
    tokenized = time.perf_counter() - started
    index = bm25s.BM25()
    index.index(tokens, show_progress=False)
    print(f"build: tokenize {tokenized:.1f} s, index {time.perf_counter() - started - tokenized:.1f} s")
    folder = tempfile.mkdtemp(prefix="bm25-")
    index.save(folder, show_progress=False)
    started = time.perf_counter()
    index = bm25s.BM25.load(folder, show_progress=False)
    print(f"load from disk: {time.perf_counter() - started:.2f} s")
    questions = [json.loads(line)["question"] for line in open(Path(args.split) / "questions.jsonl", encoding="utf-8")]
    latencies = []
    for q in questions:
        started = time.perf_counter()
        index.retrieve(tokenize([q]), k=50, show_progress=False, n_threads=1)
        latencies.append(1000 * (time.perf_counter() - started))
    latencies.sort()
    print(f"query (top 50): p50 {statistics.median(latencies):.1f} ms, "
          f"p95 {latencies[int(0.95 * (len(latencies) - 1))]:.1f} ms over {len(latencies)} questions")


if __name__ == "__main__":
    main()
