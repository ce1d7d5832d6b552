"""Reading article files into `Article`s: saved news pages, Markdown, HTML, JSON and JSONL.

Each reader returns the articles it could read and the problems it met, so one bad record
or file never stops a batch.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from .models import Article

TEXT_SUFFIXES = {".txt", ".text"}
MARKDOWN_SUFFIXES = {".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
JSON_SUFFIXES = {".json"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | MARKDOWN_SUFFIXES | HTML_SUFFIXES | JSON_SUFFIXES | JSONL_SUFFIXES

TEXT_FIELDS = ("text", "body", "content")
DATE_FIELDS = ("published", "published_at", "publishedAt", "date")


class ArticleError(ValueError):
    """A file or record that cannot be read as an article; the message says why."""


@dataclass
class ReadResult:
    articles: list[Article] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # e.g. "line 3: invalid JSON (...)"


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def content_hash(text: str) -> str:
    """Hash of the text with white space folded, so re-saved copies of one article match."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def read_file(path: Path, max_file_mb: float = 10.0, max_jsonl_mb: float = 1024.0) -> ReadResult:
    """Read every article in one file. Raises ArticleError when the file as a whole is unusable."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ArticleError(f"unsupported file type '{suffix or path.name}' (use .txt, .md, .html, .json or .jsonl)")
    size = path.stat().st_size
    limit = max_jsonl_mb if suffix in JSON_SUFFIXES | JSONL_SUFFIXES else max_file_mb
    if size > limit * 1024 * 1024:
        raise ArticleError(f"file is {size / 1024 / 1024:.0f} MB, over the {limit:g} MB limit for {suffix} files")
    if size == 0:
        raise ArticleError("file is empty")
    if suffix in JSONL_SUFFIXES:
        return _read_jsonl(path)
    text = _decode(path.read_bytes())
    if not text.strip():
        raise ArticleError("file is empty (only white space)")
    if suffix in JSON_SUFFIXES:
        return _read_json(path, text)
    if suffix in HTML_SUFFIXES:
        return ReadResult([parse_html(text, str(path))])
    if suffix in MARKDOWN_SUFFIXES:
        return ReadResult([parse_markdown(text, str(path))])
    return ReadResult([parse_text(text, str(path))])


def _decode(data: bytes, where: str = "file ") -> str:
    if b"\x00" in data[:8192]:
        raise ArticleError(f"{where}is binary, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ArticleError(f"{where}is not valid UTF-8 (bad byte at offset {e.start})") from None


# ---------------------------------------------------------------- plain text and saved news pages

_ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?$")
_CHROME_LINES = {"also read", "read", "fancy a voyage of discovery?", "my space", "latest", "you may like",
                 "trends 24h", "also at", "(pm)"}
_FOOTER_START = re.compile(r"^(All news articles on |You may like$|Trends 24h$|© Communities )")


def parse_text(text: str, path: str) -> Article:
    """A .txt file: a saved news page (the seed format) when it looks like one, else title + body."""
    lines = [ln.strip() for ln in text.replace("\r\n", "\n").split("\n")]
    if _looks_like_saved_page(lines):
        return _parse_saved_page(lines, path)
    paragraphs = _paragraphs(lines)
    title = paragraphs[0] if len(paragraphs) > 1 and len(paragraphs[0]) < 200 else ""
    body_paragraphs = paragraphs[1:] if title else paragraphs
    return _make_article(title or _title_from_path(path), "\n\n".join(body_paragraphs), path)


def _looks_like_saved_page(lines: list[str]) -> bool:
    head = [ln for ln in lines[:12] if ln]
    return len(head) >= 4 and any(_ISO_TIMESTAMP.match(ln) for ln in head[:5])


def _parse_saved_page(lines: list[str], path: str) -> Article:
    """The seed format: site header, title, ISO timestamp, a teaser line, then the page text.

    Site chrome (header, teaser, "Created:"/"By:" lines, photo credits, "also read ... READ"
    blocks, "In the video:" lines and the footer) is dropped; the outlet comes from "Source: X".
    """
    head = [ln for ln in lines if ln]
    stamp_at = next(i for i, ln in enumerate(head[:5]) if _ISO_TIMESTAMP.match(ln))
    title = head[stamp_at - 1] if stamp_at else ""
    published = head[stamp_at][:10]
    rest = head[stamp_at + 1:]
    # The teaser repeats the title and runs the first paragraphs together; the page text starts
    # where the title stands alone again.
    if rest and rest[0].startswith(title) and rest[0] != title:
        rest = rest[1:]
    if rest and rest[0] == title:
        rest = rest[1:]
    authors: list[str] = []
    source = ""
    body: list[str] = []
    in_also_read = False
    for i, ln in enumerate(rest):
        low = ln.lower()
        if ln.startswith("Source: "):
            source = ln[len("Source: "):].strip()
            break
        if _FOOTER_START.match(ln):
            break
        if low == "also read":
            in_also_read = True
            continue
        if in_also_read:
            # headline, READ, headline, READ, ... ends at the first line not followed by READ
            if ln == "READ":
                continue
            if i + 1 < len(rest) and rest[i + 1] == "READ":
                continue
            in_also_read = False
        if ln.startswith("Created: "):
            continue
        if ln.startswith("By: "):
            authors = [a.strip() for a in ln[4:].split(" and ") if a.strip()]
            continue
        if ln.startswith("©") or ln.startswith("In the video:") or low in _CHROME_LINES:
            continue
        body.append(ln)
    return _make_article(title or _title_from_path(path), "\n\n".join(body), path, published=published,
                         source=source, authors=authors)


def _paragraphs(lines: list[str]) -> list[str]:
    """Blank-line separated paragraphs, each folded to one line."""
    out, current = [], []
    for ln in lines + [""]:
        if ln:
            current.append(ln)
        elif current:
            out.append(" ".join(current))
            current = []
    return out


def _title_from_path(path: str) -> str:
    return Path(path).stem.replace("_", " ").replace("-", " ").strip()


# ---------------------------------------------------------------- Markdown

_FRONT_MATTER = re.compile(r"^---\n(.*?)\n---\n", re.S)


def parse_markdown(text: str, path: str) -> Article:
    """A Markdown article: optional YAML-ish front matter, the first `# ` heading as title."""
    text = text.replace("\r\n", "\n")
    meta: dict[str, str] = {}
    m = _FRONT_MATTER.match(text)
    if m:
        for ln in m.group(1).splitlines():
            key, sep, value = ln.partition(":")
            if sep:
                meta[key.strip().lower()] = value.strip().strip("\"'")
        text = text[m.end():]
    lines = text.split("\n")
    title = meta.get("title", "")
    if not title:
        for i, ln in enumerate(lines):
            if ln.startswith("# "):
                title = ln[2:].strip()
                del lines[i]
                break
    paragraphs = _paragraphs([ln.strip() for ln in lines])
    return _make_article(title or _title_from_path(path), "\n\n".join(paragraphs), path,
                         published=_iso_date(next((meta[k] for k in DATE_FIELDS if meta.get(k)), "")),
                         source=meta.get("source", ""), url=meta.get("url", ""),
                         authors=_authors(meta.get("authors") or meta.get("author")))


# ---------------------------------------------------------------- HTML

_DROP_TAGS = ["script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe",
              "svg", "button", "template"]
_BLOCK_TAGS = ["p", "h2", "h3", "h4", "li", "blockquote"]


def _outermost(blocks: list) -> list:
    """The blocks not inside another block, so a <p> in a <blockquote> or <li> is read once."""
    return [b for b in blocks if b.find_parent(_BLOCK_TAGS) is None]


def parse_html(text: str, path: str) -> Article:
    """A saved HTML page: text of <article> (else <main>, else <body>) without scripts and navigation."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")

    def meta(*names: str) -> str:
        for name in names:
            tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
            if tag and tag.get("content"):
                return tag["content"].strip()
        return ""

    title = meta("og:title", "twitter:title")
    if not title and soup.h1:
        title = soup.h1.get_text(" ", strip=True)
    if not title and soup.title:
        title = soup.title.get_text(" ", strip=True)
    published = meta("article:published_time", "datePublished", "date", "pubdate")
    if not published and soup.find("time", attrs={"datetime": True}):
        published = soup.find("time", attrs={"datetime": True})["datetime"]
    url = meta("og:url")
    if not url and soup.find("link", rel="canonical"):
        url = soup.find("link", rel="canonical").get("href", "")
    source = meta("og:site_name")
    authors = _authors(meta("author", "article:author"))
    for tag in soup(_DROP_TAGS):
        tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    if root.find("h1") and root.h1.get_text(" ", strip=True) == title:
        root.h1.decompose()
    for br in root.find_all("br"):
        br.replace_with("\n")
    for block in root.find_all(_BLOCK_TAGS):
        block.append("\n")  # nested blocks stay apart; inline tags join their words as written
    blocks = [" ".join(b.get_text().split()) for b in _outermost(root.find_all(_BLOCK_TAGS))]
    blocks = [b for b in blocks if b]
    if not blocks:
        blocks = _paragraphs([ln.strip() for ln in root.get_text("\n").split("\n")])
    return _make_article(title or _title_from_path(path), "\n\n".join(blocks), path,
                         published=_iso_date(published), source=source, url=url, authors=authors)


