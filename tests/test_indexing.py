"""Incremental ingest into a real Chroma store with the real model: add, skip, update, delete, dedupe."""

from __future__ import annotations

import json
import os
import sqlite3
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from rag import articles, indexing
from rag.indexing import sync
from rag.models import Filters, article_uid
from rag.rebuilding import rebuild
from rag.service import NewsChat
from rag.settings import Settings

DRILLS = """---
title: Taiwan holds naval drills
published: 2023-03-05
source: reuters.com
---
Warships from Taiwan's navy sailed through the strait on Sunday in a two-day exercise.

Officials said the drills were planned months ago and aimed at no one.
"""
HARVEST = """Record wheat harvest in Kansas

Farmers in Kansas brought in the largest wheat harvest in a decade, helped by a wet spring.

Grain elevators were full by the end of July, the state agriculture office said.
"""
SCHOOL = """School roof repaired

The roof of Lindenport's Nordskolan was repaired over the holidays. Headteacher Ines Roth said the work cost 780,000 euros.
"""
STADIUM = """New stadium opens in Lindenport

The new stadium has 24,000 seats and a roof that closes in four minutes, the city said.
"""
RECORDS = [
    {"title": "Bridge closed for repairs", "text": "The old river bridge closed on Monday for six weeks of repairs.",
     "published": "2023-04-03", "source": "local.example"},
    {"title": "Library opens new wing", "text": "The city library opened a new children's wing with 5,000 books.",
     "published": "2023-04-04", "source": "local.example"},
    {"title": "Marathon draws record field", "text": "More than 30,000 runners started the spring marathon.",
     "published": "2023-04-05", "source": "local.example"},
]


@pytest.fixture
def news(tmp_path: Path) -> Path:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "drills.md").write_text(DRILLS)
    (folder / "harvest.txt").write_text(HARVEST)
    return folder


@pytest.fixture
def news_chat(tmp_path: Path, news: Path) -> NewsChat:
    return NewsChat(Settings(store_dir=tmp_path / "store", articles_dir=news, chroma_url="", embedding_model=""))


def stored(chat: NewsChat) -> dict[str, tuple[str, dict]]:
    """Every vector in the store: {id: (document, metadata)}."""
    got = chat.store.collection.get(include=["documents", "metadatas"])
    return {i: (d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])}


def documents(chat: NewsChat) -> str:
    return "\n".join(d for d, _ in stored(chat).values())


def assert_consistent(chat: NewsChat) -> None:
    """The catalog, the vectors and the record manager agree."""
    status = chat.status()
    assert status["chunks"] == status["vectors"] == len(chat.store.records.list_keys())


def test_new_files_are_added(news_chat):
    report = news_chat.ingest()
    assert (report.added, report.updated, report.unchanged, report.deleted, report.failed) == (2, 0, 0, 0, [])
    assert report.chunks_embedded == news_chat.status()["vectors"] > 0
    assert news_chat.status()["articles"] == 2
    assert "largest wheat harvest in a decade" in documents(news_chat)
    assert_consistent(news_chat)


def test_stored_chunks_lead_with_the_title_and_point_into_the_body(news_chat):
    news_chat.ingest()
    for document, meta in stored(news_chat).values():
        body = news_chat.article(article_uid(meta["path"], meta["article_id"])).body
        assert document.startswith(meta["title"] + "\n\n")
        assert document.endswith(body[meta["start"]:meta["end"]])


def test_reingest_unchanged_embeds_nothing(news_chat):
    news_chat.ingest()
    before = stored(news_chat)
    report = news_chat.ingest()
    assert (report.added, report.updated, report.unchanged, report.deleted) == (0, 0, 2, 0)
    assert report.chunks_embedded == 0
    assert stored(news_chat) == before


def test_a_reader_fix_reaches_files_stored_before_it_and_embeds_only_what_it_changed(news_chat, news, monkeypatch):
    news_chat.ingest()
    drills = {i: v for i, v in stored(news_chat).items() if v[1]["path"].endswith("drills.md")}
    read = indexing.read_file

    def fixed(path, *args):  # a later version reads the Kansas page's headline better
        result = read(path, *args)
        for article in result.articles:
            article.title = article.title.replace("Kansas", "Kansas, a decade's best")
        return result

    monkeypatch.setattr(indexing, "read_file", fixed)
    news_chat.ingest()  # the same version: the unchanged files are not read at all
    assert "a decade's best" not in documents(news_chat)
    monkeypatch.setattr(articles, "READER_VERSION", articles.READER_VERSION + 1)
    report = news_chat.ingest()
    assert (report.updated, report.unchanged) == (1, 1)
    assert "Record wheat harvest in Kansas, a decade's best" in documents(news_chat)
    assert report.chunks_embedded == sum(1 for _, m in stored(news_chat).values() if m["path"].endswith("harvest.txt"))
    assert {i: v for i, v in stored(news_chat).items() if i in drills} == drills
    assert_consistent(news_chat)


def test_edited_file_replaces_its_old_text(news_chat, news):
    news_chat.ingest()
    drills_ids = {i for i, (_, m) in stored(news_chat).items() if m["path"].endswith("drills.md")}
    (news / "harvest.txt").write_text(HARVEST.replace("helped by a wet spring", "despite a dry spring"))
    report = news_chat.ingest()
    assert (report.added, report.updated, report.unchanged, report.deleted) == (0, 1, 1, 0)
    text = documents(news_chat)
    assert "helped by a wet spring" not in text
    assert "despite a dry spring" in text
    assert drills_ids <= set(stored(news_chat))  # the other file was not touched
    assert report.chunks_embedded == len(stored(news_chat)) - len(drills_ids)
    assert news_chat.status()["articles"] == 2
    assert_consistent(news_chat)
    [harvest_id] = {article_uid(m["path"], m["article_id"]) for _, m in stored(news_chat).values()
                    if m["path"].endswith("harvest.txt")}
    assert "despite a dry spring" in news_chat.article(harvest_id).body


def test_a_folder_found_empty_keeps_its_stored_articles(news_chat, news, tmp_path):
    # A drive not mounted at its mount point, or a folder emptied by mistake, used to remove every stored
    # article of the folder at the next sync (the app syncs at start): a newsroom's folder then had to be
    # embedded again, for hours, once the drive was back.
    assert news_chat.ingest().added == 2
    away = tmp_path / "away"
    news.rename(away)
    news.mkdir()  # the empty mount point
    report = news_chat.ingest()
    assert (report.deleted, report.failed) == (0, [])
    assert [w["path"] for w in report.warnings] == [str(news)]
    assert "holds no article files now, against 2 stored from it" in report.warnings[0]["warning"]
    # the command acts on this store, not the default one
    assert f"rag ingest {news} --store {tmp_path / 'store'} --prune" in report.warnings[0]["warning"]
    assert news_chat.status()["articles"] == 2 and "Warships" in documents(news_chat)
    news.rmdir()
    away.rename(news)  # the drive is back: nothing to embed again
    report = news_chat.ingest()
    assert (report.unchanged, report.added, report.chunks_embedded) == (2, 0, 0)
    # files deleted on purpose go when named, or with --prune, and the one file left of a folder goes with
    # a folder sync
    (news / "drills.md").unlink()
    (news / "harvest.txt").unlink()
    assert news_chat.ingest().deleted == 0
    assert news_chat.ingest([news / "drills.md"]).deleted == 1
    report = news_chat.ingest()
    assert (report.deleted, report.warnings) == (1, []) and news_chat.status()["articles"] == 0
    assert_consistent(news_chat)
    (news / "drills.md").write_text(DRILLS)
    (news / "harvest.txt").write_text(HARVEST)
    assert news_chat.ingest().added == 2
    for f in news.iterdir():
        f.unlink()
    assert news_chat.ingest().deleted == 0
    report = news_chat.ingest(prune=True)
    assert (report.deleted, report.warnings) == (2, []) and news_chat.status()["articles"] == 0


