"""Reading article files into `Article`s: saved news pages, Markdown, HTML, JSON and JSONL.

Each reader returns the articles it could read and the problems it met, so one bad record
or file never stops a batch.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import json
import re
from html.entities import html5
from pathlib import Path

import lxml.etree
import lxml.html
import trafilatura

from .dates import DateError, iso_date
from .fetching import declared_charset
from .models import Article, ReadResult
from .settings import MAX_FILE_MB, MAX_JSONL_MB

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



# Bump when a change to the readers would read an unchanged file differently (a headline, a date, a
# cleaned footer): the digest below then differs for every stored file, so the next sync reads each one
# again, and only the chunks whose text changed are embedded again (the record manager knows the rest).
READER_VERSION = 3  # 3: a JSON record without a title is titled by its text's opening words


def file_digest(path: Path) -> str:
    """What a sync compares to skip a file unread: the readers' version and its bytes' hash ("r3:9f86...")."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return f"r{READER_VERSION}:{h.hexdigest()}"


def bytes_digest(file_digest: str) -> str:
    """The hash of a file's bytes alone, from its `file_digest`: the same after a new readers' version, so a
    sync that meets moved files and a new version at once still knows them as moved (`indexing._moved_away`).
    (A digest stored before version 3 hashed the version in: such a file, moved in the sync that reads it
    again, is kept at its old path too until that path is synced.)"""
    return file_digest.rpartition(":")[2]


def content_hash(text: str) -> str:
    """Hash of the text with white space folded, so re-saved copies of one article match."""
    return hashlib.sha256(" ".join(text.split()).encode()).hexdigest()[:16]


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def unsupported_type_text(suffix: str = "", separator: str = ", ") -> str:
    """ "unsupported file type '.pdf' (use .htm, .html, ...)": why a file is not read as an article;
    `suffix` "" leaves its type unnamed; `separator` goes between the supported types (an ingest's report
    lists them with commas, the upload form with spaces)."""
    named = f" '{suffix}'" if suffix else ""
    return f"unsupported file type{named} (use {separator.join(sorted(SUPPORTED_SUFFIXES))})"


def is_article_name(relative: Path) -> bool:
    """Whether a file, named relative to the folder being read, is read as an article: a supported type,
    not hidden (`is_hidden`)."""
    return is_supported(relative) and not is_hidden(relative)


def is_hidden(relative: Path) -> bool:
    """A hidden file or one inside a hidden folder (.git, .Trash, editor backups), relative to the
    folder being read: never read as an article."""
    return any(part.startswith(".") for part in Path(relative).parts)


