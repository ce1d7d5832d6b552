"""The plain records that flow through the pipeline: Article (and the ReadResult of a file, the Fetched
page of a feed), Chunk, the Filters of a search, a Query; the sentence Spans of an
article, the answerer's Candidate sentences and their Ranking, and its Proposal of RawCitations (what an
Answerer is); then the checked Citations of an Answer, and an ingest's IngestReport; a followed Feed, a
feed as read (ParsedFeed of Items), a PollResult and where a poll is (Reading)."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

from .settings import EXTRACTIVE

if TYPE_CHECKING:  # a type in an annotation only: the records need no numpy to be made
    import numpy as np

# What a search result, a source card or a citation says of an article without an outlet or a date.
UNKNOWN_OUTLET = "unknown outlet"
UNDATED = "undated"


def display_path(path: str) -> str:
    """A stored (absolute) path as users see it: relative to the working directory when inside it, with
    control characters (a newline in a file name) written as escapes so a name cannot forge a line."""
    if not path:
        return path
    try:
        shown = str(Path(path).relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = path
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in shown)


def article_uid(path: str, record_id: str) -> str:
    """An article's id, unique across files: its file and its id within the file (a news export's own
    record id, "" for a file holding one article). Two exports that reuse an id hold two articles."""
    return hashlib.sha256(f"{path}\n{record_id}".encode()).hexdigest()[:16]


@dataclass
class Article:
    """One news article: cleaned body text plus the metadata read from its file."""

    title: str
    body: str
    path: str  # the file it was read from, as stored (absolute)
    record_id: str = ""  # its id within the file ("" when the file holds one article)
    url: str = ""
    published: str = ""  # ISO date, YYYY-MM-DD, or "" when unknown
    source: str = ""  # the outlet, e.g. "merkur" or "cnn.com"
    authors: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return article_uid(self.path, self.record_id)


@dataclass
class ReadResult:
    """What one article file held (`articles.read_file`): its articles, and what could not be read."""

    articles: list[Article] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # records not read, e.g. "line 3: invalid JSON (...)"
    warnings: list[str] = field(default_factory=list)  # read, with a caveat, e.g. "line 4: ... kept without a date"


@dataclass
class Fetched:
    """A fetched feed or page (`fetching.Fetcher.get`)."""

    url: str  # where it was read from (after redirects)
    status: int
    body: bytes
    headers: dict  # lower-case names
    location: str = ""  # for a redirect: where it points (checked to be http(s))


@dataclass
class Filters:
    """Limits on what may be retrieved. Dates are YYYY-MM-DD; "" means no limit."""

    since: str = ""
    until: str = ""
    source: str = ""
    as_of: str = ""  # nothing published after it is used; the time prior is measured from it

    def describe(self) -> str:
        parts = []
        if self.since or self.until:
            parts.append(f"published {self.since or '…'} to {self.until or '…'}")
        if self.source:
            parts.append(f"outlet {self.source}")
        if self.as_of:
            parts.append(f"as of {self.as_of}")
        return ", ".join(parts) or "no filters"


@dataclass
class Chunk:
    """A passage of an article; `text == article.body[start:end]`."""

    text: str
    start: int
    end: int
    article_id: str  # the article's unique id (models.article_uid)
    record_id: str = ""  # the article's id within its file (stored in the vectors' metadata as "article_id":
    # store.RECORD_KEY, a name older than this field)
    title: str = ""
    url: str = ""
    published: str = ""
    source: str = ""
    path: str = ""
    # its cosine similarity to the query: shown, not what orders results (fusion of the dense and keyword
    # ranks with the date prior, `retrieval.fuse`), so a passage ranked second may show a higher score
    score: float = 0.0

    def article_ref(self) -> dict:
        return {
            "id": self.article_id,
            "record_id": self.record_id,
            "title": self.title,
            "url": self.url,
            "published": self.published,
            "source": self.source,
            "path": display_path(self.path),
        }

    def to_json(self, rank: int) -> dict:
        return {
            "rank": rank,
            "score": round(float(self.score), 4),
            "text": self.text,
            "article": self.article_ref(),
            "start": self.start,
            "end": self.end,
        }


@dataclass
class Span:
    """A sentence of a body: `body[start:end] == text`, with its shape."""

    text: str
    start: int
    end: int
    paragraph_start: bool  # the first sentence of its paragraph
    shape: str = "sentence"  # "sentence", "heading", "caption", "fragment"


@dataclass
class Candidate:
    """A sentence of a retrieved passage's article, in the passage where it ranks best."""

    span: Span
    passage: int  # 1-based rank of the retrieved passage
    chunk: Chunk
    index: int  # its position among its article's sentences
    terms: list[str] = field(default_factory=list)
    previous: Span | None = None  # the sentences before and after it in the article, for context
    following: Span | None = None


