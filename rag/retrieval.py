"""Finding the passages for a query: dense (Chroma) and BM25 (bm25s) results fused, with date and
outlet filters applied inside each search, and a time prior around the "as of" date."""

from __future__ import annotations

import bisect
import json
import logging
import math
import os
import shutil
import sqlite3
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np
from chromadb.errors import ChromaError
from filelock import FileLock

from .checkpoints import reached
from .dates import day_number, time_prior, time_window
from .models import Chunk, Filters
from .store import Store, chunk_from_metadata, metadata_uid
from .text import INDEX_STOPWORDS, TOKEN_PATTERN, english_idf, english_stemmer, spelled_alike, unaccented

log = logging.getLogger(__name__)

# English rarity counts as much as this many stored chunks (see _Snapshot.idf): a store of a few articles
# leans on English rarity, one of the ranker's training size (9,558 chunks and more) keeps at least 95% of
# the weight on its own. (Not tied to answering.SMALL_STORE_CHUNKS, which is also 500.)
BACKGROUND_CHUNKS = 500


# ---------------------------------------------------------------- filters in the store query

@dataclass(frozen=True)
class _Limits:
    """What `Filters` let through, the one rule both searches apply (Chroma's `where` for the dense
    side, `_Snapshot.mask` for BM25): days from `first` to `last` (None: open), undated articles only
    without an explicit date range (as-of alone keeps them: nothing says when they were written), and
    only the outlet `source` when one is named."""

    first: int | None
    last: int | None
    undated: bool
    source: str

    @classmethod
    def of(cls, filters: Filters) -> _Limits:
        last = [day_number(d) for d in (filters.until, filters.as_of) if d]
        return cls(day_number(filters.since) if filters.since else None, min(last) if last else None,
                   not (filters.since or filters.until), filters.source)


def chroma_where(filters: Filters) -> dict | None:
    limits = _Limits.of(filters)
    clauses: list[dict] = []
    if limits.first is not None:
        clauses.append({"day": {"$gte": limits.first}})
    if limits.last is not None:
        before = {"day": {"$lte": limits.last}}
        clauses.append({"$or": [before, {"day": 0}]} if limits.undated else before)
    if not limits.undated:
        clauses.append({"day": {"$gt": 0}})
    if limits.source:
        clauses.append({"source": limits.source})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


# ---------------------------------------------------------------- BM25

