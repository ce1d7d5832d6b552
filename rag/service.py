"""The services the CLI and the web app share: ingest, search, ask, status. Wired once from Settings.

`NewsChat.ask` is the ask pipeline: the question made standalone (follow-ups), passages retrieved,
quotes proposed by the answerer, every quote verified against its article, and the answer composed,
or refused with the reason.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from .answering import (ExtractiveAnswerer, compose, empty_question_text, has_words, no_words_text,
                        refusal_text, standalone_query)
from .checkpoints import reached
from .citations import verify
from .dates import as_of_or_today
from .embeddings import SentenceEmbeddings
from .indexing import Progress, is_unwritten, named_deletions, reached_under, sync
from .llm import LLMAnswerer, make_chat_model
from .models import Answer, Article, Chunk, Filters, IngestReport, display_path, results_json
from .ranker import RankerWeights
from .retrieval import HybridRetriever, LexicalIndex
from .settings import EXTRACTIVE, Settings
from .store import (Store, StoreError, StoreRebuilt, builds_generations, discard_generations, discard_store,
                    new_generation,                     promote_generation, replace_store)
from .text import script_hint, written_in

log = logging.getLogger(__name__)
T = TypeVar("T")


def make_answerer(settings: Settings, embeddings: SentenceEmbeddings):
    """The answerer named in the settings (`llm.BackendError` for an unknown name or a missing extra)."""
    kind = settings.answerer_kind
    if kind == EXTRACTIVE:
        if settings.ranker_weights:  # one set of weights for every store
            return ExtractiveAnswerer(embeddings, RankerWeights.load(settings.ranker_weights))
        return ExtractiveAnswerer(embeddings, RankerWeights.load(), small_store_weights=RankerWeights.load("handset"))
    return LLMAnswerer(make_chat_model(settings), name=kind)


def still_indexing_text(done: int, total: int) -> str:
    """The reply to a question that finds nothing while a sync is still running."""
    so_far = f"{done} of {total} articles so far" if total else "reading the article files"
    return f"Still indexing: {so_far}; ask again in a moment."


def rebuild(settings: Settings, paths: list[Path] | None = None, on_progress: Progress | None = None,
            on_wait: Callable[[str], None] | None = None) -> IngestReport:
    """`rag ingest --rebuild`: every chunk embedded again with the configured model, and no article lost
    when the rebuild fails or is killed.

    - A store of this model (and variant space): every file read and every chunk embedded again in place,
      unit by unit like an update (`indexing.sync`, `again`).
    - A store in a folder, built with another model: a new store is built beside it (STORE.rebuilding) from
      `paths` and every other file the old store holds, then takes its place (`store.replace_store`) if
      it holds every article of the old one that nobody removed (`_build_beside`); until then the old
      store is untouched, and it takes no other writes meanwhile (its writer lock).
    - A shared store (a Chroma server and a PostgreSQL database) of another model: the same, with the new
      store built beside as a generation (its own schema and collection, `store.builds_generations`) and
      promoted in one database transaction (`store.promote_generation`).
    - A shared store whose database is not PostgreSQL, of another model: refused (StoreError), the store
      unchanged. Its database has no schemas to build beside in, so the only way would be to empty the
      store first: every machine would lose its answers until the rebuild finished, and for good if it
      failed.
    In the two that build beside, the model must first embed a test sentence: a model that cannot load (a
    mistyped --model) stops the rebuild before anything changes (StoreError)."""
    paths = paths or [settings.articles_dir]
    embeddings = SentenceEmbeddings(settings.embedding_model, variant=settings.embedding_variant,
                                    device=settings.device)
    store = Store(settings.store_dir, embeddings, settings.chroma_url, settings.database_url, check_model=False)
    if store.fits_model():
        return NewsChat(settings).ingest(paths, on_progress, on_wait, again=True)
    shared = builds_generations(settings.chroma_url, settings.database_url)
    if settings.chroma_url and not shared:
        raise StoreError(f"cannot rebuild the shared store {store.location} with another model: that builds the "
                         f"new store beside the one in use, in a schema of its own, which needs the catalog in "
                         f"PostgreSQL, not {settings.database_url.split(':', 1)[0]}; emptying the store first "
                         f"would leave every machine without answers until the rebuild finished, and for good "
                         f"if it failed. The store is unchanged. To change the model, ingest into a new shared "
                         f"store (an empty database and a Chroma server that holds no store yet).")
    try:
        embeddings.embed_query("A test sentence.")
    except Exception as e:  # whatever loading a model can raise: a missing path, a folder that is no model
        log.exception("the embedding model %s cannot embed", settings.embedding_model or embeddings.name)
        raise StoreError(f"cannot rebuild with the embedding model {settings.embedding_model or embeddings.name!r}: "
                         f"{str(e).rstrip('.')}. The store is unchanged.") from None
    store_dir = settings.store_dir.resolve()
    beside = store_dir.with_name(f"{store_dir.name}.rebuilding")  # a shared store's: only its local caches
    generation = new_generation() if shared else ""
    with store.writer(on_wait, any_model=True):  # the old store's lock: no other writes meanwhile
        old_collection = store.collection_name
        try:
            _discard_leftovers(store, beside, shared)  # of a rebuild that was killed or failed
            report = _build_beside(store, replace(settings, store_dir=beside), paths, on_progress, on_wait, generation)
            reached("rebuilt-beside")
            if shared:
                promote_generation(settings.database_url, generation)  # in place: one database transaction
        except Exception as e:  # whatever stopped it (a full disk ...): the half-built store goes, the old stays
            if not isinstance(e, StoreError):
                log.exception("rebuilding %s beside it failed", store.location)
            _discard_leftovers(store, beside, shared, quietly=True)
            raise StoreError(f"{str(e).rstrip('.')}. The store {store.location} is unchanged.") from None
        if shared:
            _discard_leftovers(store, beside, shared, old_collection, quietly=True)  # and the old vectors
        else:
            replace_store(beside, store_dir)  # in place: two renames
    return report


def _discard_leftovers(store: Store, beside: Path, shared: bool, old_collection: str = "", quietly: bool = False) -> None:
    """Remove the folder a rebuild builds beside the store in and, for a shared store, what rebuilds left
    on its servers (`store.discard_generations`). `quietly`: a failure is logged, not raised (the store is
    whole either way; the next rebuild removes what is left)."""
    try:
        if beside.exists():
            discard_store(beside)
        if shared:
            discard_generations(store, old_collection)
    except Exception:
        if not quietly:
            raise
        log.exception("cannot remove what a rebuild left beside %s; the next rebuild tries again", store.location)


def _build_beside(old: Store, settings: Settings, paths: list[Path], on_progress: Progress | None,
                  on_wait: Callable[[str], None] | None, generation: str = "") -> IngestReport:
    """The new store of a rebuild with another model, at `settings.store_dir`: `paths`, and every other
    file the old store holds (another folder, a file ingested alone). StoreError when it would lack an
    article of the old store that nobody removed: one whose file fails to be read or written now, or
    whose file is gone from anywhere but a given folder that is there (a missing drive is no deletion).
    Files gone from a given folder, or named and deleted from a folder that is there, are deleted on
    purpose, as any sync deletes them, and counted so."""
    folders = [p.resolve() for p in paths if p.is_dir()]
    links = old.catalog.links()  # a file a given folder reached through a symbolic link is that folder's
    deleted = named_deletions(paths, links)  # files named on their own and deleted: dropped on purpose
    paths = [p for p in paths if p not in deleted]

    def synced(path: str) -> bool:
        return path in deleted.values() or reached_under(path, links.get(path), folders)

    def lost_message(lost: list[str]) -> str:
        return (f"the rebuild would lose the stored articles of {len(lost)} file(s) that nobody removed: "
                f"{'; '.join(lost[:3])}{' ...' if len(lost) > 3 else ''}. Mend or restore them; to drop their "
                f"articles on purpose, delete the files and name them, or their folders, in the rebuild")

    stored = old.catalog.record_ids_by_file()
    gone = [p for p in stored if not Path(p).exists()]
    if lost := [f"{display_path(p)}: the file is gone" for p in gone if not synced(p)]:
        raise StoreError(lost_message(lost))  # known before anything is embedded
    named = {p.resolve() for p in paths}
    others = [Path(p) for p in stored if not synced(p) and Path(p) not in named]
    new = NewsChat(settings, generation)
    # (nothing left to read, every named file deleted: an empty store, not the default folder's)
    report = new.ingest(paths + others, on_progress, on_wait) if paths + others else IngestReport()
    unwritten = [f for f in report.failed if is_unwritten(f)]
    if unwritten:  # store trouble: this store is not to be trusted with the articles
        raise StoreError(f"the rebuild could not write {unwritten[0]['path']} ({unwritten[0]['error']})")
    reasons = {f["path"]: f["error"] for f in report.failed}
    if lost := [f"{display_path(p)}: {reasons[display_path(p)]}" for p, ids in stored.items()
                if display_path(p) in reasons and ids - set(new.store.catalog.articles_in(p))]:
        raise StoreError(lost_message(lost))
    now = set(new.store.catalog.paths())  # (a file still there that a given folder no longer leads to: dropped)
    report.deleted += sum(len(ids) for p, ids in stored.items() if synced(p) and p not in now)
    return report


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

    def _open(self, settings: Settings, generation: str = "") -> None:
        embeddings = SentenceEmbeddings(settings.embedding_model, variant=settings.embedding_variant,
                                        device=settings.device)
        answerer = make_answerer(settings, embeddings)
        store = Store(settings.store_dir, embeddings, settings.chroma_url, settings.database_url, generation=generation)
        lexical = LexicalIndex(store)
        self.settings, self.embeddings, self.answerer, self.store, self.lexical = (
            settings, embeddings, answerer, store, lexical)  # (all or nothing: a failed reopen keeps the old ones)
        self.retriever = HybridRetriever(store, lexical, k=settings.top_k)
        self._written_in: tuple[str | None, tuple[str | None, str]] | None = None  # (revision, text.written_in)

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
            self._open(replace(self.settings, embedding_model=rebuilt.source, embedding_variant=""))
            self.warm_up()
        except Exception as e:
            log.exception("cannot open the rebuilt store %s with its model", self.store.location)
            raise StoreError(f"{rebuilt} (that model could not be loaded here: {e})") from None
        log.warning("the store %s was rebuilt with the embedding model %r: opened again with it",
                    self.store.location, self.embeddings.name)

    def ingest(self, paths: list[Path] | None = None, on_progress: Progress | None = None,
               on_wait: Callable[[str], None] | None = None, again: bool = False) -> IngestReport:
        """Sync files and folders into the store (default: the articles folder). `on_wait` hears it when
        another process holds the store's writer lock; `again` embeds every chunk again (indexing.sync)."""
        return self._following_rebuilds(lambda: self._ingest(paths, on_progress, on_wait, again))

    def _ingest(self, paths: list[Path] | None, on_progress: Progress | None, on_wait: Callable[[str], None] | None,
                again: bool) -> IngestReport:
        with self._ingest_lock:
            self.lexical.hold = True  # questions meanwhile use the keyword index as it was
            try:
                report = sync(self.store, paths or [self.settings.articles_dir], self.settings, on_progress, on_wait,
                              again)
            finally:
                self.lexical.hold = False
            if report.added or report.updated or report.deleted:
                try:
                    self.lexical.ensure_fresh()  # here, rather than in the next question
                except Exception:  # a cache (a full disk ...): the articles are stored; the next question tries again
                    log.exception("the keyword index of %s could not be brought up to date", self.store.location)
            return report

    def search(self, query: str, filters: Filters | None = None, k: int | None = None) -> list[Chunk]:
        return self._following_rebuilds(
            lambda: self.retriever.search(query, filters or Filters(as_of=as_of_or_today("")), k))

    def search_json(self, query: str, filters: Filters | None = None, k: int | None = None) -> dict:
        """The `rag search --json` shape: {"query", "results": [...]}."""
        return {"query": query, "results": results_json(self.search(query, filters, k))}

    def outlets(self) -> list[str]:
        """The outlets of the stored articles, for the outlet filter."""
        return self.store.catalog.sources()

    def warm_up(self) -> None:
        """Load the models and the keyword index now, before the first question needs them."""
        self.embeddings.embed_query("warm up")
        self.answerer.warm_up()
        self.lexical.ensure_fresh()

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
        chunks = self.retriever.search(query.text, filters, k or self.settings.answer_passages)
        answer.retrieved, answer.query = chunks, query.text
        if not chunks:
            answer.refused = True
            answer.text = (still_indexing_text(*indexing) if indexing is not None
                           else self._with_script_hint(refusal_text(query, filters, chunks,
                                                                    empty_store=not self.store.catalog.counts()[0]),
                                                       question))
            return answer
        bodies = self.bodies(chunks)
        snapshot = self.lexical.snapshot
        proposal = self.answerer.propose(query, chunks, bodies, snapshot.idf, store_chunks=len(snapshot.ids))
        answer.confidence = proposal.confidence
        answer.citations, answer.dropped = verify(proposal.quotes, chunks, bodies)
        if answer.citations:
            answer.text = compose(answer.citations, proposal.lead)
        else:
            answer.refused = True
            answer.text = self._with_script_hint(refusal_text(query, filters, chunks, proposal.confidence), question)
            answer.related, _ = verify(proposal.related, chunks, bodies)
        if answer.dropped:
            answer.text += (f"\n\n({len(answer.dropped)} quote(s) from the {answer.answerer} model left out: "
                            f"not found word for word in the cited articles.)")
        return answer

    def _with_script_hint(self, refusal: str, question: str) -> str:
        """A refusal, with a hint when the question is in another script than the stored articles."""
        revision = self.store.catalog.meta("revision")
        if self._written_in is None or self._written_in[0] != revision:
            self._written_in = (revision, written_in(self.store.catalog.sample_text()))
        hint = script_hint(question, self._written_in[1])
        return f"{refusal} {hint}" if hint else refusal

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

    def holds_under(self, path: Path) -> bool:
        """Whether the store holds a file at or under `path`, or one reached through a link there."""
        return self.store.catalog.holds_under(str(path))
