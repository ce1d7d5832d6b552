"""Following news feeds and pages: which are followed, what was seen of them, and the polls.

Each new or changed item becomes `<articles>/feeds/<outlet>/<slug>-<id>.json`, a record with the item's
text (`feeds.item_article`: the full page at its link, or the feed's own content when it carries the
whole text), title, URL, date, outlet and authors, indexed like any other file, so the folder stays the
one source of truth. What was seen is kept in `<articles>/feeds/.state.json` (a hidden file, never read
as an article): an item already seen (the same id, the same URL, or the same content in the feed) is not
fetched again unless the feed says it changed (another date, title or content); a changed item replaces
its own file. A feed is asked only for what changed since the last poll (ETag / Last-Modified).

One broken feed or page never stops the others; each failure is listed with its reason, and an item that
failed is tried again at the next polls, then once a day.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from .articles import ArticleError, article_record
from .feeds import (SHORTER_SHARE, STUB_WORDS, NotAStory, feed_address, fetch_feed, item_article,
                    needs_page, outlet_of, same_page, story_page, story_path, story_words)
from .fetching import FetchError, Fetcher, check_url, is_local
from .models import Feed, IngestReport, Item, PollResult, Reading, digest
from .store import StoreError

log = logging.getLogger("rag.following")

MAX_ITEM_TRIES = 3  # polls in a row an item may fail before it is given up (until the feed changes it)
GIVEN_UP_SECONDS = 24 * 3600  # ... or until this long has passed: a site down for an hour loses no story
PAGE_LINKS = 30  # a followed web page that names no feed: at most this many new stories fetched a poll
# (about 40 s at HOST_DELAY_SECONDS apart: a first poll of a busy front page stays under a minute)
FEEDS_FOLDER = "feeds"
STATE_FILE = ".state.json"
STATE_LOCK = ".state.lock"  # the file lock around the state (FollowedFeeds._lock)


class FollowedFeeds:
    """The followed feeds and the items seen, in <articles>/feeds/.state.json. An item's record:
    {"version", "content", "file" (relative to the feeds folder), "url", "id"; "tries" and "error"
    while it fails ("given_up_at" after MAX_ITEM_TRIES); "same_as" (another item's key) when it carries that
    item's article; "shared" when its "file" was saved from another item with the same article (the item
    never writes over it); "not_a_story" (why) and "checked_at" for a followed page's link that leads to no story}."""

    def __init__(self, articles_dir: Path):
        self.folder = Path(articles_dir) / FEEDS_FOLDER
        self.path = self.folder / STATE_FILE
        self._thread_lock = threading.Lock()
        self._cached: tuple[tuple, dict] | None = None  # ((inode, mtime, size) of the file, the state read)

    @contextmanager
    def _lock(self):
        """Held around every read-change-write of the state: a thread lock for this process's threads
        and a file lock for other processes (`rag follow --once` from cron while the web app polls;
        without it two writers lost most of each other's records)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._thread_lock, FileLock(self.folder / STATE_LOCK):
            yield

    def _read(self) -> dict:
        """The state as on disk (held under `_lock`). Read again only when the file changed since this
        process last read or wrote it: a poll consults and updates it once an item, and with 20,000 items
        seen (5.7 MB) parsing it each time cost 1.7 s of every 50 items looked up (bench/feed_state.py)."""
        stamp = _stamp(self.path)
        if stamp is not None and self._cached is not None and self._cached[0] == stamp:
            return self._cached[1]
        self._cached = None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            for part in ("feeds", "items"):
                if not isinstance(data.get(part, {}), dict):
                    raise ValueError(f"its '{part}' is not a JSON object")
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
        state = {"feeds": {url: feed for url, feed in data.get("feeds", {}).items()  # (a hand edit's odd entries
                           if isinstance(feed, dict) and isinstance(feed.get("url"), str)},  # left out)
                 "items": {key: item for key, item in data.get("items", {}).items() if isinstance(item, dict)}}
        if stamp is not None and "feeds" in data:
            self._cached = (stamp, state)
        return state

    def _write(self, data: dict) -> None:
        """Replace the state file with `data` (which callers changed in place: the cache is it, once
        written). No indentation: json's C encoder then writes it, about 3 times as fast."""
        self._cached = None
        tmp = self.path.with_name(f"{STATE_FILE}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.path)
        self._cached = (_stamp(self.path), data)

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

    def check(self, urls: list[str]) -> None:
        """FetchError when an address not followed yet cannot be read now as a feed, a page naming one or a
        page of headlines, saying why: a mistyped address (a 404), or a single article's page, was followed
        for good and failed at every poll. The page and `rag follow` check every new address before
        following any."""
        if not urls:
            return
        followed = [f.url for f in self.list()]
        fetcher = Fetcher()
        try:
            for url in map(feed_address, urls):
                check_url(url)
                if _followed_as(followed, url):  # as `add` finds it
                    continue
                try:  # read as a poll reads it: a feed, a page naming one, or a page of headlines
                    fetch_feed(fetcher, url, "", "", is_local(url))
                except FetchError as e:
                    raise FetchError(f"not followed: {url} cannot be read ({e}); check the address") from None
        finally:
            fetcher.close()

    def add(self, url: str) -> Feed:
        """Follow a feed (FetchError for an address that is not http(s)); one already followed stays as it is."""
        url = feed_address(url)
        check_url(url)
        with self._lock():
            data = self._read()
            url = _followed_as(data["feeds"], url) or url
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
            keys = [key for key, feed in data["feeds"].items()
                    if same_page(url, key) or same_page(url, feed.get("feed_url") or "")]
            for key in keys:
                del data["feeds"][key]
            if keys:
                self._write(data)
            return keys

    def save_feed(self, feed: Feed, added: int = 0, updated: int = 0) -> None:
        """Write a feed's entry after a poll that saved `added` new items and `updated` changed ones: counted
        on from the entry as stored now (another process, the web app and `rag follow --once`, may have
        polled it meanwhile: its counts were lost to this one's older copy)."""
        with self._lock():
            data = self._read()
            if feed.url in data["feeds"]:  # not when it was removed while being polled
                stored = Feed.from_json(data["feeds"][feed.url])
                feed.added, feed.updated = stored.added + added, stored.updated + updated
                data["feeds"][feed.url] = feed.to_json()
                self._write(data)

    def seen(self, item: Item) -> tuple[str, dict] | None:
        """(key, record) of the item as seen before: by its id; else, under another id, by its page
        (the same URL, when the article is read from there, or when it was saved from a page's headline
        and a feed now carries it whole) or by the same content in a feed. (An item recorded under its
        feed's own id before ids were per feed, `scope_key`, becomes this feed's when it has the item's
        link; else it is known by its page or its content.)"""
        if item.own_id:
            with self._lock():
                data = self._read()
                earlier = data["items"].get(item.own_id)
                if item.key not in data["items"] and earlier and earlier.get("url") == item.link:
                    data["items"][item.key] = data["items"].pop(item.own_id)
                    self._write(data)
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


class FeedRunner:
    """Polls the followed feeds and saves their new or changed items; `ingest` indexes what was saved
    (NewsChat.ingest, or the web app's sync that shows progress)."""

    def __init__(self, ingest: Callable[[list[Path]], IngestReport], feeds: FollowedFeeds, fetcher: Fetcher | None = None):
        self.ingest = ingest
        self.feeds = feeds
        self.fetcher = fetcher or Fetcher()
        self.stopped = threading.Event()
        self.wake = threading.Event()  # set: poll now, without waiting for the rest of the interval
        self.reading: Reading | None = None  # the poll under way, for the page's feeds panel
        self.pages_read: set[str] = set()  # the pages read by the poll under way (`story_page` of their links)

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
        self.pages_read = set()
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
        feed.errors = result.errors
        feed.last_result = result.summary()
        try:
            self.feeds.save_feed(feed, result.added, result.updated)
        except OSError as e:
            log.exception("cannot save the state of %s", feed.url)
            result.errors.append(f"cannot save what was seen: {e}")
        return result

    def _read_feed(self, feed: Feed, result: PollResult, saved: list[Path]) -> None:
        local = is_local(feed.url)  # a feed a page names may be on this machine only when the page is
        if feed.feed_url:  # a web page's feed, found at an earlier poll
            try:
                fetched, parsed, _ = fetch_feed(self.fetcher, feed.feed_url, feed.etag, feed.modified, local)
                if parsed is not None and parsed.page:  # a bot check or an error page where its feed was (None: 304)
                    raise FetchError(f"its feed {feed.feed_url} answered with a web page, not a feed")
            except FetchError:
                feed.feed_url, feed.etag, feed.modified = "", "", ""  # the next poll reads the page again
                raise
        else:
            fetched, parsed, feed.feed_url = fetch_feed(self.fetcher, feed.url, feed.etag, feed.modified, local)
        if fetched.status == 304:
            result.not_modified = True
            return
        if parsed.page and feed.was_feed and not feed.feed_url:
            # a bot check or an error page served with status 200 was followed as a page of headlines
            raise FetchError("it answered with a web page, not the feed it was (an error or bot-check page?): "
                             "nothing saved from it, tried again at the next poll; to follow that page's "
                             "headlines instead, remove it and follow it again")
        if not (parsed.page or feed.feed_url):
            feed.was_feed = True
        feed.page_links = parsed.page
        outlet = outlet_of(parsed.link or fetched.url)
        items = parsed.items
        if parsed.page:  # a page's headlines: at most PAGE_LINKS new stories fetched a poll, the rest later
            new = [i for i, before in enumerate(self.feeds.seen_all(items)) if before is None]
            later = set(new[PAGE_LINKS:])
            items = [item for i, item in enumerate(items) if i not in later]
            result.left = len(later)
        retry = bool(result.left)  # (stories left for later: the next poll reads the page whole again)
        for done, item in enumerate(items):
            self.reading = Reading(feed.url, done, len(items))
            scope_key(item, feed.url)
            retry = self._item(item, local, outlet, result, saved) or retry
        feed.title = parsed.title or feed.title
        if not retry:  # else the next poll reads the whole feed again and tries the failed items again
            feed.etag, feed.modified = fetched.headers.get("etag", ""), fetched.headers.get("last-modified", "")

    def _item(self, item: Item, local: bool, outlet: str, result: PollResult, saved: list[Path]) -> bool:
        """Save one item when it is new or changed. True when it failed and is to be tried again."""
        if not item.key:
            result.errors.append(f"an item without a link, id or whole text ({item.title[:60] or 'untitled'!r}): skipped")
            return False
        key, before = self.feeds.seen(item) or (item.key, None)
        retrying = before is not None and (0 < before.get("tries", 0) < MAX_ITEM_TRIES or _rested(before))
        if key != item.key and _another_update(before, item) and story_page(item.link) not in self.pages_read:
            # a new item for another part of a page already saved (a live blog's "#update-3"): the page
            # changed, so it is read again into the same file, once a poll (the feed's first such item,
            # its newest, names it); the earlier items' own records stay as they were. (A story listed
            # again under a new id, at the same address, is not fetched again.)
            now = _saved_record(self.feeds.folder / before["file"])  # the file as it is (another update's)
            key, before = item.key, {"file": before["file"], "id": now.get("id") or before.get("id"),
                                     "content": _content(now)}
        elif before and not retrying and (key != item.key or item.version in _versions(before)):
            # seen and unchanged since (or given up after MAX_ITEM_TRIES failures), or its page or its
            # content seen under another id: not fetched again
            if key != item.key:  # noted under its own id too, so the next poll knows it at once
                self.feeds.remember(item.key, _alias(item, key, before))
            result.unchanged += 1
            return False
        try:
            record = self._record(item, outlet, local, before)
            self.pages_read.add(story_page(item.link))
            self._save(key, item, before, record, result, saved)
        except NotAStory as e:  # seen: looked at again when its headline changes, or a day later
            if not (before or {}).get("not_a_story"):
                result.skipped.append(f"{_named(item)}: {e}")
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
        article = item_article(item, self.fetcher, local)
        today = time.strftime("%Y-%m-%d")
        saved = _saved_record(self.feeds.folder / before["file"]) if before and before.get("file") else {}
        # a followed page's new headline is news of today; an edit of it keeps the day it was first seen
        first_seen = min(saved.get("published") or today, today)
        published = item.published or article.published or (first_seen if item.from_page else "")
        if published > _tomorrow() and "" < article.published <= _tomorrow():
            published = article.published  # the feed's date is to come, the page's own is not: the page's
        if published > _tomorrow():  # a date to come (a typo, a wrong time zone) hid
            published = first_seen  # the story from every answer as of today
        return article_record(id=(before or {}).get("id") or item.key, title=item.title or article.title,
                              url=item.link or article.url, published=published,
                              # (an Atom feed's only link may be its "tag:" id: then the page's name, or its host)
                              # an aggregator's item names the outlet it is from (RSS <source>): that one
                              source=item.outlet or outlet or article.source or outlet_of(item.link),
                              authors=item.authors or article.authors,
                              text=article.body)

    def _save(self, key: str, item: Item, before: dict | None, record: dict, result: PollResult,
              saved: list[Path]) -> None:
        """Write the record (over the item's own earlier file, if it has one) unless its article is
        already saved: from this item with the same text, or from another item."""
        content = _content(record)
        earlier = [v for v in _versions(before) if v != item.version]
        memo = {"version": item.version, "versions": earlier[max(0, len(earlier) - KNOWN_VERSIONS + 1):] + [item.version],
                "content": content, "url": item.link, "id": record["id"]} | ({"from_page": True} if item.from_page else {})
        # a file another item saved (the same article from another feed or address) is not this item's to
        # overwrite: an edit of its copy is saved apart, and the other outlet's story stays as it was
        own = self.feeds.folder / before["file"] if before and before.get("file") and not before.get("shared") else None
        if own and own.exists() and before.get("content") == content:  # the feed reworded it; same article
            self.feeds.remember(key, memo | {"file": before["file"]})
            result.unchanged += 1
            return
        twin = None if own and own.exists() else self.feeds.saved_with(content)
        if twin:  # another item, of this feed or another, carries the same article
            self.feeds.remember(key, memo | {"file": twin["file"], "shared": True})
            result.unchanged += 1
            return
        saved_chars = len(_saved_record(own).get("text") or "") if own and own.exists() else 0
        if len(record["text"]) < SHORTER_SHARE * saved_chars and story_words(record["text"]) < STUB_WORDS:
            raise ArticleError(f"the page now holds {len(record['text'])} characters of text where the saved "
                               f"story has {saved_chars}: the saved story is kept (a paywall or an error page "
                               f"in its place?)")
        path = own or self.feeds.folder / _safe(record["source"] or "feed") / \
            f"{_slug(record['title'])}-{digest(item.key)}.json"
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
        result.errors.append(f"{_named(item)}: {error}{given_up}")
        return tries < MAX_ITEM_TRIES

    def _index(self, saved: list[Path], result: PollResult) -> None:
        if not saved:
            return
        try:
            result.report = self.ingest(saved)
        except Exception as e:  # the files are saved: the next sync of the articles folder indexes them
            if isinstance(e, StoreError):  # (a reason written for users: the database does not answer ...)
                log.warning("indexing the items of %s failed: %s", result.url, e)
            else:
                log.exception("indexing the items of %s failed", result.url)
            result.errors.append(f"indexing failed: {e} (the items are saved in {self.feeds.folder})")
            return
        result.errors += result.report.failures(by_name=True)

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


# Ids that name one story wherever it is listed: an address, or the item's own text (`ParsedFeed`)
GLOBAL_IDS = ("http://", "https://", "content:")


def scope_key(item: Item, feed_url: str) -> None:
    """Make a feed's own id ("1", "post-17", a guid that is no address) this feed's: two feeds whose
    items shared such an id overwrote each other's article at every poll. An address stays as it is,
    so one story listed by two feeds is one item. (Called before the item is looked up, after a
    followed page's headlines were counted: theirs are addresses.)"""
    if item.key and not item.key.startswith(GLOBAL_IDS):
        item.own_id, item.key = item.key, f"{feed_url} {item.key}"


def _seen_in(items: dict, item: Item) -> tuple[str, dict] | None:
    """`FollowedFeeds.seen` in the state's items."""
    if item.key in items:
        return item.key, items[item.key]
    if item.link:
        page, path, any_record = story_page(item.link), story_path(item.link), needs_page(item)
        found = next(((k, r) for k, r in items.items()  # (`story_path` first: `story_page` parses each address)
                      if (any_record or r.get("from_page")) and not r.get("not_a_story")
                      and story_path(r.get("url")) == path and story_page(r.get("url")) == page), None)
        if found:
            return found
    if item.content:
        return next(((k, r) for k, r in items.items() if r.get("version") == item.version), None)
    return None


def _another_update(before: dict, item: Item) -> bool:
    """Whether the item links to another part ("#update-3") of a page saved for an earlier item."""
    return "#" in item.link and before.get("url", "") != item.link and bool(before.get("file")) \
        and same_page(before.get("url", ""), item.link) and not before.get("not_a_story")


def _named(item: Item) -> str:
    """An item as a poll's messages name it: its headline, then its address (a feed's id when it has none)."""
    where = item.link or item.key
    return f"“{' '.join(item.title.split())[:80]}” ({where})" if item.title.strip() else where


def _alias(item: Item, key: str, before: dict) -> dict:
    """The record of an item that is another's (`key`) under its own id: for the same page, the same
    file (a later change replaces it); for the same content elsewhere, a file of its own if it changes.
    Two items without a link (matched by their content: `_seen_in`) are one story too, as an item's own
    text names it wherever it is listed (`GLOBAL_IDS`): a feed that lists it again under a new id, and
    then edits it, replaces its file. (`same_page` holds two empty addresses apart: no feed is followed
    by none.)"""
    url = before.get("url") or ""
    same = same_page(url, item.link) or not (url or item.link)
    kept = {name: before[name] for name in ("file", "content", "id") if same and name in before}
    return kept | {"version": item.version, "url": item.link, "same_as": key}


def _followed_as(followed, url: str) -> str | None:
    """The address, of those followed (`followed`), under which `url` is followed (`same_page`, the rule
    `remove` matches by too); None when it is not. `add` and `check` agree by it."""
    return next((key for key in followed if same_page(key, url)), None)


def _rested(before: dict) -> bool:
    """Whether an item given up after failing MAX_ITEM_TRIES polls, or found to be no story, has rested
    GIVEN_UP_SECONDS since."""
    since = before.get("checked_at") if before.get("not_a_story") else before.get("given_up_at")
    return since is not None and time.time() - since >= GIVEN_UP_SECONDS


def _saved_record(path: Path) -> dict:
    """An item's saved record ({} when it cannot be read)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _tomorrow() -> str:
    """The latest day a story may be dated (a publisher a time zone ahead is in tomorrow already)."""
    return time.strftime("%Y-%m-%d", time.localtime(time.time() + 86400))


# The versions of an item kept as known (`_versions`): a story that two feeds list under one address, each
# with its own headline, was read again at every poll of either (its title and outlet turning with it).
KNOWN_VERSIONS = 4


def _versions(before: dict | None) -> list[str]:
    """The versions of the item known (oldest first): those saved (the last KNOWN_VERSIONS), and the last
    one seen, saved or not (a failed or skipped item's, whose tries and rest `_item` counts): listed again
    with one of them, the item is unchanged."""
    if not before:
        return []
    listed = before.get("versions")
    known = [v for v in listed if isinstance(v, str)] if isinstance(listed, list) else []
    last = before.get("version")
    return known + [last] if isinstance(last, str) and last not in known else known


def _content(record: dict) -> str:
    """The digest an item's record is known by in the state ("content"): its title and text."""
    return digest(f"{record.get('title', '')}\n{record.get('text', '')}")


def _stamp(path: Path) -> tuple | None:
    """(inode, modification time, size) of the state file, None when there is none: another stamp
    means another process wrote it since (each write replaces the file)."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60] or "item"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.\-]+", "_", name).strip("._") or "feed"
