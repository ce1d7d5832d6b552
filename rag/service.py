"""The services the CLI and the web app share: ingest, search, ask, status. Wired once from Settings.

`NewsChat.ask` is the ask pipeline: the question made standalone (follow-ups), passages retrieved,
quotes proposed by the answerer, every quote verified against its article, and the answer composed,
or refused with the reason.

Walking a question, function by function:
  NewsChat.ask -> answering.standalone_query (a follow-up's words joined to the conversation's)
  -> retrieval.HybridRetriever.search (Store.catch_up; dense `_dense` and BM25 `LexicalIndex` searches;
     `fuse`; `_current` keeps the chunks that Store.is_current vouches for)
  -> Answerer.propose (answering.ExtractiveAnswerer: ranker.SentenceRanker.rank, reader.SentenceReader.scores,
     answering.choose_quotes) -> citations.verify -> answering.compose, or answering.refusal_text.
Walking an ingest:
  NewsChat.ingest -> indexing.sync (repair; the files gone or named for deletion; `_plan_file`:
  articles.read_file, chunking.chunk_article, store.chunk_metadata) -> indexing._write (LangChain's
  `index()`, then `_commit` to the catalog, `_drop_stale`) -> retrieval.LexicalIndex.ensure_fresh.
The one invariant that keeps answers from stale or misattributed text: a stored chunk counts only while
the catalog holds its article with exactly that text at those offsets (`store.Store.is_current`), so an
ingest killed half-way leaves chunks that no question uses, and the next sync repairs them.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from .answering import (ExtractiveAnswerer, capitalised_words, compose, empty_question_text, has_words,
                        name_letters, named_outlet, nearest_spellings, no_words_text, outlet_letters,
                        quotes_on_subject, refusal_text, standalone_query, unmatched_numbers, unmentioned_names)
from .citations import verify
from .dates import as_of_or_today, reported_day
from .embeddings import SentenceEmbeddings
from .indexing import Progress, sync
from .llm import LLMAnswerer, make_chat_model
from .models import Answer, Answerer, Article, Chunk, Citation, Filters, IngestReport, Proposal, Query, results_json
from .ranker import RankerWeights
from .retrieval import HybridRetriever, LexicalIndex
from .settings import EXTRACTIVE, HANDSET, Settings
from .store import Store, StoreError, StoreRebuilt, forget_open_stores
from .text import NAME_IDF, script_hint, terms, written_in

log = logging.getLogger(__name__)
T = TypeVar("T")


def make_embeddings(settings: Settings) -> SentenceEmbeddings:
    """The embedding model the settings name, in their variant, on their device (loaded when first used)."""
    return SentenceEmbeddings(settings.embedding_model, variant=settings.embedding_variant, device=settings.device)


def make_answerer(settings: Settings, embeddings: SentenceEmbeddings) -> Answerer:
    """The answerer named in the settings (`llm.BackendError` for an unknown name or a missing extra)."""
    kind = settings.answerer_kind
    if kind == EXTRACTIVE:
        if settings.ranker_weights:  # one set of weights for every store
            return ExtractiveAnswerer(embeddings, RankerWeights.load(settings.ranker_weights))
        return ExtractiveAnswerer(embeddings, RankerWeights.load(), small_store_weights=RankerWeights.load(HANDSET))
    return LLMAnswerer(make_chat_model(settings), name=kind)


def articles_so_far(done: int, total: int) -> str:
    """ "3 of 10 articles so far" of a sync running now; "" while it has not counted the articles yet
    (`total` 0)."""
    return f"{done} of {total} articles so far" if total else ""


def still_indexing_text(done: int, total: int) -> str:
    """The reply to a question that finds nothing while a sync is still running."""
    return f"Still indexing: {articles_so_far(done, total) or 'reading the article files'}; ask again in a moment."


def _warm_up(embeddings: SentenceEmbeddings, answerer: Answerer, lexical: LexicalIndex) -> None:
    embeddings.embed_query("warm up")
    answerer.warm_up()
    lexical.ensure_fresh()


def _article_text(chunk: Chunk, bodies: dict[str, str]) -> str:
    """A passage's article as text, its title first (the whole body when at hand), for the name checks."""
    return chunk.title + "\n" + bodies.get(chunk.article_id, chunk.text)


