"""From an item appearing in a followed feed to a verified answer about it, with the app's pieces warm.

A real HTTP server on a loopback port serves an RSS feed and its article pages (invented stories,
written here). The seed is ingested into a new store; the feed is followed and polled once (its two
first items are saved and indexed). Then the server publishes a third item, and the clock runs from
that moment through one poll (fetch the feed and the new page, extract, save, embed, index) to
`NewsChat.ask` answering a question about the new item with a quote from its page. The poll interval
(RAG_FEED_MINUTES) comes on top in the running app: at most one interval. With --page the site has
no feed: its front page is followed through its headline links (`feeds.article_links`), and the new
story appears there.

usage: python bench/feed_latency.py [--runs 3] [--page]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.following import FeedRunner, FollowedFeeds  # noqa: E402
from rag.fetching import Fetcher  # noqa: E402
from rag.service import NewsChat  # noqa: E402
from rag.settings import Settings  # noqa: E402

SEED = Path(__file__).resolve().parent.parent / "seeds"
STORIES = [
    ("ferry", "Ferry line to Skellholm resumes after storm repairs",
     "The ferry line between Harlow Quay and Skellholm resumed on Monday after three weeks of repairs to the "
     "storm-damaged pier. The operator said the crossing now runs six times a day."),
    ("library", "Vostrand library opens its new reading hall",
     "The Vostrand public library opened its new reading hall on Tuesday. The hall seats 240 readers and was "
     "paid for by a bequest from the poet Edda Marlow."),
    ("orchard", "Orchard cooperative in Pellin wins national cider prize",
     "The orchard cooperative of Pellin won the national cider prize on Wednesday with a perry made from "
     "pears of a variety grown only in the valley. The head grower, Ansel Brock, said the pears were "
     "picked by hand in the first frost of October."),
]
QUESTION = "Who is the head grower of the Pellin orchard cooperative?"
ANSWER = "Ansel Brock"


def page(title: str, text: str) -> bytes:
    return (f"<html><head><title>{title}</title><meta property='og:site_name' content='Valley Courier'></head>"
            f"<body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav><article><h1>{title}</h1>"
            f"<p>{text}</p></article><footer>© Valley Courier</footer></body></html>").encode()


def feed(base: str, stories) -> bytes:
    items = "".join(f"<item><title>{t}</title><link>{base}/{slug}.html</link><guid>{slug}</guid>"
                    f"<pubDate>Mon, 01 Dec 2026 08:00:00 GMT</pubDate></item>" for slug, t, _ in stories)
    return (f"<?xml version='1.0'?><rss version='2.0'><channel><title>Valley Courier</title>"
            f"<link>{base}/</link>{items}</channel></rss>").encode()


def front_page(stories) -> bytes:
    """The site's front page, naming no feed: the newest story's headline first."""
    headlines = "".join(f"<li><a href='/{slug}.html'>{t}</a></li>" for slug, t, _ in reversed(stories))
    return (f"<html><head><title>Valley Courier</title></head><body><nav><a href='/'>Home</a></nav>"
            f"<main><ul>{headlines}</ul></main><footer>© Valley Courier</footer></body></html>").encode()


def serve(published: list, front: bool = False) -> tuple[ThreadingHTTPServer, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            base = f"http://127.0.0.1:{self.server.server_port}"
            if self.path == "/feed.xml" and not front:
                body, kind = feed(base, published), "application/rss+xml"
            elif self.path == "/" and front:
                body, kind = front_page(published), "text/html; charset=utf-8"
            else:
                found = [s for s in published if self.path == f"/{s[0]}.html"]
                if not found:
                    self.send_error(404)
                    return
                body, kind = page(found[0][1], found[0][2]), "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_port}/{'' if front else 'feed.xml'}"


def one_run(front: bool) -> float:
    work = Path(tempfile.mkdtemp(prefix="rag-feed-bench-"))
    articles = work / "articles"
    shutil.copytree(SEED, articles)
    chat = NewsChat(Settings(store_dir=work / "store", articles_dir=articles))
    chat.ingest([articles])
    chat.warm_up()
    published = list(STORIES[:2])
    server, url = serve(published, front)
    try:
        feeds = FollowedFeeds(articles)
        feeds.add(url)
        runner = FeedRunner(chat.ingest, feeds, Fetcher(host_delay=0))
        runner.poll_all()
        published.append(STORIES[2])  # the new item appears
        started = time.perf_counter()
        runner.poll_all()
        answer = chat.ask(QUESTION)
        seconds = time.perf_counter() - started
        assert not answer.refused and any(ANSWER in c.quote for c in answer.citations), answer.text
        return seconds
    finally:
        server.shutdown()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--page", action="store_true", help="a front page with no feed, followed through its headlines")
    args = ap.parse_args()
    times = [one_run(args.page) for _ in range(args.runs)]
    what = "new headline on a followed page" if args.page else "new feed item"
    print(f"{what} to a verified answer: median {statistics.median(times):.2f} s "
          f"(runs: {', '.join(f'{t:.2f}' for t in times)}), plus up to one poll interval in the app")


if __name__ == "__main__":
    main()
