"""Hybrid retrieval over a real store: filters applied in the query, the as-of date, time phrases."""

from __future__ import annotations

import threading

import pytest

from rag import indexing
from rag.dates import time_window
from rag.models import Filters
from rag.retrieval import LexicalIndex, chroma_where
from rag.service import NewsChat
from news_fixtures import write_corpus


@pytest.fixture
def news_chat(chat, tmp_path):
    report = chat.ingest([write_corpus(tmp_path)])
    assert report.added == 5 and not report.failed
    return chat


def ids(chunks):
    return [c.record_id for c in chunks]


def test_finds_the_passage_that_answers(news_chat_ro):
    found = news_chat_ro.search("Which team does Damar Hamlin play for?", Filters(as_of="2023-01-06"), k=3)
    assert found[0].record_id == "hamlin-jan"
    assert "Buffalo Bills" in found[0].text


def test_as_of_date_never_uses_later_articles(news_chat_ro):
    found = news_chat_ro.search("Damar Hamlin return to practice", Filters(as_of="2023-01-06"), k=10)
    assert "hamlin-later" not in ids(found)
    found = news_chat_ro.search("Damar Hamlin return to practice", Filters(as_of="2023-05-01"), k=10)
    assert found[0].record_id == "hamlin-later"


def test_date_range_and_source_filters(news_chat_ro):
    found = news_chat_ro.search("Damar Hamlin", Filters(since="2022-01-01", until="2022-12-31"), k=10)
    assert set(ids(found)) == {"hamlin-old"}
    found = news_chat_ro.search("Damar Hamlin", Filters(source="theweek.com"), k=10)
    assert set(ids(found)) == {"hamlin-later"}
    assert news_chat_ro.search("Damar Hamlin", Filters(source="no-such-outlet"), k=10) == []
    # an outlet is a name: typed in capitals, or with a space after it, it still finds that outlet's articles
    assert set(ids(news_chat_ro.search("Damar Hamlin", Filters(source="TheWeek.com "), k=10))) == {"hamlin-later"}
    # or spaced as it reads ("Valley Courier" for valleycourier, which a saved page's "Source:" line names)
    assert set(ids(news_chat_ro.search("Damar Hamlin", Filters(source="The Week.com"), k=10))) == {"hamlin-later"}
    asked = news_chat_ro.ask("Where was Damar Hamlin treated?", filters=Filters(source="THEWEEK.COM", as_of="2026-01-01"))
    assert {c.source for c in asked.retrieved} == {"theweek.com"}


def test_this_week_favours_articles_near_the_as_of_date(news_chat_ro):
    question = "What happened to Damar Hamlin this week?"
    found = news_chat_ro.search(question, Filters(as_of="2023-01-06"), k=2)
    assert found[0].record_id == "hamlin-jan"
    assert time_window(question, "2023-01-06") == (20221230, 20230106)


def test_lexical_index_is_saved_and_follows_new_articles(news_chat, tmp_path):
    news_chat.search("Vatican funeral", Filters())
    assert (news_chat.lexical._current_dir() / "stamp.txt").exists()
    extra = tmp_path / "extra.txt"
    extra.write_text("Zanzibar ferry\n\nThe new Zanzibar ferry line opened with a brass band.\n", encoding="utf-8")
    news_chat.ingest([extra])
    assert "Zanzibar" in news_chat.search("Zanzibar ferry brass band", Filters(), k=1)[0].text


