"""Reading news feeds and pages: RSS 2.0, Atom and JSON Feed parsed into items, the feeds a web page
names, the headline links of a page that names none (`article_links`), and the article of an item (the
feed's own text when it is the whole article, else the page at its link). `following` keeps which feeds
are followed and what was seen of them, and polls them.

Every request goes through `fetching.Fetcher` (polite and safe; a feed's items may be on this machine
only when the feed is).
"""

from __future__ import annotations

import html
import io
import json
import re
import time
from urllib.parse import quote, unquote, urljoin, urlparse, urlsplit, urlunsplit

import feedparser
import lxml.etree
import lxml.html
from courlan import is_navigation_page, is_not_crawlable
from courlan.filters import extension_filter

from .articles import ArticleError, parse_html, plain_text
from .dates import DateError, iso_date
from .fetching import FetchError, Fetcher, page_text, resolve_link
from .models import Article, Fetched, Item, ParsedFeed, digest
from .text import CJK_LETTER

FULL_TEXT_CHARS = 1500  # a feed item whose own content is at least this long is taken as the whole article
HEADLINE_WORDS = 3  # a link with fewer words is a menu entry or a "Read more", not a headline (not measured)
HEADLINE_CJK_CHARS = 8  # the same for Chinese, Japanese and Korean, written without spaces (not measured)
# A followed page's headline link whose page lists at least HEADLINE_LIST_LINKS headlines of its site, in its
# text, that make up at least HEADLINE_LIST_SHARE of that text is a section page, not a story (`_headline_list`).
# Not measured on real sites: the test site's section page (a headline and a paragraph per story) holds 0.27;
# a review's 1,600-character story with six inline "Read more" headlines 0.19, a 3,200-character one 0.09.
HEADLINE_LIST_LINKS = 5
HEADLINE_LIST_SHARE = 0.25
JSON_FEED_VERSION = "https://jsonfeed.org/version/"
# A page whose text (as trafilatura reads it) has fewer words holds no story: a gallery's "Home", a
# script-only page's "You need to enable JavaScript", a paywall's "Subscribe to continue reading". The
# shortest of the 1,254 articles of rtqa-2023-s150 has 37 words (1% have under 58); those pages 1-10.
MIN_STORY_WORDS = 25  # (a Chinese, Japanese or Korean character counts as a word: `story_words`)
# An edited item whose page now holds less than this share of the saved story's text, and fewer than
# STUB_WORDS words, is kept as saved: a paywall or an error page put in the story's place (a few dozen
# words), not an edit; a story trimmed to a third but still of STUB_WORDS words or more is an edit
# (`following.FeedRunner._save`). Set by judgement, not measured on real edits.
SHORTER_SHARE = 1 / 3
STUB_WORDS = 100


class NotAStory(ArticleError):
    """A followed page's headline link leads to no story (a section page): skipped, and remembered as seen."""


# An address written without its scheme: a host name with a dot ("www.example.com/rss", "192.168.1.20:8080")
# or localhost, then a port and a path. A file's name ("news.xml") is none.
_BARE_HOST = re.compile(r"^(?P<host>localhost|[A-Za-z0-9][A-Za-z0-9\-]*(\.[A-Za-z0-9\-]+)+)(?P<port>:\d+)?(/\S*)?$")
_FILE_ENDINGS = ("xml", "rss", "atom", "json", "html", "htm", "php", "txt", "md")


def feed_address(url: str) -> str:
    """A feed's address as it is followed: trimmed, "feed://host/..." or "feed:https://..." (as browsers
    once wrote feed links) read as http(s), one without a scheme ("www.example.com/rss") as https, and a
    bare "http://host" as "http://host/" (one site, one entry)."""
    url = url.strip()
    if url.startswith("feed:"):
        rest = url[len("feed:"):].removeprefix("//")
        url = rest if rest.startswith(("http://", "https://")) else "http://" + rest
    elif (bare := _BARE_HOST.match(url)) and bare["host"].rsplit(".", 1)[-1].lower() not in _FILE_ENDINGS:
        # as an address bar takes it: https, or http for this machine or the local network (an address or
        # a port: a small server there seldom has a certificate)
        local = bare["host"] == "localhost" or bare["host"].replace(".", "").isdigit() or bare["port"]
        url = ("http://" if local else "https://") + bare["host"].lower() + url[len(bare["host"]):]
    try:
        if not urlparse(url).path and not urlparse(url).query:  # http://host is http://host/
            url += "/"
    except ValueError:
        pass  # malformed: refused as it is (`check_url`)
    return url


# ---------------------------------------------------------------- feeds and pages