def read_file(path: Path, max_file_mb: float = MAX_FILE_MB, max_jsonl_mb: float = MAX_JSONL_MB) -> ReadResult:
    """Read every article in one file: one of up to `max_file_mb` (a txt, md or html article), or an export
    of many (JSON or JSONL) of up to `max_jsonl_mb`. Raises ArticleError when the file as a whole is unusable."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ArticleError(unsupported_type_text(suffix or path.name))
    size = path.stat().st_size
    limit = max_jsonl_mb if suffix in JSON_SUFFIXES | JSONL_SUFFIXES else max_file_mb
    if size > limit * 1024 * 1024:
        raise ArticleError(f"file is {round(size / 1024 / 1024, 2):g} MB, over the {limit:g} MB limit for {suffix} files")
    if size == 0:
        raise ArticleError("file is empty")
    if suffix in JSONL_SUFFIXES:
        return _read_jsonl(path)
    result = ReadResult()
    text = _decode(path.read_bytes(), result.warnings, page=suffix in HTML_SUFFIXES)
    if not text.strip():
        raise ArticleError("file is empty (only white space)")
    if suffix in JSON_SUFFIXES:
        return _read_json(path, text, result)
    parse = parse_html if suffix in HTML_SUFFIXES else parse_markdown if suffix in MARKDOWN_SUFFIXES else parse_text
    result.articles.append(parse(text, str(path), result.warnings))
    return result


_BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


_WESTERN = ("utf-8", "cp1252", "iso8859-1", "ascii")  # read as Windows-1252, as browsers read Latin-1 and ASCII


def _decode(data: bytes, notes: list[str], where: str = "file ", page: bool = False) -> str:
    """Text from bytes: UTF-8, or UTF-16/32 with a byte-order mark; else, for a saved web `page`, the
    charset its <meta> names ("windows-1251"); else Windows-1252 (said in `notes`). A page whose bytes
    are valid UTF-8 is read as UTF-8 whatever it declares (a browser that saved it re-encoded it).
    NUL bytes early on mean a binary file; later ones are removed with the article's other control
    characters (`_make_article`)."""
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), None)
    if encoding is None and b"\x00" in data[:8192]:
        raise ArticleError(f"{where}is binary, not text")
    try:
        return data.decode(encoding or "utf-8")
    except UnicodeDecodeError as e:
        if encoding:
            raise ArticleError(f"{where}is not valid {encoding.upper()} (bad byte at offset {e.start})") from None
        if page and (declared := declared_charset(data)) and declared not in _WESTERN:
            return data.decode(declared, errors="replace")
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise ArticleError(f"{where}is not valid UTF-8 (bad byte at offset {e.start})") from None
        notes.append(f"{where}is not UTF-8: read as Windows-1252")
        return text


# ---------------------------------------------------------------- plain text and saved news pages

_ISO_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?$")
_CHROME_LINES = {"also read", "read", "fancy a voyage of discovery?", "my space", "latest", "you may like",
                 "trends 24h", "also at", "(pm)"}
_FOOTER_START = re.compile(r"^(All news articles on |You may like$|Trends 24h$|© Communities )")


def _unix_lines(text: str) -> str:
    """Lines ended by a newline alone, whatever ended them in the file: Windows' CR LF, or the CR alone of
    files from old Macs and some exporters (which read as one long line, with CRs in every quote)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def parse_text(text: str, path: str, notes: list[str] | None = None) -> Article:
    """A .txt file: a saved news page (the seed format) when it looks like one, else title + body."""
    lines = [ln.strip() for ln in _unix_lines(text).split("\n")]
    if _looks_like_saved_page(lines):
        return _parse_saved_page(lines, path, notes)
    paragraphs = _paragraphs(lines)
    title = paragraphs[0] if len(paragraphs) > 1 and len(paragraphs[0]) < 200 else ""
    body_paragraphs = paragraphs[1:] if title else paragraphs
    return _make_article(title or _title_from_path(path), "\n\n".join(body_paragraphs), path, notes=notes)


def _looks_like_saved_page(lines: list[str]) -> bool:
    head = [ln for ln in lines[:12] if ln]
    return len(head) >= 4 and any(_ISO_TIMESTAMP.match(ln) for ln in head[:5])


