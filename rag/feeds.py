"""Following news feeds (RSS 2.0, Atom, JSON Feed): new items are fetched, saved into the articles
folder and indexed like any other file, so the folder stays the one source of truth.

Each item becomes `<articles>/feeds/<outlet>/<slug>-<id>.json`, a record with the item's text (the
full page at its link, read by the HTML reader, or the feed's own content when it carries the whole
text), title, URL, date, outlet and authors. What was seen is kept in `<articles>/feeds/.state.json`
(a hidden file, never read as an article): an item already seen (the same id, the same URL, or the
same content in the feed) is not fetched again unless the feed says it changed (another date, title
or content); a changed item replaces its own file. A feed is asked only for what changed since the
last poll (ETag / Last-Modified). A web page that names no feed is followed through its headline
links (`article_links`).

Every request goes through `fetching.Fetcher` (polite and safe; a feed's items may be on this machine
only when the feed is). One broken feed or page never stops the others; each failure is listed with
its reason, and an item that failed is tried again at the next polls, then once a day.
"""

from __future__ import annotations

import hashlib
import html
import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import feedparser
import lxml.etree
import lxml.html
from courlan import is_navigation_page, is_not_crawlable, normalize_url
from courlan.filters import extension_filter
from filelock import FileLock

from .articles import ArticleError, article_record, parse_html
from .dates import DateError, iso_date
from .fetching import FetchError, Fetched, Fetcher, check_url, is_local, page_text, resolve_link
from .models import Article, Feed, IngestReport, PollResult, Reading

log = logging.getLogger("rag.feeds")

FULL_TEXT_CHARS = 1500  # a feed item whose own content is at least this long is taken as the whole article
MAX_ITEM_TRIES = 3  # polls in a row an item may fail before it is given up (until the feed changes it)
GIVEN_UP_SECONDS = 24 * 3600  # ... or until this long has passed: a site down for an hour loses no story
PAGE_LINKS = 30  # a followed web page that names no feed: at most this many new stories fetched a poll
# (about 40 s at HOST_DELAY_SECONDS apart: a first poll of a busy front page stays under a minute)
HEADLINE_WORDS = 3  # a link with fewer words is a menu entry or a "Read more", not a headline (not measured)
HEADLINE_CJK_CHARS = 8  # the same for Chinese, Japanese and Korean, written without spaces (not measured)
# A followed page's headline link whose page lists at least HEADLINE_LIST_LINKS headlines of its site, in its
# text, that make up at least HEADLINE_LIST_SHARE of that text is a section page, not a story (`_headline_list`).
# Not measured on real sites: the test site's section page (a headline and a paragraph per story) holds 0.27;
# a review's 1,600-character story with six inline "Read more" headlines 0.19, a 3,200-character one 0.09.
HEADLINE_LIST_LINKS = 5
HEADLINE_LIST_SHARE = 0.25
FEEDS_FOLDER = "feeds"
STATE_FILE = ".state.json"
STATE_LOCK = ".state.lock"  # the file lock around the state (FeedStore._lock)
JSON_FEED_VERSION = "https://jsonfeed.org/version/"


class NotAStory(ArticleError):
    """A followed page's headline link leads to no story (a section page): skipped, and remembered as seen."""


def feed_address(url: str) -> str:
    """A feed's address as it is followed: trimmed, "feed://host/..." or "feed:https://..." (as browsers
    once wrote feed links) read as http(s), and a bare "http://host" as "http://host/" (one site, one entry)."""
    url = url.strip()
    if url.startswith("feed:"):
        rest = url[len("feed:"):].removeprefix("//")
        url = rest if rest.startswith(("http://", "https://")) else "http://" + rest
    try:
        if not urlparse(url).path and not urlparse(url).query:  # http://host is http://host/
            url += "/"
    except ValueError:
        pass  # malformed: refused as it is (`check_url`)
    return url


# ---------------------------------------------------------------- feeds and pages

@dataclass
class Item:
    """One item of a feed, whatever the feed's format."""

    key: str  # its id (RSS guid, Atom id, JSON Feed id), else its link; "" when it has neither
    link: str
    title: str = ""
    content: str = ""  # the feed's own HTML for it (its full content, else its summary)
    updated: str = ""  # as the feed wrote it (a page's headline link: its text without digits)
    published: str = ""  # YYYY-MM-DD, "" when the feed gives no date
    authors: list[str] = field(default_factory=list)
    from_page: bool = False  # a headline link of a followed page (`article_links`), not a feed's item

    @property
    def version(self) -> str:
        """What the feed says of the item: another version means the item changed upstream."""
        return _digest(f"{self.updated}\n{self.title}\n{self.content}")