@dataclass
class Ranking:
    """The candidates in order with their probability of containing the answer, and of the question
    being answered by the best of them."""

    candidates: list[Candidate]
    probabilities: list[float]
    answerable: float
    features: np.ndarray | None = None  # kept for training (bench/ranker_data.py)


def results_json(chunks: list[Chunk]) -> list[dict]:
    """Ranked passages as `rag search --json` and the API give them."""
    return [c.to_json(rank) for rank, c in enumerate(chunks, 1)]


@dataclass
class Citation:
    """A verified quote: `quote == body[start:end]` of the cited article."""

    n: int
    quote: str
    start: int
    end: int
    chunk: Chunk  # the retrieved passage the quote came from (carries the article metadata)

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "quote": self.quote,
            "article": self.chunk.article_ref(),
            "start": self.start,
            "end": self.end,
        }


@dataclass
class Query:
    """What is searched for a question, and which words the answer should contain
    (answering.standalone_query makes it)."""

    text: str
    focus: list[str]  # terms of the question itself
    context: list[str]  # terms carried over from earlier questions
    as_of: str = ""  # the date "this week" counts from (YYYY-MM-DD)
    question: str = ""  # the question's own words: a follow-up's `text` holds the earlier ones too ("": `text`)
    earlier: list[str] = field(default_factory=list)  # the earlier questions a follow-up borrowed words from

    def __post_init__(self):
        self.question = self.question or self.text


@dataclass(frozen=True)
class WordsAsked:
    """A question for someone's words ("What did Tom Becker say about the flood?"), as
    `answering.words_asked` reads it once: the speaker's terms and what they are asked about ([] for
    anything)."""

    speaker: list[str]  # content terms, stemmed, in order: ["tom", "becker"]
    about: list[str]


UNQUOTED = -1  # RawCitation.n of a model's reply that quotes no passage at all (shown only as dropped)


@dataclass
class RawCitation:
    """A quote as proposed by an answerer: n is the 1-based number of the retrieved passage it cites."""

    n: int
    quote: str
    at: int | None = None  # where the answerer took it from in the article body, when it knows


@dataclass
class Proposal:
    """An answerer's quotes (checked by `citations.verify` before anything is shown)."""

    quotes: list[RawCitation]
    confidence: float | None = None  # probability that the quotes contain the answer; None: unknown
    related: list[RawCitation] = field(default_factory=list)  # offered when not confident enough