def with_own_keys(items: list[Item]) -> list[Item]:
    """The items, every one with a key of its own: a feed that gives two items one guid would have them
    overwrite each other at every poll (the later one keyed by its link too); an item with neither id nor
    link but its whole text is known by that text."""
    seen: set[str] = set()
    for item in items:
        if not item.key and len(_text_of(item.content)) >= FULL_TEXT_CHARS:
            item.key = "content:" + digest(f"{item.title}\n{item.content}")
        if item.key and item.key in seen:
            item.key = f"{item.key} {item.link or digest(item.title + item.content)}"
        seen.add(item.key)
    return items


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
                      with_own_keys([_feedparser_item(entry, url) for entry in parsed.entries]))


# What a web page's <link rel="alternate" type=...> names as its feed (plain application/json is left
# out: WordPress names its REST API that way).
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json")


def parsed_feed(fetched: Fetched) -> ParsedFeed:
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


def article_links(page: Fetched) -> ParsedFeed | None:
    """A web page that names no feed, read as one: its links to articles of its own site, in page order,
    each an item whose article is read from its link (a poll fetches at most following.PAGE_LINKS links not seen
    before; `following.FeedRunner`). An article link reads like a headline (HEADLINE_WORDS words or more; in
    Chinese, Japanese or Korean, HEADLINE_CJK_CHARS characters), sits outside the page's navigation, header, footer,
    sidebars and forms, and leads to an article address (`is_article_address`). Links to one story
    that differ only by tracking parameters, a fragment or a trailing slash are one item. An item's
    version is its headline without digits ("2 hours ago" changes at every poll), with the page's other
    headlines for the same story (a live blog's "#update-2"): a reworded or a new headline fetches the story
    again. None when the page has no such link."""
    try:  # decoded as `page_text` decodes a story page (the charset its server names included)
        tree = lxml.html.fromstring(page_text(page).encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (ValueError, lxml.etree.ParserError):
        return None
    base = _base(tree, page.url)
    links: dict[str, tuple[str, list[str]]] = {}  # one story's key -> (its address, as first linked; its headlines)
    for anchor in tree.iter("a"):
        text = " ".join(anchor.text_content().split())
        reads_like_headline = (len(text.split()) >= HEADLINE_WORDS
                               or (len(text) >= HEADLINE_CJK_CHARS and bool(CJK_LETTER.search(text))))
        if not reads_like_headline or _in_navigation(anchor):
            continue
        address = resolve_link(base, (anchor.get("href") or "").strip())
        if is_article_address(address, page.url):
            # tracking parameters (utm_*, fbclid ...) and the fragment dropped; ids such as ?storyid= or ?cid= kept
            href = plain_address(address).partition("#")[0]
            headlines = links.setdefault(story_page(address), (href, []))[1]
            if (headline := _without_digits(text)) not in headlines:
                headlines.append(headline)
    if not links:
        return None
    title = " ".join((tree.findtext(".//title") or "").split())
    items = [Item(key=href, link=href, updated=headlines[0], also=headlines[1:], from_page=True)
             for href, headlines in links.values()]
    return ParsedFeed(title, page.url, with_own_keys(items), page=True)


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
        return (parts.scheme in ("http", "https") and outlet_of(href) == outlet_of(page_url) and bool(segments)
                and not same_page(href, page_url)
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


# Query parameters that only say where a reader came from. Only these: courlan's longer list also takes
# out parameters that name the story (`cid`, `ref`, `keyword`), which would make three stories one.
_TRACKING = re.compile(r"utm_\w+|at_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|igshid|ref_src|_hsenc|_hsmi|xtor|smid|"
                       r"mkt_tok|_ga|ocid|cmpid", re.I)


def plain_address(address: str) -> str:
    """An item's address without tracking parameters (`utm_source`, `fbclid`: `_TRACKING`), otherwise as
    written: a story whose feed adds them at one poll and not at another is one story (it was saved twice
    when its text changed meanwhile), and its citation shows the plain address. Not an address, or a
    malformed one, as it is (fetching names it)."""
    if not address.startswith(("http://", "https://")) or "?" not in address:
        return address
    try:
        parts = urlsplit(address)
    except ValueError:
        return address
    kept = [pair for pair in parts.query.split("&") if pair and not _TRACKING.fullmatch(pair.split("=", 1)[0])]
    return urlunsplit(parts._replace(query="&".join(kept)))


# A folder's index file: "/story/index.html" is the page "/story/" (a followed page's links wrote it both ways,
# and the story was saved twice).
_INDEX_FILE = re.compile(r"/index\.(html?|php)/?$", re.I)


def story_page(link: str | None) -> str:
    """The page a link leads to, as links are compared: without its "#fragment" (a live blog's items link
    to one page's updates), tracking parameters (`plain_address`) or a slash ending its path ("/story/" and
    "/story" are one page) or a folder's index file ("/story/index.html" is "/story/"). The one rule by which
    headline links, feed items and a state's recorded addresses (written before it dropped tracking
    parameters) name their story; written alike as courlan wrote them before (host case, query order,
    "%C3%BC" or "ü"). (Not an address to fetch: a server may want its slash, or its order.)"""
    page = plain_address(str(link or "")).partition("#")[0]
    try:  # written alike: the host in lower case, no default port, the path quoted once, the query sorted
        parts = urlsplit(page)
        if parts.scheme.lower() in ("http", "https") and parts.hostname:
            port = "" if parts.port in (None, 80, 443) else f":{parts.port}"
            path = _INDEX_FILE.sub("/", quote(unquote(parts.path), safe="/:@!$&'()*+,;=~-._"))
            query = "&".join(sorted(pair for pair in parts.query.split("&") if pair))
            page = urlunsplit((parts.scheme.lower(), parts.hostname + port, path, query, ""))
    except ValueError:  # a malformed address: compared as written
        pass
    base, mark, query = page.partition("?")
    return base.rstrip("/") + mark + query


def same_page(one: str, other: str) -> bool:
    """Whether two addresses name one followed feed or page (`story_page`): "https://site/",
    "https://site/index.html" and "HTTPS://Site" are one site, followed once."""
    return bool(one) and bool(other) and story_page(one) == story_page(other)


def story_path(link: str | None) -> str:
    """The path of the page a link leads to, unquoted and in lower case: the same for any two links whose
    `story_page` is the same (cheap: a state of 20,000 items is looked through with it first, and only
    the few addresses it lets through are compared whole)."""
    path = str(link or "").partition("#")[0].partition("?")[0].partition("://")[2].partition("/")[2]
    return _INDEX_FILE.sub("/", "/" + (unquote(path) if "%" in path else path)).strip("/").lower()


def _own_id(entry_id: str, url: str, link: str) -> str:
    """An item's id as its feed wrote it: feedparser reads an RSS guid or Atom id that is no address ("1",
    "post-17") against the feed's address, so <guid>1</guid> of /hub/north.xml and of /hub/south.xml were
    both "https://host/hub/1", one story, and the second overwrote the first. An id one step under the
    feed's folder that is not the item's link is taken back to what the feed wrote (a feed's own id:
    `following.scope_key`)."""
    folder = urljoin(url, ".")
    rest = entry_id[len(folder):] if entry_id.startswith(folder) and entry_id != link else ""
    return rest if rest and not set(rest) & set("/?#") else entry_id


def _feedparser_item(entry, url: str) -> Item:
    link = plain_address(resolve_link(url, entry.get("link") or ""))
    contents = [c.get("value", "") for c in entry.get("content") or []]
    # `in` before reading "updated": feedparser's own fallback to "published" warns on every read
    updated = entry["updated"] if "updated" in entry else entry.get("published", "")
    return Item(key=_own_id(plain_address(entry.get("id") or ""), url, link) or link, link=link, title=_title(entry),
                content=max(contents, key=len, default="") or entry.get("summary", ""), updated=updated,
                published=_entry_day(entry), outlet=" ".join(str((entry.get("source") or {}).get("title") or "").split()),
                authors=[a["name"] for a in entry.get("authors", []) if a.get("name")])


def _entry_day(entry) -> str:
    """The item's day as its publisher wrote it, in the publisher's own time zone (as a JSON Feed's date is
    read), else as feedparser read it. feedparser's parsed time is in UTC: a story of 16:30 at -08:00 was
    dated the next day, and so left out of answers "as of" today until midnight."""
    for name in ("published", "updated"):  # the publishing date first, as written, then as feedparser read it
        if name not in entry:  # (`in` first: feedparser warns when "updated" falls back to "published")
            continue
        try:
            if day := iso_date(entry[name]):
                return day
        except DateError:
            pass
        if (when := entry.get(f"{name}_parsed")) and when.tm_year >= 1000:  # ("0000-00-00" reads as year -1)
            return time.strftime("%Y-%m-%d", when)
    return ""


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
    return ParsedFeed(str(data.get("title") or ""), str(data.get("home_page_url") or ""), with_own_keys(items))


def _json_item(item: dict, url: str, feed_authors: list[str]) -> Item:
    link = plain_address(resolve_link(url, str(item.get("url") or item.get("external_url") or "")))
    text = str(item.get("content_text") or "")
    content = str(item.get("content_html") or "") or "".join(
        f"<p>{html.escape(p.strip())}</p>" for p in text.split("\n\n") if p.strip()) or str(item.get("summary") or "")
    try:
        published = iso_date(item.get("date_published") or item.get("date_modified") or "")
    except DateError:
        published = ""
    return Item(key=plain_address(str(item.get("id") or "")) or link, link=link, title=str(item.get("title") or ""), content=content,
                updated=str(item.get("date_modified") or item.get("date_published") or ""), published=published,
                authors=_json_authors(item) or feed_authors)


def _json_authors(holder: dict) -> list[str]:
    """JSON Feed 1.1 `authors` (a list), or 1.0 `author` (one object)."""
    people = holder.get("authors") or ([holder["author"]] if isinstance(holder.get("author"), dict) else [])
    return [str(p["name"]) for p in people if isinstance(p, dict) and p.get("name")]


def fetch_feed(fetcher: Fetcher, url: str, etag: str, modified: str, local: bool) -> tuple[Fetched, ParsedFeed | None, str]:
    """The feed at `url` (None when not modified), and "". Given a web page: the first feed it names
    (`feed_links`), and that feed's address; a page that names none: its article links
    (`article_links`), and "". `local`: whether its addresses may be on this machine."""
    fetched = fetcher.get(url, etag, modified, allow_local=local)
    if fetched.status == 304:
        return fetched, None, ""
    try:
        return fetched, parsed_feed(fetched), ""
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
            fetched = fetcher.get(address, allow_local=local)
            return fetched, parsed_feed(fetched), address
        except FetchError as e:
            failures.append(f"{address}: {e}")
    raise FetchError(f"none of the feeds the page names could be read ({'; '.join(failures)})")


def item_article(item: Item, fetcher: Fetcher, local: bool) -> Article:
    """The article of an item: the feed's own text when it is the whole article, else the page at its
    link (ArticleError when the link now leads elsewhere; NotAStory for a followed page's headline that
    leads to a section page)."""
    if not needs_page(item):  # (the feed's own text: whole, or all there is)
        article = feed_article(item)
        if (size := story_words(article.body)) < MIN_STORY_WORDS:  # a podcast episode, a link-less note
            raise NotAStory(f"only {size} words of text, and no page to read the story from")
        return article
    page = fetcher.get(item.link, allow_local=local)
    if instead := _led_elsewhere(page, item.link):
        raise ArticleError(f"the link now leads to {instead} ({page.url}), not to the story")
    article = parse_html(page_text(page), page.url)
    if item.from_page and (many := _headline_list(page, article)):
        raise NotAStory(f"a list of {many} headlines (a section page), not a story")
    if (size := story_words(article.body)) < MIN_STORY_WORDS:
        words = " ".join(article.body.split()[:8])[:60]
        why = (f"only {size} words of text (“{words}”): a paywall, a gallery or a page that needs "
               f"JavaScript?")
        if item.from_page:  # a headline link of a followed page: skipped, looked at again a day later
            raise NotAStory(f"no story on the page, {why}")
        raise ArticleError(f"no story on the page, {why}")  # a feed's item: tried again at the next polls
    return article


def story_words(text: str) -> int:
    """Words of a text, each Chinese, Japanese or Korean character counted as one (those are written
    without spaces)."""
    return len(CJK_LETTER.sub(" ", text).split()) + len(CJK_LETTER.findall(text))


def _led_elsewhere(page: Fetched, link: str) -> str:
    """What a story's link led to instead of the story, when a redirect took it to its site's front page
    or to a sign-in, section or tag page (an expired or paywalled story); "" when it did not."""
    if story_page(page.url) == story_page(link):
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


def needs_page(item: Item) -> bool:
    """Whether the item's article is read from its link (the feed carries only a summary of it)."""
    return bool(item.link) and len(_text_of(item.content)) < FULL_TEXT_CHARS


def feed_article(item: Item) -> Article:
    """The article as the feed itself carries it (no page fetched)."""
    if not _text_of(item.content):
        raise ArticleError("the item has no link and no text of its own")
    page = (f"<html><head><title>{html.escape(item.title)}</title></head>"
            f"<body><article>{item.content}</article></body></html>")
    return parse_html(page, item.link or "feed item")


def outlet_of(url: str) -> str:
    """The outlet an address is of: its host without "www." ("https://www.Courier.example/x" ->
    "courier.example"), so a site read with and without it is one outlet. A saved item's source when its
    feed names no other (`following.FeedRunner._record`), stored and filtered as written. (Not the rule of
    `answering.outlet_letters`, which reads any stored outlet, a host or a site's own name, as a question
    writes it, "courier", to match a question's words; that one is never stored.)"""
    host = urlparse(url).hostname or ""
    return host[len("www."):] if host.startswith("www.") else host


def _text_of(html_text: str) -> str:
    """HTML as one line of plain text (`plain_text`: tags, scripts and styles out, references read)."""
    return " ".join(plain_text(html_text).split())


