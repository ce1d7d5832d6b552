"""Search a store as a user would, in a process of its own, and check every hit: run by the tests
that kill or share writers (`python tests/store_probe.py STORE QUERY ...`). Prints JSON:
{"hits": n, "bad": [hits whose article cannot be opened or whose text is not body[start:end]],
 "texts": [every hit's text]}."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rag.models import Filters
from rag.service import NewsChat
from rag.settings import Settings


def main() -> None:
    store, queries = Path(sys.argv[1]), sys.argv[2:]
    chat = NewsChat(Settings(store_dir=store))
    hits, bad, texts = 0, [], []
    for query in queries:
        for chunk in chat.search(query, Filters(), k=10):
            hits += 1
            texts.append(chunk.text)
            article = chat.article(chunk.article_id)
            if article is None or article.body[chunk.start:chunk.end] != chunk.text:
                bad.append(chunk.to_json(hits))
    print(json.dumps({"hits": hits, "bad": bad, "texts": texts}))


if __name__ == "__main__":
    main()