# ---------------------------------------------------------------- JSON and JSONL records

def _read_json(path: Path, text: str) -> ReadResult:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ArticleError(f"invalid JSON at line {e.lineno}: {e.msg}") from None
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]  # the NewsAPI response shape
    records = data if isinstance(data, list) else [data]
    result = ReadResult()
    for i, record in enumerate(records, 1):
        where = f"record {i}" if isinstance(data, list) else "the record"
        _add_record(result, record, str(path), where)
    if not result.articles and not result.errors:
        raise ArticleError("file has no records")
    return result


def _read_jsonl(path: Path) -> ReadResult:
    result = ReadResult()
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                line = _decode(raw, f"line {lineno} ")
                record = json.loads(line)
            except ArticleError as e:
                result.errors.append(str(e))
                continue
            except json.JSONDecodeError as e:
                result.errors.append(f"line {lineno}: invalid JSON ({e.msg})")
                continue
            _add_record(result, record, str(path), f"line {lineno}")
    if not result.articles and not result.errors:
        raise ArticleError("file has no records")
    return result


def _add_record(result: ReadResult, record: object, path: str, where: str) -> None:
    try:
        result.articles.append(parse_record(record, path))
    except ArticleError as e:
        result.errors.append(f"{where}: {e}")


def parse_record(record: object, path: str) -> Article:
    """One JSON object from a news API export."""
    if not isinstance(record, dict):
        raise ArticleError(f"expected an object, got {type(record).__name__}")
    text = next((record[k] for k in TEXT_FIELDS if isinstance(record.get(k), str) and record[k].strip()), None)
    if text is None:
        raise ArticleError("no article text (expected a non-empty 'text', 'body' or 'content' field)")
    source = record.get("source") or ""
    if isinstance(source, dict):  # NewsAPI: {"id": ..., "name": ...}
        source = source.get("name") or source.get("id") or ""
    published = next((str(record[k]) for k in DATE_FIELDS if record.get(k)), "")
    body = "\n\n".join(_paragraphs([ln.strip() for ln in text.replace("\r\n", "\n").split("\n")]))
    return _make_article(str(record.get("title") or "").strip() or _title_from_path(path), body, path,
                         published=_iso_date(published), source=str(source), url=str(record.get("url") or ""),
                         authors=_authors(record.get("authors") or record.get("author")),
                         article_id=str(record["id"]) if record.get("id") else "")


