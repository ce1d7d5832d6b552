"""Following news feeds (RSS 2.0, Atom, JSON Feed): new items are fetched, saved into the articles
folder and indexed like any other file, so the folder stays the one source of truth.

Each item becomes `<articles>/feeds/<host>/<slug>.json`, a record with the item's text (the full page
at its link, read by the HTML reader, or the feed's own content when it carries the whole text),
title, URL, date, outlet and authors. What was seen is kept in `<articles>/feeds/.state.json` (a
hidden file, never read as an article): an item already saved is not fetched again unless the feed
says it changed (another date or content); a feed is asked only for what changed since the last
poll (ETag / Last-Modified).

Polite and safe: one User-Agent naming the app, a timeout and a size limit per request, a pause
between requests to the same host, only http(s), and no redirect to a file:// address or to this
machine's own or private network addresses unless the feed itself is there. One broken feed or page
never stops the others; each failure is listed with its reason.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlparse

import feedparser
import httpx

from .articles import ArticleError, parse_html
from .models import IngestReport

USER_AGENT = "news-rag/0.1 (a local news chat following the feeds its user subscribed to)"
TIMEOUT_SECONDS = 15.0
MAX_BYTES = 5 * 1024 * 1024  # a feed or a page larger than this is not read
HOST_DELAY_SECONDS = 1.0  # between two requests to the same host
MAX_REDIRECTS = 5
FULL_TEXT_CHARS = 1500  # a feed item whose own content is at least this long is taken as the whole article
STATE_FILE = ".state.json"


class FetchError(RuntimeError):
    """A feed or page that could not be fetched; the message says why."""


@dataclass
class Fetched:
    url: str  # where it was finally read from (after redirects)
    status: int
    body: bytes
    headers: dict


class Fetcher:
    """HTTP GET with the rules above. `allow_local`: the first URL was on this machine or its network,
    so its redirects may stay there."""

    def __init__(self, timeout: float = TIMEOUT_SECONDS, max_bytes: int = MAX_BYTES,
                 host_delay: float = HOST_DELAY_SECONDS):
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT})
        self.max_bytes = max_bytes
        self.host_delay = host_delay
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, url: str, etag: str = "", modified: str = "") -> Fetched:
        check_scheme(url)
        allow_local = is_local(url)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        for _ in range(MAX_REDIRECTS + 1):
            if not allow_local and is_local(url):
                raise FetchError(f"refused: {url} is an address on this machine or its private network")
            self._wait_for(urlparse(url).hostname or "")
            try:
                with self.client.stream("GET", url, headers=headers) as response:
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("location", ""))
                        check_scheme(target, redirect=True)
                        url = target
                        continue
                    body = self._read(response)
                    if response.status_code == 304:
                        return Fetched(url, 304, b"", dict(response.headers))
                    if response.status_code >= 400:
                        raise FetchError(f"the server answered {response.status_code} {response.reason_phrase}")
                    return Fetched(url, response.status_code, body, dict(response.headers))
            except httpx.TimeoutException:
                raise FetchError(f"no answer within {self.client.timeout.read:g} s") from None
            except httpx.HTTPError as e:
                raise FetchError(f"cannot fetch it: {e}") from None
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    def _read(self, response: httpx.Response) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"it is {int(declared) / 1024 / 1024:.1f} MB, over the {self.max_bytes / 1024 / 1024:g} MB limit")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"it is over the {self.max_bytes / 1024 / 1024:g} MB limit")
            chunks.append(chunk)
        return b"".join(chunks)

    def _wait_for(self, host: str) -> None:
        with self._lock:
            wait = self._last.get(host, 0.0) + self.host_delay - time.monotonic()
            self._last[host] = time.monotonic() + max(wait, 0.0)
        if wait > 0:
            time.sleep(wait)


def check_scheme(url: str, redirect: bool = False) -> None:
    scheme = urlparse(url).scheme.lower()
    if scheme not in ("http", "https"):
        what = "a redirect to" if redirect else "the address"
        raise FetchError(f"refused: {what} {url!r} is not http(s)")


def is_local(url: str) -> bool:
    """Whether the URL's host is this machine or a private, link-local or reserved network address."""
    host = (urlparse(url).hostname or "").strip("[]")
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(info[4][0]) for info in socket.getaddrinfo(host, None)]
        except OSError:
            return False
    return any(a.is_loopback or a.is_private or a.is_link_local or a.is_reserved for a in addresses)


