"""How long the followed feeds' state takes to consult and update as it grows: `FollowedFeeds.seen` and
`remember` for 50 items (one poll of a busy feed) against a state of N items seen before.

usage: python bench/feed_state.py [--items 20000] [--poll 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rag.feeds import Item
from rag.following import FollowedFeeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20000)
    parser.add_argument("--poll", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        feeds = FollowedFeeds(Path(folder))
        with feeds._lock():
            data = feeds._read()
            for n in range(args.items):
                data["items"][f"https://news.example/feed.xml story-{n}"] = {
                    "version": f"{n:032x}", "content": f"{n:032x}", "url": f"https://news.example/news/story-{n}",
                    "id": f"story-{n}", "file": f"news.example/story-{n}-{n:016x}.json"}
            feeds._write(data)
        size = feeds.path.stat().st_size
        items = [Item(key=f"https://news.example/feed.xml new-{n}", link=f"https://news.example/news/new-{n}",
                      title=f"New story {n}") for n in range(args.poll)]
        started = time.perf_counter()
        for item in items:
            feeds.seen(item)
        looked = time.perf_counter() - started
        started = time.perf_counter()
        for item in items:
            feeds.remember(item.key, {"version": "v", "url": item.link})
        recorded = time.perf_counter() - started
        print(f"state of {args.items:,} items ({size / 1e6:.1f} MB): {args.poll} items looked up in {looked:.2f} s, "
              f"recorded in {recorded:.2f} s")


if __name__ == "__main__":
    main()