# ---------------------------------------------------------------- shared helpers

def _make_article(title: str, body: str, path: str, published: str = "", source: str = "", url: str = "",
                  authors: list[str] | None = None, article_id: str = "") -> Article:
    if not body.strip():
        raise ArticleError("no article text left after removing page chrome")
    if not article_id:
        key = url or f"{title}\n{body}"
        article_id = hashlib.sha256(" ".join(key.split()).encode()).hexdigest()[:16]
    return Article(id=article_id, title=" ".join(title.split()), body=body, path=path, url=url,
                   published=published, source=source, authors=authors or [])


def _authors(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(a).strip() for a in value if str(a).strip()]
    if isinstance(value, str) and value.strip():  # "A, B and C" or an inline list "[A, B]"
        names = re.split(r",| and ", value.strip().strip("[]"))
        return [a.strip().strip("\"'") for a in names if a.strip().strip("\"'")]
    return []


def _iso_date(value: str) -> str:
    """YYYY-MM-DD from the date formats news exports use; "" when it cannot be read."""
    value = (value or "").strip()
    if not value:
        return ""
    if re.match(r"^\d{4}-\d{2}-\d{2}", value):
        return value[:10]
    for fmt in ("%m/%d/%Y", "%d %B %Y", "%B %d, %Y", "%d %b %Y", "%b %d, %Y", "%Y/%m/%d"):
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    try:  # RFC 2822, as in RSS: "Tue, 20 Dec 2022 15:47:17 GMT"
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError):
        return ""
