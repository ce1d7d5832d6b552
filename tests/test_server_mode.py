"""Shared mode, on real servers: vectors in `chroma run` (RAG_CHROMA_URL), catalog and record manager
in PostgreSQL (RAG_DATABASE_URL, Debian's postgresql started here on a free loopback port). Two
instances with different local folders share one store: what one ingests, the other answers, with
verified quotes and the whole article; only one writes at a time."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import chromadb
import gradio as gr
import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from processes import STOP_POSTGRES, chroma_server, postgres_server, stop_chroma, stop_postgres
from rag import cli, embeddings, indexing, rebuilding
from rag.models import Filters
from rag.rebuilding import rebuild
from rag.service import NewsChat
from rag.settings import OFFLINE_ENVIRONMENT, Settings
from rag.store import WRITER_LOCK_KEY, StoreError
from rag.web import handlers
from rag.web.app import add_article_pages
from rag.web.runtime import Backend

PROJECT = Path(__file__).resolve().parent.parent
FERRY = """Ferry line to Zanzibar opens

The new ferry line from Dar es Salaam to Zanzibar opened on Monday with a brass band on the quay.
The operator said the crossing takes ninety minutes and runs six times a day.
"""


@pytest.fixture
def servers(tmp_path):
    """A fresh Chroma server and PostgreSQL server for each test, so no test depends on another."""
    with chroma_server(tmp_path / "chroma") as chroma_url, postgres_server(tmp_path / "pg") as database_url:
        yield chroma_url, database_url


def shared_settings(folder: Path, servers, articles: Path | None = None, model: str = "") -> Settings:
    chroma_url, database_url = servers
    return Settings(store_dir=folder, chroma_url=chroma_url, database_url=database_url,
                    articles_dir=articles or folder / "articles", embedding_model=model)


def instance(folder: Path, servers, articles: Path | None = None) -> NewsChat:
    return NewsChat(shared_settings(folder, servers, articles))


def test_two_instances_share_one_store(servers, tmp_path, articles_dir):
    one = instance(tmp_path / "one", servers, articles_dir)
    assert one.ingest().added == 1
    status = one.status()
    assert status["store"] == servers[0] and "postgresql" in status["database"] and "rag@" in status["database"]
    assert status["vectors"] == status["chunks"] > 0
    assert not (tmp_path / "one" / "catalog.sqlite").exists()  # nothing but caches in the local folder

    two = instance(tmp_path / "two", servers)  # another machine: its own, empty local folder
    assert two.status()["articles"] == 1
    answer = two.ask("What did Lukashenko say about sending soldiers?")
    assert not answer.refused and "soldiers" in answer.citations[0].quote
    article = two.article(answer.citations[0].chunk.article_id)
    assert article.body[answer.citations[0].start:answer.citations[0].end] == answer.citations[0].quote

    news = tmp_path / "news"
    news.mkdir()
    (news / "ferry.txt").write_text(FERRY)
    started = time.monotonic()
    assert two.ingest([news]).added == 1
    answer = one.ask("How long does the ferry crossing to Zanzibar take?")
    print(f"\ningested on one instance, answered with verified quotes on the other after "
          f"{time.monotonic() - started:.2f} s")
    assert not answer.refused and "ninety minutes" in " ".join(c.quote for c in answer.citations)
    assert one.article(answer.citations[0].chunk.article_id).title == "Ferry line to Zanzibar opens"
    # the first instance's keyword index caught up from the shared store
    assert "Zanzibar" in one.search("Zanzibar brass band quay", Filters(), k=1)[0].text
    # its folder holds only caches: deleted under a running instance, it is made again, not an error
    shutil.rmtree(tmp_path / "one")
    assert "Zanzibar" in one.search("Zanzibar brass band quay", Filters(), k=1)[0].text
    assert not one.ask("How long does the ferry crossing to Zanzibar take?").refused


BRIDGE = """Bridge to Ilha opens