@dataclass(frozen=True)
class _Snapshot:
    """One consistent state of the keyword index; a rebuild makes a new one and swaps it in whole."""

    stamp: str = ""
    bm25: object = None
    ids: tuple[str, ...] = ()
    days: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    sources: tuple[str, ...] = ()
    position: dict[str, int] = field(default_factory=dict)

    frequencies: dict[str, int] = field(default_factory=dict)  # term -> how many chunks hold it
    ordered: tuple[str, ...] = ()  # the terms, sorted: for `mentions`' near spellings
    unaccented: frozenset[str] = frozenset()  # the terms with accents, without them ("müller" -> "muller")

    @classmethod
    def of(cls, stamp: str, bm25, ids: list[str], days: list[int], sources: list[str]) -> _Snapshot:
        frequencies = {}
        if bm25 is not None:
            counts = np.diff(np.asarray(bm25.scores["indptr"]))
            frequencies = {term: int(counts[i]) for term, i in bm25.vocab_dict.items() if i < len(counts) and counts[i]}
        return cls(stamp, bm25, tuple(ids), np.asarray(days, dtype=np.int32), tuple(sources),
                   {chunk_id: i for i, chunk_id in enumerate(ids)}, frequencies, tuple(sorted(frequencies)),
                   frozenset(unaccented(term) for term in frequencies if not term.isascii()))

    def mentions(self, name: str, rarity: float) -> bool:
        """Whether a stored chunk holds the name (a term, as `text.terms` gives it) or another spelling of it
        (`text.spelled_alike`). The index's whole vocabulary, not only the chunks a search returned."""
        if name in self.frequencies or (bare := unaccented(name)) in self.frequencies or bare in self.unaccented:
            return True  # (as spelled, or with or without accents: "Jose Muller" is the articles' José Müller)
        start = bisect.bisect_left(self.ordered, name[:2])  # (the words with its first two letters)
        end = bisect.bisect_left(self.ordered, name[:2] + "\uffff", start)
        return spelled_alike(name, self.ordered[start:end], rarity)

    def idf(self, term: str) -> float:
        """How rare a term (as `text.terms` gives it) is: BM25's IDF among the stored chunks, blended
        with its rarity in English (`text.english_idf`) in proportion to the store's size. In a store
        of a few articles every word of their subject is in every chunk and its own IDF says nothing
        (the learned ranker then refused the seed's own questions); in a store of the size the ranker
        was trained on (9,558 chunks and more) the store's own IDF keeps at least 95% of the weight."""
        n, df = len(self.ids), self.frequencies.get(term, 0)
        own = math.log(1 + (n - df + 0.5) / (df + 0.5)) if n else 0.0
        trust = n / (n + BACKGROUND_CHUNKS)
        return trust * own + (1 - trust) * english_idf(term)

    def mask(self, filters: Filters) -> np.ndarray | None:
        """1 for each chunk `filters` let through (`_Limits`), else 0; None when they let all through."""
        limits = _Limits.of(filters)
        keep = np.ones(len(self.ids), dtype=bool)
        if limits.first is not None:
            keep &= self.days >= limits.first
        if limits.last is not None:
            keep &= (self.days <= limits.last) | (limits.undated & (self.days == 0))
        if not limits.undated:
            keep &= self.days > 0
        if limits.source:
            keep &= np.asarray([s == limits.source for s in self.sources], dtype=bool)  # bool when empty too
        return None if keep.all() else keep.astype(np.float32)

    def passes(self, mask: np.ndarray | None):
        """A check chunk id -> let through by `mask` (None: every chunk), or None for a chunk this index
        has not seen (written after it was built, as while an ingest runs): it cannot tell."""
        def check(chunk_id: str) -> bool | None:
            at = self.position.get(chunk_id)
            return None if at is None else mask is None or bool(mask[at] > 0)
        return check

    def search(self, query: str, mask: np.ndarray | None, n: int) -> list[tuple[str, float]]:
        """The n best BM25 matches among the chunks `mask` lets through, with their scores."""
        if self.bm25 is None or (mask is not None and not mask.any()):
            return []
        tokens = tokenize([query])
        if not tokens.vocab:
            return []
        n = min(n, len(self.ids))
        docs, scores = self.bm25.retrieve(tokens, k=n, show_progress=False, weight_mask=mask, n_threads=1)
        return [(self.ids[int(i)], float(s)) for i, s in zip(docs[0], scores[0]) if s > 0]