def test_a_folder_that_lost_nearly_all_its_files_at_once_keeps_them(chat, settings):
    # The empty mount point of a drive not mounted, with one article saved into it meanwhile (an upload, a
    # followed feed's item): that one file used to make the next sync remove the whole drive's articles.
    news = settings.articles_dir

    def write(numbers) -> None:
        for n in numbers:
            (news / f"story{n:02d}.txt").write_text(f"Harbour report {n}\n\nThe harbour of Port Elmo {n} "
                                                    f"reopened on Monday after the storm, the mayor said.\n")
    write(range(24))
    assert chat.ingest().added == 25  # (and the seed article)
    # a clean-up that keeps more than a tenth of the folder is a plain deletion
    for n in range(20):
        (news / f"story{n:02d}.txt").unlink()
    report = chat.ingest()
    assert (report.deleted, report.warnings) == (20, [])
    write(range(20))
    assert chat.ingest().added == 20
    drive = news.with_name("drive")
    news.rename(drive)
    news.mkdir()
    (news / "upload.txt").write_text("Ferry line opens\n\nThe new ferry line to the island opened on Monday.\n")
    report = chat.ingest()
    assert (report.added, report.deleted, report.failed) == (1, 0, [])
    [warning] = report.warnings
    assert warning["path"] == str(news)
    assert "holds only 1 article file(s) now, against 25 stored from it" in warning["warning"]
    for n in range(2):  # a followed feed's items saved meanwhile: more than a tenth of 25, far fewer than went
        (news / f"item{n}.txt").write_text(f"Feed item {n}\n\nThe ferry timetable changed for the winter, part {n}.\n")
    report = chat.ingest()
    assert (report.added, report.deleted, len(report.warnings)) == (2, 0, 1)
    assert chat.status()["articles"] == 28 and chat.ask("Where did the harbour of Port Elmo 7 reopen?").citations
    # removed on purpose with --prune
    report = chat.ingest(prune=True)
    assert (report.deleted, report.warnings) == (25, []) and chat.status()["articles"] == 3
    # files moved within the folder leave as many behind: a plain sync, however many moved
    shutil.rmtree(news)
    drive.rename(news)
    assert chat.ingest().added == 25
    (news / "2024").mkdir()
    for f in news.glob("story*.txt"):
        f.rename(news / "2024" / f.name)
    report = chat.ingest()
    assert (report.added, report.deleted, report.warnings) == (24, 24, [])
    # and a folder left with a few files more than a tenth of those it had stored: a plain deletion
    for f in list((news / "2024").iterdir())[3:]:
        f.unlink()
    report = chat.ingest()  # 4 left of 25 stored (the seed article and 3 stories)
    assert (report.deleted, report.warnings) == (21, [])


def test_an_empty_mount_point_inside_the_folder_keeps_its_articles(chat, settings):
    # A drive mounted at a subfolder of the articles folder (news/archive): not mounted, its empty mount
    # point used to lose the drive's articles at the next sync of the folder. A subfolder deleted with
    # its files is a plain deletion.
    news = settings.articles_dir
    archive = news / "archive" / "2022"
    archive.mkdir(parents=True)
    for n in range(20):
        (archive / f"story{n}.txt").write_text(f"Harbour report {n}\n\nThe harbour of Port Elmo {n} reopened on "
                                               f"Monday after the storm, the mayor said.\n")
    drafts = news / ".drafts"  # hidden: ingested by name, never seen by a sync of the folder
    drafts.mkdir()
    for n in range(20):
        (drafts / f"draft{n}.txt").write_text(f"Draft {n}\n\nA draft about the ferry timetable, version {n}.\n")
    for n in range(3):  # (beside the seed article: the folder itself keeps more than a tenth of its files)
        (news / f"top{n}.txt").write_text(f"Top story {n}\n\nThe bridge {n} reopened in the autumn.\n")
    assert chat.ingest().added == 24
    assert chat.ingest(sorted(drafts.iterdir())).added == 20
    assert chat.ingest().warnings == []  # (the drafts' folder holds them: no emptied subfolder)
    drive = news.with_name("drive")
    (news / "archive").rename(drive)
    (news / "archive").mkdir()  # the empty mount point
    report = chat.ingest()
    assert (report.deleted, report.failed) == (0, [])
    [warning] = report.warnings
    assert warning["path"] == str(news / "archive") and "holds no article files now, against 20" in warning["warning"]
    assert chat.status()["articles"] == 44
    (news / "archive").rmdir()
    drive.rename(news / "archive")
    assert chat.ingest().chunks_embedded == 0  # back, nothing to embed again
    shutil.rmtree(news / "archive")  # deleted on purpose, with its files
    report = chat.ingest()
    assert (report.deleted, report.warnings) == (20, []) and chat.status()["articles"] == 24
    # a small clean-up that leaves its subfolder in place (rm news/old/*) is a plain deletion
    (news / "old").mkdir()
    for n in range(3):
        (news / "old" / f"old{n}.txt").write_text(f"Old report {n}\n\nThe old pier {n} closed in the spring.\n")
    assert chat.ingest().added == 3
    for f in (news / "old").iterdir():
        f.unlink()
    report = chat.ingest()
    assert (report.deleted, report.warnings) == (3, [])


def test_the_root_folder_is_looked_at_for_emptied_subfolders_and_the_look_ends():
    # "/" is its own parent folder: the walk up from a stored file never ended when "/" was synced
    kept = {f"/tmp/kept/story{n}.txt" for n in range(25)}
    stored = {path: None for path in kept} | {f"/tmp/no-such-folder/story{n}.txt": None for n in range(25)}
    found = indexing.Found(files=sorted(map(Path, kept)), folders=[Path("/")])
    looked = []
    worker = threading.Thread(target=lambda: looked.append(indexing._emptied(kept, found, stored)), daemon=True)
    worker.start()
    worker.join(10)
    assert looked == [{}]  # (the folder is gone with its files: a plain deletion)


def test_deleted_file_is_removed(news_chat, news):
    news_chat.ingest()
    (news / "drills.md").unlink()
    report = news_chat.ingest()
    assert (report.added, report.updated, report.unchanged, report.deleted) == (0, 0, 1, 1)
    assert not any(m["path"].endswith("drills.md") for _, m in stored(news_chat).values())
    assert "Warships" not in documents(news_chat)
    assert news_chat.status()["articles"] == 1
    assert_consistent(news_chat)


