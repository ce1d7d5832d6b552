"""Follow-up questions: plays written conversations against a store, as the web page asks them (each
turn with the earlier turns' questions and answers as its history), and prints how often a follow-up's
answer holds its gold answer, how often one the articles answer is refused, and how often one they do
not answer is refused. Turn 1 is reported apart: it is a question asked alone.

A conversation file is JSONL, one conversation a line:
    {"id": "c01", "turns": [{"q": "How many people died in ...?", "gold": "11,300"},
                            {"q": "and when did it happen?", "gold": "Sept. 10"},
                            {"q": "how much will the rebuilding cost?", "gold": null}]}
with each gold answer as it is written in an article of the store (null: the articles do not say).
Conversations written over the benchmark's articles are benchmark data: keep them out of the repository.

usage: python bench/conversations.py CONVERSATIONS.jsonl --store STORE [--as-of 2023-12-31] [--out TURNS.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from rag.models import Filters
from rag.service import NewsChat
from rag.settings import Settings


def play(chat: NewsChat, conversation: dict, as_of: str) -> list[dict]:
    """Each turn of one conversation, asked with the ones before it as history: what was searched, and
    whether the answer holds the gold answer or refuses."""
    history: list[tuple[str, str]] = []
    turns = []
    for number, turn in enumerate(conversation["turns"], 1):
        answer = chat.ask(turn["q"], history=history, filters=Filters(as_of=as_of))
        history.append((turn["q"], answer.text))
        gold = turn.get("gold")
        turns.append({"conversation": conversation["id"], "turn": number, "question": turn["q"], "gold": gold,
                      "searched": answer.query, "refused": answer.refused, "confidence": answer.confidence,
                      "supported": gold is not None and not answer.refused and gold.lower() in answer.text.lower(),
                      "answer": answer.text})
    return turns


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:.1%}" if whole else "none"


def report(turns: list[dict]) -> None:
    first = [t for t in turns if t["turn"] == 1]
    later = [t for t in turns if t["turn"] > 1]
    answerable = [t for t in later if t["gold"] is not None]
    unanswerable = [t for t in later if t["gold"] is None]
    print(f"turn 1 (asked alone): answer holds the gold {share(sum(t['supported'] for t in first), len(first))}")
    print(f"follow-ups: {len(later)} ({len(answerable)} the articles answer, {len(unanswerable)} they do not)")
    print(f"  answer holds the gold    {share(sum(t['supported'] for t in answerable), len(answerable))}")
    print(f"  wrongly refused          {share(sum(t['refused'] for t in answerable), len(answerable))}")
    print(f"  unanswerable refused     {share(sum(t['refused'] for t in unanswerable), len(unanswerable))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("conversations", type=Path)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--as-of", default="2023-12-31", help="the date the questions are asked on")
    parser.add_argument("--out", type=Path, help="write every turn, with its answer, to this JSON file")
    args = parser.parse_args()
    chat = NewsChat(dataclasses.replace(Settings(), store_dir=args.store))
    turns = [t for line in args.conversations.read_text(encoding="utf-8").splitlines() if line.strip()
             for t in play(chat, json.loads(line), args.as_of)]
    if args.out:
        args.out.write_text(json.dumps(turns, indent=1, ensure_ascii=False), encoding="utf-8")
    report(turns)


if __name__ == "__main__":
    main()
