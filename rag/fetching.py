"""Reading web addresses politely and safely, for the followed feeds and pages (`feeds.py`).

One User-Agent naming the app, one deadline and a size limit per request (a page that trickles in
byte by byte is cut off too), a pause between requests to the same host, only http(s), and no redirect
to a file:// address, nor any request to this machine's own or private network addresses, unless the
caller allows it (a feed that is itself on this machine).
"""

from __future__ import annotations

import codecs
import ipaddress
import re
import socket
import threading
import time
from urllib.parse import urljoin, urlparse

import httpx

from .models import Fetched

USER_AGENT = "news-rag/0.1 (a local news chat reading the feeds its user follows)"
TIMEOUT_SECONDS = 15.0  # for a whole request: connecting, every redirect, and the body's last byte
MAX_BYTES = 5 * 1024 * 1024  # a feed or a page larger than this is not read
HOST_DELAY_SECONDS = 1.0  # between two requests to the same host
MAX_REDIRECTS = 5


class FetchError(RuntimeError):
    """A feed or page that could not be fetched or read; the message says why."""


class Fetcher:
    """HTTP GET with the rules above; one fetcher serves a whole poll, so the per-host pause spans
    every feed and page of it. Limits left at None take the module's values."""

    def __init__(self, timeout: float | None = None, max_bytes: int | None = None,
                 host_delay: float | None = None):
        self.timeout = TIMEOUT_SECONDS if timeout is None else timeout
        self.max_bytes = MAX_BYTES if max_bytes is None else max_bytes
        self.host_delay = HOST_DELAY_SECONDS if host_delay is None else host_delay
        self.client = httpx.Client(follow_redirects=False, headers={"User-Agent": USER_AGENT})
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close its connections (`rag follow` printed "ResourceWarning: unclosed socket" at exit)."""
        self.client.close()

    def get(self, url: str, etag: str = "", modified: str = "", allow_local: bool | None = None) -> Fetched:
        """GET `url`, following redirects one by one (each checked), all within one deadline. A 304
        (not modified) comes back as such. `allow_local`: whether addresses on this machine or its
        private network may be read (None: only when `url` itself is one, a feed the user runs there)."""
        check_url(url)
        allow_local = is_local(url) if allow_local is None else allow_local
        headers = {name: value for name, value in (("If-None-Match", etag), ("If-Modified-Since", modified)) if value}
        deadline = 0.0
        for _ in range(MAX_REDIRECTS + 1):
            if not allow_local and is_local(url):
                raise FetchError(f"refused: {url} is an address on this machine or its private network")
            self._wait_for(urlparse(url).hostname or "")
            deadline = deadline or time.monotonic() + self.timeout  # the pause before the first request is not counted
            fetched = self._once(url, headers, deadline)
            if not fetched.location:
                return fetched
            url = fetched.location
        raise FetchError(f"more than {MAX_REDIRECTS} redirects")

    def _once(self, url: str, headers: dict, deadline: float) -> Fetched:
        """One request. A redirect comes back with its checked target as `location` and no body."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise self._late()
        try:
            with self.client.stream("GET", url, headers=headers, timeout=remaining) as response:
                if response.has_redirect_location:  # (not `is_redirect`: that is any 3xx, 304 included)
                    target = resolve_link(url, response.headers["location"])
                    check_url(target, redirect=True)
                    return Fetched(url, response.status_code, b"", dict(response.headers), location=target)
                if response.status_code == 304:
                    return Fetched(url, 304, b"", dict(response.headers))
                if response.status_code >= 300:
                    raise FetchError(f"the server answered {response.status_code} {response.reason_phrase}")
                return Fetched(url, response.status_code, self._read(response, deadline), dict(response.headers))
        except httpx.TimeoutException:
            raise self._late() from None
        except httpx.InvalidURL as e:
            raise FetchError(f"not a valid address: {e}") from None
        except httpx.HTTPError as e:
            raise FetchError(f"cannot fetch it: {e}") from None

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        """The body, stopped as soon as it passes the size limit or the deadline."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(f"it is {_mb(int(declared))} MB, over the {_mb(self.max_bytes)} MB limit")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(f"it is over the {_mb(self.max_bytes)} MB limit")
            if time.monotonic() > deadline:
                raise self._late()
            chunks.append(chunk)
        return b"".join(chunks)

    def _late(self) -> FetchError:
        return FetchError(f"no complete answer within {self.timeout:g} s")

    def _wait_for(self, host: str) -> None:
        with self._lock:
            wait = self._last.get(host, 0.0) + self.host_delay - time.monotonic()
            self._last[host] = time.monotonic() + max(wait, 0.0)
        if wait > 0:
            time.sleep(wait)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.2g}"


def check_url(url: str, redirect: bool = False) -> None:
    """FetchError unless `url` is an http(s) address with a host."""
    what = "a redirect to" if redirect else "the address"
    try:
        parts = urlparse(url)
        parts.port  # noqa: B018 (reading it checks it: "http://h:99999" raises)
    except ValueError as e:
        raise FetchError(f"refused: {what} {url!r} is malformed ({e})") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FetchError(f"refused: {what} {url!r} is not http(s)")
    if not parts.hostname:
        raise FetchError(f"refused: {what} {url!r} names no host")


def is_local(url: str) -> bool:
    """Whether the URL's host is this machine or a private, link-local or reserved network address."""
    host = urlparse(url).hostname or ""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in socket.getaddrinfo(host, None)]
        except (OSError, UnicodeError, ValueError):
            return False  # not resolvable: the request fails on its own
    return any(_is_private(a) for a in addresses)