@dataclass
class ParsedFeed:
    title: str
    link: str  # the site's own address, when the feed names it
    items: list[Item]
    page: bool = False  # a web page's article links read as a feed (`article_links`), not a feed

    def __post_init__(self):
        """Every item a key of its own: a feed that gives two items one guid would have them overwrite
        each other at every poll (the later one keyed by its link too); an item with neither id nor link
        but its whole text is known by that text."""
        seen: set[str] = set()
        for item in self.items:
            if not item.key and len(_text_of(item.content)) >= FULL_TEXT_CHARS:
                item.key = "content:" + _digest(f"{item.title}\n{item.content}")
            if item.key and item.key in seen:
                item.key = f"{item.key} {item.link or _digest(item.title + item.content)}"
            seen.add(item.key)


def parse_feed(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """RSS 2.0, Atom or JSON Feed; FetchError when the body is none of them. Relative links are read
    against `url`."""
    if not body.strip():
        raise FetchError("not a feed: the answer is empty")
    if "json" in content_type.lower() or body.lstrip()[:1] == b"{":
        return parse_json_feed(body, url)
    headers = {"content-location": url} | ({"content-type": content_type} if content_type else {})
    # A stream, never the bytes themselves: given bytes that name a file, feedparser reads that file.
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers)
    if not parsed.entries and not parsed.get("version"):
        detail = "; ".join(x for x in (content_type.split(";")[0].strip(), str(parsed.get("bozo_exception") or "")) if x)
        raise FetchError("not a feed: no RSS, Atom or JSON Feed in it" + (f" ({detail})" if detail else ""))
    return ParsedFeed(_title(parsed.feed), parsed.feed.get("link", ""),
                      [_feedparser_item(entry, url) for entry in parsed.entries])


# What a web page's <link rel="alternate" type=...> names as its feed (plain application/json is left
# out: WordPress names its REST API that way).
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")


def _parsed(fetched: Fetched) -> ParsedFeed:
    """`parse_feed` of an answer, read against the address it came from and with the type it names."""
    return parse_feed(fetched.body, fetched.url, fetched.headers.get("content-type", ""))


def feed_links(body: bytes, url: str) -> list[str]:
    """The feeds a web page names in its <link rel="alternate"> tags (RSS, Atom, JSON Feed), read against
    its <base href> or `url`, in page order, the page itself left out: what a feed reader follows when it
    is given a site's address. [] for a body that is no web page."""
    try:
        tree = lxml.html.fromstring(body)
    except (ValueError, lxml.etree.ParserError):
        return []
    base = _base(tree, url)
    found = []
    for link in tree.iter("link"):
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        href = resolve_link(base, (link.get("href") or "").strip()).split("#")[0]
        if "alternate" in (link.get("rel") or "").lower().split() and kind in FEED_TYPES and href not in ("", url):
            found.append(href)
    return list(dict.fromkeys(found))


