"""Sentence splitting: the answerer's regular expression (rag/sentences.py) against pysbd, on real
article bodies: time per 10,000 characters, and agreement on where sentences end, with pysbd's
boundaries as the reference (pysbd implements the "Golden Rules" of English sentence boundaries).
The previous splitter (one regular expression without abbreviations) is scored the same way.

usage: python bench/sentence_split.py [--split ../shared/bench/rtqa-2023-s150] [--articles 300]
(needs `pip install pysbd`; it is not a dependency of the app)
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.sentences import split  # noqa: E402

# The expression the answerer used before rag/sentences.py (kept here only to measure against).
PREVIOUS = re.compile(r"(?<=[.!?])[\"”’')\]]*\s+(?=[\"“‘'(\[]?[A-Z0-9])|\n\s*\n")


def previous_ends(text: str) -> set[int]:
    return {m.start() for m in PREVIOUS.finditer(text)}


def ends_of(spans) -> set[int]:
    return {s.end for s in spans}


def main() -> None:
    import pysbd

    ap = argparse.ArgumentParser()
    ap.add_argument("--split", default=str(Path(__file__).resolve().parents[2] / "shared/bench/rtqa-2023-s150"))
    ap.add_argument("--articles", type=int, default=300)
    args = ap.parse_args()
    bodies = []
    for line in open(Path(args.split) / "corpus.jsonl", encoding="utf-8"):
        bodies.append(json.loads(line)["text"])
        if len(bodies) == args.articles:
            break
    # one paragraph at a time, as both splitters treat line breaks as boundaries
    paragraphs = [p.strip() for b in bodies for p in b.split("\n") if p.strip()]
    chars = sum(len(p) for p in paragraphs)
    segmenter = pysbd.Segmenter(language="en", clean=False, char_span=True)
    timings, found = {}, {}
    for name, fn in [("pysbd", lambda t: {s.end - (len(s.sent) - len(s.sent.rstrip())) for s in segmenter.segment(t)}),
                     ("rag.sentences", lambda t: ends_of(split(t, min_chars=1))),
                     ("previous regex", lambda t: previous_ends(t) | {len(t)})]:
        started = time.perf_counter()
        found[name] = [fn(p) for p in paragraphs]
        timings[name] = time.perf_counter() - started
    reference = found["pysbd"]
    print(f"{len(bodies)} articles, {len(paragraphs)} paragraphs, {chars:,} characters")
    for name in found:
        agree = sum(len(a & b) for a, b in zip(found[name], reference))
        ours = sum(len(a) for a in found[name])
        theirs = sum(len(b) for b in reference)
        print(f"{name:15s} {1000 * timings[name] / chars * 10_000:8.1f} ms per 10,000 chars   "
              f"boundaries {ours:6d}   agreeing with pysbd: precision {agree / ours:.3f}, recall {agree / theirs:.3f}")


if __name__ == "__main__":
    main()