def test_a_garbled_keyword_index_is_built_again_not_fatal(news_chat, tmp_path):
    # A power cut or a full disk left a file of the keyword index empty and its word cache garbled: every
    # question failed ("No data left in file", "file is not a database"), and an ingest did not mend it.
    news_chat.search("Vatican funeral", Filters())
    saved = news_chat.lexical._current_dir()
    next(saved.glob("*.npy")).write_bytes(b"")
    (news_chat.lexical.dir / "tokens.sqlite").write_bytes(b"garbage" * 100)
    reopened = NewsChat(news_chat.settings)  # (the next `rag ask`, or the app started again)
    assert reopened.lexical.search("Vatican funeral", Filters(), 1)
    assert "funeral" in reopened.search("Vatican funeral", Filters(), k=1)[0].text
    (news_chat.lexical.dir / "tokens.sqlite").write_bytes(b"garbage" * 100)
    extra = tmp_path / "extra.txt"
    extra.write_text("Zanzibar ferry\n\nThe new Zanzibar ferry line opened with a brass band.\n", encoding="utf-8")
    assert reopened.ingest([extra]).added == 1
    assert len(reopened.lexical.search("Zanzibar ferry brass band", Filters(), 10)) == 1


def test_ingest_leaves_the_keyword_index_current_and_forgets_deleted_articles(chat, tmp_path):
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "ferry.txt").write_text("Zanzibar ferry\n\nThe new Zanzibar ferry line opened with a brass band.\n")
    (folder / "quarry.txt").write_text("Quarry lake\n\nThe old quarry at Brindlecombe became a swimming lake.\n")
    chat.ingest([folder])
    saved = (chat.lexical._current_dir() / "stamp.txt").read_text()
    assert saved == chat.lexical.current_stamp()  # the next `rag search` loads it instead of rebuilding
    assert chat.search("Zanzibar brass band", Filters(), k=1)[0].title == "Zanzibar ferry"
    (folder / "ferry.txt").unlink()
    report = chat.ingest([folder])
    assert report.deleted == 1
    assert chat.lexical.search("Zanzibar brass band", Filters(), 10) == []


def test_a_question_during_a_keyword_index_rebuild_uses_the_previous_index(news_chat, tmp_path, monkeypatch):
    import threading

    import bm25s

    before = news_chat.lexical.search("Damar Hamlin", Filters(), 10)
    assert before
    indexing, release = threading.Event(), threading.Event()
    original_index = bm25s.BM25.index

    def slow_index(self, *args, **kwargs):  # hold the rebuild midway until the question was answered
        indexing.set()
        release.wait(30)
        return original_index(self, *args, **kwargs)

    monkeypatch.setattr(bm25s.BM25, "index", slow_index)
    extra = tmp_path / "extra.txt"
    extra.write_text("Zanzibar ferry\n\nThe new Zanzibar ferry line opened with a brass band.\n", encoding="utf-8")
    ingest = threading.Thread(target=news_chat.ingest, args=([extra],))
    ingest.start()
    try:
        assert indexing.wait(60)
        assert news_chat.lexical.search("Damar Hamlin", Filters(), 10) == before
        assert news_chat.lexical.search("Zanzibar brass band", Filters(), 10) == []  # not in the old index
    finally:
        release.set()
        ingest.join(60)
    assert news_chat.lexical.search("Zanzibar brass band", Filters(), 10)


def test_a_background_rebuild_of_the_keyword_index_that_fails_is_logged_not_printed(news_chat, monkeypatch,
                                                                                    caplog):
    # (the review) A rebuild a question starts in the background, failing (the Chroma server stopped during
    # `rag eval`), had its whole traceback printed by the thread's default hook over the command's output.
    lexical = news_chat.lexical
    lexical.ensure_fresh()
    printed = []
    monkeypatch.setattr(threading, "excepthook", printed.append)
    monkeypatch.setattr(lexical, "current_stamp", lambda: "changed by another process")
    monkeypatch.setattr(lexical, "_build", lambda stamp: (_ for _ in ()).throw(RuntimeError("server gone")))
    assert lexical.search("Damar Hamlin", Filters(), 10)  # the question uses the index at hand
    for rebuild in [t for t in threading.enumerate() if t.name == "rag-bm25"]:  # (it may be over already)
        rebuild.join(30)
    assert printed == []
    assert any("keyword index" in r.getMessage() and "server gone" in r.getMessage() for r in caplog.records)


