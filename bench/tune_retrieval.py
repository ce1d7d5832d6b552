"""Grid over the fusion weights of the hybrid retriever, on a store built from a bench split.

usage: python bench/tune_retrieval.py --store DIR [--split ../shared/bench/rtqa-2023-s150]

Candidates are fetched once per question (dense and BM25, as the retriever does), then every
weighting is scored offline through the retriever's own `fuse()` with the bench's Hits@k / MRR@10.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.evaluation import RankScores, first_hit, norm  # noqa: E402
from rag.models import Filters  # noqa: E402
from rag.retrieval import RetrievalWeights, fuse  # noqa: E402
from rag.service import NewsChat  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store import chunk_from_metadata  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--split", default=str(Path(__file__).resolve().parents[2] / "shared/bench/rtqa-2023-s150"))
    args = ap.parse_args()
    chat = NewsChat(Settings(store_dir=Path(args.store)))
    retriever = chat.retriever
    questions = [json.loads(line) for line in open(Path(args.split) / "questions.jsonl", encoding="utf-8")]
    rows = []
    for q in questions:
        filters = Filters(as_of=q["date"])
        _, dense, lexical, metas = retriever.candidates(q["question"], filters)
        gold = norm(q["answer"])
        days = {i: int(m.get("day", 0)) for i, (m, _) in metas.items()}
        has_gold = {i for i, (m, stored) in metas.items() if gold in norm(chunk_from_metadata(m, stored).text)}
        rows.append((q, filters, dense, lexical, days, has_gold))
    results = []
    grid = itertools.product([20, 60], [0.5, 0.7, 1.0], [0.0, 0.01, 0.02, 0.04], [7, 14, 30])
    for rrf_k, dense_weight, time_weight, scale in grid:
        weights = replace(RetrievalWeights(), rrf_k=rrf_k, dense=dense_weight, time=time_weight,
                          time_scale_days=scale)
        ranks = RankScores()
        for q, filters, dense, lexical, days, has_gold in rows:
            scores = fuse(dense, lexical, days, q["question"], filters, weights)
            ranked = sorted(scores, key=scores.get, reverse=True)
            ranks.add(first_hit(i in has_gold for i in ranked))
        s = ranks.summary()
        results.append((s["hits@10"], s["mrr@10"], s["hits@1"], s["hits@4"], rrf_k, dense_weight, time_weight, scale))
    results.sort(key=lambda r: r[0] + r[1], reverse=True)
    print("hits@10 mrr@10 hits@1 hits@4 | rrf_k w_dense w_time time_scale_days   (w_lexical = 1)")
    for row in results[:15]:
        print(" ".join(f"{x:.3f}" if isinstance(x, float) else str(x) for x in row))


if __name__ == "__main__":
    main()
