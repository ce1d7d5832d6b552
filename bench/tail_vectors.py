"""Would a second vector for the tail of each chunk help? (answers issue, item 5)

usage: python bench/tail_vectors.py --store STORE --questions Q.jsonl [--tail-from 200] [--answers]

The embedding model reads the first 256 word pieces of what is embedded for a chunk (its headline, then
its text); a 1,500-character chunk is often longer, so its last part is found by BM25 but by no vector
(bench/dense_coverage.py). This embeds, for every chunk whose embedded text is longer than the model
reads, a tail: the headline and the chunk's text from word piece `--tail-from` on (at a word start), with
the store's own model and variant, and times it. Then it asks every question twice, as `rag eval` does
(with `--answers`, as `rag eval --answers`): once as the app is, and once with the dense side ranking
each chunk by the better of its stored vector and its tail's. BM25, the fusion and the answerer are the
app's own. Nothing is written to the store: the tails' vectors are what a store with tail vectors would
hold, searched exactly (numpy) rather than through Chroma's approximate index, for both runs alike.

Measured on the training questions (docs/BENCHMARKS.md, "Vectors for the tails of chunks").
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from contextlib import redirect_stderr
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.chunking import embedding_text, headed  # noqa: E402
from rag.evaluation import run_eval  # noqa: E402
from rag.models import Filters  # noqa: E402
from rag.service import NewsChat  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store import chunk_from_metadata  # noqa: E402


def stored(chat: NewsChat) -> tuple[list[str], list[dict], list[str], np.ndarray]:
    """Every chunk's id, metadata, text and stored vector."""
    ids, metas, docs, vectors = [], [], [], []
    collection = chat.store.collection
    for offset in range(0, collection.count(), 2000):
        page = collection.get(limit=2000, offset=offset, include=["metadatas", "documents", "embeddings"])
        ids += page["ids"]
        metas += page["metadatas"]
        docs += page["documents"]
        vectors.append(np.asarray(page["embeddings"], dtype=np.float32))
    return ids, metas, docs, np.vstack(vectors)


def tails(chat: NewsChat, metas: list[dict], docs: list[str], tail_from: int) -> tuple[list[int], list[str]]:
    """(chunk index, tail text) of each chunk whose embedded text is longer than the model reads."""
    model = chat.store.embeddings.model
    limit = model.max_seq_length - 2  # the model's own start and end marks
    owners, texts = [], []
    for i, (meta, doc) in enumerate(zip(metas, docs)):
        chunk = chunk_from_metadata(meta, doc)
        embedded = embedding_text(chunk)
        pieces = model.tokenizer(embedded, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        if len(pieces) <= limit:
            continue
        cut = max(0, pieces[tail_from][0] - (len(embedded) - len(chunk.text)))  # into the chunk's own text
        while cut and not chunk.text[cut - 1].isspace():
            cut -= 1
        owners.append(i)
        texts.append(headed(chunk.title, chunk.text[cut:]))
    return owners, texts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--questions", type=Path, required=True)
    ap.add_argument("--tail-from", type=int, default=200, help="word piece of the embedded text a tail starts at")
    ap.add_argument("--answers", action="store_true", help="answer too, as rag eval --answers")
    args = ap.parse_args()
    chat = NewsChat(Settings(store_dir=args.store))
    ids, metas, docs, heads = stored(chat)
    owners, texts = tails(chat, metas, docs, args.tail_from)
    started = time.perf_counter()
    tail_vectors = np.asarray(chat.store.embeddings.embed_documents(texts), dtype=np.float32)
    seconds = time.perf_counter() - started
    print(json.dumps({"chunks": len(ids), "tails": len(owners), "tail_seconds": round(seconds, 1),
                      "tails_per_s": round(len(owners) / max(seconds, 1e-9), 1),
                      "variant": str(chat.store.embeddings.variant)}))

    def exact_dense(vector, filters: Filters, n: int, passes, with_tails: bool) -> list[tuple[str, float]]:
        """HybridRetriever._dense, searched exactly: the n nearest chunks that the filters let through
        (`passes`: the retriever's own check, from the keyword index)."""
        query = np.asarray(vector, dtype=np.float32)
        scores = heads @ query
        if with_tails:
            np.maximum.at(scores, owners, tail_vectors @ query)
        scores[[passes(chunk_id) is False for chunk_id in ids]] = -np.inf
        return [(ids[i], float(scores[i])) for i in np.argsort(-scores)[:n]]

    for name, with_tails in (("stored vectors", False), ("stored and tail vectors", True)):
        # the one seam: the dense search of this chat's retriever (a measurement, not an app setting)
        chat.retriever._dense = lambda v, f, n, p, t=with_tails: exact_dense(v, f, n, p, t)
        with redirect_stderr(io.StringIO()):
            summary = run_eval(chat, args.questions, with_answers=args.answers)
        print(json.dumps({"dense": name} | summary))


if __name__ == "__main__":
    main()