class LexicalIndex:
    """A bm25s index over every stored chunk, saved beside the store and rebuilt only after it changed.

    Written here rather than LangChain's BM25Retriever: that one wraps rank_bm25, which scores every
    chunk in Python per query (seconds at 100,000 chunks) and cannot be saved; bm25s answers in
    milliseconds and loads from disk. A rebuild re-tokenizes only chunks it has not seen before
    (their tokens are kept in bm25/tokens.sqlite). Each build is written to a folder of its own and
    then named current (an atomic rename), so a crash mid-write or another process reading never
    sees half an index. A question never waits for a rebuild: it uses the previous index, and a
    rebuild it finds due (another process changed the store) starts in the background.
    """

    def __init__(self, store: Store):
        self.store = store
        self.dir = store.dir / "bm25"
        self.snapshot = _Snapshot()
        self.hold = False  # set by an ingest in progress: the index is brought up to date when it ends
        self._lock = threading.Lock()

    def current_stamp(self) -> str:
        return f"{self.store.catalog.meta('revision')}|{self.store.collection.count()}"

    def ensure_fresh(self, wait: bool = True) -> _Snapshot:
        """Load or rebuild the index if the store changed since, and return it. With wait=False (a
        question) the index at hand is returned at once, and a due rebuild runs in the background."""
        if not wait and self.snapshot.stamp:
            if not self.hold and not self._lock.locked() and self.current_stamp() != self.snapshot.stamp:
                threading.Thread(target=self._refresh, name="rag-bm25", daemon=True).start()
            return self.snapshot
        with self._lock:
            stamp = self.current_stamp()
            if stamp != self.snapshot.stamp:
                self.snapshot = self._load(stamp) or self._build(stamp)
            return self.snapshot

    def _refresh(self) -> None:
        """`ensure_fresh` in the background: a failure is logged (in one line when the store's server does not
        answer, `Store.log_failure`), not printed whole by the thread's default hook over `rag eval`'s
        output (the review); the next question tries again."""
        try:
            self.ensure_fresh()
        except Exception as e:
            self.store.log_failure(log, e, "bringing the keyword index up to date")

    def _current_dir(self) -> Path | None:
        try:
            return self.dir / (self.dir / "CURRENT").read_text().strip()
        except OSError:
            return None

    def _load(self, stamp: str) -> _Snapshot | None:
        folder = self._current_dir()
        try:
            if folder is None or (folder / "stamp.txt").read_text() != stamp:
                return None
            extra = json.loads((folder / "chunks.json").read_text())
            bm25 = bm25s.BM25.load(str(folder), show_progress=False) if extra["ids"] else None
        except Exception as e:  # a cache: a file cut short by a power cut or a full disk is built again
            log.warning("the keyword index in %s cannot be read (%s: %s); building it again",
                        folder, type(e).__name__, e)
            return None
        return _Snapshot.of(stamp, bm25, extra["ids"], extra["days"], extra["sources"])

    def _build(self, stamp: str) -> _Snapshot:
        """Build the index for `stamp`, one process at a time: a process that waited for another's
        build loads it (that one removes the older folders, which must not be one still being written)."""
        self.dir.mkdir(exist_ok=True)
        with FileLock(str(self.dir / "build.lock")):
            return self._load(stamp) or self._build_now(stamp)

    def _build_now(self, stamp: str) -> _Snapshot:
        collection = self.store.collection
        listed = [i for offset in range(0, collection.count(), 5000)
                  for i in collection.get(include=[], limit=5000, offset=offset)["ids"]]
        cached = self.dir / "tokens.sqlite"
        try:
            ids, days, sources, tokens = TokenCache.read(cached, collection, listed)
        except sqlite3.DatabaseError as e:  # a cache: garbled, it is made anew from the vectors' texts
            log.warning("the keyword index's word cache %s cannot be read (%s); making it anew", cached, e)
            for path in (cached, cached.with_name(cached.name + "-journal")):
                path.unlink(missing_ok=True)
            ids, days, sources, tokens = TokenCache.read(cached, collection, listed)
        bm25 = None
        folder = Path(tempfile.mkdtemp(prefix="index-", dir=self.dir))
        if ids:
            bm25 = bm25s.BM25()
            bm25.index(tokens, show_progress=False)
            bm25.save(str(folder), show_progress=False)
        (folder / "chunks.json").write_text(json.dumps({"ids": ids, "days": days, "sources": sources}))
        (folder / "stamp.txt").write_text(stamp)
        reached("keyword-index")
        pointer = self.dir / f"CURRENT.{os.getpid()}.tmp"
        pointer.write_text(folder.name)
        os.replace(pointer, self.dir / "CURRENT")  # the new index is the current one, all at once
        for old in self.dir.glob("index-*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)  # another process may still read it: it keeps its copy in memory
        return _Snapshot.of(stamp, bm25, ids, days, sources)

    def search(self, query: str, filters: Filters, n: int) -> list[tuple[str, float]]:
        snap = self.ensure_fresh(wait=False)
        return snap.search(query, snap.mask(filters), n)


def tokenize(texts: list[str], as_words: bool = False):
    """What the index holds of each text (`text.terms`): bm25s token ids and vocabulary, or lists of words."""
    return bm25s.tokenize(texts, lower=True, token_pattern=TOKEN_PATTERN, stopwords=list(INDEX_STOPWORDS),
                          stemmer=english_stemmer().stemWords, show_progress=False, return_ids=not as_words)


class TokenCache:
    """The BM25 words of each chunk already seen, with its day and outlet, so that a rebuild after
    adding one article tokenizes that article only. Measured with bench/bm25_rebuild.py on 9,558
    chunks: 1.2 s after one new article, against 4.8 s reading and tokenizing every text again."""

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path, timeout=60)  # another process may be rebuilding too
        self.db.execute("CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, day INTEGER, source TEXT, words TEXT)")

    def __enter__(self) -> TokenCache:
        return self

    def __exit__(self, *exc) -> None:
        self.db.commit()
        self.db.close()

    @classmethod
    def read(cls, path: Path, collection, ids: list[str]) -> tuple[list[str], list[int], list[str], list[list[str]]]:
        """`rows` of `ids`, the missing ones tokenized and added first (`add_missing`)."""
        with cls(path) as cache:
            cache.add_missing(collection, ids)
            return cache.rows(ids)

    def add_missing(self, collection, ids: list[str]) -> None:
        """Tokenize and keep the chunks of `ids` not cached yet; forget cached chunks not in `ids`."""
        cached = {row[0] for row in self.db.execute("SELECT id FROM tokens")}
        wanted = set(ids)
        self.db.executemany("DELETE FROM tokens WHERE id = ?", [(i,) for i in cached - wanted])
        missing = [i for i in ids if i not in cached]
        for start in range(0, len(missing), 2000):
            page = collection.get(ids=missing[start:start + 2000], include=["documents", "metadatas"])
            words = tokenize(page["documents"], as_words=True)
            self.db.executemany("INSERT OR REPLACE INTO tokens VALUES (?, ?, ?, ?)",
                                [(i, int(m.get("day", 0)), m.get("source", ""), " ".join(w))
                                 for i, m, w in zip(page["ids"], page["metadatas"], words)])

    def rows(self, ids: list[str]) -> tuple[list[str], list[int], list[str], list[list[str]]]:
        """The ids that are cached (a chunk deleted while the index was rebuilding is not), with their
        days, outlets and word lists, in the order of `ids`."""
        found = {i: (day, source, words) for i, day, source, words in self.db.execute("SELECT * FROM tokens")}
        kept = [i for i in ids if i in found]
        days, sources, words = zip(*(found[i] for i in kept)) if kept else ((), (), ())
        return kept, list(days), list(sources), [w.split() for w in words]


