"""Grid over the fusion weights of the hybrid retriever, on a store built from a bench split.

usage: python bench/tune_retrieval.py --store DIR [--split ../shared/bench/rtqa-2023-s150]

Candidates are fetched once per question (dense and BM25, 100 each), then every weighting is scored
offline with the bench's Hits@k / MRR@10. Use a dev split to choose; report the hidden-set caveat.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.evaluation import norm  # noqa: E402
from rag.retrieval import Filters, time_prior, time_window  # noqa: E402
from rag.service import NewsChat  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store import date_number  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--split", default=str(Path(__file__).resolve().parents[2] / "shared/bench/rtqa-2023-s150"))
    args = ap.parse_args()
    chat = NewsChat(Settings(store_dir=Path(args.store)))
    r = chat.retriever
    questions = [json.loads(line) for line in open(Path(args.split) / "questions.jsonl", encoding="utf-8")]
    rows = []
    for q in questions:
        f = Filters(as_of=q["date"])
        vector = chat.embeddings.embed_query(q["question"])
        dense = [i for i, _ in r._dense(vector, f, 100)]
        lexical = [i for i, _ in chat.lexical.search(q["question"], f, 100)]
        metas = r._fetch(list(dict.fromkeys(dense + lexical)))
        gold = norm(q["answer"])
        rows.append((q, dense, lexical, {i: (int(m.get("day", 0)), gold in norm(d)) for i, (m, d) in metas.items()}))
    print("candidates fetched", file=sys.stderr)
    grid = itertools.product([20, 60], [0.5, 1.0], [0.7, 1.0], [0.0, 0.01, 0.02, 0.04], [50, 100])
    results = []
    for rrf_k, w_dense, w_lex, w_time, depth in grid:
        hits = {1: 0, 4: 0, 10: 0}
        mrr = 0.0
        for q, dense, lexical, info in rows:
            scores: dict[str, float] = {}
            for rank, i in enumerate(dense[:depth]):
                scores[i] = scores.get(i, 0) + w_dense / (rrf_k + rank + 1)
            for rank, i in enumerate(lexical[:depth]):
                scores[i] = scores.get(i, 0) + w_lex / (rrf_k + rank + 1)
            as_of = date_number(q["date"])
            window = time_window(q["question"], q["date"])
            for i in scores:
                scores[i] += w_time * time_prior(info[i][0], as_of, window)
            ranked = sorted(scores, key=scores.get, reverse=True)[:10]
            first = next((n for n, i in enumerate(ranked) if info[i][1]), None)
            for k in hits:
                hits[k] += first is not None and first < k
            mrr += 0 if first is None else 1 / (first + 1)
        n = len(rows)
        results.append((hits[10] / n, mrr / n, hits[1] / n, hits[4] / n, rrf_k, w_dense, w_lex, w_time, depth))
    results.sort(reverse=True)
    print("hits@10 mrr@10 hits@1 hits@4 | rrf_k w_dense w_lex w_time depth")
    for row in results[:15]:
        print(" ".join(f"{x:.3f}" if isinstance(x, float) else str(x) for x in row))


if __name__ == "__main__":
    main()
