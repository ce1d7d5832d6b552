"""Ingest speed on a RealTimeQA-RAG split, side by side with bare fp32 SentenceTransformer.encode.

usage: python bench/ingest_speed.py [--split ../shared/bench/rtqa-2023-s150] [--limit N] [--store DIR]

Prints, on the same chunks in one run: bare encode with the published fp32 weights, bare encode
with the variant the app uses (bf16 on a CPU with AMX or AVX512-BF16, fp32 elsewhere; RAG_EMBEDDING_VARIANT to
choose), and the whole ingest pipeline (a new store, that variant) with its ratio to bare fp32; then, on --store
(default: that new store; give a store already holding the whole split to measure at full size):
re-ingest of the unchanged corpus, adding one new article, warm search and ask latency p50/p95; peak
memory (RSS).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.articles import read_file  # noqa: E402
from rag.chunking import chunk_article, embedding_text, make_splitter  # noqa: E402
from rag.embeddings import Variant, encode, load_model  # noqa: E402
from rag.evaluation import percentile  # noqa: E402
from rag.models import Filters  # noqa: E402
from rag.service import NewsChat  # noqa: E402
from rag.settings import Settings  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default=str(Path(__file__).resolve().parents[2] / "shared/bench/rtqa-2023-s150"))
    ap.add_argument("--limit", type=int, default=0, help="first N articles only (0 = all)")
    ap.add_argument("--store", help="a store already holding the whole split, for the re-ingest/add/search figures")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    corpus = work / "corpus.jsonl"
    lines = open(Path(args.split) / "corpus.jsonl", encoding="utf-8").readlines()
    corpus.write_text("".join(lines[: args.limit] if args.limit else lines), encoding="utf-8")
    settings = Settings(store_dir=work / "store")
    chat = NewsChat(settings)

    articles = read_file(corpus, max_jsonl_mb=1024).articles
    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)
    texts = [embedding_text(c) for a in articles for c in chunk_article(a, splitter)]
    print(f"articles {len(articles)}, chunks {len(texts)}")
    rates = {}
    for variant in dict.fromkeys(("fp32", str(chat.embeddings.variant))):
        model = load_model(chat.embeddings.path, Variant.parse(variant), "cpu")
        encode(model, Variant.parse(variant), texts[:32], chat.embeddings.batch_size)  # warm up
        started = time.perf_counter()
        encode(model, Variant.parse(variant), texts, chat.embeddings.batch_size)
        rates[variant] = len(texts) / (time.perf_counter() - started)
        print(f"bare encode, {variant}: {rates[variant]:.1f} chunks/s")
    bare = rates["fp32"]

    started = time.perf_counter()
    report = chat.ingest([corpus])
    seconds = time.perf_counter() - started
    print(f"pipeline ingest: {report.chunks_embedded / seconds:.1f} chunks/s ({seconds:.0f} s), "
          f"{report.chunks_embedded / seconds / bare:.2f}x bare fp32 encode "
          f"(variant {chat.embeddings.variant})")

    if args.store:  # the rest on the full-size store, with the split's own corpus file
        chat = NewsChat(Settings(store_dir=Path(args.store)))
        corpus = Path(args.split) / "corpus.jsonl"
        print(f"full store: {chat.status()['articles']} articles, {chat.status()['chunks']} chunks")
    started = time.perf_counter()
    report = chat.ingest([corpus])
    print(f"re-ingest unchanged: {time.perf_counter() - started:.2f} s, {report.chunks_embedded} chunks embedded")

    inbox = work / "inbox"
    inbox.mkdir()
    new = inbox / "new-article.txt"
    new.write_text("A new article\n\nThe city council of Springfield voted on Tuesday to build a new bridge "
                   "over the river, at a cost of 12 million dollars.\n", encoding="utf-8")
    started = time.perf_counter()
    report = chat.ingest([inbox])
    print(f"add one article: {time.perf_counter() - started:.2f} s ({report.added} added)")

    questions = [json.loads(line) for line in open(Path(args.split) / "questions.jsonl", encoding="utf-8")]
    started = time.perf_counter()
    chat.search("bridge over the river in Springfield", Filters())
    print(f"first search after the add: {1000 * (time.perf_counter() - started):.0f} ms")
    latencies = []
    for q in questions:
        started = time.perf_counter()
        chat.search(q["question"], Filters(as_of=q["date"]))
        latencies.append(1000 * (time.perf_counter() - started))
    print(f"search warm: p50 {percentile(latencies, 50):.0f} ms, p95 {percentile(latencies, 95):.0f} ms "
          f"over {len(latencies)} queries")
    latencies = []
    for q in questions:
        started = time.perf_counter()
        chat.ask(q["question"], filters=Filters(as_of=q["date"]))
        latencies.append(1000 * (time.perf_counter() - started))
    print(f"ask warm: p50 {percentile(latencies, 50):.0f} ms, p95 {percentile(latencies, 95):.0f} ms "
          f"over {len(latencies)} questions")
    new.unlink()
    chat.ingest([inbox])  # the folder is empty now: the new article leaves the store again
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