def _is_private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    address = getattr(address, "ipv4_mapped", None) or address  # ::ffff:127.0.0.1 is 127.0.0.1
    # not is_global also covers the shared address space of carrier NAT (100.64.0.0/10), which is neither
    # private nor public to Python's ipaddress
    return (address.is_loopback or address.is_private or address.is_link_local or address.is_reserved
            or address.is_unspecified or address.is_multicast or not address.is_global)


# ---------------------------------------------------------------- reading what was fetched

def page_text(page: Fetched) -> str:
    """The page decoded with the charset its server or its <meta> names (else UTF-8, else cp1252)."""
    charset = declared_charset(page.body, page.headers.get("content-type", ""))
    if not charset:  # UTF-8, else the Western code page old sites still send undeclared (Latin-1's superset)
        try:
            return page.body.decode("utf-8")
        except UnicodeDecodeError:
            return page.body.decode("cp1252", errors="replace")
    return page.body.decode(charset, errors="replace")


_META_CHARSET = re.compile(rb"<meta[^>]+charset=[\"']?([\w.:-]+)", re.I)


def declared_charset(body: bytes, content_type: str = "") -> str | None:
    """The charset a page's Content-Type header or, failing that, its own <meta> (in its first 4 KB)
    names: None when neither names one; UTF-8 for a name Python does not know."""
    named = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.I)
    charset = named.group(1) if named else None
    if charset is None and (meta := _META_CHARSET.search(body[:4096])):
        charset = meta.group(1).decode("ascii", "replace")
    if charset is None:
        return None
    charset = _AS_BROWSERS_READ.get(charset.strip().lower(), charset)
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return "utf-8"


# Labels whose bytes browsers read with a larger code page (the WHATWG Encoding Standard): a page declared
# gb2312 is written in GBK, and Python's strict gb2312 turned its other characters into U+FFFD.
_AS_BROWSERS_READ = {"gb2312": "gbk", "x-gbk": "gbk", "shift_jis": "cp932", "x-sjis": "cp932", "sjis": "cp932",
                     "euc-kr": "cp949", "ks_c_5601-1987": "cp949", "iso-8859-8-i": "iso8859-8",
                     "iso-8859-9": "cp1254", "tis-620": "cp874", "iso-8859-11": "cp874",
                     "utf-16": "utf-8", "utf-16le": "utf-8", "utf-16be": "utf-8"}


def resolve_link(base: str, raw: str) -> str:
    """An address read against the one it was found at (a link in a feed or a page, a redirect); a
    malformed one (`http://[::1/x`) as it is, so fetching it fails for it alone, with its address named
    (`check_url`)."""
    try:
        return urljoin(base, raw) if raw else ""
    except ValueError:
        return raw