def test_while_an_ingest_runs_its_new_chunks_are_already_found_by_meaning(news_chat, tmp_path):
    from rag.indexing import sync

    extra = tmp_path / "extra.txt"
    extra.write_text("Zanzibar ferry\n\nThe new Zanzibar ferry line opened with a brass band.\n", encoding="utf-8")
    news_chat.lexical.hold = True  # an ingest is running: the keyword index stays as it was
    sync(news_chat.store, [extra], news_chat.settings)  # its chunks are in the vector store already
    found = news_chat.search("Zanzibar ferry brass band", Filters(as_of="2026-01-01"), k=1)
    assert found and found[0].title == "Zanzibar ferry"
    assert news_chat.lexical.search("Zanzibar brass band", Filters(), 10) == []  # BM25 catches up later


def test_a_question_while_the_first_ingest_has_written_vectors_but_no_catalog_yet_is_not_crashed(chat, tmp_path,
                                                                                                  monkeypatch):
    # Seen on the page during a first ingest of 400 articles: "The search failed: Expected IDs to be a
    # non-empty list, got 0 IDs in get." The vectors of a unit were found, none of their articles was in
    # the catalog yet (so none is shown), and the empty list went on to Chroma.
    written, release = threading.Event(), threading.Event()

    def pause(name: str) -> None:
        if name == "vectors-written":
            written.set()
            release.wait(60)

    monkeypatch.setattr(indexing, "reached", pause)
    ingest = threading.Thread(target=chat.ingest, args=([write_corpus(tmp_path)],))
    ingest.start()
    try:
        assert written.wait(120)
        assert chat.store.collection.count() > 0 and chat.status()["articles"] == 0
        assert chat.search("Damar Hamlin collapsed Bills", Filters(), k=5) == []
        answer = chat.ask("Which team does Damar Hamlin play for?")
        assert answer.refused and not answer.citations
    finally:
        release.set()
        ingest.join(120)
    assert chat.search("Damar Hamlin collapsed Bills", Filters(), k=5)


def test_a_question_while_another_machine_deletes_chunks_is_answered_not_crashed(news_chat, monkeypatch):
    # Found in shared mode (a Chroma server) while another machine's ingest replaced 400 articles: 1
    # question in 354 failed with StaleIndex ("the nearest-neighbour index holds chunks the store no longer
    # has"): the server kept returning ids being deleted, also after the store was reopened. The race is
    # rare, so here the store's reply stands in for it: the nearest chunk's record is gone at every read.
    fetch = news_chat.retriever._fetch  # (asked with the nearest-neighbour ids first)
    monkeypatch.setattr(news_chat.retriever, "_fetch", lambda ids: {i: v for i, v in fetch(ids).items() if i != ids[0]})
    answer = news_chat.ask("Which team does Damar Hamlin play for?", filters=Filters(as_of="2023-01-06"))
    assert answer.citations and all(c.chunk.record_id for c in answer.citations)


def test_results_carry_offsets_into_the_stored_body(news_chat_ro):
    for chunk in news_chat_ro.search("negative Covid test China travelers", Filters(), k=5):
        assert news_chat_ro.article(chunk.article_id).body[chunk.start:chunk.end] == chunk.text