# ---------------------------------------------------------------- what is followed and what was seen

@dataclass
class Feed:
    url: str
    etag: str = ""
    modified: str = ""
    last_poll: str = ""
    last_result: str = ""
    added: int = 0  # items saved from it, over all polls
    errors: list[str] = field(default_factory=list)  # of the last poll

    def to_json(self) -> dict:
        return asdict(self)


class FeedStore:
    """The followed feeds and the items seen, in <articles>/feeds/.state.json."""

    def __init__(self, articles_dir: Path):
        self.folder = Path(articles_dir) / "feeds"
        self.path = self.folder / STATE_FILE
        self._lock = threading.Lock()

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        return {"feeds": data.get("feeds", {}), "items": data.get("items", {})}

    def _write(self, data: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        tmp.replace(self.path)

    def list(self) -> list[Feed]:
        with self._lock:
            return [Feed(**f) for f in self._read()["feeds"].values()]

    def add(self, url: str) -> Feed:
        url = url.strip()
        check_scheme(url)
        with self._lock:
            data = self._read()
            data["feeds"].setdefault(url, asdict(Feed(url)))
            self._write(data)
            return Feed(**data["feeds"][url])

    def remove(self, url: str) -> bool:
        with self._lock:
            data = self._read()
            found = data["feeds"].pop(url.strip(), None) is not None
            self._write(data)
            return found

    def save_feed(self, feed: Feed) -> None:
        with self._lock:
            data = self._read()
            if feed.url in data["feeds"]:
                data["feeds"][feed.url] = asdict(feed)
                self._write(data)

    def seen(self, key: str) -> dict | None:
        with self._lock:
            return self._read()["items"].get(key)

    def remember(self, key: str, record: dict) -> None:
        with self._lock:
            data = self._read()
            data["items"][key] = record
            self._write(data)


# ---------------------------------------------------------------- polling

@dataclass
class PollResult:
    url: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    report: IngestReport | None = None

    def line(self) -> str:
        text = f"{self.url}: {self.added} new, {self.updated} updated, {self.unchanged} already seen"
        if self.errors:
            text += f", {len(self.errors)} failed: " + "; ".join(self.errors[:3])
            if len(self.errors) > 3:
                text += f" (+{len(self.errors) - 3} more)"
        return text

    def to_json(self) -> dict:
        return {"url": self.url, "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "errors": self.errors}


class FeedRunner:
    """Polls the followed feeds and saves their new or changed items; `ingest` indexes what was saved
    (NewsChat.ingest, or the web app's sync that shows progress)."""

    def __init__(self, ingest: Callable[[list[Path]], IngestReport], articles_dir: Path, feeds: FeedStore,
                 fetcher: Fetcher | None = None):
        self.ingest = ingest
        self.articles_dir = Path(articles_dir)
        self.feeds = feeds
        self.fetcher = fetcher or Fetcher()
        self.stopped = threading.Event()

    def poll_all(self) -> list[PollResult]:
        return [self.poll(feed) for feed in self.feeds.list()]

    def poll(self, feed: Feed) -> PollResult:
        result = PollResult(feed.url)
        saved: list[Path] = []
        try:
            fetched = self.fetcher.get(feed.url, feed.etag, feed.modified)
            if fetched.status != 304:
                parsed = feedparser.parse(fetched.body, response_headers={"content-location": fetched.url})
                if not parsed.entries and (parsed.bozo or not parsed.version):
                    raise FetchError("not a feed (no RSS, Atom or JSON Feed items in it)")
                feed.etag = fetched.headers.get("etag", "")
                feed.modified = fetched.headers.get("last-modified", "")
                source = urlparse(parsed.feed.get("link") or feed.url).hostname or ""
                for entry in parsed.entries:
                    self._item(entry, fetched.url, source, result, saved)
        except FetchError as e:
            result.errors.insert(0, f"the feed: {e}")
        if saved:
            result.report = self.ingest(saved)
            result.errors += [f"{Path(f['path']).name}: {f['error']}" for f in result.report.failed]
        feed.last_poll = time.strftime("%Y-%m-%d %H:%M:%S")
        feed.added += result.added
        feed.errors = result.errors
        feed.last_result = result.line().split(": ", 1)[1]
        self.feeds.save_feed(feed)
        return result

    def _item(self, entry, feed_url: str, source: str, result: PollResult, saved: list[Path]) -> None:
        link = urljoin(feed_url, entry.get("link") or "")
        key = entry.get("id") or link
        if not key:
            result.errors.append("an item without a link or id: skipped")
            return
        own = _entry_html(entry)
        version = hashlib.sha256(f"{entry.get('updated', '')}\n{entry.get('title', '')}\n{own}".encode()).hexdigest()[:16]
        before = self.feeds.seen(key)
        if before and before.get("version") == version:
            result.unchanged += 1
            return
        try:
            record = self._record(entry, link, own, source)
        except (FetchError, ArticleError) as e:
            result.errors.append(f"{link or key}: {e}")
            return
        path = self.articles_dir / "feeds" / _safe(source or "feed") / f"{_slug(record['title'])}-{_digest(key)}.json"
        content = json.dumps(record, ensure_ascii=False, indent=1)
        same = before and before.get("content") == _digest(content) and path.exists()
        self.feeds.remember(key, {"version": version, "content": _digest(content), "file": str(path), "url": link})
        if same:  # the feed changed its wording of the item, the article did not
            result.unchanged += 1
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")
        tmp.write_text(content, encoding="utf-8")
        tmp.replace(path)
        saved.append(path)
        if before:
            result.updated += 1
        else:
            result.added += 1

    def _record(self, entry, link: str, own: str, source: str) -> dict:
        """The item as a JSON record: the feed's own text when it is the whole article, else the page."""
        article = None
        if len(_text_of(own)) >= FULL_TEXT_CHARS or not link:
            article = parse_html(f"<html><body><article>{own}</article></body></html>", link or "feed-item")
        else:
            page = self.fetcher.get(link)
            article = parse_html(page.body.decode(_charset(page.headers), errors="replace"), page.url)
        published = ""
        when = entry.get("published_parsed") or entry.get("updated_parsed")
        if when:
            published = time.strftime("%Y-%m-%d", when)
        authors = [a.get("name", "") for a in entry.get("authors", []) if a.get("name")] or article.authors
        return {"id": entry.get("id") or link, "title": entry.get("title") or article.title, "url": link,
                "published": published or article.published, "source": source or article.source,
                "authors": authors, "text": article.body}

    def run(self, interval_seconds: float, on_result: Callable[[PollResult], None] | None = None) -> None:
        """Poll every followed feed now and then every `interval_seconds`, until `stopped` is set."""
        while not self.stopped.is_set():
            for feed in self.feeds.list():
                if self.stopped.is_set():
                    return
                result = self.poll(feed)
                if on_result:
                    on_result(result)
            self.stopped.wait(interval_seconds)


def _entry_html(entry) -> str:
    contents = entry.get("content") or []
    best = max((c.get("value", "") for c in contents), key=len, default="")
    return best or entry.get("summary", "")


def _text_of(html_text: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html_text).split())


def _charset(headers: dict) -> str:
    m = re.search(r"charset=([\w-]+)", headers.get("content-type", ""))
    return m.group(1) if m else "utf-8"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "item"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-]+", "_", name).strip("._") or "feed"
