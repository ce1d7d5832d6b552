"""How much of the articles' text no chunk's dense vector reads.

usage: python bench/dense_coverage.py [--corpus ../shared/bench/rtqa-2023-s150/corpus.jsonl] [--limit 400]

The embedding model reads the first MAX_TOKENS word pieces of what is embedded for a chunk (its
headline, then its text: chunking.embedding_text); the rest of a long chunk is seen by BM25 and the
answerer, but by no vector, unless the next chunk (which starts inside this one, by the overlap) reads
it. Prints the share of chunks cut and the share of the bodies' characters that no chunk's vector reads.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from transformers import AutoTokenizer  # noqa: E402

from rag.articles import read_file  # noqa: E402
from rag.chunking import chunk_article, embedding_text, make_splitter  # noqa: E402
from rag.embeddings import resolve_model  # noqa: E402
from rag.settings import Settings  # noqa: E402

MAX_TOKENS = 256  # all-MiniLM-L6-v2's max_seq_length


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared/bench/rtqa-2023-s150/corpus.jsonl"))
    ap.add_argument("--limit", type=int, default=400, help="first N articles (0 = all)")
    args = ap.parse_args()
    settings = Settings(store_dir=Path("unused"))
    tokenizer = AutoTokenizer.from_pretrained(resolve_model(settings.embedding_model)[1])
    articles = read_file(Path(args.corpus), max_jsonl_mb=1024).articles
    articles = articles[: args.limit] if args.limit else articles
    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)
    characters = unread = chunks = cut = 0
    for article in articles:
        read = bytearray(len(article.body))  # 1 where some chunk's vector reads the body's character
        for chunk in chunk_article(article, splitter):
            text = embedding_text(chunk)  # the headline, then the chunk's own text
            offsets = tokenizer(text, truncation=True, max_length=MAX_TOKENS, return_offsets_mapping=True)["offset_mapping"]
            seen = max(0, max(end for _, end in offsets) - (len(text) - len(chunk.text)))
            chunks += 1
            cut += seen < len(chunk.text)
            read[chunk.start:chunk.start + min(seen, len(chunk.text))] = b"\x01" * min(seen, len(chunk.text))
        characters += len(read)
        unread += len(read) - sum(read)
    print(f"{len(articles)} articles, {chunks} chunks: {cut / chunks:.0%} cut at {MAX_TOKENS} word pieces; "
          f"{unread / characters:.1%} of the body characters are read by no chunk's vector")


if __name__ == "__main__":
    main()