class Answerer(Protocol):
    """What proposes an answer's quotes: `answering.ExtractiveAnswerer` (the default, no model) or
    `llm.LLMAnswerer` (a chat model). `service.NewsChat.ask` checks every quote (`citations.verify`) and
    composes the reply; an answerer never shows anything itself."""

    name: str  # as the settings name it ("extractive", "ollama" ...)

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for."""

    def propose(self, query: Query, chunks: list[Chunk], bodies: dict[str, str],
                idf: Callable[[str], float] | None = None, store_chunks: int | None = None) -> Proposal:
        """The quotes that answer `query` from the retrieved `chunks` (best first; `bodies` holds their
        articles' stored text), or none with related reading when they do not answer it. `idf`: a term's
        rarity in the store; `store_chunks`: the store's size (small stores use other weights)."""


@dataclass
class Answer:
    """What `ask` returns: answer text with [n] markers, its citations and what was retrieved."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    retrieved: list[Chunk] = field(default_factory=list)
    refused: bool = False
    query: str = ""  # the standalone query actually searched (after follow-up rewriting)
    followed: list[str] = field(default_factory=list)  # the earlier questions `query` borrowed from (Query.earlier)
    dropped: list[str] = field(default_factory=list)  # quotes that failed verification
    answerer: str = EXTRACTIVE
    # The probability that the quotes contain the answer (None: the answerer cannot tell). Below the
    # threshold the answer is refused and the nearest sentences are offered as related reading.
    confidence: float | None = None
    related: list[Citation] = field(default_factory=list)  # related reading, not an answer

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "confidence": None if self.confidence is None else round(self.confidence, 3),
            "query": self.query,
            "answerer": self.answerer,
            "dropped_quotes": len(self.dropped),
            "citations": [c.to_json() for c in self.citations],
            "related": [c.to_json() for c in self.related],
            "retrieved": results_json(self.retrieved),
        }


SHOWN_REASONS = 3  # a summary line names the first few failures and counts the rest


def first_reasons(reasons: list[str]) -> str:
    """ "a.txt: empty; b.json: no text; c.md: unreadable (+2 more)": failures in a summary line."""
    more = f" (+{len(reasons) - SHOWN_REASONS} more)" if len(reasons) > SHOWN_REASONS else ""
    return "; ".join(reasons[:SHOWN_REASONS]) + more


def failure(path: str, error: str) -> dict:
    """One entry of `IngestReport.failed`, in DESIGN.md's shape: the file as the user names it, and why."""
    return {"path": path, "error": error}


def warning(path: str, text: str) -> dict:
    """One entry of `IngestReport.warnings`: the file or folder as the user names it, and the caveat."""
    return {"path": path, "warning": text}


@dataclass
class IngestReport:
    """The outcome of one sync of article files into the store."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    chunks_embedded: int = 0
    failed: list[dict] = field(default_factory=list)  # `failure`s
    warnings: list[dict] = field(default_factory=list)  # `warning`s: ingested, with a caveat
    repaired: int = 0  # leftovers of an interrupted earlier sync that were removed
    # a shared store's files that another machine stored and this one's folders do not hold: kept, as
    # that machine's (`indexing.machine_split`; `rag ingest --prune` removes them)
    kept_elsewhere: int = 0

    def counts(self) -> str:
        """ "2 added, 0 updated, 5 unchanged, 1 deleted, 1 failed": the one summary of an ingest, on the
        command line and on the page (which adds the reasons of the failures); in a shared store, then
        "; 3 kept as other machines' (gone here)" when there are such files (`kept_elsewhere`)."""
        kept = f"; {self.kept_elsewhere} kept as other machines' (gone here)" if self.kept_elsewhere else ""
        return (f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, {self.deleted} deleted, "
                f"{len(self.failed)} failed{kept}")

    @property
    def changed(self) -> bool:
        """Whether the sync changed the store: articles added, updated or deleted."""
        return bool(self.added or self.updated or self.deleted)

    def line(self) -> str:
        """ "2 added, 1 updated, 0 unchanged, 0 deleted, 1 failed: empty.txt: file is empty" (the counts,
        then the first three reasons by file name)."""
        if not self.failed:
            return self.counts()
        return f"{self.counts()}: {first_reasons(self.failures(by_name=True))}"

    def failures(self, by_name: bool = False) -> list[str]:
        """ "path: reason" for each file that failed (`by_name`: the file's name alone, as the page lists them)."""
        return [f"{Path(f['path']).name if by_name else f['path']}: {f['error']}" for f in self.failed]

    def problem_lines(self, prefix: str = "") -> list[str]:
        """The terminal's lines for the files that failed ("failed: path: reason") and those ingested with
        a caveat ("warning: path: warning"), each after `prefix` (`rag ingest`: none; the app: "rag: ")."""
        return ([f"{prefix}failed: {reason}" for reason in self.failures()]
                + [f"{prefix}warning: {w['path']}: {w['warning']}" for w in self.warnings])

    def embedded(self) -> str:
        """ "12 chunks embedded", then "; 2 leftovers of an interrupted ingest removed" when there were any
        (`repaired`): what the terminal's summary line says after the counts."""
        repaired = f"; {self.repaired} leftovers of an interrupted ingest removed" if self.repaired else ""
        return f"{self.chunks_embedded} chunks embedded{repaired}"

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "chunks_embedded": self.chunks_embedded,
            "failed": self.failed,
            "warnings": self.warnings,
            "repaired": self.repaired,
            "kept_elsewhere": self.kept_elsewhere,
        }


# ---------------------------------------------------------------- followed feeds and pages (feeds.py)

def digest(text: str) -> str:
    """A short hash of a text: a feed item's version, a saved item's file name and text."""
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class Item:
    """One item of a feed, whatever the feed's format (`feeds.parse_feed`), or a headline link of a
    followed page (`feeds.article_links`)."""

    key: str  # its id (RSS guid, Atom id, JSON Feed id), else its link; "" when it has neither
    link: str
    title: str = ""
    content: str = ""  # the feed's own HTML for it (its full content, else its summary)
    updated: str = ""  # as the feed wrote it (a page's headline link: its text without digits)
    published: str = ""  # YYYY-MM-DD, "" when the feed gives no date
    authors: list[str] = field(default_factory=list)
    outlet: str = ""  # the outlet an aggregator's item names as its source (RSS <source>), else ""
    from_page: bool = False  # a headline link of a followed page (`article_links`), not a feed's item
    own_id: str = ""  # the feed's own id, when `key` is that id made the feed's (`following.scope_key`)
    # a followed page's other headlines for the same story page (a live blog's "#update-2" links), in page order
    also: list[str] = field(default_factory=list)

    @property
    def version(self) -> str:
        """What the feed says of the item: another version means the item changed upstream (a followed
        page: its headline, or a new headline linking to another part of its page)."""
        return digest(f"{self.updated}\n{self.title}\n{self.content}" + "".join(f"\n{h}" for h in self.also))



@dataclass
class ParsedFeed:
    """A feed as read (`feeds.parse_feed`), or a followed page's headline links; its items each with a key
    of their own (`feeds.with_own_keys`)."""

    title: str
    link: str  # the site's own address, when the feed names it
    items: list[Item]
    page: bool = False  # a web page's article links read as a feed (`article_links`), not a feed


@dataclass
class Feed:
    url: str
    title: str = ""
    feed_url: str = ""  # when `url` is a web page: the feed it names (`feed_links`), polled in its place
    page_links: bool = False  # when `url` is a web page that names no feed: its article links are followed
    was_feed: bool = False  # `url` itself was read as RSS, Atom or JSON Feed: a web page there later is an error
    etag: str = ""
    modified: str = ""
    last_poll: str = ""
    last_result: str = ""
    added: int = 0  # items saved from it, over all polls
    updated: int = 0  # items it changed upstream, over all polls
    errors: list[str] = field(default_factory=list)  # of the last poll

    @classmethod
    def from_json(cls, data: dict) -> Feed:
        """A followed feed as the state file keeps it. A value of another type than its field's (a hand
        edit: `"added": "5"`) is read as the field's default: one odd value never stops a poll."""
        blank = cls(url="")
        return cls(**{f.name: list(v) if isinstance(v, list) else v  # (lists copied: `data` may be the state
                      for f in fields(cls) if f.name in data      # kept in memory)
                      and type(v := data[f.name]) is type(getattr(blank, f.name))})

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class PollResult:
    url: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    not_modified: bool = False  # the feed answered 304: nothing new since the last poll
    left: int = 0  # a followed page's new stories left for the next polls (over PAGE_LINKS)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # a followed page's links found to be no story ("URL: why")
    report: IngestReport | None = None  # the indexing of what was saved, when anything was

    def summary(self) -> str:
        """ "2 new, 1 updated, 5 already seen, 1 failed: URL: reason" """
        text = "not modified since the last poll" if self.not_modified else \
            f"{self.added} new, {self.updated} updated, {self.unchanged} already seen"
        if self.left:
            text += f", {self.left} more new stories left for the next polls"
        if self.skipped:
            text += f", {len(self.skipped)} skipped: {first_reasons(self.skipped)}"
        if self.errors:
            text += f", {len(self.errors)} failed: {first_reasons(self.errors)}"
        return text

    def line(self) -> str:
        return f"{self.url}: {self.summary()}"

    def to_json(self) -> dict:
        return {"url": self.url, "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
                "not_modified": self.not_modified, "left": self.left, "errors": self.errors, "skipped": self.skipped}


@dataclass(frozen=True)
class Reading:
    """Where a poll is: its feed, items looked at of all the feed lists (0 of 0: the feed itself is
    being read), or indexing what it saved."""

    url: str
    done: int = 0
    total: int = 0
    indexing: bool = False

    def describe(self) -> str:
        if self.indexing:
            return "indexing the new items…"
        return f"reading its items ({self.done} of {self.total})…" if self.total else "reading it…"