# ---------------------------------------------------------------- fusion

@dataclass
class RetrievalWeights:
    """Chosen with bench/tune_retrieval.py on rtqa-2023-s150 (docs/BENCHMARKS.md, "Retrieval")."""

    rrf_k: int = 20
    candidates: int = 50  # taken from each side before fusion
    # Equal weights: on rtqa-2023-s150, dense at 0.5 and 1.0 tie (MRR 0.752/0.754); on a held-out
    # set of 150 other questions (bench/heldout_split.py) 1.0 is better (Hits@10 0.873 vs 0.853).
    dense: float = 1.0
    lexical: float = 1.0
    time: float = 0.04  # weight of the time prior, in RRF units (1/21 = 0.048 is a first place)
    time_scale_days: float = 30  # the prior falls to 1/e this many days from the as-of date (or window)


def fuse(dense: list[str], lexical: list[str], days: dict[str, int], query: str, filters: Filters,
         w: RetrievalWeights) -> dict[str, float]:
    """Reciprocal-rank fusion of the two ranked id lists, plus the time prior of each chunk's day."""
    scores: dict[str, float] = {}
    for weight, ranked in ((w.dense, dense), (w.lexical, lexical)):
        for rank, chunk_id in enumerate(ranked):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + weight / (w.rrf_k + rank + 1)
    as_of_day = day_number(filters.as_of)
    window = time_window(query, filters.as_of)
    for chunk_id in scores:
        scores[chunk_id] += w.time * time_prior(days.get(chunk_id, 0), as_of_day, window, w.time_scale_days)
    return scores


class StaleIndex(RuntimeError):
    """This process's copy of the vector index is older than the store (another process wrote to it)."""