The bridge from the mainland to Ilha opened on Tuesday after four years of building.
Its toll is two euros a crossing, the ministry said.
"""


def test_two_machines_with_a_folder_at_the_same_path_keep_each_others_articles(servers, tmp_path, articles_dir):
    # Files are known by their path on every machine alike. Two machines that each keep their own
    # `~/news` used to delete each other's articles at every sync. Now a sync removes only what its own
    # machine stored (RAG_MACHINE, the host name by default), and `--prune` removes the rest on purpose.
    # (One folder stands for both machines' `~/news`: its files are swapped between the two syncs.)
    news, desk_only, laptop_only = tmp_path / "news", tmp_path / "desk-disk", tmp_path / "laptop-disk"
    for folder in (news, desk_only, laptop_only):
        folder.mkdir()
    (desk_only / "ferry.txt").write_text(FERRY)
    for f in articles_dir.iterdir():  # (the Belarus article)
        shutil.copy(f, desk_only / f.name)
    (laptop_only / "bridge.txt").write_text(BRIDGE)

    def on(disk: Path) -> None:  # this machine's ~/news
        for old in news.iterdir():
            old.unlink()
        for f in disk.iterdir():
            shutil.copy(f, news / f.name)

    desk = NewsChat(replace(shared_settings(tmp_path / "desk", servers, news), machine="desk"))
    laptop = NewsChat(replace(shared_settings(tmp_path / "laptop", servers, news), machine="laptop"))
    on(desk_only)
    assert desk.ingest([news]).added == 2
    on(laptop_only)
    report = laptop.ingest([news])
    assert (report.added, report.deleted, report.kept_elsewhere, report.warnings) == (1, 0, 2, [])
    assert report.line().endswith("0 deleted, 0 failed; 2 kept as other machines' (gone here)")  # (the page's line)
    ferry = "How long does the ferry crossing to Zanzibar take?"
    assert "ninety minutes" in " ".join(c.quote for c in laptop.ask(ferry).citations)
    on(desk_only)
    report = desk.ingest([news])
    assert (report.unchanged, report.deleted, report.kept_elsewhere) == (2, 0, 1)
    assert "two euros" in " ".join(c.quote for c in desk.ask("What is the toll on the bridge to Ilha?").citations)
    assert desk.status()["articles"] == 3
    # a machine's own deletion is a deletion, and another machine's files never make its folder look
    # emptied (they used to: "holds no article files now", and its own deleted file stayed)
    (news / "ferry.txt").unlink()
    assert desk.ingest([news]).deleted == 1
    assert "ninety minutes" not in " ".join(c.quote for c in laptop.ask(ferry).citations)
    for f in news.iterdir():
        f.unlink()  # the laptop's folder, its one article deleted
    report = laptop.ingest([news])
    assert (report.deleted, report.kept_elsewhere, report.warnings) == (1, 1, [])
    # a file stored before machines were recorded is anyone's; the machine that finds it adopts it
    engine = sa.create_engine(servers[1])
    with engine.begin() as db:
        db.execute(sa.text("UPDATE files SET machine = NULL"))
    on(desk_only)
    (news / "ferry.txt").unlink()
    assert desk.ingest([news]).unchanged == 1
    with engine.connect() as db:
        assert db.execute(sa.text("SELECT machine FROM files")).scalars().all() == ["desk"]
    engine.dispose()
    # and --prune removes another machine's files on purpose
    for f in news.iterdir():
        f.unlink()
    report = laptop.ingest([news], prune=True)
    assert (report.deleted, report.kept_elsewhere) == (1, 0) and laptop.status()["articles"] == 0


def test_a_copy_another_machine_stored_stays_its_own_when_the_original_goes(servers, tmp_path):
    # The desk stored x.md; the laptop stored y.md, the same text (a copy) and another file. x.md deleted
    # on the desk: its sync stored y.md's article in x.md's place and recorded y.md as the desk's. Then
    # the laptop deleted y.md and its sync kept it as "another machine's": answered for good.
    desk_news, laptop_news = tmp_path / "desk-news", tmp_path / "laptop-news"
    desk_news.mkdir(), laptop_news.mkdir()
    title, body = FERRY.split("\n", 1)
    for path, outlet in ((desk_news / "x.md", "coast-post"), (laptop_news / "y.md", "ferry-daily")):  # two outlets'
        path.write_text(f"---\ntitle: {title}\ndate: 2024-05-01\nsource: {outlet}\n---\n\n{body}")  # copies
    (laptop_news / "other.md").write_text(BRIDGE)
    desk = NewsChat(replace(shared_settings(tmp_path / "desk", servers, desk_news), machine="desk"))
    laptop = NewsChat(replace(shared_settings(tmp_path / "laptop", servers, laptop_news), machine="laptop"))
    assert desk.ingest([desk_news]).added == 1 and laptop.ingest([laptop_news]).unchanged == 1  # (y.md: a copy)
    (desk_news / "x.md").unlink()
    assert desk.ingest([desk_news]).deleted == 1
    ferry = "How long does the ferry crossing to Zanzibar take?"
    assert [c.chunk.path for c in laptop.ask(ferry).citations][:1] == [str(laptop_news / "y.md")]
    (laptop_news / "y.md").unlink()
    report = laptop.ingest([laptop_news])
    assert (report.deleted, report.kept_elsewhere) == (1, 0)
    assert laptop.ask(ferry).refused and laptop.status()["articles"] == 1


@pytest.mark.parametrize("model", ["same", "other"])
def test_a_rebuild_leaves_each_file_the_machine_that_stored_it(servers, tmp_path, model):
    # `rag ingest desk-news --rebuild` on the desk also reads the files the laptop stored that the desk
    # can see (one host, a shared mount): they were recorded as the desk's, and when the laptop deleted
    # one, its sync kept it ("another machine's") and it answered until a --prune.
    desk_news, laptop_news = tmp_path / "desk-news", tmp_path / "laptop-news"
    desk_news.mkdir(), laptop_news.mkdir()
    (desk_news / "ferry.txt").write_text(FERRY)
    (laptop_news / "bridge.txt").write_text(BRIDGE)
    desk = replace(shared_settings(tmp_path / "desk", servers, desk_news), machine="desk")
    laptop = NewsChat(replace(shared_settings(tmp_path / "laptop", servers, laptop_news), machine="laptop"))
    assert NewsChat(desk).ingest([desk_news]).added == 1 and laptop.ingest([laptop_news]).added == 1
    if model == "other":
        other = tmp_path / "other-model"
        other.symlink_to(embeddings.resolve_model("")[1])
        desk = replace(desk, embedding_model=str(other))
    rebuild(desk, [desk_news])
    assert NewsChat(desk).store.catalog.machine_by_file() == {
        str(desk_news / "ferry.txt"): "desk", str(laptop_news / "bridge.txt"): "laptop"}
    (laptop_news / "bridge.txt").unlink()
    laptop = NewsChat(replace(shared_settings(tmp_path / "laptop", servers, laptop_news), machine="laptop",
                              embedding_model=desk.embedding_model))
    assert (laptop.ingest([laptop_news]).deleted, laptop.status()["articles"]) == (1, 1)


def test_a_rebuild_whose_lock_ended_is_not_promoted(servers, tmp_path, monkeypatch):
    # Found by a review: a rebuild with another model built beside the store while holding the old
    # store's writer lock; that lock's session ended (idle_session_timeout, an administrator), another
    # machine ingested an article meanwhile, and the promoted store lacked it, the rebuild reporting success.
    desk_news, laptop_news = tmp_path / "desk-news", tmp_path / "laptop-news"
    desk_news.mkdir(), laptop_news.mkdir()
    (desk_news / "ferry.txt").write_text(FERRY)
    desk = replace(shared_settings(tmp_path / "desk", servers, desk_news), machine="desk")
    assert NewsChat(desk).ingest([desk_news]).added == 1
    other = tmp_path / "other-model"
    other.symlink_to(embeddings.resolve_model("")[1])
    engine = sa.create_engine(servers[1], isolation_level="AUTOCOMMIT")

    def meanwhile(name: str) -> None:
        if name == "rebuilt-beside":
            with engine.connect() as db:  # only the old store's writer session ends
                db.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                                   "AND granted AND objid = :k"), {"k": WRITER_LOCK_KEY})
            (laptop_news / "bridge.txt").write_text(BRIDGE)
            laptop = NewsChat(replace(shared_settings(tmp_path / "laptop", servers, laptop_news), machine="laptop"))
            assert laptop.ingest([laptop_news]).added == 1

    monkeypatch.setattr(rebuilding, "reached", meanwhile)
    with pytest.raises(StoreError, match="writer lock .* ended .* is unchanged"):
        rebuild(replace(desk, embedding_model=str(other)), [desk_news])
    engine.dispose()
    assert NewsChat(desk).status()["articles"] == 2  # the store as it was, with the laptop's article


def test_a_cli_on_another_folder_sees_the_shared_store(servers, tmp_path, articles_dir):
    assert instance(tmp_path / "app", servers, articles_dir).ingest().added == 1
    chroma_url, database_url = servers
    env = {**OFFLINE_ENVIRONMENT, "RAG_CHROMA_URL": chroma_url, "RAG_DATABASE_URL": database_url,
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "rag", "status", "--json", "--store", str(tmp_path / "cli")],
                         cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    status = json.loads(out.stdout)
    assert status["articles"] == 1 and status["store"] == chroma_url
    assert "postgresql" in status["database"]
    # an articles folder given as the local folder: refused, or the keyword index's files would land there
    out = subprocess.run([sys.executable, "-m", "rag", "status", "--store", str(articles_dir)],
                         cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 2 and "holds articles" in out.stderr and not (articles_dir / "bm25").exists()
    # and a machine's folder inside its articles folder is a store's: its caches are never read as articles
    inside = instance(articles_dir / "cache", servers, articles_dir)
    inside.search("Lukashenko soldiers", Filters())  # (the keyword index written in the folder)
    assert list((articles_dir / "cache").rglob("*.json"))
    report = inside.ingest()
    assert (report.added, report.failed) == (0, []) and inside.status()["articles"] == 1


def test_two_stores_on_one_chroma_server_keep_their_own_vectors(servers, tmp_path, articles_dir):
    # A second database pointed at the same Chroma server (a staging catalog, a mistyped RAG_DATABASE_URL)
    # shared the collection "articles" with the first: each sync deleted the other store's vectors as
    # stale, and the first store's questions found nothing.
    chroma_url, database_url = servers
    engine = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as db:
        db.execute(sa.text("CREATE DATABASE staging"))
    engine.dispose()
    news = tmp_path / "news"
    news.mkdir()
    (news / "ferry.txt").write_text(FERRY)
    first = instance(tmp_path / "first", servers, articles_dir)
    second = NewsChat(shared_settings(tmp_path / "second", (chroma_url, database_url.rsplit("/", 1)[0] + "/staging"), news))
    assert first.ingest().added == 1 and second.ingest().added == 1
    assert first.ingest().unchanged == 1 and second.ingest().unchanged == 1  # (each sync once more)
    for chat, question, said in [(first, "What did Lukashenko say about sending soldiers?", "soldiers"),
                                 (second, "How long does the ferry crossing to Zanzibar take?", "ninety minutes")]:
        status = chat.status()
        assert status["articles"] == 1 and status["vectors"] == status["chunks"] > 0, status
        answer = chat.ask(question)
        assert not answer.refused and said in " ".join(c.quote for c in answer.citations), answer.text
    assert first.store.collection_name != second.store.collection_name


@pytest.mark.parametrize("when", ["before the first write", "during a write", "between two writes"])
def test_a_database_that_stops_during_an_ingest_is_reported_not_raised(servers, tmp_path, articles_dir,
                                                                       monkeypatch, caplog, when):
    # PostgreSQL stopped while `rag ingest` wrote: 419 lines of driver tracebacks, and the ingest ended in
    # an exception from releasing the writer lock, so `--json` printed no report at all.
    one = instance(tmp_path / "one", servers, articles_dir)
    assert one.ingest().added == 1
    news = tmp_path / "news"
    news.mkdir()
    (news / "a-ferry.txt").write_text(FERRY)
    (news / "b-ferry.txt").write_text(FERRY.replace("Zanzibar", "Pemba"))
    step = {"before the first write": "_plan", "during a write": "index", "between two writes": "_commit"}[when]
    real = getattr(indexing, step)

    def outage(*args, **kwargs):  # the real server stopped while the files are planned, at a write, or after it
        if step != "_commit":
            stop_postgres(servers[1])
        done = real(*args, **kwargs)
        if step == "_commit" and servers[1] in STOP_POSTGRES:
            stop_postgres(servers[1])
            STOP_POSTGRES.pop(servers[1])
        return done

    monkeypatch.setattr(indexing, "UNIT_CHUNKS", 1)  # one file per write
    monkeypatch.setattr(indexing, step, outage)
    if step == "_plan":  # nothing written yet: the ingest stops with one line (rag ingest: exit 2)
        with pytest.raises(StoreError, match="does not answer"):
            one.ingest([news])
        assert not any(r.exc_info for r in caplog.records if r.name.startswith("rag"))
        return
    report = one.ingest([news])
    failed = [str(news / "b-ferry.txt")] if step == "_commit" else [str(news / "a-ferry.txt"), str(news / "b-ferry.txt")]
    assert [f["path"] for f in report.failed] == failed
    assert "does not answer" in report.failed[0]["error"] and "\n" not in report.failed[0]["error"]
    logged = [r for r in caplog.records if r.name.startswith("rag")]
    assert logged and not any(r.exc_info for r in logged), [r.getMessage() for r in logged]


def test_a_chroma_server_that_stops_during_an_ingest_is_reported_in_one_line(servers, tmp_path, articles_dir,
                                                                            monkeypatch, caplog):
    # The report was right, but each failed step logged the HTTP client's whole traceback on stderr.
    one = instance(tmp_path / "one", servers, articles_dir)
    assert one.ingest().added == 1
    news = tmp_path / "news"
    news.mkdir()
    (news / "a-ferry.txt").write_text(FERRY)
    real = indexing.index

    def crash(*args, **kwargs):  # the real server is gone when the first unit is written
        stop_chroma(servers[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(indexing, "index", crash)
    report = one.ingest([news])
    assert [f["path"] for f in report.failed] == [str(news / "a-ferry.txt")]
    assert f"the Chroma server {servers[0]} does not answer" in report.failed[0]["error"]
    assert "\n" not in report.failed[0]["error"]
    logged = [r for r in caplog.records if r.name.startswith("rag")]
    assert logged and not any(r.exc_info for r in logged), [r.getMessage() for r in logged]
    # (the review) another server's HTTP error (a chat model's) is not the Chroma server's
    other = httpx.ConnectError("refused", request=httpx.Request("POST", "http://127.0.0.1:11434/api/chat"))
    assert one.store.unreachable(other) == ""


def test_a_chroma_server_that_stops_during_rag_ask_is_reported_in_one_line(servers, tmp_path, articles_dir,
                                                                            monkeypatch, capsys):
    # `rag ingest` and the page said an outage in one line; `rag ask` (and `search`, `eval`, `status`, which
    # share cli.outage_in_one_line) printed the HTTP client's whole traceback when the server stopped once
    # the store was open (a server down before is said in one line by Store's opening).
    assert instance(tmp_path / "one", servers, articles_dir).ingest().added == 1
    monkeypatch.setenv("RAG_CHROMA_URL", servers[0])
    monkeypatch.setenv("RAG_DATABASE_URL", servers[1])
    opened = NewsChat.__init__

    def open_then_stop(chat, settings):
        opened(chat, settings)
        stop_chroma(servers[0])

    monkeypatch.setattr(NewsChat, "__init__", open_then_stop)
    capsys.readouterr()
    assert cli.main(["ask", "What did Lukashenko say?", "--store", str(tmp_path / "one")]) == 2
    said = capsys.readouterr().err
    assert said.startswith("rag: ") and "Chroma server" in said and "Traceback" not in said, said
    assert said.count("\n") == 1, said


def test_only_a_database_that_does_not_answer_counts_as_an_outage(servers, tmp_path, articles_dir):
    # An outage is logged in one line, without the driver's traceback; an error the server answered with
    # (a statement timeout here, a deadlock, its disk full) keeps its traceback.
    store = instance(tmp_path / "one", servers, articles_dir).store
    with pytest.raises(sa.exc.OperationalError) as answered:
        with store.catalog.engine.connect() as db:
            db.execute(sa.text("SET statement_timeout = 1"))
            db.execute(sa.text("SELECT pg_sleep(1)"))
    assert store.unreachable(answered.value) == ""
    stop_postgres(servers[1])
    with pytest.raises(sa.exc.OperationalError) as down:
        store.catalog.counts()
    assert "does not answer" in store.unreachable(down.value)


def test_the_page_during_a_database_outage_says_the_database_does_not_answer(servers, tmp_path, articles_dir,
                                                                             monkeypatch, caplog):
    # Under `rag serve`, an outage showed raw driver errors to a question and a 500 for the whole article.
    backend = Backend(shared_settings(tmp_path / "one", servers, articles_dir))
    backend.start(ingest_at_start=True)
    assert backend.ready.is_set()
    article_id = backend.chat.search("Lukashenko soldiers", Filters(), k=1)[0].article_id
    app = FastAPI()
    add_article_pages(app, backend, None)
    client = TestClient(app)
    assert client.get(f"/article/{article_id}").status_code == 200
    stop_postgres(servers[1])
    page = client.get(f"/article/{article_id}")
    assert page.status_code == 503 and "does not answer" in page.text and "Try again" in page.text
    said = []
    monkeypatch.setattr(gr, "Warning", said.append)  # (the toast a browser would show)
    list(handlers.respond(backend, "What did Lukashenko say?", [], [], "", "", "", ""))
    assert len(said) == 1 and "does not answer" in said[0] and "\n" not in said[0], said
    assert not any(r.exc_info for r in caplog.records if r.name.startswith("rag"))


def test_a_database_outage_during_warm_up_leaves_the_page_ready(servers, tmp_path, articles_dir, monkeypatch):
    # The keyword index loads from the database as the app warms up: an outage then left "cannot load the
    # embedding model" on the page for good, though the model had loaded.
    warm_up = NewsChat.warm_up

    def outage(chat):
        stop_postgres(servers[1])
        warm_up(chat)

    monkeypatch.setattr(NewsChat, "warm_up", outage)
    backend = Backend(shared_settings(tmp_path / "one", servers, articles_dir))
    backend.start(ingest_at_start=True)
    assert backend.ready.is_set() and backend.error == ""


def test_the_writer_lock_outlives_a_server_that_ends_idle_transactions(servers, tmp_path, articles_dir, monkeypatch):
    # The lock sat on a connection "idle in transaction" for the whole ingest: a server that ends such
    # sessions (idle_in_transaction_session_timeout, common on managed PostgreSQL) ended the lock too, and
    # a second writer could then repair away the first one's chunks before they were committed.
    engine = sa.create_engine(servers[1], isolation_level="AUTOCOMMIT")
    with engine.connect() as db:
        db.execute(sa.text("ALTER ROLE rag SET idle_in_transaction_session_timeout = '1s'"))
    one = instance(tmp_path / "one", servers, articles_dir)
    held = []
    write = indexing.index

    def slow_write(*args, **kwargs):  # a long write: longer than the server lets a transaction idle
        time.sleep(2.5)
        with engine.connect() as db:
            held.append(db.execute(sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")).scalar())
        return write(*args, **kwargs)

    monkeypatch.setattr(indexing, "index", slow_write)
    report = one.ingest()
    engine.dispose()
    assert (report.added, report.failed) == (1, []) and held == [1]


def test_a_writer_whose_lock_ended_commits_nothing_more_and_says_so(servers, tmp_path, articles_dir, monkeypatch):
    # PostgreSQL restarted during an ingest: the writer lock ended with its connection, the other
    # connections reconnected, and the ingest went on writing; a second machine took the lock and its
    # repair deleted vectors the first had not committed; the first then committed their catalog rows
    # and reported success (43 articles in the catalog with no vectors, found by no question). Here the
    # lock's session is ended by the server's own pg_terminate_backend, as a restart ends it.
    for n in range(3):
        (articles_dir / f"ferry-{n}.txt").write_text(FERRY.replace("Monday", f"Monday the {n + 10}th"))
    monkeypatch.setattr(indexing, "UNIT_CHUNKS", 1)  # one file per unit
    one = instance(tmp_path / "one", servers, articles_dir)
    engine = sa.create_engine(servers[1], isolation_level="AUTOCOMMIT")
    units = []

    def end_the_lock(name: str) -> None:
        if name == "vectors-written":
            units.append(name)
            if len(units) == 2:  # the first unit is committed; the lock ends while the second is written
                with engine.connect() as db:
                    db.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_locks "
                                       "WHERE locktype = 'advisory' AND granted"))

    monkeypatch.setattr(indexing, "reached", end_the_lock)
    report = one.ingest()
    engine.dispose()
    assert report.added == 1 and len(report.failed) == 3  # (the unit being written and the two after it)
    assert all("writer lock" in f["error"] and "ended" in f["error"] for f in report.failed), report.failed
    monkeypatch.undo()
    other = instance(tmp_path / "other", servers, articles_dir)  # the next writer finds and writes the rest
    again = other.ingest()
    assert (again.added, again.failed) == (3, []) and again.repaired > 0
    status = other.status()
    assert status["articles"] == 4 and status["chunks"] == status["vectors"]


def leftovers(servers) -> tuple[list[str], list[str]]:
    """The Chroma collections and the rebuild schemas in the database."""
    chroma_url, database_url = servers
    port = int(chroma_url.rsplit(":", 1)[1])
    collections = sorted(c.name for c in chromadb.HttpClient(host="127.0.0.1", port=port).list_collections())
    engine = sa.create_engine(database_url)
    with engine.connect() as db:
        schemas = db.execute(sa.text("SELECT schema_name FROM information_schema.schemata "
                                     "WHERE schema_name LIKE 'rag%'")).scalars().all()
    engine.dispose()
    return collections, sorted(schemas)


def test_another_machines_files_never_hide_an_emptied_folder(servers, tmp_path):
    # Files another machine stored that are here too (a folder shared over the network) are neither this
    # machine's stored files nor new ones: they used to read as a move, and an empty mount point beside
    # them lost its articles.
    news = tmp_path / "news"
    for folder, count in (("shared", 25), ("drive", 20)):
        (news / folder).mkdir(parents=True)
        for n in range(count):
            (news / folder / f"{folder}{n}.txt").write_text(f"Report {folder} {n}\n\nThe {folder} pier {n} "
                                                             f"reopened on Monday.\n")
    drive = tmp_path / "drive"
    (news / "drive").rename(drive)  # (not yet on the laptop)
    laptop = NewsChat(replace(shared_settings(tmp_path / "laptop", servers, news), machine="laptop"))
    assert laptop.ingest([news]).added == 25
    drive.rename(news / "drive")
    desk = NewsChat(replace(shared_settings(tmp_path / "desk", servers, news), machine="desk"))
    report = desk.ingest([news])
    assert (report.added, report.unchanged) == (20, 25)
    (news / "drive").rename(drive)
    (news / "drive").mkdir()  # the desk's drive not mounted
    report = desk.ingest([news])
    assert (report.deleted, len(report.warnings)) == (0, 1) and desk.status()["articles"] == 45


def test_a_rebuild_with_another_model_never_drops_another_machines_articles(servers, tmp_path, articles_dir):
    # A machine can read only its own files: those another machine stored at the same path are not
    # deleted ones to drop from the rebuilt store. The rebuild is refused, the store unchanged.
    news = tmp_path / "news"
    shutil.copytree(articles_dir, news)
    desk = replace(shared_settings(tmp_path / "desk", servers, news), machine="desk")
    assert NewsChat(desk).ingest([news]).added == 1
    for f in news.iterdir():
        f.unlink()
    (news / "bridge.txt").write_text(BRIDGE)
    other = tmp_path / "other-model"
    other.symlink_to(embeddings.resolve_model("")[1])
    laptop = replace(shared_settings(tmp_path / "laptop", servers, news, model=str(other)), machine="laptop")
    with pytest.raises(StoreError, match="on the machine “desk”, not this one.*The store .* is unchanged"):
        rebuild(laptop, [news])
    chat = NewsChat(desk)
    assert chat.status()["articles"] == 1 and not chat.ask("What did Lukashenko say about sending soldiers?").refused


def test_a_shared_store_rebuilt_with_another_model_is_built_beside_and_never_emptied(
        servers, tmp_path, articles_dir, monkeypatch):
    # A rebuild with another model used to empty a shared store first: every machine lost every answer
    # until it finished, and for good when it failed. Now the new store is built beside (its own schema
    # and collection) and put in place in one database transaction; a failure leaves the old one whole.
    one = instance(tmp_path / "one", servers, articles_dir)
    assert one.ingest().added == 1
    other = tmp_path / "other-model"  # the packaged weights under another name: another model to the store
    other.symlink_to(embeddings.resolve_model("")[1])
    settings = shared_settings(tmp_path / "two", servers, articles_dir, model=str(other))
    question = "What did Lukashenko say about sending soldiers?"
    # What others keep on the same servers is none of the rebuild's business: another application's
    # LangChain records in the shared table, and a collection whose name merely starts like ours.
    with one.store.records.engine.begin() as db:
        db.execute(sa.text("INSERT INTO upsertion_record (uuid, key, namespace, group_id, updated_at) "
                           "VALUES ('u-1', 'k-1', 'other-app/docs', 'g', 1.0)"))
    one.store.client.create_collection("articles_archive")

    def fail_midway(*args, **kwargs):  # a full disk on the server cannot be made here
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(indexing, "index", fail_midway)
    with pytest.raises(StoreError, match="is unchanged"):
        rebuild(settings)
    monkeypatch.undo()
    assert not one.ask(question).refused  # the old store answers throughout, and after the failure
    assert one.status()["articles"] == 1
    in_use = one.store.collection_name
    assert leftovers(servers) == (sorted([in_use, "articles_archive"]), [])  # the half-built store is gone

    assert rebuild(settings).added == 1
    collections, schemas = leftovers(servers)
    collections.remove("articles_archive")
    assert len(collections) == 1 and collections != [in_use] and schemas == []  # the old vectors went too
    with one.store.records.engine.connect() as db:
        assert db.execute(sa.text("SELECT namespace FROM upsertion_record WHERE key = 'k-1'")).scalar() == "other-app/docs"
        # a layout older versions refuse: they would look for the vectors in "articles" and find none
        # (as a new shared store's catalog has since it names a collection of its own)
        assert db.execute(sa.text("SELECT value FROM meta WHERE key = 'layout'")).scalar() == "3"
    new = NewsChat(shared_settings(tmp_path / "three", servers, model=str(other)))
    assert new.status()["articles"] == 1 and not new.ask(question).refused
    back = shared_settings(tmp_path / "two", servers, articles_dir)  # and back: a generation of its own
    assert rebuild(back).added == 1
    assert len(leftovers(servers)[0]) == 2 and leftovers(servers)[0] != collections + ["articles_archive"]
    assert not instance(tmp_path / "four", servers).ask(question).refused


def test_a_shared_store_whose_database_is_not_postgresql_is_never_emptied_by_a_rebuild(tmp_path, articles_dir):
    # Without PostgreSQL's schemas there is nowhere to build the new store beside the one in use, and a
    # rebuild with another model used to empty the store first: every machine lost its answers until it
    # finished, and for good if it failed. Now it is refused, the store unchanged. (SQLite stands in for
    # any other database; a shared one would be on a network drive or another server.)
    with chroma_server(tmp_path / "chroma") as chroma_url:
        servers = (chroma_url, f"sqlite:///{tmp_path / 'shared-catalog.sqlite'}")
        one = instance(tmp_path / "one", servers, articles_dir)
        assert one.ingest().added == 1
        other = tmp_path / "other-model"
        other.symlink_to(embeddings.resolve_model("")[1])
        with pytest.raises(StoreError, match="needs the catalog in PostgreSQL, not sqlite.* The store is unchanged"):
            rebuild(shared_settings(tmp_path / "two", servers, articles_dir, model=str(other)))
        assert one.status()["articles"] == 1 and one.status()["vectors"] == one.status()["chunks"] > 0
        assert not one.ask("What did Lukashenko say about sending soldiers?").refused


def test_a_shared_store_rebuilt_with_another_model_is_not_searched_or_written_with_the_old_one(
        servers, tmp_path, articles_dir):
    # One machine rebuilds the shared store with another model. Another machine still running with the
    # old one would compare its questions' vectors with the new model's (same size here, so no error,
    # only wrong passages) and add old-model vectors among them. It opens the store again with the new
    # model instead (it used to refuse every question until restarted), or, where that model is not on
    # the machine, says which model to start with.
    one = instance(tmp_path / "one", servers, articles_dir)
    elsewhere = instance(tmp_path / "elsewhere", servers, articles_dir)
    assert one.ingest().added == 1
    other = tmp_path / "other-model"  # the packaged weights under another name: another model to the store
    other.symlink_to(embeddings.resolve_model("")[1])
    assert rebuild(shared_settings(tmp_path / "two", servers, articles_dir, model=str(other))).added == 1
    news = tmp_path / "news"
    news.mkdir()
    (news / "ferry.txt").write_text(FERRY)
    other.rename(tmp_path / "not-on-this-machine")
    restart = f"rebuilt with the embedding model 'other-model'.* start again with `--model {other}`.* not a folder"
    with pytest.raises(StoreError, match=restart):
        elsewhere.ask("What did Lukashenko say about sending soldiers?")
    with pytest.raises(StoreError, match=restart):
        elsewhere.ingest([news])
    (tmp_path / "not-on-this-machine").rename(other)
    assert not one.ask("What did Lukashenko say about sending soldiers?").refused
    assert one.status()["model"] == "other-model" and one.ingest([news]).added == 1  # written with the new model
    now = NewsChat(shared_settings(tmp_path / "three", servers, model=str(other)))
    assert (now.status()["articles"], now.status()["vectors"]) == (2, now.status()["chunks"])
    assert "ferry" in now.search("ferry timetable", k=1)[0].text.lower()


def test_a_shared_store_rebuild_by_a_role_that_owns_only_its_schema(servers, tmp_path, articles_dir):
    # Managed databases often give the app a role that owns its own schema and not the database: the
    # store's tables are then in that schema ("$user" comes first in search_path). Building beside needs
    # a schema of its own, so without the right to create one the rebuild stops, saying which grant is
    # missing, and changes nothing; with it, the new tables take the old ones' place in that schema.
    chroma_url, database_url = servers
    admin = sa.create_engine(database_url)
    with admin.begin() as db:
        db.execute(sa.text("CREATE ROLE app LOGIN"))
        db.execute(sa.text("CREATE SCHEMA app AUTHORIZATION app"))
    as_app = (chroma_url, database_url.replace("//rag@", "//app@"))
    assert instance(tmp_path / "one", as_app, articles_dir).ingest().added == 1
    other = tmp_path / "other-model"
    other.symlink_to(embeddings.resolve_model("")[1])
    settings = shared_settings(tmp_path / "two", as_app, articles_dir, model=str(other))
    with pytest.raises(StoreError, match=r"may not create the schema .*GRANT CREATE ON DATABASE.* is unchanged"):
        rebuild(settings)
    assert not instance(tmp_path / "three", as_app).ask("What did Lukashenko say about sending soldiers?").refused
    with admin.begin() as db:
        db.execute(sa.text("GRANT CREATE ON DATABASE postgres TO app"))
    assert rebuild(settings).added == 1
    with admin.connect() as db:
        where = db.execute(sa.text("SELECT table_schema FROM information_schema.tables WHERE table_name = 'meta'"))
        assert sorted(where.scalars()) == ["app"]
    admin.dispose()
    assert NewsChat(settings).status()["articles"] == 1


def test_a_shared_store_from_before_an_upgrade_says_which_role_may_upgrade_it(servers, tmp_path, articles_dir):
    # Shared stores often give other machines a role that may read and write the tables but does not own
    # them. Opening a catalog from before `files.machine` adds that column, which PostgreSQL allows only the
    # tables' owner: such a machine stops with what to do, instead of a raw SQL error, and once the owner
    # has opened the store it works as before.
    chroma_url, database_url = servers
    assert instance(tmp_path / "one", servers, articles_dir).ingest().added == 1
    admin = sa.create_engine(database_url)
    with admin.begin() as db:
        db.execute(sa.text("ALTER TABLE files DROP COLUMN machine"))  # as the version before `machine` wrote it
        db.execute(sa.text("CREATE ROLE reader LOGIN"))
        db.execute(sa.text("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO reader"))
    admin.dispose()
    as_reader = (chroma_url, database_url.replace("//rag@", "//reader@"))
    with pytest.raises(StoreError, match=r"needs an upgrade .*owns its tables.* \(rag\).*role reader may not"):
        instance(tmp_path / "two", as_reader)
    assert instance(tmp_path / "three", servers).status()["articles"] == 1  # the owner upgrades it
    assert not instance(tmp_path / "four", as_reader).ask("What did Lukashenko say about sending soldiers?").refused