def test_the_two_filter_paths_agree(chat, tmp_path):
    """Filters run as a Chroma `where` (dense search) and as a mask over the keyword index: the same chunks."""
    from itertools import product

    from news_fixtures import RECORDS

    undated = {"id": "undated", "title": "An undated note", "text": "Damar Hamlin sent thanks to fans.",
               "source": "cnn.com"}
    chat.ingest([write_corpus(tmp_path, RECORDS + [undated])])
    snap = chat.lexical.ensure_fresh()
    every = chat.store.collection.get(include=[])["ids"]
    for since, until, source, as_of in product(["", "2023-01-04"], ["", "2023-01-05"], ["", "cnn.com"],
                                               ["", "2023-01-03", "2026-01-01"]):
        filters = Filters(since=since, until=until, source=source, as_of=as_of)
        where = chroma_where(filters)
        by_chroma = set(chat.store.collection.get(where=where, include=[])["ids"] if where else every)
        mask = snap.mask(filters)
        by_mask = {i for n, i in enumerate(snap.ids) if mask is None or mask[n] > 0}
        assert by_chroma == by_mask, filters
        # the rule itself: an undated article is kept unless a date range is asked for (as-of keeps it)
        records = chat.store.collection.get(where=where, include=["metadatas"])["metadatas"] if where else \
            chat.store.collection.get(include=["metadatas"])["metadatas"]
        kept_undated = any(m["article_id"] == "undated" for m in records)
        assert kept_undated == (not since and not until and source in ("", "cnn.com")), filters


def test_a_question_with_filters_before_anything_is_stored_is_answered_not_crashed(chat):
    # a question link naming an outlet, opened while the first sync has stored nothing yet
    for filters in (Filters(source="merkur"), Filters(since="2022-01-01", source="merkur", as_of="2026-01-01")):
        assert chat.search("soldiers", filters) == []
        assert chat.ask("What did Lukashenko say about sending soldiers?", filters=filters).refused


def test_the_time_prior_decides_between_two_copies(chat, tmp_path):
    """Two copies of one story a year apart, the older one a little closer in words: "this week" takes
    the recent one. With the time prior switched off the older one would win."""
    said = "Damar Hamlin was cleared to return to practice with the Buffalo Bills, the team said."
    records = [{"id": "older", "title": "Hamlin cleared to practice", "published": "2022-04-20", "source": "a.example",
                "text": said + " Hamlin practice cleared."},
               {"id": "recent", "title": "Hamlin cleared to practice", "published": "2023-04-20", "source": "b.example",
                "text": said}]
    chat.ingest([write_corpus(tmp_path, records)])
    question = "Who was cleared to return to practice this week, Hamlin?"
    assert ids(chat.search(question, Filters(as_of="2023-04-21"), k=2))[0] == "recent"
    chat.retriever.weights.time = 0.0
    assert ids(chat.search(question, Filters(as_of="2023-04-21"), k=2))[0] == "older"


def test_two_processes_rebuilding_the_keyword_index_at_once_leave_one_whole_index(news_chat, monkeypatch):
    # Two LexicalIndex objects on one store stand for two processes (the lock is a file lock). The first
    # build is held midway; the second waits for it and loads it, instead of building too and removing
    # the folder being written.
    import shutil
    import threading

    import bm25s

    shutil.rmtree(news_chat.lexical.dir)
    first, second = LexicalIndex(news_chat.store), LexicalIndex(news_chat.store)
    indexing, release = threading.Event(), threading.Event()
    original_index = bm25s.BM25.index

    builds = []

    def held_index(self, *args, **kwargs):
        builds.append(threading.current_thread().name)
        if threading.current_thread().name == "first":
            indexing.set()
            release.wait(30)
        return original_index(self, *args, **kwargs)

    monkeypatch.setattr(bm25s.BM25, "index", held_index)
    results, errors = {}, []

    def build(index, name):
        try:
            results[name] = index.ensure_fresh().search("Damar Hamlin", None, 10)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"{name}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=build, args=(first, "first"), name="first"),
               threading.Thread(target=build, args=(second, "second"), name="second")]
    threads[0].start()
    assert indexing.wait(60)
    threads[1].start()
    threads[1].join(3)
    release.set()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert builds == ["first"]  # built once; the second process loaded that build
    assert results["first"] and results["first"] == results["second"]
    current = first._current_dir()
    assert (current / "stamp.txt").read_text() == first.current_stamp()
    assert [p.name for p in first.dir.glob("index-*")] == [current.name]  # one whole index, no leftovers
