"""Does a faster embedding variant (bf16, int8) retrieve as well as fp32? Dense-only retrieval on one
store, the variants side by side, paired per question.

usage: python bench/variant_check.py --store STORE --questions QUESTIONS.jsonl [--variants bf16 int8] [--k 10]

The store's chunks are read back (the text that was embedded: headline + passage) and embedded again
with each variant (the store's own vectors are used for its own variant). Questions are embedded as
the app embeds them (`Variant.base`: fp32 for bf16).
Each question's top k is exact cosine over the chunks its as-of date allows (the app's filter), so
the comparison is the embedding alone, not Chroma's approximate index or the keyword side. Prints
Hits@1/4/10 and MRR@10 of each variant, the paired difference in MRR with its standard error, and
embedding throughput of both variants on these chunks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.dates import day_number  # noqa: E402
from rag.embeddings import Variant, encode, load_model, resolve_model  # noqa: E402
from rag.evaluation import RankScores, first_hit, norm  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store import Store  # noqa: E402
from rag.embeddings import SentenceEmbeddings  # noqa: E402


def read_chunks(store: Store) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """(ids, embedded texts, days, stored vectors) of every chunk."""
    ids, texts, days, vectors = [], [], [], []
    collection = store.collection
    for offset in range(0, collection.count(), 2000):
        page = collection.get(include=["documents", "metadatas", "embeddings"], limit=2000, offset=offset)
        ids += page["ids"]
        texts += page["documents"]
        days += [int(m.get("day", 0)) for m in page["metadatas"]]
        vectors.append(np.asarray(page["embeddings"], dtype=np.float32))
    return ids, texts, np.asarray(days), np.concatenate(vectors)


def embed(path: str, variant: Variant, texts: list[str]) -> tuple[np.ndarray, float]:
    model = load_model(path, variant, "cpu")
    started = time.perf_counter()
    vectors = encode(model, variant, texts, 16)
    return vectors.astype(np.float32), len(texts) / (time.perf_counter() - started)


def scores(name: str, questions: list[dict], q_vectors: np.ndarray, vectors: np.ndarray, days: np.ndarray,
           texts: list[str], k: int) -> tuple[dict, list[int | None]]:
    ranks, firsts = RankScores(), []
    lowered = [norm(t) for t in texts]
    for q, qv in zip(questions, q_vectors):
        sims = vectors @ qv
        as_of = day_number(q.get("date") or "")
        if as_of:
            sims = np.where((days <= as_of) | (days == 0), sims, -np.inf)
        top = np.argsort(-sims)[:k]
        gold = norm(q["answer"])
        first = first_hit(gold in lowered[i] for i in top)
        ranks.add(first)
        firsts.append(first)
    return {"variant": name} | {key: round(v, 4) for key, v in ranks.summary().items()}, firsts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True, type=Path)
    ap.add_argument("--questions", required=True, type=Path)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--variants", nargs="+", default=["int8"], help="compared with fp32")
    args = ap.parse_args()
    settings = Settings(store_dir=args.store)
    store = Store(args.store, SentenceEmbeddings(settings.embedding_model, device="cpu"))
    recorded = store.status().get("embedding_variant", "")
    ids, texts, days, stored = read_chunks(store)
    print(f"{len(ids)} chunks; the store's vectors are {recorded or 'of an unrecorded variant'}", file=sys.stderr)
    questions = [json.loads(line) for line in open(args.questions, encoding="utf-8") if line.strip()]
    _, path = resolve_model(settings.embedding_model)
    results, per_question, rates = [], {}, {}
    for variant in dict.fromkeys(["fp32", *args.variants]):
        if variant == recorded:
            vectors, rate = stored, None
        else:
            print(f"embedding {len(texts)} chunks with {variant} ...", file=sys.stderr)
            vectors, rate = embed(path, Variant.parse(variant), texts)
        rates[variant] = rate
        q_vectors, _ = embed(path, Variant.parse(variant).base, [q["question"] for q in questions])
        summary, per_question[variant] = scores(variant, questions, q_vectors, vectors, days, texts, args.k)
        results.append(summary | ({"chunks_per_s": round(rate, 1)} if rate else {}))
    for line in results:
        print(json.dumps(line))
    paired = {"questions": len(questions)}
    for variant in args.variants:
        for metric, of in (("mrr@10", lambda f: 0.0 if f is None else 1 / (f + 1)),
                           ("hits@1", lambda f: float(f == 0)),
                           (f"hits@{args.k}", lambda f: float(f is not None))):
            diff = np.asarray([of(a) - of(b) for a, b in zip(per_question[variant], per_question["fp32"])])
            paired[f"{metric}_{variant}_minus_fp32"] = round(float(diff.mean()), 4)
            paired[f"{metric}_{variant}_standard_error"] = round(float(diff.std(ddof=1) / np.sqrt(len(diff))), 4)
    print(json.dumps(paired))


if __name__ == "__main__":
    main()
