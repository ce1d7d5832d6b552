"""Real `rag ingest` processes killed (SIGKILL) at named moments of a write (rag/checkpoints.py), then
a normal re-run (in the test process): the store must equal a clean ingest of the same files, checked on Chroma's own ids
and texts, the record manager's keys and the catalog's articles. Right after the kill, before any
re-run, a search must never return a chunk whose article cannot be opened or whose text is not the
article's body[start:end]; an article being edited is found in its old version, never in neither.
Also: two `rag ingest` processes at once on one store.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from processes import chroma_server, postgres_server
from rag.models import Filters
from rag import embeddings
from rag.rebuilding import rebuild
from rag.service import NewsChat
from rag.settings import OFFLINE_ENVIRONMENT, Settings

PROJECT = Path(__file__).resolve().parent.parent
PROBES = itertools.count(1)
MOMENTS = ["planned", "batch-written", "vectors-written", "committed", "keyword-index"]
OLD = "The harbour master said the old lighthouse keeper retired after forty quiet years."
NEW = "The harbour master said the new lighthouse runs on solar panels and needs no keeper."


def records(n: int = 80) -> list[dict]:
    """Short distinct news records: one chunk each, enough for two batches of a unit."""
    return [{"id": f"r{i}", "title": f"Council story {i}", "published": "2023-05-01", "source": "town.example",
             "text": f"The town council of Ashby met for session {i} and voted on motion {i * 7} about road {i}."}
            for i in range(n)]


def write_version(folder: Path, version: int) -> None:
    """Version 1: forty records and the harbour story; version 2: eighty records, the story edited."""
    folder.mkdir(exist_ok=True)
    rows = records(40 if version == 1 else 80)
    (folder / "council.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "harbour.txt").write_text(f"Lighthouse news\n\n{OLD if version == 1 else NEW}\n")


def env(pause_at: str = "", pause_file: Path | None = None, servers: tuple[str, str] | None = None) -> dict:
    """The environment of a `rag` process: a local store, or with `servers` (Chroma URL, database URL)
    the shared one."""
    out = dict(os.environ, **OFFLINE_ENVIRONMENT, PYTHONUNBUFFERED="1")
    for name in ("RAG_CHROMA_URL", "RAG_DATABASE_URL", "RAG_EMBEDDING_MODEL", "RAG_EMBEDDING_VARIANT"):
        out.pop(name, None)
    if servers:
        out |= {"RAG_CHROMA_URL": servers[0], "RAG_DATABASE_URL": servers[1]}
    if pause_at:
        out |= {"RAG_PAUSE_AT": pause_at, "RAG_PAUSE_FILE": str(pause_file)}
    return out


def ingest_process(store: Path, folder: Path, *options: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rag", "ingest", str(folder), "--store", str(store), "--json",
                             "--quiet", *options], cwd=PROJECT, env=env(**kw), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def ingest(store: Path, folder: Path, servers: tuple[str, str] | None = None) -> dict:
    proc = ingest_process(store, folder, servers=servers)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return json.loads(out)


def snapshot(store: Path, servers: tuple[str, str] = ("", "")) -> dict:
    """The store as its three parts hold it, read with their own APIs."""
    chat = NewsChat(Settings(store_dir=store, chroma_url=servers[0], database_url=servers[1], embedding_model=""))
    got = chat.store.collection.get(include=["documents"])
    with chat.store.catalog.engine.connect() as db:
        articles = sorted(db.execute(sa.text("SELECT id, path, record_id, title, body, chunks, duplicate_of "
                                             "FROM articles")).all())
    return {"vectors": dict(zip(got["ids"], got["documents"])), "records": sorted(chat.store.records.list_keys()),
            "articles": [tuple(a) for a in articles]}


def opened(store: Path, servers: tuple[str, str] | None = None) -> NewsChat:
    """The store opened here as a new process would open it: a local store through a copy of its folder,
    a path nothing in this process has opened before (Chroma keeps an opened store's index in memory, so
    the original's path is never opened here while another process writes it). A subprocess searching
    the original took 5 s more per search, most of it loading torch and the model."""
    if servers:
        return NewsChat(Settings(store_dir=store, chroma_url=servers[0], database_url=servers[1]))
    copy = store.parent / f"{store.name}-probe-{next(PROBES)}"
    shutil.copytree(store, copy)
    return NewsChat(Settings(store_dir=copy, chroma_url="", database_url=""))


def searches_see_only_whole_articles(chat: NewsChat) -> list[str]:
    """Search as a user would and check every hit opens and matches its article. Returns the texts
    found for the harbour story."""
    texts = []
    for query in ("lighthouse keeper harbour master", "council motion road", "solar panels lighthouse"):
        for chunk in chat.search(query, Filters(), k=10):
            article = chat.article(chunk.article_id)
            assert article is not None, f"a hit's article {chunk.article_id} cannot be opened"
            assert article.body[chunk.start:chunk.end] == chunk.text, f"a hit in {chunk.path} is not its text"
            texts.append(chunk.text)
    assert texts, "searches found nothing"
    return [t for t in texts if "lighthouse" in t]


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, dict]:
    """Version 2 ingested cleanly into a new store, from the folder every test below uses; and version 1
    ingested once into `version-one`, which each local test copies as its starting store."""
    root = tmp_path_factory.mktemp("crash")
    folder = root / "news"
    write_version(folder, 1)
    ingest(root / "version-one", folder)
    write_version(folder, 2)
    ingest(root / "clean-store", folder)
    return root, snapshot(root / "clean-store")


def kill_when_paused(proc: subprocess.Popen, pause: Path, moment: str) -> None:
    """Wait until the process has reached `moment` (it writes the name to `pause` and waits there:
    rag/checkpoints.py), then kill it with SIGKILL."""
    deadline = time.monotonic() + 240
    while not pause.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, f"the process never reached {moment}"
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)


def kill_at(root: Path, store: Path, moment: str, servers: tuple[str, str] | None = None) -> None:
    """Version 1 in the store, then version 2's ingest killed at `moment`; checks what searches see right
    after the kill."""
    folder = root / "news"
    if servers:
        write_version(folder, 1)
        ingest(store, folder, servers)
    else:  # the same store as ingesting version 1 here, without another process loading the model
        shutil.copytree(root / "version-one", store)
    write_version(folder, 2)  # eighty records now, and the harbour story edited
    pause = root / f"pause-{moment}"
    pause.unlink(missing_ok=True)
    kill_when_paused(ingest_process(store, folder, pause_at=moment, pause_file=pause, servers=servers), pause, moment)

    lighthouse = searches_see_only_whole_articles(opened(store, servers))
    assert lighthouse, "the story being edited must stay searchable in one of its versions"
    assert all(OLD in t for t in lighthouse) or all(NEW in t for t in lighthouse)  # never both


def rerun(store: Path, folder: Path, servers: tuple[str, str] | None = None) -> tuple[NewsChat, dict]:
    """The re-run, here rather than in another `rag ingest` process (5 s of loading the model saved; the
    command itself is tested in test_cli_ingest.py): a new NewsChat on the killed store's own folder.
    Returns it and the store's snapshot."""
    servers = servers or ("", "")
    chat = NewsChat(Settings(store_dir=store, articles_dir=folder, chroma_url=servers[0], database_url=servers[1]))
    report = chat.ingest([folder])
    assert report.failed == []
    return chat, snapshot(store, servers)


def kill_then_rerun(root: Path, store: Path, moment: str, servers: tuple[str, str] | None = None) -> dict:
    """kill_at, then a re-run, after which searches find only the edited story; the store's snapshot."""
    kill_at(root, store, moment, servers)
    chat, got = rerun(store, root / "news", servers)
    assert all(NEW in t for t in searches_see_only_whole_articles(chat))
    return got


@pytest.mark.parametrize("moment", MOMENTS)
def test_killed_ingest_then_a_rerun_equals_a_clean_ingest(clean, moment):
    root, expected = clean
    assert kill_then_rerun(root, root / f"store-{moment}", moment) == expected
    write_version(root / "news", 2)


@contextmanager
def small_disk(folder: Path, kilobytes: int):
    """A real disk of `kilobytes` (a tmpfs) mounted at `folder`; skips where this user may not mount one."""
    folder.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"a full disk is made as a small tmpfs, and mounting one is not allowed here: {made.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "--lazy", str(folder)])  # (lazy: this process may still hold its files)


def test_an_ingest_on_a_full_disk_is_reported_and_a_rerun_with_room_finishes_it(clean):
    # A store with 1 MB of room left, then 360 more records, and a file deleted. On a full disk Chroma fails
    # with "Error in compaction", and removing what the failed write left, or the deleted file's chunks,
    # fails the same way; either once crashed the command with a traceback and no report. Now each file's
    # failure is reported, and what is left is removed by the next ingest.
    root, expected = clean
    folder = root / "news"
    (folder / "council.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records(400)))
    (folder / "harbour.txt").unlink()
    size = sum(f.stat().st_size for f in (root / "version-one").rglob("*") if f.is_file())
    with small_disk(root / "disk", size // 1024 + 1024) as disk:
        store = disk / "store"
        shutil.copytree(root / "version-one", store)
        proc = ingest_process(store, folder)
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 1, err  # failed, said so, and did not crash
        assert "rag: ingest failed" not in err  # (the keyword index's own failure may still log a traceback)
        first = json.loads(out)
        failed = {Path(f["path"]).name: f["error"] for f in first["failed"]}
        assert failed["council.jsonl"].startswith("not indexed (the store keeps its earlier version")
        # the deleted file: forgotten by the catalog (its chunks then wait for the next sync), or not even that
        assert first["deleted"] == 1 or failed["harbour.txt"].startswith("gone, but still in the store")
        assert all("is full or nearly" in error and "free some space and run the ingest again" in error
                   for error in failed.values())
        subprocess.run(["mount", "-o", "remount,size=200m", str(disk)], check=True)  # room again
        again = NewsChat(Settings(store_dir=store, articles_dir=folder, chroma_url="", database_url=""))
        report = again.ingest([folder])
        assert (report.failed, report.added, first["deleted"] + report.deleted) == ([], 360, 1)
        status = again.status()
        assert status["vectors"] == status["chunks"] and status["articles"] == 400
        assert "session 399 " in again.search("Ashby council session 399 motion 2793", Filters(), k=3)[0].text
        assert all("lighthouse" not in c.text for c in again.search("lighthouse keeper harbour master", Filters(), k=5))
        del again
    write_version(folder, 2)


def test_an_edit_undone_after_a_killed_ingest_leaves_nothing_of_it(clean):
    # Killed once the edit's first vectors are written, then the files are put back as they were: the
    # catalog still vouches for version 1, so the re-run finds nothing to sync, and only the repair of
    # what the killed process wrote keeps its vectors from staying in Chroma for ever.
    root, _ = clean
    store = root / "store-undone"
    kill_at(root, store, "vectors-written")
    write_version(root / "news", 1)
    _, got = rerun(store, root / "news")
    assert got == snapshot(root / "version-one")
    write_version(root / "news", 2)


PORT = """---
title: Port traffic record
published: {date}
source: {outlet}
---
Lindenport handled 9.1 million containers last year, port director Lena Frisk said on Wednesday.
"""


def test_a_killed_ingest_of_a_new_date_and_outlet_alone_leaves_no_copy_with_the_old_ones(tmp_path):
    # Only the date and the outlet edited: the chunk's text is the same, so after a kill between the
    # catalog's commit and the removal of the earlier vectors, the repair took those (old date, old
    # outlet) for current. The article was found twice, and by the filters of its old date and outlet.
    folder, store = tmp_path / "news", tmp_path / "store"
    folder.mkdir()
    (folder / "port.md").write_text(PORT.format(date="2024-01-10", outlet="city-gazette"))
    ingest(store, folder)
    (folder / "port.md").write_text(PORT.format(date="2025-03-15", outlet="metro-news"))
    pause = tmp_path / "pause"
    kill_when_paused(ingest_process(store, folder, pause_at="committed", pause_file=pause), pause, "committed")
    chat, _ = rerun(store, folder)
    status = chat.status()
    assert status["vectors"] == status["chunks"] == 1
    found = chat.search("containers port director", Filters(), k=5)
    assert [(c.published, c.source) for c in found] == [("2025-03-15", "metro-news")]
    assert chat.search("containers port director", Filters(until="2024-12-31"), k=5) == []
    assert chat.search("containers port director", Filters(source="city-gazette"), k=5) == []


def test_killed_ingest_on_a_shared_store_then_a_rerun_equals_a_clean_ingest(clean, tmp_path):
    # The same on real servers: vectors in `chroma run`, catalog and record manager in PostgreSQL.
    root, expected = clean
    with chroma_server(tmp_path / "chroma") as chroma_url, postgres_server(tmp_path / "pg") as database_url:
        got = kill_then_rerun(root, tmp_path / "local", "batch-written", (chroma_url, database_url))
    assert got == expected
    write_version(root / "news", 2)


def test_a_killed_rebuild_leaves_every_article_searchable_and_a_rerun_finishes_it(clean):
    root, expected = clean
    store, folder = root / "store-rebuild", root / "news"
    shutil.copytree(root / "clean-store", store)
    pause = root / "pause-rebuild"
    # killed once the first batch of chunks is embedded again, nothing committed yet
    kill_when_paused(ingest_process(store, folder, "--rebuild", pause_at="batch-written", pause_file=pause), pause,
                     "batch-written")
    chat = opened(store)
    assert chat.status()["articles"] == 81 and chat.status()["vectors"] == chat.status()["chunks"]
    assert all(NEW in t for t in searches_see_only_whole_articles(chat))
    again = NewsChat(Settings(store_dir=store, articles_dir=folder, chroma_url="", database_url=""))
    report = again.ingest([folder], again=True)
    assert report.failed == [] and report.chunks_embedded == again.status()["chunks"]
    assert snapshot(store) == expected


def test_a_rebuild_with_another_model_killed_midway_leaves_the_old_store_whole(clean, tmp_path):
    root, expected = clean
    store, folder = root / "store-new-model", root / "news"
    shutil.copytree(root / "clean-store", store)
    other = tmp_path / "other-model"  # the same weights under another name: a different model to the store
    other.symlink_to(embeddings.resolve_model("")[1])
    for moment in ("batch-written", "rebuilt-beside"):  # building beside it; built, not yet in its place
        pause = root / f"pause-{moment}"
        kill_when_paused(ingest_process(store, folder, "--rebuild", "--model", str(other), pause_at=moment,
                                        pause_file=pause), pause, moment)
        assert snapshot(store) == expected  # the old model's store, as it was
    settings = Settings(store_dir=store, articles_dir=folder, chroma_url="", database_url="",
                        embedding_model=str(other))
    report = rebuild(settings, [folder])
    assert report.failed == [] and report.added == 81
    assert not any(store.with_name(f"{store.name}.{left}").exists() for left in ("rebuilding", "replaced"))
    assert NewsChat(settings).status()["model"] == "other-model"


def test_a_shared_store_rebuild_with_another_model_killed_midway_leaves_the_old_store_whole(clean, tmp_path):
    # The same on real servers: the new store is built beside the old one (a schema and a collection of
    # its own) and promoted in one database transaction, so a kill before it changes nothing the old
    # store's users see; the next rebuild removes what the killed one left and finishes.
    root, _ = clean
    folder = root / "news"
    other = tmp_path / "other-model"
    other.symlink_to(embeddings.resolve_model("")[1])
    with chroma_server(tmp_path / "chroma") as chroma_url, postgres_server(tmp_path / "pg") as database_url:
        servers = (chroma_url, database_url)
        ingest(tmp_path / "one", folder, servers)
        expected = snapshot(tmp_path / "one", servers)
        for moment in ("batch-written", "rebuilt-beside"):
            pause = root / f"pause-shared-{moment}"
            kill_when_paused(ingest_process(tmp_path / "two", folder, "--rebuild", "--model", str(other),
                                            pause_at=moment, pause_file=pause, servers=servers), pause, moment)
            assert snapshot(tmp_path / "one", servers) == expected  # the old model's store, as it was
        settings = Settings(store_dir=tmp_path / "two", articles_dir=folder, chroma_url=chroma_url,
                            database_url=database_url, embedding_model=str(other))
        report = rebuild(settings, [folder])
        assert report.failed == [] and report.added == 81
        chat = NewsChat(settings)
        assert chat.status()["model"] == "other-model" and chat.status()["vectors"] == chat.status()["chunks"]
        assert len(chat.store.client.list_collections()) == 1  # the killed rebuilds' and the old vectors went


def test_two_ingests_at_once_take_turns(clean):
    root, expected = clean
    folder, store = root / "news", root / "store-together"
    write_version(folder, 2)
    first, second = ingest_process(store, folder), ingest_process(store, folder)
    outs = [p.communicate(timeout=300) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    assert any("waiting: another ingest" in err for _, err in outs)
    reports = [json.loads(out) for out, _ in outs]
    assert sorted(r["added"] for r in reports) == [0, 81]  # one wrote everything, the other found it done
    assert snapshot(store) == expected