def test_files_outside_a_synced_folder_are_kept(news_chat, news, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("Ferry service resumes\n\nThe island ferry runs again after the storm.\n")
    news_chat.ingest([news, other])
    report = news_chat.ingest([news])  # other.txt was named on its own, not part of the folder
    assert report.deleted == 0
    assert "island ferry" in documents(news_chat)


def test_a_file_ingested_by_name_and_then_deleted_is_removed_when_named_again(news_chat, news, tmp_path):
    # `rag ingest saved/ferry.txt`, the file deleted, then named again: it stayed stored and cited
    # until its folder was synced. Its folder is there, so the file was deleted; a file whose folder is
    # missing too (a drive not mounted?) is reported missing and removes nothing.
    saved = tmp_path / "saved"
    saved.mkdir()
    ferry, tram = saved / "ferry.txt", saved / "tram.txt"
    ferry.write_text("Ferry service resumes\n\nThe island ferry runs again after the storm.\n")
    tram.write_text("Tram line extended\n\nThe tram line now runs to the harbour.\n")
    news_chat.ingest([news, ferry, tram])
    ferry.unlink()
    report = news_chat.ingest([ferry])
    assert (report.deleted, report.failed) == (1, [])
    assert "island ferry" not in documents(news_chat)
    assert news_chat.status()["articles"] == 3
    saved.rename(tmp_path / "unmounted")
    report = news_chat.ingest([tram])
    assert report.deleted == 0 and "no such file or folder" in report.failed[0]["error"]
    assert "tram line now runs" in documents(news_chat)
    never = news_chat.ingest([news / "never-stored.txt"])  # a typo is no deletion either
    assert never.deleted == 0 and "no such file or folder" in never.failed[0]["error"]
    assert_consistent(news_chat)


def test_what_a_folder_sync_cannot_see_is_not_taken_for_deleted(news_chat, news, tmp_path):
    # A hidden file ingested by name (a draft) went at the next sync of its folder, which skips hidden
    # files, and came back when named again. The store's own folder inside the articles folder was read
    # as articles (its keyword index files, each a failure).
    (news / ".drafts").mkdir()
    (news / ".drafts" / "school.txt").write_text(SCHOOL)
    assert news_chat.ingest([news, news / ".drafts" / "school.txt"]).added == 3
    report = news_chat.ingest([news])
    assert (report.deleted, report.unchanged, report.failed) == (0, 2, [])
    assert "780,000 euros" in documents(news_chat)
    # a hidden folder reached through a link that is not hidden: its files are seen, and go when deleted
    (news / ".archive").mkdir()
    (news / ".archive" / "stadium.txt").write_text(STADIUM)
    (news / "archive").symlink_to(news / ".archive")
    assert news_chat.ingest([news]).added == 1
    (news / ".archive" / "stadium.txt").unlink()
    assert news_chat.ingest([news]).deleted == 1
    inside = NewsChat(Settings(store_dir=news / "store", articles_dir=news, chroma_url="", embedding_model=""))
    assert inside.ingest().added == 2 and inside.ingest().failed == []


def test_a_link_named_on_its_own_and_removed_is_removed_when_named_again(news_chat, news, tmp_path):
    # A file named through a symbolic link is stored by its real path: with the link deleted, naming it
    # again was "no such file or folder" and the article stayed.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "school.txt").write_text(SCHOOL)
    (news / "school.txt").symlink_to(elsewhere / "school.txt")
    assert news_chat.ingest([news / "school.txt"]).added == 1
    (news / "school.txt").unlink()
    report = news_chat.ingest([news / "school.txt"])
    assert (report.deleted, report.failed) == (1, [])
    assert "780,000 euros" not in documents(news_chat) and (elsewhere / "school.txt").exists()
    # the link pointed at another file (`ln -sfn`) and named again: the earlier file goes with it
    (elsewhere / "stadium.txt").write_text(STADIUM)
    (news / "school.txt").symlink_to(elsewhere / "school.txt")
    assert news_chat.ingest([news / "school.txt"]).added == 1
    (news / "school.txt").unlink()
    (news / "school.txt").symlink_to(elsewhere / "stadium.txt")
    report = news_chat.ingest([news / "school.txt"])
    assert (report.added, report.deleted) == (1, 1) and "780,000 euros" not in documents(news_chat)
    (news / "school.txt").unlink()
    # a link named on its own to a file a given folder holds too: the link deleted and named with that
    # folder, the file stays (it was planned, then removed as the link's)
    news_chat.ingest([news])
    (elsewhere / "desk.txt").symlink_to(news / "harvest.txt")
    assert news_chat.ingest([elsewhere / "desk.txt"]).unchanged == 1
    (elsewhere / "desk.txt").unlink()
    assert news_chat.ingest([elsewhere / "desk.txt", news]).deleted == 0
    assert "largest wheat harvest" in documents(news_chat)


def test_a_link_to_a_file_deleted_where_it_lives_is_gone(news_chat, news, tmp_path):
    # The file a link in the folder points to is deleted, its own folder still there: that is a deletion,
    # not a drive that is not mounted, so the article goes (it used to stay, cited, with a warning at
    # every sync).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "school.txt").write_text(SCHOOL)
    (news / "school.txt").symlink_to(elsewhere / "school.txt")
    assert news_chat.ingest().added == 3
    (elsewhere / "school.txt").unlink()
    report = news_chat.ingest()
    assert (report.deleted, report.warnings) == (1, [])
    assert "780,000 euros" not in documents(news_chat)


@pytest.mark.skipif(shutil.which("setpriv") is None and os.geteuid() == 0,
                    reason="as root a folder is never unreadable, and setpriv (util-linux) is absent to drop that power")
def test_a_folder_that_cannot_be_read_keeps_its_articles(news_chat, news):
    # A folder without read permission for now (another user's, a share that denies access) was reported,
    # and its stored articles were deleted, to be embedded again once it could be read.
    (news / "wire").mkdir()
    (news / "wire" / "school.txt").write_text(SCHOOL)
    (news / "listed").mkdir()  # a folder that may be listed but not entered: its files cannot be looked at
    (news / "listed" / "stadium.txt").write_text(STADIUM)
    assert news_chat.ingest().added == 4
    (news / "wire").chmod(0)
    (news / "listed").chmod(0o444)
    (news / "late.txt").write_text("Ferry service resumes\n\nThe island ferry runs again.\n")
    try:
        # as root, in a process without the power to read what permissions forbid (setpriv); the CLI, so
        # the store is written as a user's ingest writes it
        drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"] if os.geteuid() == 0 else []
        done = subprocess.run(drop + [sys.executable, "-m", "rag", "ingest", str(news), "--store",
                                      str(news_chat.settings.store_dir), "--json"], capture_output=True, text=True)
    finally:
        (news / "wire").chmod(0o755)
        (news / "listed").chmod(0o755)
    assert done.stdout, done.stderr
    report = json.loads(done.stdout)  # (one file that could not be looked at stopped the whole sync)
    assert (report["added"], report["deleted"]) == (1, 0), done.stderr
    assert sorted((Path(f["path"]).name, f["error"].split(":")[0]) for f in report["failed"]) == [
        ("stadium.txt", "cannot read the file"), ("wire", "cannot read the folder")]
    assert "780,000 euros" in documents(news_chat) and "24,000 seats" in documents(news_chat)


def test_same_article_under_two_names_is_stored_once(news_chat, news):
    shutil.copy(news / "harvest.txt", news / "harvest_copy.txt")
    report = news_chat.ingest()
    assert report.added == 2 and report.failed == []
    assert news_chat.status()["articles"] == 2
    assert documents(news_chat).count("largest wheat harvest in a decade") == 1
    assert_consistent(news_chat)


def test_the_outlet_filter_offers_no_outlet_that_only_a_stored_copy_names(news_chat, news):
    # The same text under another outlet is a copy, stored once under the first outlet: offered in the
    # outlet filter, the copy's outlet found nothing.
    (news / "drills-ap.md").write_text(DRILLS.replace("source: reuters.com", "source: apnews.com"))
    news_chat.ingest()
    outlets = news_chat.outlets()  # the outlet of whichever copy was stored
    assert len(outlets) == 1 and outlets[0] in ("reuters.com", "apnews.com")
    assert news_chat.search("Taiwan navy drills strait", Filters(source=outlets[0]), k=1)


def test_an_edit_of_the_date_alone_is_reported_as_an_update(news_chat, news):
    news_chat.ingest()
    (news / "drills.md").write_text(DRILLS.replace("published: 2023-03-05", "published: 2023-03-06"))
    report = news_chat.ingest()
    assert (report.updated, report.unchanged) == (1, 1)
    assert news_chat.search("Taiwan navy drills strait", Filters(), k=1)[0].published == "2023-03-06"


def test_deleting_one_copy_keeps_the_article(news_chat, news):
    shutil.copy(news / "harvest.txt", news / "harvest_copy.txt")
    news_chat.ingest()
    (news / "harvest.txt").unlink()
    news_chat.ingest()
    assert news_chat.status()["articles"] == 2
    assert documents(news_chat).count("largest wheat harvest in a decade") == 1
    assert_consistent(news_chat)


def test_a_renamed_folder_takes_its_articles_along_so_edits_and_deletions_there_count(news_chat, news, tmp_path):
    # `mv news news-2024`, then a sync of news-2024: its files were stored as copies of the old paths,
    # which stayed the originals, so an edit or a deletion in the new folder left the old text answering.
    news_chat.ingest([news])
    moved = news.rename(tmp_path / "news-2024")
    news_chat.ingest([moved])
    assert news_chat.status()["articles"] == 2 and all("news-2024" in p for p in news_chat.store.catalog.paths())
    (moved / "harvest.txt").write_text(HARVEST.replace("helped by a wet spring", "despite a dry spring"))
    (moved / "drills.md").unlink()
    news_chat.ingest([moved])
    assert news_chat.status()["articles"] == 1
    assert "wet spring" not in documents(news_chat) and "navy sailed" not in documents(news_chat)
    assert news_chat.ask("Why did Taiwan's navy sail through the strait?").refused
    assert_consistent(news_chat)


def test_a_renamed_folder_whose_sync_stopped_after_writing_still_takes_its_articles_along(news_chat, news, tmp_path,
                                                                                          monkeypatch):
    # `mv news news-2024`, then a sync of news-2024 stopped after it wrote the files at their new paths but
    # before it removed the old ones (Ctrl-C; a kill does the same): a move was known only while the new
    # paths were new to the store, so the next sync kept the old paths as a drive not mounted: every
    # article twice, and after an edit the old text answering from a file that is gone.
    news_chat.ingest([news])
    moved = news.rename(tmp_path / "news-2024")

    def stop_once_written(moment: str) -> None:
        if moment == "committed":
            raise KeyboardInterrupt

    monkeypatch.setattr(indexing, "reached", stop_once_written)
    with pytest.raises(KeyboardInterrupt):
        news_chat.ingest([moved])
    monkeypatch.setattr(indexing, "reached", lambda moment: None)
    news_chat.ingest([moved])
    assert news_chat.status()["articles"] == 2 and all("news-2024" in p for p in news_chat.store.catalog.paths())
    (moved / "harvest.txt").write_text(HARVEST.replace("helped by a wet spring", "despite a dry spring"))
    news_chat.ingest([moved])
    assert "wet spring" not in documents(news_chat)
    assert_consistent(news_chat)


def test_a_folder_renamed_as_the_readers_change_still_takes_its_articles_along(news_chat, news, tmp_path,
                                                                              monkeypatch):
    # A move was known by the file's name and digest, and the digest held the readers' version: a folder
    # renamed before the first sync of a new version left its old paths stored, every article twice.
    news_chat.ingest([news])
    monkeypatch.setattr(articles, "READER_VERSION", articles.READER_VERSION + 1)
    moved = news.rename(tmp_path / "news-2024")
    news_chat.ingest([moved])
    assert news_chat.status()["articles"] == 2 and all("news-2024" in p for p in news_chat.store.catalog.paths())
    assert_consistent(news_chat)


def test_untitled_records_of_a_partly_read_file_are_not_kept_twice_when_their_title_changes(news_chat, news,
                                                                                          monkeypatch):
    # (the review) The records of a file with a bad line are kept as stored, unless read now: READER_VERSION 3
    # titles an untitled record by its text, not by the file's name, and the old ones were kept beside the
    # new, every untitled record of the export twice until the bad line was mended.
    records = [json.dumps({"text": "The Wexley bridge closes to lorries from March, the council said."}),
               "{broken", json.dumps({"text": "Ferry fares rise by 4% in April, the operator said."})]
    (news / "export.jsonl").write_text("\n".join(records) + "\n")
    monkeypatch.setattr(articles, "_title_from_text", lambda body: "export")  # (as version 2 titled them)
    news_chat.ingest()
    assert news_chat.status()["articles"] == 4
    monkeypatch.undo()
    monkeypatch.setattr(articles, "READER_VERSION", articles.READER_VERSION + 1)
    report = news_chat.ingest()
    assert news_chat.status()["articles"] == 4 and len(report.failed) == 1, report.to_json()
    assert "Wexley bridge closes to lorries from March, the council said.\n\nThe Wexley" in documents(news_chat)
    assert_consistent(news_chat)


def test_a_partly_read_file_in_a_renamed_folder_keeps_the_records_that_no_longer_read(news_chat, news, tmp_path):
    # (the review) A record whose line broke stays stored as it was (README, "Bad input"); its file's folder
    # renamed, the old path was taken as moved and deleted, and that record with it.
    records = [{"title": "Bridge", "text": "The Wexley bridge closes to lorries from March."},
               {"title": "Ferry", "text": "Ferry fares rise by 4% in April."}]
    export = news / "export.jsonl"
    export.write_text("".join(json.dumps(r) + "\n" for r in records))
    news_chat.ingest([news])
    export.write_text(json.dumps(records[0]) + "\n{broken\n")
    news_chat.ingest([news])
    moved = news.rename(tmp_path / "news-2024")
    news_chat.ingest([moved])
    assert "Ferry fares rise by 4% in April." in documents(news_chat)
    assert_consistent(news_chat)


def test_a_drive_not_mounted_keeps_its_files_when_a_copy_of_one_is_elsewhere(news_chat, news, tmp_path):
    # Found by a review of the rule above: a copy already stored elsewhere, or a new one under another
    # name, is no move: the drive's file is kept while the drive is away.
    drive = tmp_path / "usb"
    drive.mkdir()
    shutil.copy(news / "harvest.txt", drive / "harvest.txt")
    news_chat.ingest([news, drive])
    drive.rename(tmp_path / "usb-away")  # not mounted
    (news / "drills.md").write_text(DRILLS.replace("two-day", "three-day"))
    shutil.copy(tmp_path / "usb-away" / "harvest.txt", news / "harvest-2.txt")  # another name: a copy
    report = news_chat.ingest([news])
    assert report.deleted == 0 and str(drive / "harvest.txt") in news_chat.store.catalog.paths()


def test_a_folder_that_is_gone_is_pruned_on_purpose(news_chat, news, tmp_path):
    # `rag ingest old-news --prune` after old-news was deleted (or its drive retired) said "no such file
    # or folder" and removed nothing: there was no way to drop its articles but naming each file.
    old = tmp_path / "old-news"
    old.mkdir()
    (old / "school.txt").write_text(SCHOOL)
    (old / "stadium.txt").write_text(STADIUM)
    news_chat.ingest([news, old])
    shutil.rmtree(old)
    kept = news_chat.ingest([news, old])  # without --prune: a drive not mounted? nothing removed
    assert kept.deleted == 0 and "no such file or folder" in kept.failed[0]["error"]
    pruned = news_chat.ingest([news, old], prune=True)
    assert (pruned.deleted, pruned.failed) == (2, []) and "2 stored file(s) from it are removed" in str(pruned.warnings)
    assert news_chat.status()["articles"] == 2 and "Nordskolan" not in documents(news_chat)
    assert_consistent(news_chat)


def test_deleting_the_first_copy_keeps_a_copy_ingested_from_elsewhere(news_chat, news, tmp_path):
    copy = tmp_path / "saved" / "harvest.txt"
    copy.parent.mkdir()
    shutil.copy(news / "harvest.txt", copy)
    news_chat.ingest([news, copy])
    assert news_chat.status()["articles"] == 2
    (news / "harvest.txt").unlink()
    news_chat.ingest([news])
    assert news_chat.status()["articles"] == 2
    assert "largest wheat harvest in a decade" in documents(news_chat)
    assert_consistent(news_chat)


def test_a_copy_out_of_reach_when_its_original_goes_is_stored_once_it_is_back(news_chat, news, tmp_path):
    # the copy on a drive not mounted while the original was deleted: it stayed a copy of nothing, and
    # since its file never changed, no later sync read it again (the article was lost for good)
    drive = tmp_path / "usb"
    drive.mkdir()
    shutil.copy(news / "harvest.txt", drive / "harvest-copy.txt")
    news_chat.ingest([news, drive])
    drive.rename(tmp_path / "usb-unmounted")
    (news / "harvest.txt").unlink()
    news_chat.ingest([news])
    (tmp_path / "usb-unmounted").rename(drive)
    news_chat.ingest([drive])
    assert news_chat.status()["articles"] == 2
    answer = news_chat.ask("How big was the wheat harvest in Kansas?")
    assert not answer.refused and answer.citations[0].chunk.path.endswith("harvest-copy.txt")
    assert_consistent(news_chat)


def test_editing_the_first_copy_keeps_the_other_copy_searchable(news_chat, news):
    shutil.copy(news / "harvest.txt", news / "harvest_copy.txt")
    news_chat.ingest()
    (news / "harvest.txt").write_text(HARVEST.replace("Kansas", "Nebraska"))
    news_chat.ingest()
    text = documents(news_chat)
    assert "harvest in Nebraska" in text or "Farmers in Nebraska" in text
    assert "Farmers in Kansas" in text  # still in "harvest_copy.txt"
    assert news_chat.status()["articles"] == 3
    assert_consistent(news_chat)


@pytest.mark.parametrize("with_ids", [True, False], ids=["records with ids", "records without ids"])
def test_jsonl_change_reembeds_only_that_record(news_chat, news, with_ids):
    records = [dict(r, id=f"rec-{i}") if with_ids else dict(r) for i, r in enumerate(RECORDS)]
    feed = news / "feed.jsonl"
    feed.write_text("".join(json.dumps(r) + "\n" for r in records))
    news_chat.ingest()
    before = stored(news_chat)
    records[1]["text"] = "The city library opened a new wing for teenagers with 8,000 books."
    feed.write_text("".join(json.dumps(r) + "\n" for r in records))
    report = news_chat.ingest()
    assert (report.added, report.updated, report.unchanged, report.deleted) == (0, 1, 4, 0)
    after = stored(news_chat)
    new_ids, gone_ids = set(after) - set(before), set(before) - set(after)
    assert report.chunks_embedded == len(new_ids) == 1
    assert [after[i][1]["title"] for i in new_ids] == ["Library opens new wing"]
    assert [before[i][1]["title"] for i in gone_ids] == ["Library opens new wing"]
    assert "8,000 books" in documents(news_chat) and "5,000 books" not in documents(news_chat)
    assert_consistent(news_chat)


def test_progress_reaches_the_total(news_chat):
    calls = []
    sync(news_chat.store, [news_chat.settings.articles_dir], news_chat.settings,
         on_progress=lambda *args: calls.append(args))
    chunks = news_chat.status()["chunks"]
    assert calls[0] == (0, chunks, 0, 2)
    assert calls[-1] == (chunks, chunks, 2, 2)


def test_hidden_files_and_folders_are_not_ingested(news_chat, news):
    (news / ".Trash").mkdir()
    (news / ".Trash" / "old.txt").write_text("Deleted story\n\nA story the reader threw away.\n")
    (news / ".draft.md").write_text("# Draft\n\nNot ready to publish.\n")
    report = news_chat.ingest()
    assert report.added == 2 and report.failed == []
    assert "threw away" not in documents(news_chat) and "Not ready" not in documents(news_chat)


def test_original_that_breaks_keeps_its_article_once(news_chat, news):
    shutil.copy(news / "harvest.txt", news / "harvest_copy.txt")
    news_chat.ingest()
    before = stored(news_chat)
    (news / "harvest.txt").write_bytes(b"\x00\x01 not text any more")
    report = news_chat.ingest()
    # (it says so: "failed" and "0 unchanged" alone read as if the file's articles had left the store)
    assert [f["error"] for f in report.failed] == ["file is binary, not text (the store keeps its earlier version: 1 article)"]
    assert stored(news_chat) == before
    assert news_chat.status()["articles"] == 2


def test_failed_reindex_keeps_what_was_stored(news_chat, news, monkeypatch, caplog):
    news_chat.ingest()
    before = stored(news_chat)
    (news / "harvest.txt").write_text(HARVEST.replace("helped by a wet spring", "despite a dry spring"))
    (news / "drills.md").unlink()

    def out_of_memory(texts):  # a fault injected into the real model: the run fails while embedding
        raise RuntimeError("out of memory")

    monkeypatch.setattr(news_chat.embeddings, "embed_documents", out_of_memory)
    report = news_chat.ingest()
    assert [f["path"].endswith("harvest.txt") for f in report.failed] == [True]
    assert "out of memory" in report.failed[0]["error"] and "earlier version" in report.failed[0]["error"]
    logged = [r for r in caplog.records if r.name == "rag.indexing"]  # the log keeps the traceback
    assert logged and logged[0].exc_info and "out of memory" in str(logged[0].exc_info[1])
    assert (report.added, report.updated, report.deleted) == (0, 0, 1)  # the deleted file goes all the same
    assert stored(news_chat) == {i: v for i, v in before.items() if not v[1]["path"].endswith("drills.md")}
    assert "helped by a wet spring" in documents(news_chat)  # nothing lost, nothing half-written
    assert_consistent(news_chat)

    monkeypatch.undo()
    report = news_chat.ingest()  # the next sync retries and completes
    assert (report.updated, report.deleted, report.failed) == (1, 0, [])
    assert "despite a dry spring" in documents(news_chat) and "helped by a wet spring" not in documents(news_chat)
    assert_consistent(news_chat)


def council_in_units(chat: NewsChat, news: Path, monkeypatch) -> None:
    """The news folder ingested, then council.jsonl added: ten one-chunk records, written in units of 4."""
    chat.ingest()
    monkeypatch.setattr(indexing, "UNIT_CHUNKS", 4)
    rows = [{"id": f"r{i}", "title": f"Council story {i}", "text": f"The town council of Ashby met for session {i}."}
            for i in range(10)]
    (news / "council.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def stop_at_the_second_unit(monkeypatch) -> None:
    """The next sync fails as its second unit's vectors are written (a kill there does the same)."""
    written = []

    def reached(moment: str) -> None:
        written.append(moment)
        if written.count("vectors-written") == 2:
            raise RuntimeError("the machine went to sleep")

    monkeypatch.setattr(indexing, "reached", reached)


def test_a_file_whose_write_stopped_half_way_goes_when_it_is_renamed_or_deleted(news_chat, news, monkeypatch):
    # a JSONL of several units stopped after its first (a failure here; a kill does the same): its first
    # articles were stored under a file the catalog did not list, so no sync ever removed them
    council_in_units(news_chat, news, monkeypatch)
    stop_at_the_second_unit(monkeypatch)
    report = news_chat.ingest()
    assert report.failed and "the machine went to sleep" in report.failed[0]["error"]
    assert 0 < len(news_chat.store.catalog.articles_in(str((news / "council.jsonl").resolve()))) < 10
    monkeypatch.setattr(indexing, "reached", lambda moment: None)
    (news / "council.jsonl").rename(news / "council-2023.jsonl")
    report = news_chat.ingest()
    assert (report.added, report.failed) == (10, [])
    named = {Path(h.path).name for h in news_chat.search("Ashby town council session", k=20)}
    assert "council-2023.jsonl" in named and "council.jsonl" not in named  # no article of a file that is gone
    (news / "council-2023.jsonl").unlink()
    news_chat.ingest()
    named = {Path(h.path).name for h in news_chat.search("Ashby town council session", k=20)}
    assert news_chat.status()["articles"] == 2 and named == {"drills.md", "harvest.txt"}
    assert_consistent(news_chat)


def test_a_file_put_back_after_its_edit_stopped_half_way_is_read_again(news_chat, news, monkeypatch):
    # An export edited, its sync stopped after the first unit (a kill does the same), then the file put back
    # as it was (an undo, a backup): the catalog still held the old digest beside the first unit's new
    # text, so the restored file counted as unchanged and the edit's words answered for good.
    council_in_units(news_chat, news, monkeypatch)
    council = news / "council.jsonl"
    before = council.read_bytes()
    news_chat.ingest()
    rows = [json.loads(line) for line in before.decode().splitlines()]
    for row in rows:  # every record edited, so the edit spans all three units
        row["text"] = row["text"].replace("met for session", "was dissolved after session")
    council.write_text("".join(json.dumps(r) + "\n" for r in rows))
    stop_at_the_second_unit(monkeypatch)
    assert news_chat.ingest().failed
    assert "was dissolved after session" in documents(news_chat)  # the first unit's records: the edit
    monkeypatch.setattr(indexing, "reached", lambda moment: None)
    council.write_bytes(before)  # put back
    report = news_chat.ingest()
    assert report.failed == [] and report.updated > 0, report
    assert "was dissolved" not in documents(news_chat), "the edit's words stayed after the file was put back"
    assert "met for session 0." in documents(news_chat)
    assert_consistent(news_chat)


def test_a_file_whose_catalog_write_fails_half_way_is_reported_as_the_store_holds_it(news_chat, news, monkeypatch):
    # the articles of the unit whose catalog write failed were counted as updated ("8 of its 10 articles")
    council_in_units(news_chat, news, monkeypatch)
    write = news_chat.store.catalog.write_articles
    calls = []

    def fails_the_second_time(files, machine=None):
        calls.append(files)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        write(files, machine)

    monkeypatch.setattr(news_chat.store.catalog, "write_articles", fails_the_second_time)
    [failure] = news_chat.ingest().failed
    assert "4 of its 10 articles were updated, the rest kept as before" in failure["error"], failure
    assert len(news_chat.store.catalog.articles_in(str((news / "council.jsonl").resolve()))) == 4


def test_two_files_reusing_a_record_id_hold_two_articles(tmp_path):
    folder = tmp_path / "feeds"
    folder.mkdir()
    first = {"id": "1", "title": "Bridge closed for repairs", "published": "2023-04-03", "source": "a.example",
             "text": "The old river bridge closed on Monday for six weeks of repairs to its steel deck."}
    second = {"id": "1", "title": "Lighthouse keeper retires", "published": "2023-04-04", "source": "b.example",
              "text": "After forty years on the cliff, the lighthouse keeper of Saint Aldhelm retired on Tuesday."}
    (folder / "feed_a.jsonl").write_text(json.dumps(first) + "\n")
    (folder / "feed_b.jsonl").write_text(json.dumps(second) + "\n")
    chat = NewsChat(Settings(store_dir=tmp_path / "store", articles_dir=folder, chroma_url="", database_url="",
                             embedding_model=""))
    report = chat.ingest()
    assert (report.added, report.failed) == (2, []) and chat.status()["articles"] == 2
    assert_consistent(chat)

    answer = chat.ask("How long was the lighthouse keeper of Saint Aldhelm on the cliff?",
                      filters=Filters(as_of="2023-04-05"))
    assert not answer.refused, answer.text
    cited = answer.citations[0]
    assert cited.chunk.path.endswith("feed_b.jsonl") and cited.chunk.record_id == "1"
    assert "forty years" in cited.quote and cited.quote in second["text"]
    article = chat.article(cited.chunk.article_id)
    assert (article.title, article.body, article.path) == (second["title"], second["text"], cited.chunk.path)
    other = chat.ask("Why did the old river bridge close?", filters=Filters(as_of="2023-04-05")).citations[0]
    assert other.chunk.path.endswith("feed_a.jsonl") and other.chunk.article_id != cited.chunk.article_id
    assert chat.article(other.chunk.article_id).body == first["text"]


def test_records_sharing_an_id_in_one_file_are_named_apart_from_every_other_id_whatever_their_order(tmp_path):
    # "budget", "budget" was numbered "budget-2", the id of the file's first record: the catalog refused the
    # write, and every file written with it failed at every sync (the good story.txt here was never stored).
    # Numbered by their order, a reordered export then gave one record's id, and its page, to the other.
    folder = tmp_path / "news"
    folder.mkdir()
    rows = [("budget-2", "Harbour dredging", "Kessel harbour dredging begins in May, said port director Ines Mora."),
            ("budget", "Marathon", "The Tovin marathon drew 12,000 runners, organiser Paul Drey said."),
            ("budget", "Runway", "Rosk airport will add a second runway costing 300 million euros."),
            ("budget-3", "Ferry", "The Kessel ferry will run every hour from June, the operator said.")]
    def export(rows) -> None:
        (folder / "export.jsonl").write_text("".join(json.dumps({"id": i, "title": t, "text": x}) + "\n"
                                                     for i, t, x in rows))

    export(rows)
    (folder / "story.txt").write_text(SCHOOL)
    chat = NewsChat(Settings(store_dir=tmp_path / "store", articles_dir=folder, chroma_url="", database_url="",
                             embedding_model=""))
    report = chat.ingest()
    assert (report.added, report.failed) == (5, []) and chat.status()["articles"] == 5
    def stored_ids() -> dict[str, str]:
        return {a.record_id: a.title for a in chat.store.catalog.file_articles(str((folder / "export.jsonl").resolve()))}

    ids = stored_ids()
    # the records with ids of their own keep them; the two "budget"s are told apart by their content
    assert {i: t for i, t in ids.items() if not i.startswith("budget-") or i in ("budget-2", "budget-3")} == \
        {"budget-2": "Harbour dredging", "budget-3": "Ferry"}
    assert sorted(t for i, t in ids.items() if i.startswith("budget-") and len(i) == len("budget-") + 8) == \
        ["Marathon", "Runway"]
    assert_consistent(chat)
    assert (chat.ingest().unchanged, chat.status()["articles"]) == (5, 5)
    export([rows[0], rows[2], rows[1], rows[3]])  # the same export, its two "budget"s in the other order
    report = chat.ingest()
    assert (report.added, report.deleted, report.chunks_embedded) == (0, 0, 0) and stored_ids() == ids


def test_a_record_that_comes_to_share_its_id_keeps_it(tmp_path):
    # Named by their content, both records of an id were renamed once a second one appeared: the stored
    # one was embedded again and its page (cited before) was gone. With a line of the file broken, they
    # were renamed back and forth at every sync.
    folder = tmp_path / "news"
    folder.mkdir()
    marathon = {"id": "x", "title": "Marathon", "text": "The Tovin marathon drew 12,000 runners, organiser Paul Drey said."}
    runway = {"id": "x", "title": "Runway", "text": "Rosk airport will add a second runway costing 300 million euros."}
    export = folder / "export.jsonl"
    export.write_text(json.dumps(marathon) + "\n")
    chat = NewsChat(Settings(store_dir=tmp_path / "store", articles_dir=folder, chroma_url="", database_url="",
                             embedding_model=""))
    assert chat.ingest().added == 1
    page = chat.store.catalog.file_articles(str(export.resolve()))[0].id

    def stored_ids() -> dict[str, str]:
        return {a.title: a.record_id for a in chat.store.catalog.file_articles(str(export.resolve()))}

    export.write_text(json.dumps(marathon) + "\n" + json.dumps(runway) + "\n")
    report = chat.ingest()
    assert (report.added, report.updated, report.unchanged) == (1, 0, 1), report.counts()
    ids = stored_ids()
    assert ids["Marathon"] == "x" and ids["Runway"].startswith("x-") and chat.article(page).title == "Marathon"
    export.write_text(json.dumps(runway) + "\n" + json.dumps(marathon) + "\n" + "{broken\n")
    for _ in range(2):
        report = chat.ingest()
        assert (report.added, report.chunks_embedded, stored_ids()) == (0, 0, ids), report.counts()
    assert_consistent(chat)


def test_a_disk_full_in_the_second_batch_leaves_the_first_batch_nowhere(tmp_path):
    # 100 one-chunk records make one unit of two batches (64 + 36); the disk fills while the second is
    # written, after the first batch's vectors and records are already in the store.
    folder = tmp_path / "news"
    folder.mkdir()

    def write(version: str) -> None:
        rows = [{"id": f"r{i}", "title": f"Council note {i}", "published": "2023-04-03",
                 "text": f"The council {version} motion {i} about the harbour road on Monday."} for i in range(100)]
        (folder / "council.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))

    write("passed")
    chat = NewsChat(Settings(store_dir=tmp_path / "store", articles_dir=folder, chroma_url="", embedding_model=""))
    chat.ingest()
    before = stored(chat)
    write("rejected")
    real, calls = chat.embeddings.embed_documents, []

    def disk_full_on_the_second_batch(texts):  # a fault injected into the real model's second call
        calls.append(len(texts))
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(texts)

    chat.embeddings.embed_documents = disk_full_on_the_second_batch
    report = chat.ingest()
    assert calls == [64, 36]
    assert [f["path"].endswith("council.jsonl") for f in report.failed] == [True]
    assert "No space left on device" in report.failed[0]["error"]
    assert "earlier version" in report.failed[0]["error"]
    assert stored(chat) == before  # the first batch's 64 new vectors are gone again
    assert "rejected" not in documents(chat)
    hits = chat.search("council motion harbour road", Filters(), k=20)
    assert hits and all("passed" in c.text for c in hits)
    assert_consistent(chat)

    chat.embeddings.embed_documents = real
    report = chat.ingest()  # the next sync retries and completes
    assert (report.updated, report.failed) == (100, [])
    assert "passed" not in documents(chat) and documents(chat).count("rejected") == 100
    assert_consistent(chat)


def test_a_catalog_whose_vectors_are_gone_is_embedded_again(news_chat, news):
    # what a `rag ingest --rebuild` killed after it dropped the vectors (or a deleted vector folder)
    # leaves: the catalog still counts every article, no vector holds them
    news_chat.ingest()
    news_chat.store.client.delete_collection("articles")
    news_chat.store.reopen()
    assert news_chat.search("wheat harvest Kansas", Filters()) == []
    # a question says so, and what to do (it blamed the dates: "every stored article was published later")
    refusal = news_chat.ask("How big was the wheat harvest in Kansas?").text
    assert "search index is missing: only 0 of the" in refusal and "rag ingest" in refusal and "later" not in refusal
    report = news_chat.ingest()
    assert report.chunks_embedded == news_chat.status()["chunks"] > 0
    assert news_chat.search("wheat harvest Kansas", Filters())[0].title == "Record wheat harvest in Kansas"
    assert_consistent(news_chat)
    assert news_chat.ingest().chunks_embedded == 0  # and once whole, nothing more


def test_a_jsonl_line_that_fails_is_reported_on_every_sync_until_mended(news_chat, news):
    feed = news / "feed.jsonl"
    feed.write_text("".join(json.dumps(dict(r, id=f"rec-{i}")) + "\n" for i, r in enumerate(RECORDS)))
    news_chat.ingest()
    feed.write_text(json.dumps(dict(RECORDS[0], id="rec-0")) + "\n{broken\n")
    for _ in range(2):  # not only the first time: the file is read again while a line fails
        report = news_chat.ingest()
        assert len(report.failed) == 1 and "line 2" in report.failed[0]["error"], report.failed
        assert report.failed[0]["path"].endswith("feed.jsonl")
        assert report.chunks_embedded == 0
    feed.write_text(json.dumps(dict(RECORDS[0], id="rec-0")) + "\n")
    assert news_chat.ingest().failed == []


def test_a_record_known_by_its_text_edited_beside_a_broken_line_is_replaced(news_chat, news):
    # A record with neither id nor address is known by its text: edited while another line of its file was
    # broken, it was kept in both versions (the old one taken for the broken line's), and answers quoted the
    # company it no longer names. (Also when the headline is stored otherwise than written: its spaces
    # folded, a control character taken out; the text it was known by was the one written.)
    feed = news / "feed.jsonl"
    ferry = {"title": "Ferry  service\u0000 returns", "text": "The Gloamport ferry service is run by Oldco Shipping."}
    bakery = {"title": "Bakery reopens", "text": "The mill bakery reopened on Monday."}
    feed.write_text(json.dumps(ferry) + "\n" + json.dumps(bakery) + "\n")
    assert news_chat.ingest([feed]).added == 2
    edited = dict(ferry, text=ferry["text"].replace("Oldco Shipping", "Newco Marine"))
    feed.write_text(json.dumps(edited) + "\n{broken line\n")  # the bakery's line broke meanwhile
    report = news_chat.ingest([feed])
    assert len(report.failed) == 1 and "line 2" in report.failed[0]["error"]
    texts = {chunk.text for chunk in news_chat.search("Gloamport ferry service run by", k=10)}
    assert any("Newco Marine" in t for t in texts) and not any("Oldco" in t for t in texts), texts
    assert any("mill bakery" in c.text for c in news_chat.search("mill bakery reopened", k=10))  # kept: its line broke


def test_a_rebuild_waits_for_the_ingest_writing_the_store(news_chat):
    news_chat.ingest()
    before = stored(news_chat)
    heard: list[str] = []
    reports = []
    with news_chat.store.writer():  # an ingest holds the store
        again = threading.Thread(target=lambda: reports.append(rebuild(news_chat.settings, on_wait=heard.append)))
        again.start()
        again.join(timeout=3)
        assert again.is_alive() and stored(news_chat) == before  # it waits, nothing touched yet
    again.join(timeout=120)
    assert not again.is_alive() and heard and "another ingest" in heard[0]
    assert reports[0].chunks_embedded == len(before) and not reports[0].failed  # then embedded everything again


def test_a_keyword_index_that_cannot_be_written_fails_no_ingest(news_chat, news, monkeypatch):
    # A full disk cannot be made here; the keyword index's own write fails in its place. The articles
    # are stored, the ingest says so, and the next question brings the index up to date.
    news_chat.ingest()
    index = type(news_chat.lexical)
    catch_up = index.ensure_fresh

    def full_disk(self, *args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(index, "ensure_fresh", full_disk)
    (news / "storm.txt").write_text("Storm closes the pier\n\nA winter storm closed the Brighton pier on Tuesday.\n")
    assert news_chat.ingest().added == 1
    monkeypatch.setattr(index, "ensure_fresh", catch_up)
    assert "Brighton pier" in news_chat.search("Which pier did the storm close?")[0].text


def test_a_file_reached_through_a_symbolic_link_goes_when_the_folder_no_longer_leads_to_it(news_chat, news, tmp_path):
    # A file is stored by its real path. One reached through a link inside the folder lives elsewhere, so
    # a sync of the folder took it for another folder's file: deleted, or its link removed, it stayed
    # stored and cited from a file the folder no longer holds.
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "wire").mkdir(parents=True)
    (elsewhere / "wire" / "school.txt").write_text(SCHOOL)
    (elsewhere / "stadium.txt").write_text(STADIUM)
    (news / "wire").symlink_to(elsewhere / "wire")  # a linked folder
    (news / "stadium.txt").symlink_to(elsewhere / "stadium.txt")  # a linked file
    assert news_chat.ingest().added == 4

    def cited(question: str) -> list[str]:
        return [c.chunk.path for c in news_chat.ask(question).citations]

    assert cited("How much did the school roof repair cost?")[0].endswith("wire/school.txt")
    (elsewhere / "wire" / "school.txt").unlink()  # deleted where it lives
    assert news_chat.ingest().deleted == 1
    assert not any(p.endswith("school.txt") for p in cited("How much did the school roof repair cost?"))
    (elsewhere / "stadium.txt").write_text(STADIUM.replace("24,000", "25,000"))  # edited (rewritten in the store)
    assert news_chat.ingest().updated == 1
    (news / "stadium.txt").unlink()  # then the link removed, the file itself still there
    assert news_chat.ingest().deleted == 1
    assert not any(p.endswith("stadium.txt") for p in cited("How many seats does the new stadium have?"))
    assert news_chat.status()["articles"] == 2


def test_removing_a_link_keeps_a_file_also_ingested_in_its_own_right(news_chat, news, tmp_path):
    # A file ingested from its own folder, then reached through a link from another folder, was deleted
    # from the store when the link was removed, though the file and its folder were still there.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "ferry.txt").write_text("Ferry fares rise\n\nThe island ferry fares rise by ten percent in May.\n")
    assert news_chat.ingest([elsewhere]).added == 1
    (news / "linked.txt").symlink_to(elsewhere / "ferry.txt")
    assert news_chat.ingest([news]).deleted == 0
    (news / "linked.txt").unlink()
    assert news_chat.ingest([news]).deleted == 0
    assert any("ferry fares" in c.text for c in news_chat.search("island ferry fares", k=5))


def test_a_link_to_nothing_keeps_what_was_stored_through_it(news_chat, news, tmp_path):
    # A link whose target is missing may be a drive that is not mounted: like a missing folder, no deletion.
    drive = tmp_path / "drive"
    drive.mkdir()
    (drive / "school.txt").write_text(SCHOOL)
    (news / "drive").symlink_to(drive)
    assert news_chat.ingest().added == 3
    drive.rename(tmp_path / "unmounted")
    report = news_chat.ingest()
    assert report.deleted == 0 and "a symbolic link to nothing" in report.warnings[0]["warning"]
    assert news_chat.status()["articles"] == 3
    (tmp_path / "unmounted").rename(drive)
    report = news_chat.ingest()
    assert (report.added, report.deleted, report.chunks_embedded, report.warnings) == (0, 0, 0, [])