def _found_texts(chunks: list[Chunk], bodies: dict[str, str]) -> list[str]:
    """The retrieved passages' articles as text (`_article_text`), for the names-no-article-mentions checks
    and a refusal's spelling hints."""
    return [_article_text(c, bodies) for c in chunks]


class NewsChat:
    """One store, one retriever, one answerer.

    When another process rebuilds the store with another model meanwhile (`rag ingest --rebuild --model`,
    on this machine or on another sharing the store), the next call opens the store again with that model
    and goes on, when the model loads here (`_following_rebuilds`); otherwise it raises StoreError saying
    which model to start with."""

    def __init__(self, settings: Settings, generation: str = ""):
        """`generation`: a shared store being built beside the one in use (`rebuild`)."""
        self._open(settings, generation)
        self._ingest_lock = threading.Lock()
        self._reopen_lock = threading.Lock()

    def _open(self, settings: Settings, generation: str = "", loaded: bool = False) -> None:
        """Wire the parts for `settings`; `loaded`: load the models and the keyword index before any is put
        in use (a reopen: a model that fails to load leaves the parts in use as they were)."""
        embeddings = make_embeddings(settings)
        answerer = make_answerer(settings, embeddings)
        store = Store(settings.store_dir, embeddings, settings.chroma_url, settings.database_url, generation=generation)
        lexical = LexicalIndex(store)
        if loaded:
            _warm_up(embeddings, answerer, lexical)
        self._per_revision: dict[str, tuple[str | None, object]] = {}  # name -> (revision, value): `_until_changed`
        # the store last: a question that began meanwhile and fails on the old store sees the new one in
        # place and asks again with the new parts, rather than reopening once more (`_following_rebuilds`)
        self.settings, self.embeddings, self.answerer, self.lexical = settings, embeddings, answerer, lexical
        self.retriever = HybridRetriever(store, lexical, k=settings.top_k)
        self.store = store

    def _following_rebuilds(self, action: Callable[[], T]) -> T:
        """`action()`; when the store was rebuilt with another model since it was opened here
        (`StoreRebuilt`), the store opened again with that model (where it was loaded from, as recorded
        in the store), and `action()` once more. StoreError when that model cannot be loaded here."""
        opened = self.store
        try:
            return action()
        except StoreRebuilt as rebuilt:
            with self._reopen_lock:
                if self.store is opened:  # (another thread may have reopened it already)
                    self._reopen(rebuilt)
        return action()

    def _reopen(self, rebuilt: StoreRebuilt) -> None:
        if rebuilt.source is None:  # (a store built before the source was recorded)
            raise StoreError(str(rebuilt))
        if os.path.isabs(rebuilt.source) and not os.path.isdir(rebuilt.source):  # (another machine's folder)
            raise StoreError(f"{rebuilt} (that model could not be loaded here: {rebuilt.source} is not a folder "
                             f"on this machine)")
        try:
            forget_open_stores()  # (else Chroma hands back the client of the store that was replaced)
            self._open(replace(self.settings, embedding_model=rebuilt.source, embedding_variant=""), loaded=True)
        except Exception as e:
            log.exception("cannot open the rebuilt store %s with its model", self.store.location)
            raise StoreError(f"{rebuilt} (that model could not be loaded here: {e})") from None
        log.warning("the store %s was rebuilt with the embedding model %r: opened again with it",
                    self.store.location, self.embeddings.name)

    def ingest(self, paths: list[Path] | None = None, on_progress: Progress | None = None,
               on_wait: Callable[[str], None] | None = None, again: bool = False, prune: bool = False) -> IngestReport:
        """Sync files and folders into the store (default: the articles folder). `on_wait` hears it when
        another process holds the store's writer lock; `again` embeds every chunk again; `prune` removes
        what an emptied folder held (indexing.sync)."""
        return self._following_rebuilds(lambda: self._ingest(paths, on_progress, on_wait, again, prune))

    def _ingest(self, paths: list[Path] | None, on_progress: Progress | None, on_wait: Callable[[str], None] | None,
                again: bool, prune: bool = False) -> IngestReport:
        with self._ingest_lock:
            self.lexical.hold = True  # questions meanwhile use the keyword index as it was
            try:
                report = sync(self.store, paths or [self.settings.articles_dir], self.settings, on_progress, on_wait,
                              again, prune)
            except Exception as e:  # (a failed write is in the report: this is the lock or the planning)
                if why := self.store.unreachable(e):
                    raise StoreError(f"cannot sync the store {self.store.location}: {why}") from None
                raise
            finally:
                self.lexical.hold = False
            if report.changed:
                try:
                    self.lexical.ensure_fresh()  # here, rather than in the next question
                except Exception as e:  # a cache (a full disk ...): the articles are stored; the next question tries again
                    self.store.log_failure(log, e, f"bringing the keyword index of {self.store.location} up to date")
            return report

    def search(self, query: str, filters: Filters | None = None, k: int | None = None) -> list[Chunk]:
        return self._following_rebuilds(
            lambda: self.retriever.search(query, self._outlet_as_stored(filters or Filters(as_of=as_of_or_today(""))), k))

    def search_json(self, query: str, filters: Filters | None = None, k: int | None = None) -> dict:
        """The `rag search --json` shape: {"query", "results": [...]}."""
        return {"query": query, "results": results_json(self.search(query, filters, k))}

    def outlets(self) -> list[str]:
        """The outlets of the stored articles, for the outlet filter."""
        return self.store.catalog.sources()

    def warm_up(self) -> None:
        """Load the models and the keyword index now, before the first question needs them."""
        _warm_up(self.embeddings, self.answerer, self.lexical)

    def ask(self, question: str, history: list[tuple[str, str]] | None = None,
            filters: Filters | None = None, k: int | None = None,
            indexing: tuple[int, int] | None = None) -> Answer:
        """`indexing`: (articles done, articles in all) of a sync running now, when one is: a question
        that finds nothing meanwhile is told to ask again, not that the articles do not cover it."""
        return self._following_rebuilds(lambda: self._ask(question, history, filters, k, indexing))

    def _ask(self, question: str, history: list[tuple[str, str]] | None, filters: Filters | None, k: int | None,
             indexing: tuple[int, int] | None) -> Answer:
        filters = filters or Filters(as_of=as_of_or_today(""))
        answer = Answer(question=question, text="", answerer=self.answerer.name)
        if not has_words(question):
            answer.refused = True
            answer.text = no_words_text(question) if question.strip() else empty_question_text()
            return answer
        query = standalone_query(question, history or [], as_of=filters.as_of)
        filters, k = self._outlet_as_stored(filters), k or self.settings.answer_passages
        chunks, on_day, filters = self._retrieve(question, query.text, filters, k)
        answer.query, answer.followed = query.text, query.earlier
        if not chunks:
            answer.retrieved, answer.refused = chunks, True
            answer.text = (still_indexing_text(*indexing) if indexing is not None
                           else self._nothing_found_text(question, query, filters, chunks))
            return answer
        snapshot = self.lexical.snapshot
        # the day's passages first, when the question names one
        passages, bodies, proposal = self._first_answered(query, [on_day, chunks], snapshot.idf, len(snapshot.ids))
        answer.retrieved, answer.confidence = passages, proposal.confidence
        answer.citations, answer.dropped = verify(proposal.quotes, passages, bodies)
        answer.citations, unmentioned, off_subject = self._on_subject(
            question, query.text, answer.citations, passages, bodies,
            known=lambda term: term in snapshot.frequencies)  # (a name the store holds as spelled)
        if answer.citations and not unmentioned:
            answer.text = compose(answer.citations)
        else:
            answer.refused = True
            if unmentioned or off_subject:  # the reason is the missing name, not how likely the quotes were
                answer.confidence = None
            spellings = nearest_spellings(unmentioned, _found_texts(passages, bodies)) if unmentioned else {}
            answer.text = self._with_script_hint(refusal_text(
                query, filters, passages, proposal.confidence, unmentioned=unmentioned, spellings=spellings,
                off_subject=off_subject), question)
            answer.related, _ = verify(proposal.related or proposal.quotes[:3], passages, bodies)
            answer.citations = []
        if answer.dropped:
            answer.text += (f"\n\n({len(answer.dropped)} quote(s) from the {answer.answerer} model left out: "
                            f"not found word for word in the cited articles.)")
        return answer

    def _retrieve(self, question: str, query: str, filters: Filters,
                  k: int) -> tuple[list[Chunk], list[Chunk], Filters]:
        """The passages found for `query`, the passages found on the day the question says something was
        reported on ([] when it names none), and the filters they were found with.

        An outlet the question names ("What did WBRK report about the budget?") is searched alone; the other
        outlets' articles only when it has nothing for it. The day is one the question itself (not the words
        a follow-up carries) says something was reported on ("the death toll reported on September 22"):
        that day's passages are answered from first, and the others when they do not answer (that day's
        articles are about something else)."""
        chunks: list[Chunk] = []
        if not filters.source and (outlet := named_outlet(query, self._until_changed(
                "outlets", self.store.catalog.sources))):
            chunks = self.retriever.search(query, replace(filters, source=outlet), k)
            filters = replace(filters, source=outlet) if chunks else filters
        chunks = chunks or self.retriever.search(query, filters, k)
        on_day: list[Chunk] = []
        if chunks and not (filters.since or filters.until) and (day := reported_day(question, filters.as_of)):
            on_day = self.retriever.search(query, replace(filters, since=day, until=day), k)
        return chunks, on_day, filters

    def _nothing_found_text(self, question: str, query: Query, filters: Filters, chunks: list[Chunk]) -> str:
        """The refusal when no passage is found: the store empty, its passages not all embedded yet, or
        nothing in it on the question."""
        articles, passages = self.store.catalog.counts()
        vectors = self.store.collection.count()
        return self._with_script_hint(refusal_text(
            query, filters, chunks, empty_store=not articles,
            unembedded=(passages, vectors) if vectors < passages else None), question)

    def _first_answered(self, query: Query, candidates: list[list[Chunk]], idf: Callable[[str], float],
                        store_chunks: int) -> tuple[list[Chunk], dict[str, str], Proposal]:
        """The first of the `candidates` (lists of passages; empty ones skipped, one at least not empty) for
        which the answerer proposes quotes, with their articles' bodies and the proposal; the last one tried
        when none has."""
        tried = [found for found in candidates if found]
        for i, passages in enumerate(tried, 1):
            bodies = self.bodies(passages)
            proposal = self.answerer.propose(query, passages, bodies, idf, store_chunks=store_chunks)
            if proposal.quotes or i == len(tried):
                return passages, bodies, proposal
        raise ValueError("no passages to answer from")

    def _on_subject(self, question: str, query: str, citations: list[Citation], chunks: list[Chunk],
                    bodies: dict[str, str],
                    known: Callable[[str], bool]) -> tuple[list[Citation], list[str], list[str]]:
        """The quotes kept, the names no stored article mentions (`_unmentioned`), and the names the lead
        quote's article lacks when no quote's article has them (`answering.quotes_on_subject`, with `known`).

        A follow-up that names nothing itself ("and when did it open?") is checked with the names it carries
        from the earlier question; one that names its own subject ("what about Corva?") with those (a refusal
        names them too: its reason). The lead quote's own article must name the question's own names too:
        "Who won the Riverton Marathon?" is not answered by the Brookhaven Marathon's winner because another
        article names Riverton. A later quote whose article names them leads instead; none is a refusal. (A
        follow-up's carried names are not looked for there: "and what did the head keeper say?" may leave the
        harbor.)"""
        named = question if capitalised_words(question) else query
        unmentioned = self._unmentioned(named, chunks, bodies)
        off_subject: list[str] = []
        if citations and not unmentioned:
            citations, off_subject = quotes_on_subject(
                question, citations, lambda chunk: _article_text(chunk, bodies), known=known)
        return citations, unmentioned, off_subject

    def _unmentioned(self, question: str, chunks: list[Chunk], bodies: dict[str, str]) -> list[str]:
        """The names the question asks about that no stored article mentions (`answering.unmentioned_names`):
        in none of the keyword index's words, the stored outlets' names ("CorvaNews"; "Courier" of
        valleycourier), or the retrieved articles (newer than the index while an ingest runs); and the
        numbered names ("Ward 7") none of the retrieved articles writes (`answering.unmatched_numbers`).
        [] when the index holds nothing yet."""
        snapshot = self.lexical.snapshot
        if not snapshot.ids:
            return []
        known_terms: set[str] = set()
        outlets: list[str] = []

        def mentioned(term: str) -> bool:
            if snapshot.mentions(term, NAME_IDF):
                return True
            if not known_terms:  # (read only for a name the index lacks)
                names = self._until_changed("outlets", self.store.catalog.sources)
                asked = name_letters(question)  # an outlet the question names whole ("the Valley Courier")
                outlets.extend(o for o in map(outlet_letters, names) if len(o) >= 4 and o in asked)
                known_terms.update(terms(" ".join(names)))
                known_terms.update(terms(" ".join(_found_texts(chunks, bodies))))
            # a word of an outlet's name the question names whole, as it spells it: "Courier" of "the Valley
            # Courier" (valleycourier); not "Berg" because an outlet is Bloomberg
            return term in known_terms or any(term in outlet for outlet in outlets)
        return unmentioned_names(question, mentioned) + unmatched_numbers(question, _found_texts(chunks, bodies))

    def _outlet_as_stored(self, filters: Filters) -> Filters:
        """The filters with the outlet named as the stored articles name it: "CorvaNews", "corvanews " or
        "Valley Courier" finds corvanews or valleycourier (an outlet is a name; Chroma's filters match
        exactly); of names that differ only so, one written alike first. Its letters whole (`name_letters`),
        not as a question writes an outlet (`outlet_letters`, for `named_outlet`): a filter names an outlet as
        the list of outlets shows it ("wbrk.example"), a question as people say it ("WBRK")."""
        wanted = filters.source.strip().casefold()
        if not wanted:
            return filters
        # (read again only after the store changed: at 50,000 articles a read took 70-100 ms)
        known = self._until_changed("outlets", self.store.catalog.sources)
        if filters.source in known:
            return filters
        letters = name_letters(wanted)
        alike = next((s for s in known if s.casefold() == wanted), None) or \
            next((s for s in known if letters and name_letters(s) == letters), filters.source)
        return replace(filters, source=alike)

    def _with_script_hint(self, refusal: str, question: str) -> str:
        """A refusal, with a hint when the question is in another script than the stored articles."""
        hint = script_hint(question, self._until_changed("written_in",
                                                         lambda: written_in(self.store.catalog.sample_text())))
        return f"{refusal} {hint}" if hint else refusal

    def _until_changed(self, name: str, compute: Callable[[], T]) -> T:
        """`compute()`, kept until the store changes (its catalog's revision): what is read from every
        stored article is not read again at every question."""
        revision = self.store.catalog.meta("revision")
        kept = self._per_revision.get(name)
        if kept is None or kept[0] != revision:
            kept = self._per_revision[name] = (revision, compute())
        return kept[1]

    def bodies(self, chunks: list[Chunk]) -> dict[str, str]:
        """{article id: stored body} of the articles the chunks come from."""
        out = {}
        for chunk in chunks:
            if chunk.article_id not in out and (article := self.article(chunk.article_id)) is not None:
                out[chunk.article_id] = article.body
        return out

    def article(self, article_id: str) -> Article | None:
        return self.store.catalog.article(article_id)

    def status(self) -> dict:
        return self._following_rebuilds(lambda: self.store.status())

    def holds_file(self, path: Path) -> bool:
        """Whether the store holds articles of the file at `path` (an upload kept as it was)."""
        return bool(self.store.catalog.articles_in(str(path)))

    def holds_under(self, path: Path) -> bool:
        """Whether the store holds a file at or under `path`, or one reached through a link there."""
        return self.store.catalog.holds_under(str(path))