def _parse_saved_page(lines: list[str], path: str, notes: list[str] | None) -> Article:
    """The seed format: site header, title, ISO timestamp, a teaser line, then the page text.

    Site chrome (header, teaser, "Created:"/"By:" lines, photo credits, "also read ... READ"
    blocks, "In the video:" lines and the footer) is dropped; the outlet comes from the last "Source: X".
    """
    head = [ln for ln in lines if ln]
    stamp_at = next(i for i, ln in enumerate(head[:5]) if _ISO_TIMESTAMP.match(ln))
    title = head[stamp_at - 1] if stamp_at else ""
    published = _iso_date(head[stamp_at][:10], notes, "the page's date")
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
    # The page's last "Source: X" line before its footer ends its text and names its outlet; an earlier one is
    # the article's own text ("Source: Marlow health board weekly figures" under a table cut the article there
    # and became its outlet), unless no text came before it (a "Source:" line in the header names the outlet).
    footer = next((i for i, ln in enumerate(rest) if _FOOTER_START.match(ln)), len(rest))
    last_source = max((i for i, ln in enumerate(rest[:footer]) if ln.startswith("Source: ")), default=-1)
    for i, ln in enumerate(rest):
        low = ln.lower()
        if ln.startswith("Source: ") and (i == last_source or not body):
            source = ln[len("Source: "):].strip()
            if body:
                break
            continue
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
    return _make_article(title or _title_from_path(path), "\n\n".join(body), path, notes=notes, published=published,
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


UNTITLED_WORDS = 12  # (judgement, not measured: about a headline's length)


def _title_from_text(body: str) -> str:
    """The title of a JSON record that has none: its text's first UNTITLED_WORDS words ("The council voted
    on Tuesday to close the Wexley bridge to lorries from…"). It was the file's name, the same on the
    source card of every untitled record of an export."""
    words = body.split()
    if len(words) <= UNTITLED_WORDS:
        return " ".join(words)
    return " ".join(words[:UNTITLED_WORDS]).rstrip(",;:") + "…"


# ---------------------------------------------------------------- Markdown

_FRONT_MATTER = re.compile(r"^---\n(.*?)\n---\n", re.S)


def parse_markdown(text: str, path: str, notes: list[str] | None = None) -> Article:
    """A Markdown article: optional YAML-ish front matter, the first `# ` heading as title."""
    text = _unix_lines(text)
    meta: dict[str, str] = {}
    m = _FRONT_MATTER.match(text)
    if m:
        for ln in m.group(1).splitlines():
            key, sep, value = ln.partition(":")
            if sep:
                meta[key.strip().lower()] = _unquoted(value.strip())
        text = text[m.end():]
    lines = text.split("\n")
    title = meta.get("title", "")
    for i, ln in enumerate(lines):
        # the first "# " heading is the title, unless the front matter has another (then it is a heading
        # of the text); the same title again under the front matter is not body text
        if ln.startswith("# "):
            if not title or ln[2:].strip() == title:
                title = title or ln[2:].strip()
                del lines[i]
            break
    paragraphs = _paragraphs([ln.strip() for ln in _markdown_lines(lines)])
    return _make_article(title or _title_from_path(path), "\n\n".join(paragraphs), path, notes=notes,
                         published=_iso_date(next((meta[k] for k in DATE_FIELDS if meta.get(k)), ""), notes,
                                             "the front matter"),
                         source=meta.get("source", ""), url=meta.get("url", ""),
                         authors=_authors(meta.get("authors") or meta.get("author")))


def _unquoted(value: str) -> str:
    """A front-matter value without the quotes around it: `"Oak Avenue \"Veterans Way\""` keeps its inner
    quotes, and a title that ends with a quotation keeps its closing mark."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        return inner.replace('\\"', '"') if value[0] == '"' else inner.replace("''", "'")
    return value


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")
_MD_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_MD_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s+\S")  # its number is text the reader sees: kept
_MD_FIRST = re.compile(r"^\s*1[.)]\s+\S")  # a list from 1 may start inside a paragraph (CommonMark)
_MD_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$"  # |---|:--:| and ---
                      r"|^\s*([-*_])(\s*\2){2,}\s*$")  # * * *
# [text](address), ![alt](src): an address may hold one pair of brackets ("/wiki/Mercury_(planet)")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"]*\")?\)")
_MD_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_MD_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_ITEM_END = re.compile(r"[.!?…:][\"”’')\]]*$")  # an item that ends a sentence, or leads into the next ones
ITEM_MIN_WORDS = 3  # "Politics", "Home page": a menu's items, not sentences


# An item that is no claim of the article's: a table of contents' or a teaser's ("What happens next", "How
# property taxes will change", "Read the full budget"), or, as `_list_item`'s `linked`, a link and no more
# (related stories: "Mayor Smith resigns after ethics probe"). The review found such items quoted as answers.
_NO_CLAIM = re.compile(r"(what|how|why|when|where|who|which|whether|read|see|watch|listen|more|related|also|"
                       r"sign|subscribe|click|follow|share|download|view|explore|find)\b", re.I)


def _list_item(text: str, linked: bool = False) -> str:
    """A list item (its marker taken off) as a sentence: with a full stop when it has none ("Property tax
    rises by 4.5% from April."), so that answers can quote it; without one it read as a heading, which
    answers never quote. A closing ";" or "," becomes the full stop. An item of fewer than
    `ITEM_MIN_WORDS` words stays as it is, and so do one that ends in ":" (it leads into a list), one that
    is all a link (`linked`) and a contents' or teaser's line (`_NO_CLAIM`)."""
    text = text.strip()
    if len(text.split()) < ITEM_MIN_WORDS or _ITEM_END.search(text) or linked or _NO_CLAIM.match(text):
        return text
    return text.rstrip(";,").rstrip() + "."


def _table_row(header: list[str], cells: list[str]) -> str:
    """A table row as a sentence: each cell after its column's name ("Candidate: Carla Mendes; Votes:
    10,122."), so that a quote of it says what its figures are and can be quoted at all: as "Carla Mendes
    | Green | 10,122" it read as a heading (no full stop), which answers never quote. Without a header
    row of as many cells, the cells as they are, between bars."""
    if header and len(header) == len(cells) and any(cells):
        text = "; ".join(f"{name}: {cell}" if name else cell for name, cell in zip(header, cells) if cell)
        return text if text.endswith((".", "!", "?")) else f"{text}."
    return " | ".join(cells)


def _markdown_lines(lines: list[str]) -> list[str]:
    """The lines of a Markdown text as the text it shows: each heading (the title taken out), list item and
    table row a paragraph of its own (not folded into one line with its neighbours, so that a quote can
    be one of them), without the marks (`## `, `- `, `|---|`, `**`, `[text](address)`). A numbered item
    keeps its number, and starts only after a blank line or another item (as in CommonMark, "3 to\n2. The
    crowd" is one sentence); an item goes on over its next lines until a blank line."""
    out: list[str] = []
    items: list[tuple[int, bool]] = []  # where in `out` each list item is (read on over its lines), and
    # whether it is all a link
    item = fenced = False
    header: list[str] = []  # the cells of the table's header row, under which the rows now read
    row: list[str] = []  # the cells of the table row just read
    for raw in lines:
        if raw.lstrip().startswith(("```", "~~~")):  # a code block's fence: its lines are kept as they are
            fenced, item = not fenced, False
            out.append("")
            continue
        if fenced:
            out.append(raw)
            continue
        line = _MD_STRONG.sub(r"\2", _MD_LINK.sub(r"\1", raw))
        starts = item or not out or not out[-1].strip() or bool(_MD_FIRST.match(line))
        cells, row = row, []
        is_row, is_rule = bool(_MD_TABLE_ROW.match(line)), bool(_MD_RULE.match(line))
        if not (is_row or is_rule):
            header = []
        if heading := _MD_HEADING.match(line):
            out += ["", heading.group(2), ""]
        elif is_rule and line.strip():
            if "|" in line and cells:  # |---|: the row above it is the header
                header = cells
            out.append("")
        elif (bullet := _MD_BULLET.match(line)) or (starts and _MD_NUMBERED.match(line)):
            out += ["", bullet.group(1) if bullet else line.strip()]
            raw_item = _MD_BULLET.match(raw)
            items.append((len(out) - 1, bool(raw_item and _MD_LINK.fullmatch(raw_item.group(1).strip()))))
            item = True
            continue
        elif is_row:
            row = [cell.strip() for cell in line.strip()[1:-1].split("|")]
            out += ["", _table_row(header, row), ""]
        elif item and line.strip():
            out[-1] += " " + line.strip()  # the list item goes on
            continue
        else:
            if item:
                out.append("")
            out.append(line)
        item = False
    for i, linked in items:
        out[i] = _list_item(out[i], linked)
    return out


# ---------------------------------------------------------------- HTML

_SITE_NAME_META = ("og:site_name", "application-name")
_DATE_META = ("article:published_time", "og:article:published_time", "datePublished", "date", "pubdate",
              "parsely-pub-date", "dc.date", "DC.date.issued")


def parse_html(text: str, path: str, notes: list[str] | None = None) -> Article:
    """A saved news page, read with trafilatura: the article's text without navigation, related
    stories, captions, banners or footers, and its title, author, outlet and date. The date is the
    page's own (its meta tags) when it has one, else what htmldate finds in the page, unless that is
    only its copyright year."""
    doc = trafilatura.bare_extraction(text, with_metadata=True, include_comments=False, include_tables=True,
                                      include_images=False)
    if doc is None or not (doc.text or "").strip():
        raise ArticleError("no article text found in the page (is it a list of links, a login page, or "
                           "a page drawn by scripts?)")
    title = " ".join((doc.title or "").split()) or _title_from_path(path)
    paragraphs = [" ".join(line.split()) for line in doc.text.split("\n")]
    tree = _page_tree(text)
    # trafilatura writes a list item as "- item": the item as it reads, like a Markdown one
    linked = _linked_items(tree)
    paragraphs = [_list_item(p[2:], p[2:] in linked) if p.startswith("- ") else p for p in paragraphs if p]
    if paragraphs and paragraphs[0] == title:
        paragraphs = paragraphs[1:]  # the headline, repeated above the text
    own_date, site_name = _meta_contents(tree, _DATE_META, _SITE_NAME_META)
    guessed = doc.date or ""
    if guessed.endswith("-01-01") and re.search(rf"(©|&copy;|copyright)\s*(\d{{4}}\s*[-–]\s*)?{guessed[:4]}", text, re.I):
        guessed = ""  # htmldate took the footer's "© 2026" for the page's date: a page without one is undated
    published = _iso_date(own_date, notes, "the page's date") if own_date else _iso_date(guessed, None, "")
    return _make_article(title, "\n\n".join(paragraphs), path, notes=notes, published=published,
                         # the page's own name as it writes it: trafilatura capitalises "brenfordherald", and
                         # one outlet stored under two spellings split the outlet filter
                         source=site_name or doc.sitename or "", url=doc.url or "",
                         authors=_authors((doc.author or "").replace("; ", ", ")))


def _page_tree(text: str):
    """The page parsed by lxml, for its <meta> tags and list items; None when it cannot be parsed."""
    try:
        return lxml.html.fromstring(text)
    except (ValueError, lxml.etree.ParserError):
        return None


def _linked_items(tree) -> set[str]:
    """The text of each list item (<li>) that is all a link (related stories, a table of contents), white
    space folded."""
    if tree is None:
        return set()
    found = set()
    for li in tree.iter("li"):
        text = " ".join(li.text_content().split())
        if text and text == " ".join(" ".join(a.text_content() for a in li.iter("a")).split()):
            found.add(text)
    return found


def _meta_contents(tree, *groups: tuple[str, ...]) -> list[str]:
    """For each group of names, the content of the first of those <meta> tags (by property, name or
    itemprop) that the page (`_page_tree`) has ("" when none)."""
    if tree is None:
        return ["" for _ in groups]

    def first(names: tuple[str, ...]) -> str:
        for name in names:
            for attribute in ("property", "name", "itemprop"):
                found = tree.xpath(f"//meta[@{attribute}=$v]/@content", v=name)
                if found and found[0].strip():
                    return found[0].strip()
        return ""
    return [first(names) for names in groups]


# ---------------------------------------------------------------- JSON and JSONL records

def _load_json(text: str, where: str = "") -> object:
    """json.loads, with what it cannot read as an ArticleError (`where`: "line 3: " of a JSONL file): bad
    JSON, nesting too deep, a number of thousands of digits; lone UTF-16 surrogates ("\\ud83d", half an
    emoji), which no file or database can store, are replaced by U+FFFD."""
    try:
        return _mended(json.loads(text))
    except json.JSONDecodeError as e:
        what = e.msg.removesuffix(" at")  # ("Invalid control character at": json's message for its own position)
        raise ArticleError(f"{where}invalid JSON at column {e.colno}: {what}" if where else
                           f"invalid JSON at line {e.lineno}, column {e.colno}: {what}") from None
    except RecursionError:
        raise ArticleError(f"{where}invalid JSON: nested too deeply to read") from None
    except ValueError:  # (json.loads refuses a number of over 4,300 digits)
        raise ArticleError(f"{where}invalid JSON: a number too long to read") from None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _mended(value: object) -> object:
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_mended(v) for v in value]
    if isinstance(value, dict):
        return {_mended(k): _mended(v) for k, v in value.items()}
    return value


def _read_json(path: Path, text: str, result: ReadResult) -> ReadResult:
    data = _load_json(text)
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]  # the NewsAPI response shape
    records = data if isinstance(data, list) else [data]
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
                record = _load_json(_decode(raw, result.warnings, f"line {lineno} "), f"line {lineno}: ")
            except ArticleError as e:
                result.errors.append(str(e))
                continue
            _add_record(result, record, str(path), f"line {lineno}")
    if not result.articles and not result.errors:
        raise ArticleError("file has no records")
    return result


def _add_record(result: ReadResult, record: object, path: str, where: str) -> None:
    try:
        result.articles.append(parse_record(record, path, result.warnings, where))
    except ArticleError as e:
        result.errors.append(f"{where}: {e}")


def article_record(id: str, title: str, url: str, published: str, source: str, authors: list[str],
                   text: str) -> dict:
    """One article as a JSON record that `parse_record` reads back whole: what the feed follower saves."""
    return {"id": id, "title": title, "url": url, "published": published, "source": source, "authors": authors,
            "text": text}


def parse_record(record: object, path: str, notes: list[str] | None = None, where: str = "the record") -> Article:
    """One JSON object from a news API export."""
    if not isinstance(record, dict):
        raise ArticleError(f"expected an object, got {type(record).__name__}")
    text = next((record[k] for k in TEXT_FIELDS if isinstance(record.get(k), str) and record[k].strip()), None)
    if text is None:
        raise ArticleError("no article text (expected a non-empty 'text', 'body' or 'content' field)")
    text = plain_text(text)
    if cut := _CUT_SHORT.search(text):  # NewsAPI's free plan: the first 200 characters, then "[+2412 chars]"
        text = text[:cut.start()].rstrip(" …") + "…"  # (the ellipsis shows a quote of its end is cut short)
        lede = plain_text(record["description"]) if isinstance(record.get("description"), str) else ""
        if not text.strip(" …") and not lede.strip():
            raise ArticleError("no article text: only the news service's cut mark")
        whole_words = " ".join(text.split()[:-1])  # (the last word may be cut)
        if whole_words and whole_words in " ".join(lede.split()):
            text = lede  # its summary, which the export has whole, holds all the cut text says
        elif lede.strip() and " ".join(lede.split()) not in " ".join(text.split()):
            text = f"{lede}\n\n{text}"
        said = "texts cut short by the news service"
        if notes is not None and not any(said in note for note in notes):  # (said once a file)
            notes.append(f"{said} ('{cut.group(1)}', as NewsAPI's free plan gives them): only their first "
                         f"part and their description are stored; save the whole articles to quote all of them")
    source = record.get("source") or ""
    if isinstance(source, dict):  # NewsAPI: {"id": ..., "name": ...}
        source = source.get("name") or source.get("id") or ""
    published = next((str(record[k]) for k in DATE_FIELDS if record.get(k)), "")
    body = "\n\n".join(_paragraphs([ln.strip() for ln in _unix_lines(text).split("\n")]))
    title = plain_text(str(record.get("title") or "")).strip() or _title_from_text(body)
    url = str(record.get("url") or "")
    own_id = record.get("id")
    article = _make_article(title, body, path, notes=notes, where=where,
                            published=_iso_date(published, notes, where), source=str(source), url=url,
                            authors=_authors(record.get("authors") or record.get("author")),
                            record_id=str(own_id) if own_id not in (None, "") else "")
    if not article.record_id:  # (keyed by the text as stored, so that `keyed_by_text` knows it again)
        article.record_id = _record_key(url, article.title, article.body)
    return article


# A news API's mark for a text cut short: "... stakeholders… [+2412 chars]".
_CUT_SHORT = re.compile(r"\s*(\[\+\d+ chars\])\s*$")
# Markup in a record's text (a news API's `content` is often the page's HTML). A text is HTML when it
# closes one of these tags or breaks a line with <br>: "if a<b and c>d" is not. Block tags end a paragraph.
_IS_HTML = re.compile(r"</(p|div|span|a|b|i|em|strong|li|ul|ol|h[1-6]|blockquote|figure|figcaption|table|tr|td|"
                      r"section|article|sup|sub|code|cite)\s*>|<(br|hr|p|img|li)\b(\s+[\w-]+=(\"[^\"]*\"|'[^']*'|"
                      r"[^\s>]+))*\s*/?>", re.I)  # (an opening tag only with attributes written as such: not "<p and q>")
_UNREAD = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9-]*)\b(?:[^<>\"']|\"[^\"]*\"|'[^']*')*>")  # ("5 > 3" in a quoted value)
_BLOCK_TAGS = frozenset("article blockquote br div figcaption figure h1 h2 h3 h4 h5 h6 hr li ol p pre section "
                        "table tr ul".split())
_CHARACTER_REFERENCE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});")


