"""`rag ingest --rebuild`: every chunk embedded again, with the store's model or another, and no article
lost when the rebuild fails or is killed (`rebuild`). With another model the new store is built beside
the one in use and takes its place only once it holds every article of the old one that nobody removed
(`_build_beside`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .checkpoints import reached
from .indexing import (Progress, emptied_folders, is_unwritten, machine_split, named_deletions, prune_command,
                       reached_under)
from .models import IngestReport, display_path
from .service import NewsChat, make_embeddings
from .settings import Settings
from .store import (Store, StoreError, builds_generations, discard_generations, discard_store, new_generation,
                    promote_generation, replace_store)

log = logging.getLogger(__name__)


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
    embeddings = make_embeddings(settings)
    store = Store(settings.store_dir, embeddings, settings.chroma_url, settings.database_url, check_model=False)
    if store.fits_model():  # the given paths, and every other file the store holds that is still there
        # (one gone stays as stored: a rebuild embeds again, it does not delete what nobody removed)
        elsewhere = [p for p in _held_elsewhere(store.catalog.links(), paths).values() if p.exists()]
        return NewsChat(settings).ingest(paths + elsewhere, on_progress, on_wait, again=True)
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
                store.check_still_writer()  # (the old store's lock, held all along: lost, another machine may
                promote_generation(settings.database_url, generation)  # have written meanwhile) in one transaction
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


def _held_elsewhere(links: dict[str, str | None], paths: list[Path]) -> dict[str, Path]:
    """Of the files a store holds (`links`: `Catalog.links`), those the given paths do not reach (another
    folder, a file ingested alone):
    {stored path: where to read it}, through the symbolic link that reached it while the link is there, so
    the rebuilt store still knows the file by that link (deleting the link removes it, as before)."""
    folders = [p.resolve() for p in paths if p.is_dir()]
    named = {p.resolve() for p in paths}
    return {p: Path(via) if via and Path(via).exists() else Path(p) for p, via in links.items()
            if not reached_under(p, via, folders) and Path(p) not in named}


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
    whose file is gone from anywhere but a given folder that is there (a missing drive is no deletion), or
    from a folder that a sync would keep as emptied (`indexing.emptied_folders`: an empty mount point).
    Files gone from a given folder, or named and deleted from a folder that is there, are deleted on
    purpose, as any sync deletes them, and counted so."""
    folders = [p.resolve() for p in paths if p.is_dir()]
    links = old.catalog.links()  # a file a given folder reached through a symbolic link is that folder's
    deleted = named_deletions(paths, links)  # files named on their own and deleted: dropped on purpose
    paths = [p for p in paths if p not in deleted]
    mine, theirs, _ = machine_split(old, settings.machine_name(), links)  # another machine's files: not ours to drop
    emptied = emptied_folders(paths, mine, theirs)  # (a drive not mounted?)

    def synced(path: str) -> bool:
        return path not in theirs and not reached_under(path, links.get(path), emptied) and (
            path in deleted.values() or reached_under(path, links.get(path), folders))

    def lost_message(lost: list[str]) -> str:
        return (f"the rebuild would lose the stored articles of {len(lost)} file(s) that nobody removed: "
                f"{'; '.join(lost[:3])}{' ...' if len(lost) > 3 else ''}. Mend or restore them; to drop their "
                f"articles on purpose, delete the files and name them, or their folders, in the rebuild")

    def why_lost(path: str) -> str:
        where = next((f for f in emptied + folders if reached_under(path, links.get(path), [f])), None)
        command = prune_command(where, replace(settings, store_dir=old.dir)) if where else ""
        drop = f" (`{command}` drops it on purpose)" if command else ""
        if path in theirs:
            return f"the file is on the machine “{theirs[path]}”, not this one{drop}"
        if reached_under(path, links.get(path), emptied):
            return f"its folder holds none of its files now, or few (a drive not mounted?){drop}"
        return "the file is gone"

    stored = old.catalog.record_ids_by_file()
    gone = [p for p in stored if not Path(p).exists()]
    if lost := [f"{display_path(p)}: {why_lost(p)}" for p in gone if not synced(p)]:
        raise StoreError(lost_message(lost))  # known before anything is embedded
    others = [reach for p, reach in _held_elsewhere(links, paths).items() if p not in deleted.values()]
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
    owners: dict[str, list[str]] = {}  # each file stays the machine's that stored it (read here, it is not
    for path, machine in old.catalog.machine_by_file().items():  # this one's: only that machine's sync
        if machine:                                               # removes it when it is deleted)
            owners.setdefault(machine, []).append(path)
    for machine, owned in owners.items():
        new.store.catalog.set_machine(owned, machine)
    now = set(new.store.catalog.paths())  # (a file still there that a given folder no longer leads to: dropped)
    report.deleted += sum(len(ids) for p, ids in stored.items() if synced(p) and p not in now)
    return report