class HybridRetriever:
    """Dense and BM25 results fused by reciprocal rank, plus a time prior; only chunks the catalog
    vouches for (`Store.is_current`) are returned, so a half-written ingest is never seen."""

    def __init__(self, store: Store, lexical: LexicalIndex, k: int = 10,
                 weights: RetrievalWeights | None = None):
        self.store = store
        self.lexical = lexical
        self.k = k
        self.weights = weights or RetrievalWeights()

    def search(self, query: str, filters: Filters, k: int | None = None) -> list[Chunk]:
        self.store.catch_up()  # another process changed the store: read it afresh
        try:
            return self._search(query, filters, k or self.k)
        except (ChromaError, StaleIndex) as e:  # ids the local index still held were deleted meanwhile
            log.info("searching %s again, the vectors opened afresh: %s", self.store.location, e)
            self.store.reopen()
            # (a Chroma server may still return ids another machine's ingest is deleting, however
            # often it is asked: they are left out, as deleted, rather than failing the question)
            return self._search(query, filters, k or self.k, stale_ok=True)

    def _search(self, query: str, filters: Filters, k: int, stale_ok: bool = False) -> list[Chunk]:
        with self.store.lock.reading():
            vector, dense, lexical, metas = self.candidates(query, filters)
            if any(i not in metas for i in dense):
                if not stale_ok:
                    raise StaleIndex("the nearest-neighbour index holds chunks the store no longer has")
                dense = [i for i in dense if i in metas]
            if not metas:
                return []
            days = {i: int(meta.get("day", 0)) for i, (meta, _) in metas.items()}
            scores = fuse(dense, lexical, days, query, filters, self.weights)
            ranked = sorted(metas, key=lambda i: scores[i], reverse=True)
            best = self._current(ranked, metas, k)
            similarity = self._similarities(vector, best)
        return [chunk_from_metadata(metas[i][0], metas[i][1], score=similarity.get(i, 0.0)) for i in best]

    def _current(self, ranked: list[str], metas: dict[str, tuple[dict, str]], k: int) -> list[str]:
        """The first k ranked chunks whose article the catalog holds with exactly their text."""
        kept: list[str] = []
        for start in range(0, len(ranked), 2 * k):
            page = ranked[start:start + 2 * k]
            uids = {i: metadata_uid(metas[i][0]) for i in page}
            articles = self.store.catalog.articles(uids.values())
            kept += [i for i in page if self.store.is_current(metas[i][0], metas[i][1], articles.get(uids[i]))]
            if len(kept) >= k:
                break
        return kept[:k]

    def candidates(self, query: str, filters: Filters):
        """What fusion works on: the query vector, the dense and the BM25 ranked ids (`candidates`
        of each), and the stored metadata and text of every one of them."""
        n = self.weights.candidates
        snap = self.lexical.ensure_fresh(wait=False)  # one keyword index for the whole question
        mask = snap.mask(filters)
        vector = self.store.embeddings.embed_query(query)
        dense = [i for i, _ in self._dense(vector, filters, n, snap.passes(mask))]
        lexical = [i for i, _ in snap.search(query, mask, n)]
        metas = self._fetch(list(dict.fromkeys(dense + lexical))) if dense or lexical else {}
        return vector, dense, lexical, metas

    def _dense(self, vector: list[float], filters: Filters, n: int, passes) -> list[tuple[str, float]]:
        """The n nearest chunks that pass the filters (`passes`: the same check, from the keyword index).

        A filtered Chroma query costs about 100 ms at 15,000 chunks (Chroma resolves the `where`
        in SQLite first) against 2 ms unfiltered. So the unfiltered neighbours are fetched 4n deep
        and checked against the filters; when at least n pass, they are exactly the filtered top n.
        Otherwise, or when the keyword index does not know some neighbour yet, the filtered query
        runs in the store."""
        count = self.store.collection.count()
        if not count:
            return []
        where = chroma_where(filters)
        if where is not None:
            nearest = self._query(vector, min(4 * n, count), None)
            verdicts = [passes(i) for i, _ in nearest]
            if None not in verdicts:
                kept = [hit for hit, ok in zip(nearest, verdicts) if ok]
                if len(kept) >= n or len(nearest) == count:
                    return kept[:n]
        return self._query(vector, min(n, count), where)

    def _query(self, vector: list[float], n: int, where: dict | None) -> list[tuple[str, float]]:
        found = self.store.collection.query(query_embeddings=[vector], n_results=n, where=where,
                                            include=["distances"])
        return [(i, 1.0 - d) for i, d in zip(found["ids"][0], found["distances"][0])]

    def _similarities(self, vector: list[float], ids: list[str]) -> dict[str, float]:
        """Cosine similarity of the query to each chunk: the score shown and used to judge relevance."""
        if not ids:  # (Chroma refuses to get no ids: every chunk found may be one the catalog holds not yet)
            return {}
        got = self.store.collection.get(ids=ids, include=["embeddings"])
        sims = np.asarray(got["embeddings"], dtype=np.float32) @ np.asarray(vector, dtype=np.float32)
        return {i: float(s) for i, s in zip(got["ids"], sims)}

    def _fetch(self, ids: list[str]) -> dict[str, tuple[dict, str]]:
        got = self.store.collection.get(ids=ids, include=["metadatas", "documents"])
        return {i: (m, d) for i, m, d in zip(got["ids"], got["metadatas"], got["documents"])}