def plain_text(text: str) -> str:
    """A record's text as it reads: when it is HTML (`_IS_HTML`), its tags taken out (a block tag ends its
    paragraph; scripts, styles and comments with what they hold), and character references written whole
    ("&amp;", "&#8217;", with their ";") as the characters they stand for: "?id=5&section=news" stays."""
    if _IS_HTML.search(text):
        text = _TAG.sub(lambda m: "\n\n" if m.group(1).lower() in _BLOCK_TAGS else "", _UNREAD.sub("", text))
    return with_characters(text)


def with_characters(text: str) -> str:
    """Character references written whole ("&amp;", "&#8217;", with their ";") as the characters they
    stand for; anything else as written ("?id=5&section=news", "AT&T"). The one entity rule of records'
    texts and titles and of feeds' HTML."""
    return _CHARACTER_REFERENCE.sub(lambda m: html.unescape(m.group(0)) if m.group(1).startswith("#")
                                    or f"{m.group(1)};" in html5 else m.group(0), text)


# ---------------------------------------------------------------- shared helpers

def _make_article(title: str, body: str, path: str, notes: list[str] | None = None, where: str = "the file",
                  published: str = "", source: str = "", url: str = "", authors: list[str] | None = None,
                  record_id: str = "") -> Article:
    """An article; `record_id` "" for a file holding one article (its id then stays when it is edited).
    Control characters (NUL and the like), wherever they came from, are removed and said in `notes`."""
    (title, n_title), (body, n_body) = _CONTROL.subn("", title), _CONTROL.subn("", body)
    if (n_title or n_body) and notes is not None:
        notes.append(f"{where}: {n_title + n_body} control character(s) (such as NUL) removed")
    if not body.strip():
        raise ArticleError("no article text left after removing page chrome")
    return Article(title=" ".join(title.split()), body=body, path=path, record_id=record_id, url=url,
                   published=published, source=source, authors=authors or [])