# Where a page's links are its site's navigation, not its news: these elements, elements whose class or
# id names navigation (many sites mark up menus and footers as <div class="site-footer">), and a header
# or footer of the page itself (one inside an <article> or <main> holds a story's headline).
_NAVIGATION = ("nav", "aside", "form")
_NAVIGATION_NAMES = re.compile(r"(?:^|[\s_-])(?:nav|navbar|navigation|menu|footer|sidebar|breadcrumbs?)(?:$|[\s_-])", re.I)
_PAGE_EDGES = ("header", "footer")
_CONTENT = ("article", "main")
_FEED_PATH = re.compile(r"(^|/)(rss|feed|feeds|atom)(\.xml)?$|\.(xml|rss|atom)$")  # a feed, not a story
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def article_links(page: Fetched) -> ParsedFeed | None:
    """A web page that names no feed, read as one: its links to articles of its own site, in page order,
    each an item whose article is read from its link (a poll fetches at most PAGE_LINKS links not seen
    before; `FeedRunner`). An article link reads like a headline (HEADLINE_WORDS words or more; in
    Chinese, Japanese or Korean, HEADLINE_CJK_CHARS characters), sits outside the page's navigation, header, footer,
    sidebars and forms, and leads to an article address (`is_article_address`). Links to one story
    that differ only by tracking parameters, a fragment or a trailing slash are one item. An item's
    version is its headline without digits ("2 hours ago" changes at every poll): a reworded headline
    fetches the story again. None when the page has no such link."""
    try:  # decoded as `page_text` decodes a story page (the charset its server names included)
        tree = lxml.html.fromstring(page_text(page).encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (ValueError, lxml.etree.ParserError):
        return None
    base = _base(tree, page.url)
    links: dict[str, tuple[str, str]] = {}  # one story's key -> (its address, as first linked; its headline)
    for anchor in tree.iter("a"):
        text = " ".join(anchor.text_content().split())
        reads_like_headline = (len(text.split()) >= HEADLINE_WORDS
                               or (len(text) >= HEADLINE_CJK_CHARS and bool(_CJK.search(text))))
        if not reads_like_headline or _in_navigation(anchor):
            continue
        address = resolve_link(base, (anchor.get("href") or "").strip())
        if is_article_address(address, page.url):
            # tracking parameters (utm_*, ref, fbclid ...) and the fragment dropped; ids such as ?storyid= kept
            href = normalize_url(address, strict=False).split("#")[0]
            links.setdefault(href.rstrip("/"), (href, _without_digits(text)))
    if not links:
        return None
    title = " ".join((tree.findtext(".//title") or "").split())
    return ParsedFeed(title, page.url, [Item(key=href, link=href, updated=headline, from_page=True)
                                        for href, headline in links.values()], page=True)


def is_article_address(href: str, page_url: str) -> bool:
    """Whether an address on a followed page can be one of its stories: http(s), on the page's own host
    (www. aside), neither the page itself nor its site's front page, no date archive, and neither a tag,
    category, archive or login page (courlan's rules, the URL library trafilatura uses), a file such as
    a PDF or an image, nor a one-word page of the site such as /subscribe or /cart (a story's address
    has a slug, a number or a file name such as /orchard.html, or sits in a section)."""
    try:
        parts = urlparse(href)
        path = parts.path.rstrip("/")
        segments = [x for x in path.split("/") if x]
        return (parts.scheme in ("http", "https") and _outlet(href) == _outlet(page_url) and bool(segments)
                and href.split("#")[0].rstrip("/") != page_url.split("#")[0].rstrip("/")
                and not all(x.isdigit() for x in segments)
                and not _FEED_PATH.search(path.lower())
                and not (len(segments) == 1 and segments[0].isalpha())
                and not is_navigation_page(href) and not is_not_crawlable(href)
                and extension_filter(path.lower()))
    except ValueError:  # a malformed address (`http://[::1/x`): no story of this page
        return False


def _in_navigation(anchor) -> bool:
    """Whether a link sits in the page's navigation, sidebars, forms, or its own header or footer."""
    ancestors = list(anchor.iterancestors())
    for i, element in enumerate(ancestors):
        if (element.tag in _NAVIGATION or element.get("role") == "navigation"
                or _NAVIGATION_NAMES.search(f"{element.get('class') or ''} {element.get('id') or ''}")):
            return True
        if element.tag in _PAGE_EDGES and not any(outer.tag in _CONTENT for outer in ancestors[i + 1:]):
            return True
    return False


def _base(tree, url: str) -> str:
    """What a page's relative links are read against: its <base href>, else its own address."""
    return next((resolve_link(url, b.get("href").strip()) for b in tree.iter("base") if (b.get("href") or "").strip()), url)


def _feedparser_item(entry, url: str) -> Item:
    link = resolve_link(url, entry.get("link") or "")
    contents = [c.get("value", "") for c in entry.get("content") or []]
    # `in` before reading "updated": feedparser's own fallback to "published" warns on every read
    updated = entry["updated"] if "updated" in entry else entry.get("published", "")
    when = entry.get("published_parsed") or (entry["updated_parsed"] if "updated_parsed" in entry else None)
    return Item(key=entry.get("id") or link, link=link, title=_title(entry),
                content=max(contents, key=len, default="") or entry.get("summary", ""), updated=updated,
                published=time.strftime("%Y-%m-%d", when) if when else "",
                authors=[a["name"] for a in entry.get("authors", []) if a.get("name")])


def _title(holder) -> str:
    """A feed's or an entry's title as plain text. feedparser hands an HTML title (Atom's type="html", or
    RSS with markup in it) over with its tags and entities: "Harbour <em>wall</em> &amp; more"."""
    title = holder.get("title", "")
    return _text_of(title) if "html" in (holder.get("title_detail") or {}).get("type", "") else " ".join(title.split())


def parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """A JSON Feed (https://jsonfeed.org, versions 1 and 1.1)."""
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as e:
        raise FetchError(f"not a feed: invalid JSON ({e})") from None
    if not isinstance(data, dict) or not str(data.get("version", "")).startswith(JSON_FEED_VERSION):
        raise FetchError("not a feed: JSON, but not a JSON Feed (no jsonfeed.org version in it)")
    feed_authors = _json_authors(data)
    if not isinstance(data.get("items") or [], list):
        raise FetchError("not a feed: a JSON Feed whose items are not a list")
    items = [_json_item(item, url, feed_authors) for item in data.get("items") or [] if isinstance(item, dict)]
    return ParsedFeed(str(data.get("title") or ""), str(data.get("home_page_url") or ""), items)


def _json_item(item: dict, url: str, feed_authors: list[str]) -> Item:
    link = resolve_link(url, str(item.get("url") or item.get("external_url") or ""))
    text = str(item.get("content_text") or "")
    content = str(item.get("content_html") or "") or "".join(
        f"<p>{html.escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip()) or str(item.get("summary") or "")
    try:
        published = iso_date(item.get("date_published") or item.get("date_modified") or "")
    except DateError:
        published = ""
    return Item(key=str(item.get("id") or "") or link, link=link, title=str(item.get("title") or ""), content=content,
                updated=str(item.get("date_modified") or item.get("date_published") or ""), published=published,
                authors=_json_authors(item) or feed_authors)


def _json_authors(holder: dict) -> list[str]:
    """JSON Feed 1.1 `authors` (a list), or 1.0 `author` (one object)."""
    people = holder.get("authors") or ([holder["author"]] if isinstance(holder.get("author"), dict) else [])
    return [str(p["name"]) for p in people if isinstance(p, dict) and p.get("name")]


# ---------------------------------------------------------------- what is followed and what was seen

class FeedStore:
    """The followed feeds and the items seen, in <articles>/feeds/.state.json. An item's record:
    {"version", "content", "file" (relative to the feeds folder), "url", "id"; "tries" and "error"
    while it fails ("given_up_at" after MAX_ITEM_TRIES); "same_as" (another item's key) when it carries that
    item's article; "not_a_story" (why) and "checked_at" for a followed page's link that leads to no story}."""

    def __init__(self, articles_dir: Path):
        self.folder = Path(articles_dir) / FEEDS_FOLDER
        self.path = self.folder / STATE_FILE
        self._thread_lock = threading.Lock()

    @contextmanager
    def _lock(self):
        """Held around every read-change-write of the state: a thread lock for this process's threads
        and a file lock for other processes (`rag follow --once` from cron while the web app polls;
        without it two writers lost most of each other's records)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, FileLock(self.folder / STATE_LOCK):
            yield

    def _read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except FileNotFoundError:
            data = {}
        except (OSError, ValueError) as e:  # kept aside, never overwritten: the followed feeds are in it
            kept = self.path.with_name(f"{STATE_FILE}.unreadable-{time.strftime('%Y%m%d-%H%M%S')}")
            try:
                self.path.replace(kept)
            except OSError:
                kept = None
            log.warning("cannot read %s (%s): starting from no feeds%s", self.path, e,
                        f"; the unreadable file is kept as {kept.name}" if kept else "")
            data = {}
        return {"feeds": data.get("feeds", {}), "items": data.get("items", {})}

    def _write(self, data: dict) -> None:
        tmp = self.path.with_name(f"{STATE_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        tmp.replace(self.path)

    def list(self) -> list[Feed]:
        if not self.folder.exists():  # nothing followed yet: a look creates no folder
            return []
        with self._lock():
            return [Feed.from_json(f) for f in self._read()["feeds"].values()]

    def follow_configured(self, urls: list[str]) -> list[str]:
        """Follow the feeds of RAG_FEEDS (`Settings.feeds`); a message naming the setting for each address
        that cannot be followed (the caller decides whether that stops it)."""
        errors = []
        for url in urls:
            try:
                self.add(url)
            except (FetchError, OSError) as e:
                errors.append(f"RAG_FEEDS: cannot follow {url}: {e}")
        return errors

    def add(self, url: str) -> Feed:
        """Follow a feed (FetchError for an address that is not http(s)); one already followed stays as it is."""
        url = feed_address(url)
        check_url(url)
        with self._lock():
            data = self._read()
            if url not in data["feeds"]:
                data["feeds"][url] = Feed(url).to_json()
                self._write(data)
            return Feed.from_json(data["feeds"][url])

    def remove(self, url: str) -> list[str]:
        """Stop following a feed, named by its address or by the feed its web page named (every page
        that named it); the addresses no longer followed ([] when none was). The items saved from them
        stay in the articles folder."""
        url = feed_address(url)
        if not self.folder.exists():  # nothing followed: nothing to change, no folder made
            return []
        with self._lock():
            data = self._read()
            keys = [key for key, feed in data["feeds"].items() if url in (key, feed.get("feed_url"))]
            for key in keys:
                del data["feeds"][key]
            if keys:
                self._write(data)
            return keys

    def save_feed(self, feed: Feed) -> None:
        with self._lock():
            data = self._read()
            if feed.url in data["feeds"]:  # not when it was removed while being polled
                data["feeds"][feed.url] = feed.to_json()
                self._write(data)

    def seen(self, item: Item) -> tuple[str, dict] | None:
        """(key, record) of the item as seen before: by its id; else, under another id, by its page
        (the same URL, when the article is read from there, or when it was saved from a page's headline
        and a feed now carries it whole) or by the same content in a feed."""
        return self.seen_all([item])[0]

    def seen_all(self, listed: list[Item]) -> list[tuple[str, dict] | None]:
        """`seen` of each item, the state read once (a followed page's headlines, counted before a poll)."""
        with self._lock():
            items = self._read()["items"]
        return [_seen_in(items, item) for item in listed]

    def saved_with(self, content: str) -> dict | None:
        """The record of an item whose article, with this content digest, is saved in a file here."""
        with self._lock():
            items = self._read()["items"]
        return next((r for r in items.values() if r.get("content") == content and r.get("file")
                     and (self.folder / r["file"]).exists()), None)

    def remember(self, key: str, record: dict) -> None:
        with self._lock():
            data = self._read()
            data["items"][key] = record
            self._write(data)


# ---------------------------------------------------------------- polling

class FeedRunner:
    """Polls the followed feeds and saves their new or changed items; `ingest` indexes what was saved
    (NewsChat.ingest, or the web app's sync that shows progress)."""

    def __init__(self, ingest: Callable[[list[Path]], IngestReport], feeds: FeedStore, fetcher: Fetcher | None = None):
        self.ingest = ingest
        self.feeds = feeds
        self.fetcher = fetcher or Fetcher()
        self.stopped = threading.Event()
        self.wake = threading.Event()  # set: poll now, without waiting for the rest of the interval
        self.reading: Reading | None = None  # the poll under way, for the page's feeds panel

    def poll_all(self, on_result: Callable[[PollResult], None] | None = None) -> list[PollResult]:
        """Every followed feed, one after the other; `on_result` hears each as it is done."""
        results = []
        for feed in self.feeds.list():
            if self.stopped.is_set():
                break
            results.append(self.poll(feed))
            if on_result:
                on_result(results[-1])
        return results

    def poll(self, feed: Feed) -> PollResult:
        """One feed: its new and changed items saved and indexed. Never raises: what went wrong is in
        the result's errors (and, when it was not an expected failure, in the log with its traceback)."""
        result = PollResult(feed.url)
        saved: list[Path] = []
        self.reading = Reading(feed.url)
        try:
            self._read_feed(feed, result, saved)
        except FetchError as e:
            result.errors.insert(0, f"the feed: {e}")
        except Exception as e:  # whatever breaks in one feed must not stop the others
            log.exception("polling the feed %s failed", feed.url)
            result.errors.insert(0, f"the feed: unexpected error: {e}")
        self.reading = Reading(feed.url, indexing=True) if saved else None
        self._index(saved, result)
        self.reading = None
        feed.last_poll = time.strftime("%Y-%m-%d %H:%M:%S")
        feed.added += result.added
        feed.updated += result.updated
        feed.errors = result.errors
        feed.last_result = result.summary()
        try:
            self.feeds.save_feed(feed)
        except OSError as e:
            log.exception("cannot save the state of %s", feed.url)
            result.errors.append(f"cannot save what was seen: {e}")
        return result

    def _read_feed(self, feed: Feed, result: PollResult, saved: list[Path]) -> None:
        local = is_local(feed.url)  # a feed a page names may be on this machine only when the page is
        if feed.feed_url:  # a web page's feed, found at an earlier poll
            try:
                fetched, parsed, _ = self._fetch_feed(feed.feed_url, feed.etag, feed.modified, local)
            except FetchError:
                feed.feed_url, feed.etag, feed.modified = "", "", ""  # the next poll reads the page again
                raise
        else:
            fetched, parsed, feed.feed_url = self._fetch_feed(feed.url, feed.etag, feed.modified, local)
        if fetched.status == 304:
            result.not_modified = True
            return
        feed.page_links = parsed.page
        outlet = _outlet(parsed.link or fetched.url)
        items = parsed.items
        if parsed.page:  # a page's headlines: at most PAGE_LINKS new stories fetched a poll, the rest later
            new = [i for i, before in enumerate(self.feeds.seen_all(items)) if before is None]
            later = set(new[PAGE_LINKS:])
            items = [item for i, item in enumerate(items) if i not in later]
            result.left = len(later)
        retry = bool(result.left)  # (stories left for later: the next poll reads the page whole again)
        for done, item in enumerate(items):
            self.reading = Reading(feed.url, done, len(items))
            retry = self._item(item, local, outlet, result, saved) or retry
        feed.title = parsed.title or feed.title
        if not retry:  # else the next poll reads the whole feed again and tries the failed items again
            feed.etag, feed.modified = fetched.headers.get("etag", ""), fetched.headers.get("last-modified", "")

    def _fetch_feed(self, url: str, etag: str, modified: str, local: bool) -> tuple[Fetched, ParsedFeed | None, str]:
        """The feed at `url` (None when not modified), and "". Given a web page: the first feed it names
        (`feed_links`), and that feed's address; a page that names none: its article links
        (`article_links`), and ""."""
        fetched = self.fetcher.get(url, etag, modified, allow_local=local)
        if fetched.status == 304:
            return fetched, None, ""
        try:
            return fetched, _parsed(fetched), ""
        except FetchError:
            named = feed_links(fetched.body, fetched.url)
            if not named:
                if "html" in fetched.headers.get("content-type", ""):
                    if page := article_links(fetched):
                        return fetched, page, ""
                    raise FetchError("not a feed: a web page that names no RSS, Atom or JSON Feed (no "
                                     "<link rel=\"alternate\"> to one) and links to no articles") from None
                raise
        failures = []
        for address in named:  # the first that works
            try:
                fetched = self.fetcher.get(address, allow_local=local)
                return fetched, _parsed(fetched), address
            except FetchError as e:
                failures.append(f"{address}: {e}")
        raise FetchError(f"none of the feeds the page names could be read ({'; '.join(failures)})")

    def _item(self, item: Item, local: bool, outlet: str, result: PollResult, saved: list[Path]) -> bool:
        """Save one item when it is new or changed. True when it failed and is to be tried again."""
        if not item.key:
            result.errors.append(f"an item without a link, id or whole text ({item.title[:60] or 'untitled'!r}): skipped")
            return False
        key, before = self.feeds.seen(item) or (item.key, None)
        retrying = before is not None and (0 < before.get("tries", 0) < MAX_ITEM_TRIES or _rested(before))
        if before and not retrying and (key != item.key or before.get("version") == item.version):
            # seen and unchanged since (or given up after MAX_ITEM_TRIES failures), or its page or its
            # content seen under another id: not fetched again
            if key != item.key:  # noted under its own id too, so the next poll knows it at once
                self.feeds.remember(item.key, _alias(item, key, before))
            result.unchanged += 1
            return False
        try:
            record = self._record(item, outlet, local, before)
            self._save(key, item, before, record, result, saved)
        except NotAStory as e:  # seen: looked at again when its headline changes, or a day later
            if not (before or {}).get("not_a_story"):
                result.skipped.append(f"{item.link}: {e}")
            self.feeds.remember(key, (before or {}) | {"version": item.version, "url": item.link,
                                                       "not_a_story": str(e), "checked_at": time.time()})
            return False
        except (FetchError, ArticleError) as e:
            return self._failed(key, item, before, str(e), result)
        except OSError as e:
            log.exception("cannot save the item %s", item.link or item.key)
            return self._failed(key, item, before, f"cannot save it: {e}", result)
        except Exception as e:  # one strange item must not stop the others
            log.exception("reading the item %s failed", item.link or item.key)
            return self._failed(key, item, before, f"unexpected error: {e}", result)
        return False

    def _record(self, item: Item, outlet: str, local: bool, before: dict | None) -> dict:
        """The item as a JSON record: the feed's own text when it is the whole article, else the page."""
        if _needs_page(item):
            page = self.fetcher.get(item.link, allow_local=local)
            if instead := _led_elsewhere(page, item.link):
                raise ArticleError(f"the link now leads to {instead} ({page.url}), not to the story")
            article = parse_html(page_text(page), page.url)
            if item.from_page and (many := _headline_list(page, article)):
                raise NotAStory(f"a list of {many} headlines (a section page), not a story")
        else:
            article = _feed_article(item)
        first_seen = time.strftime("%Y-%m-%d") if item.from_page else ""  # a page's new headline: news of today
        return article_record(id=(before or {}).get("id") or item.key, title=item.title or article.title,
                              url=item.link or article.url, published=item.published or article.published or first_seen,
                              source=outlet or article.source, authors=item.authors or article.authors,
                              text=article.body)

    def _save(self, key: str, item: Item, before: dict | None, record: dict, result: PollResult,
              saved: list[Path]) -> None:
        """Write the record (over the item's own earlier file, if it has one) unless its article is
        already saved: from this item with the same text, or from another item."""
        content = _digest(f"{record['title']}\n{record['text']}")
        memo = {"version": item.version, "content": content, "url": item.link, "id": record["id"]} | \
            ({"from_page": True} if item.from_page else {})
        own = self.feeds.folder / before["file"] if before and before.get("file") else None
        if own and own.exists() and before.get("content") == content:  # the feed reworded it; same article
            self.feeds.remember(key, memo | {"file": before["file"]})
            result.unchanged += 1
            return
        twin = None if own and own.exists() else self.feeds.saved_with(content)
        if twin:  # another item, of this feed or another, carries the same article
            self.feeds.remember(key, memo | {"file": twin["file"]})
            result.unchanged += 1
            return
        path = own or self.feeds.folder / _safe(record["source"] or "feed") / \
            f"{_slug(record['title'])}-{_digest(item.key)}.json"
        updated = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.part")  # hidden: a folder watcher never reads it half-written
        tmp.write_text(json.dumps(record, ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(path)
        self.feeds.remember(key, memo | {"file": path.relative_to(self.feeds.folder).as_posix()})
        saved.append(path)
        if updated:
            result.updated += 1
        else:
            result.added += 1

    def _failed(self, key: str, item: Item, before: dict | None, error: str, result: PollResult) -> bool:
        """Report a failed item and count its tries; True while it is to be tried again."""
        tries = before.get("tries", 0) + 1 if before and before.get("version") == item.version else 1
        record = {"version": item.version, "url": item.link, "tries": tries, "error": error}
        if tries >= MAX_ITEM_TRIES:
            record["given_up_at"] = time.time()
        self.feeds.remember(key, (before or {}) | record)
        given_up = "" if tries < MAX_ITEM_TRIES else \
            f" (failed {tries} polls in a row: given up for a day, or until the feed changes it)"
        result.errors.append(f"{item.link or item.key}: {error}{given_up}")
        return tries < MAX_ITEM_TRIES

    def _index(self, saved: list[Path], result: PollResult) -> None:
        if not saved:
            return
        try:
            result.report = self.ingest(saved)
        except Exception as e:  # the files are saved: the next sync of the articles folder indexes them
            log.exception("indexing the items of %s failed", result.url)
            result.errors.append(f"indexing failed: {e} (the items are saved in {self.feeds.folder})")
            return
        result.errors += [f"{Path(f['path']).name}: {f['error']}" for f in result.report.failed]

    def run(self, interval_seconds: float, on_result: Callable[[PollResult], None] | None = None) -> None:
        """Poll every followed feed now and then every `interval_seconds` (sooner after `poll_soon`),
        until `stop`."""
        while not self.stopped.is_set():
            self.poll_all(on_result)
            self.wake.wait(interval_seconds)
            self.wake.clear()

    def poll_soon(self) -> None:
        self.wake.set()

    def stop(self) -> None:
        self.stopped.set()
        self.wake.set()


def _seen_in(items: dict, item: Item) -> tuple[str, dict] | None:
    """`FeedStore.seen` in the state's items."""
    if item.key in items:
        return item.key, items[item.key]
    if item.link:
        found = next(((k, r) for k, r in items.items()
                      if r.get("url") == item.link and (_needs_page(item) or r.get("from_page"))
                      and not r.get("not_a_story")), None)
        if found:
            return found
    if item.content:
        return next(((k, r) for k, r in items.items() if r.get("version") == item.version), None)
    return None


def _alias(item: Item, key: str, before: dict) -> dict:
    """The record of an item that is another's (`key`) under its own id: for the same page, the same
    file (a later change replaces it); for the same content elsewhere, a file of its own if it changes."""
    same_page = before.get("url") == item.link
    kept = {name: before[name] for name in ("file", "content", "id") if same_page and name in before}
    return kept | {"version": item.version, "url": item.link, "same_as": key}


def _rested(before: dict) -> bool:
    """Whether an item given up after failing MAX_ITEM_TRIES polls, or found to be no story, has rested
    GIVEN_UP_SECONDS since."""
    since = before.get("checked_at") if before.get("not_a_story") else before.get("given_up_at")
    return since is not None and time.time() - since >= GIVEN_UP_SECONDS


def _led_elsewhere(page: Fetched, link: str) -> str:
    """What a story's link led to instead of the story, when a redirect took it to its site's front page
    or to a sign-in, section or tag page (an expired or paywalled story); "" when it did not."""
    if page.url.rstrip("/") == link.rstrip("/"):
        return ""
    if not urlparse(page.url).path.strip("/"):
        return "its site's front page"
    if is_not_crawlable(page.url):
        return "a sign-in page"
    if re.search(r"consent|cookie|gdpr|privacy", urlparse(page.url).path, re.I):
        return "a cookie or privacy consent page"
    return "a section or tag page" if is_navigation_page(page.url) else ""


def _headline_list(page: Fetched, article: Article) -> int:
    """How many headlines of its site the page's text lists, when they are so many and so much of that text
    that the page is a section page rather than a story (HEADLINE_LIST_LINKS, HEADLINE_LIST_SHARE); else 0.
    Only headlines inside the text read from the page count: "Most read" and "Related" boxes beside a
    story are left out of it (trafilatura), and must not count against the story."""
    listed = article_links(page)
    text = _spaced(_without_digits(article.body))  # (a page's headline is kept without its digits: `article_links`)
    headlines = [h for h in (_spaced(item.updated) for item in (listed.items if listed else [])) if h in text]
    share = sum(map(len, headlines)) / max(1, len(text))
    return len(headlines) if len(headlines) >= HEADLINE_LIST_LINKS and share >= HEADLINE_LIST_SHARE else 0


def _without_digits(text: str) -> str:
    """A followed page's headline as its item's version: "2 hours ago" changes at every poll. (The spaces
    around the digits stay: every stored version was made so, and another rule would fetch every story
    again.)"""
    return re.sub(r"\d+", "", text)


def _spaced(text: str) -> str:
    return " ".join(text.split())


def _needs_page(item: Item) -> bool:
    """Whether the item's article is read from its link (the feed carries only a summary of it)."""
    return bool(item.link) and len(_text_of(item.content)) < FULL_TEXT_CHARS


def _feed_article(item: Item) -> Article:
    """The article as the feed itself carries it (no page fetched)."""
    if not _text_of(item.content):
        raise ArticleError("the item has no link and no text of its own")
    page = (f"<html><head><title>{html.escape(item.title)}</title></head>"
            f"<body><article>{item.content}</article></body></html>")
    return parse_html(page, item.link or "feed item")


def _outlet(url: str) -> str:
    host = urlparse(url).hostname or ""
    return host[len("www."):] if host.startswith("www.") else host


def _text_of(html_text: str) -> str:
    """HTML as one line of plain text: tags dropped (a space each), entities read, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", html_text)).split())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "item"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-]+", "_", name).strip("._") or "feed"
