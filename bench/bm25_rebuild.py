"""How long the keyword index takes to catch up with the store: a rebuild with nothing cached (a new
store, or one made before the token cache), a rebuild after one article was added (only its chunks
are tokenized), and a load of the saved index. Rewrites STORE/bm25/; the vectors are not touched.

usage: python bench/bm25_rebuild.py --store /tmp/bench-s150c
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.retrieval import LexicalIndex, TokenCache  # noqa: E402
from rag.service import NewsChat  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.store import RECORD_KEY  # noqa: E402


def timed(label: str, action) -> None:
    started = time.perf_counter()
    action()
    print(f"{label}: {time.perf_counter() - started:.2f} s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    args = ap.parse_args()
    chat = NewsChat(Settings(store_dir=Path(args.store)))
    print(f"{chat.store.collection.count()} chunks")
    shutil.rmtree(chat.lexical.dir, ignore_errors=True)
    timed("rebuild, nothing cached", lambda: chat.lexical.ensure_fresh())
    one_article = chat.store.collection.get(limit=1, include=["metadatas"])["metadatas"][0][RECORD_KEY]
    its_chunks = chat.store.collection.get(where={RECORD_KEY: one_article}, include=[])["ids"]
    with TokenCache(chat.lexical.dir / "tokens.sqlite") as cache:  # as if this article had just arrived
        cache.db.executemany("DELETE FROM tokens WHERE id = ?", [(i,) for i in its_chunks])
    (chat.lexical.dir / "stamp.txt").unlink()
    timed(f"rebuild after one article arrived ({len(its_chunks)} chunks)", lambda: LexicalIndex(chat.store).ensure_fresh())
    timed("load the saved index (a restart)", lambda: LexicalIndex(chat.store).ensure_fresh())


if __name__ == "__main__":
    main()