def article_hash(title: str, body: str) -> str:
    """What an article is compared by (copies, a record stored under another id), and a record with
    neither an id nor a URL is known by: its title and body."""
    return content_hash(f"{title}\n{body}")


def _record_key(url: str, title: str, body: str) -> str:
    """The id of a record that has none of its own: its URL, else its text (`article_hash`)."""
    return content_hash(url) if url else article_hash(title, body)


def keyed_by_text(article: Article) -> bool:
    """Whether a record's id is its text (`_record_key`: it had neither an id nor a URL), so that an edit
    of its text gives it another id."""
    return not article.url and article.record_id == _record_key("", article.title, article.body)


def _authors(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(a).strip() for a in value if str(a).strip()]
    if isinstance(value, str) and value.strip():  # "A, B and C" or an inline list "[A, B]"
        names = re.split(r",| and ", value.strip().strip("[]"))
        return [a.strip().strip("\"'") for a in names if a.strip().strip("\"'")]
    return []


def _iso_date(value: str, notes: list[str] | None, where: str) -> str:
    """YYYY-MM-DD, or "" when there is no date. An impossible date (2023-02-30), or one written in no way
    `iso_date` reads, is said in `notes`: the article is kept without a date (it was dropped unsaid)."""
    try:
        day = iso_date(value)
    except DateError as e:
        day, why = "", str(e)
    else:
        why = f"'{str(value).strip()[:40]}' is not a date this app reads" if str(value or "").strip() and not day else ""
    if why and notes is not None:
        notes.append(f"{where}: {why}; the article is kept without a date")
    return day
