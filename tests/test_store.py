"""The store on disk: what status reports, reopening, the embedding-model guard and unusable store paths."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from rag import embeddings, indexing
from rag.catalog import LAYOUT, Catalog, make_engine
from rag.cli import main
from rag.rebuilding import rebuild
from rag.service import NewsChat
from rag.settings import OFFLINE_ENVIRONMENT, Settings
from rag.store import ModelMismatchError, StoreError, chunk_from_metadata

from news_fixtures import BRIDGE, RECORDS, write_corpus

FERRY = "Ferry fares rise\n\nThe island ferry fares rise by ten percent in May.\n"
PROJECT = Path(__file__).resolve().parent.parent
STORY = "Harbour reopens after storm\n\nThe harbour reopened on Monday after a week of repairs.\n\nFerries run again.\n"


@pytest.fixture
def news(tmp_path: Path) -> Path:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "harbour.txt").write_text(STORY)
    return folder


def open_chat(store: Path, news: Path, model: str = "", variant: str = "") -> NewsChat:
    return NewsChat(Settings(store_dir=store, articles_dir=news, chroma_url="", embedding_model=model,
                             embedding_variant=variant))


def other_model(folder: Path) -> Path:
    """The packaged model's folder under another name: another model to a store (the same vectors)."""
    other = folder / "other-model"
    other.symlink_to(embeddings.resolve_model("")[1])
    return other


def ferry_in(folder: Path) -> Path:
    """A folder (made) holding the ferry story; the story's file."""
    folder.mkdir(exist_ok=True)
    (folder / "ferry.txt").write_text(FERRY)
    return folder / "ferry.txt"


def other_settings(store: Path, news: Path, model: Path) -> Settings:
    """Settings that open (or rebuild) the store with another model."""
    return Settings(store_dir=store, articles_dir=news, chroma_url="", database_url="", embedding_model=str(model))


@pytest.fixture
def built(tmp_path: Path, news: Path) -> Path:
    """A store holding the harbour story, embedded with the default model."""
    chat = open_chat(tmp_path / "store", news)
    assert chat.ingest().added == 1
    return tmp_path / "store"


def test_status_of_an_empty_store(tmp_path, news):
    status = open_chat(tmp_path / "store", news).status()
    assert (status["articles"], status["chunks"], status["vectors"]) == (0, 0, 0)
    assert status["model"] == "all-MiniLM-L6-v2"
    assert status["store"] == str((tmp_path / "store").resolve())
    assert status["last_ingest"] is None


def test_store_reopens_with_its_articles(built, news):
    chat = open_chat(built, news)
    status = chat.status()
    assert (status["articles"], status["chunks"]) == (1, status["vectors"]) and status["chunks"] >= 1
    assert status["last_ingest"]
    assert chat.ingest().unchanged == 1


def test_stored_chunks_give_back_exact_body_slices(seeded_chat):
    got = seeded_chat.store.collection.get(include=["documents", "metadatas"])
    assert len(got["ids"]) == seeded_chat.status()["chunks"] > 1
    for document, meta in zip(got["documents"], got["metadatas"]):
        chunk = chunk_from_metadata(meta, document)
        body = seeded_chat.article(chunk.article_id).body
        assert chunk.text == body[chunk.start:chunk.end]
        assert (chunk.title, chunk.published, chunk.source) == (
            "US analysts claim that Putin rigorously rebuffed two plans from Lukashenko", "2022-12-20", "merkur")


def test_other_model_is_refused_before_it_is_loaded(built, news, tmp_path):
    other = tmp_path / "other-model"  # no such model on disk: the check must come before any loading
    with pytest.raises(ModelMismatchError) as caught:
        open_chat(built, news, model=str(other))
    message = str(caught.value)
    assert "all-MiniLM-L6-v2" in message and "other-model" in message
    assert "rag ingest --rebuild" in message and "--store" in message
    assert str(other) not in embeddings._loaded_models
    assert open_chat(built, news).status()["articles"] == 1  # the store is untouched


def same_named_copy(folder: Path, pooling: dict | None = None) -> Path:
    """The packaged model's files in a folder of the same name (links, not copies), with `pooling`
    written into its pooling configuration: the same weights making other vectors."""
    packaged = Path(embeddings.resolve_model("")[1])
    copy = folder / embeddings.DEFAULT_MODEL_NAME
    for file in packaged.rglob("*"):
        if file.is_file():
            (copy / file.relative_to(packaged)).parent.mkdir(parents=True, exist_ok=True)
            (copy / file.relative_to(packaged)).symlink_to(file)
    if pooling:
        config = copy / "1_Pooling" / "config.json"
        settings = json.loads(config.read_text()) | pooling
        config.unlink()
        config.write_text(json.dumps(settings))
    return copy


def test_another_model_in_a_folder_of_the_same_name_is_refused(built, news, tmp_path):
    # The store records its model by name and by a hash of its files. A folder named all-MiniLM-L6-v2
    # holding another model (here: the same weights pooled from the first token, not the mean) would
    # otherwise pass as the store's model and mix vectors of two spaces in one store.
    cls = same_named_copy(tmp_path / "downloads", {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False})
    assert embeddings.SentenceEmbeddings(str(cls)).name == "all-MiniLM-L6-v2"
    with pytest.raises(ModelMismatchError) as caught:
        open_chat(built, news, model=str(cls))
    assert f"the files in {cls} are not the ones that built it" in str(caught.value)
    assert "rag ingest --rebuild" in str(caught.value)

    moved = same_named_copy(tmp_path / "moved")  # the same files elsewhere are the same model, also with
    (moved / "train_script.py").write_text("# how it was trained\n")  # files that make no vector beside them
    (moved / "onnx").mkdir()
    (moved / "onnx" / "model.onnx").write_bytes(b"an export for another runtime")
    (moved / "pytorch_model.bin").write_bytes(b"the weights again, in the format safetensors replaced")
    assert "reopened on Monday" in open_chat(built, news, model=str(moved)).search("When did the harbour reopen?")[0].text

    with closing(sqlite3.connect(built / "catalog.sqlite")) as db, db:  # a store from before the hash was kept
        db.execute("DELETE FROM meta WHERE key IN ('model_digest', 'model_source')")
    assert open_chat(built, news).status()["articles"] == 1  # opened by its model, which it now records
    with pytest.raises(ModelMismatchError):
        open_chat(built, news, model=str(cls))


def test_a_store_opened_by_a_relative_path_survives_a_change_of_directory(built, news, monkeypatch):
    monkeypatch.chdir(built.parent)
    chat = open_chat(Path(built.name), news)
    monkeypatch.chdir("/")
    assert "reopened on Monday" in chat.search("When did the harbour reopen?")[0].text
    assert chat.status()["articles"] == 1


def test_a_store_keeps_the_embedding_variant_it_was_built_with(tmp_path, news):
    # int8 vectors are not fp32's space. A new store is built with this machine's default (bf16 where the
    # CPU multiplies bfloat16 in hardware, else fp32); one built with int8 (asked for, or the default
    # before) is searched with int8 by a chat that asks for no variant, and asking for fp32 on it is
    # refused with the way to rebuild.
    def chat_with(variant: str, store: str = "store") -> NewsChat:
        return open_chat(tmp_path / store, news, variant=variant)

    assert chat_with("int8").ingest().added == 1
    reopened = chat_with("")
    assert reopened.status()["embedding_variant"] == "int8" and str(reopened.embeddings.variant) == "int8"
    assert "reopened on Monday" in reopened.search("When did the harbour reopen?")[0].text
    with pytest.raises(ModelMismatchError) as caught:
        chat_with("fp32")
    assert "int8" in str(caught.value) and "rag ingest --rebuild" in str(caught.value)

    fresh = chat_with("", store="fresh")
    assert fresh.ingest().added == 1
    chosen = str(embeddings.default_variant("cpu"))  # bf16 with AMX or AVX512-BF16, fp32 elsewhere
    assert fresh.status()["embedding_variant"] == chosen and str(fresh.embeddings.variant) == chosen
    with pytest.raises(ModelMismatchError):
        chat_with("int8", store="fresh")


def test_bf16_and_fp32_passages_share_a_store(tmp_path):
    # bf16 (the default on a CPU with AMX or AVX512-BF16, 1.6-3x faster there) runs the passages' matrix
    # products in bfloat16. Its vectors are fp32's to within 0.0001 cosine, so a store built by either
    # variant is searched and extended by the other without a rebuild, with the same hits.
    corpus = write_corpus(tmp_path)

    def chat_with(variant: str, store: str) -> NewsChat:
        return open_chat(tmp_path / store, tmp_path, variant=variant)

    by_variant = {}
    for variant in ("fp32", "bf16"):
        chat = chat_with(variant, variant)
        assert chat.ingest([corpus]).added == len(RECORDS)
        assert chat.status()["embedding_variant"] == variant
        page = chat.store.collection.get(include=["embeddings"])
        by_variant[variant] = dict(zip(page["ids"], np.asarray(page["embeddings"])))
    assert by_variant["fp32"].keys() == by_variant["bf16"].keys()
    cosines = [float(v @ by_variant["bf16"][key]) for key, v in by_variant["fp32"].items()]
    assert min(cosines) > 0.9999, cosines

    questions = ["Where was Damar Hamlin treated after he collapsed?", "Who presided over Benedict's funeral?",
                 "Which travelers need a negative Covid test?"]
    fp32_side, bf16_side = chat_with("", "fp32"), chat_with("", "bf16")  # each opened with no variant asked
    for question in questions:
        assert [c.record_id for c in fp32_side.search(question)] == [c.record_id for c in bf16_side.search(question)]
    more = tmp_path / "more"
    more.mkdir()
    crossed = chat_with("fp32", "bf16")  # asked for explicitly: the same space, so no rebuild is needed
    assert crossed.ingest([write_corpus(more, BRIDGE)]).added == len(BRIDGE)
    assert crossed.search("How many workers died when the Key Bridge collapsed?")[0].record_id == "bridge"
    rebuilt = chat_with("bf16", "fp32")  # `rag ingest --rebuild` in place, with the space's other variant
    assert rebuilt.ingest([corpus], again=True).chunks_embedded == rebuilt.status()["chunks"]
    assert chat_with("", "fp32").status()["embedding_variant"] == "bf16"  # the store says what built it now


def rag_command(store: Path, *command: str) -> subprocess.CompletedProcess:
    """`python -m rag COMMAND --store STORE` in a process of its own, closed, as a user's is."""
    return subprocess.run([sys.executable, "-m", "rag", *command, "--store", str(store)], cwd=PROJECT,
                          env=dict(os.environ, **OFFLINE_ENVIRONMENT), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def ingested_by_the_cli(tmp_path_factory) -> tuple[Path, Path]:
    """A store `rag ingest` built from a folder holding the harbour story (once for the module: each test
    damages a copy); the store and the folder."""
    root = tmp_path_factory.mktemp("cli-store")
    news = root / "news"
    news.mkdir()
    (news / "harbour.txt").write_text(STORY)
    done = rag_command(root / "store", "ingest", str(news), "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "store", news


@pytest.mark.parametrize("damaged", ["catalog.sqlite", "records.sqlite"])
def test_a_damaged_catalog_is_one_line_that_names_it(tmp_path, ingested_by_the_cli, damaged):
    # a damaged catalog file gave a traceback of 120 lines, then "file is not a database" naming no file
    built, news = ingested_by_the_cli
    store = shutil.copytree(built, tmp_path / "store")
    with open(store / damaged, "r+b") as f:
        f.write(b"this is not a database, whatever its name says" * 4)
    for command in (["ask", "When did the harbour reopen?"], ["ingest", str(news)]):
        done = rag_command(store, *command)
        assert done.returncode == 2, done.stdout
        err = done.stderr
        assert f"cannot open the store's catalog in {store}" in err and "restore it from a backup" in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_odd_values_written_into_the_store_by_hand_crash_no_question(built, news, tmp_path, capsys):
    # Authors that are no JSON list, a NULL body, a chunk's offset that is no number: every question, search
    # and article page failed with a traceback (JSONDecodeError, TypeError, ValueError); a layout that is no
    # number failed the store's opening with a raw ValueError.
    ferry_in(news)
    chat = open_chat(built, news)
    assert chat.ingest().added == 1
    with closing(sqlite3.connect(built / "catalog.sqlite")) as db, db:
        db.execute("UPDATE articles SET authors = 'not json{' WHERE title LIKE 'Harbour%'")
        db.execute("UPDATE articles SET body = NULL WHERE title LIKE 'Ferry%'")
    got = chat.store.collection.get(include=["metadatas"])
    odd = next(i for i, m in zip(got["ids"], got["metadatas"]) if m["title"].startswith("Ferry"))
    chat.store.collection.update(ids=[odd], metadatas=[{"start": "abc"}])
    chat = open_chat(built, news)
    answer = chat.ask("When did the harbour reopen?")
    assert not answer.refused and "Monday" in answer.text, answer.text
    assert chat.article(answer.citations[0].chunk.article_id).authors == []
    assert [c.title for c in chat.search("island ferry fares", k=5)] == ["Harbour reopens after storm"]
    ferry = chat.ask("How much do the island ferry fares rise?")  # its article is unreadable: never quoted
    assert all(c.chunk.title.startswith("Harbour") for c in ferry.citations + ferry.related), ferry.text
    with closing(sqlite3.connect(built / "catalog.sqlite")) as db, db:
        db.execute("UPDATE meta SET value = 'x' WHERE key = 'layout'")
    assert main(["ask", "When did the harbour reopen?", "--store", str(built)]) == 2
    err = capsys.readouterr().err
    assert "names its layout 'x'" in err and "Traceback" not in err


def ingested_elsewhere(built: Path, news: Path, tmp_path: Path, monkeypatch, marina: bool = False) -> Path:
    """A folder other than `news`, holding the ferry story (and with `marina` a second story), ingested
    into the local store `built`."""
    monkeypatch.delenv("RAG_CHROMA_URL", raising=False)
    monkeypatch.delenv("RAG_DATABASE_URL", raising=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "ferry.txt").write_text(FERRY)
    if marina:
        (elsewhere / "gone.txt").write_text(STORY.replace("harbour", "marina").replace("Harbour", "Marina"))
    assert open_chat(built, news).ingest([elsewhere]).added == 1 + marina
    return elsewhere


def test_a_rebuild_in_place_embeds_every_file_the_store_holds_again(built, news, tmp_path, monkeypatch, capsys):
    # with the store's own model, `rag ingest --rebuild news` embedded only news/: the articles of another
    # folder kept their old vectors, though the README promises every chunk embedded again
    elsewhere = ingested_elsewhere(built, news, tmp_path, monkeypatch, marina=True)
    (elsewhere / "gone.txt").unlink()  # gone, but nobody synced its folder: a rebuild does not delete it
    linked, kept = tmp_path / "linked", tmp_path / "kept"  # and a file a folder reaches through a link
    linked.mkdir()
    kept.mkdir()
    (kept / "council.txt").write_text("Council votes on parking\n\nThe town council voted to double parking fees.\n")
    (linked / "council.txt").symlink_to(kept / "council.txt")
    assert open_chat(built, news).ingest([linked]).added == 1
    assert main(["ingest", str(news), "--store", str(built), "--rebuild", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    chat = open_chat(built, news)
    assert report["failed"] == [] and report["deleted"] == 0 and chat.status()["articles"] == 4
    assert report["chunks_embedded"] == chat.status()["chunks"] - 1  # all but the file that is gone
    (linked / "council.txt").unlink()  # still known by its link after the rebuild: removing the link removes it
    assert chat.ingest([linked]).deleted == 1 and chat.status()["articles"] == 3


def test_rebuild_with_another_model(built, news, tmp_path, monkeypatch, capsys):
    # The new store is built beside the old one and takes its place only when built: a model that cannot
    # load changes nothing, and the old store's articles from another folder are carried over.
    ingested_elsewhere(built, news, tmp_path, monkeypatch)
    other = tmp_path / "other-model"  # the same weights under another name: a different model to the store
    other.symlink_to(embeddings.resolve_model("")[1])
    args = ["--store", str(built), "--model", str(other)]
    assert main(["status", *args]) == 2
    assert "rag ingest --rebuild" in capsys.readouterr().err

    mistyped = ["--store", str(built), "--model", str(tmp_path / "no-such-model")]
    assert main(["ingest", str(news), *mistyped, "--rebuild", "--quiet"]) == 2
    assert "The store is unchanged" in capsys.readouterr().err
    assert open_chat(built, news).status()["articles"] == 2  # still the default model's, whole

    assert main(["ingest", str(news), *args, "--rebuild", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == 2 and report["failed"] == []
    assert main(["status", *args, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["model"], status["articles"], status["chunks"]) == ("other-model", 2, status["vectors"])
    rebuilt = open_chat(built, news, model=str(other))
    assert "ten percent" in rebuilt.search("How much do ferry fares rise?")[0].text
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("store")) == ["store"]  # nothing left beside
    with pytest.raises(ModelMismatchError):
        open_chat(built, news)  # and now the default model is the other one


def test_a_rebuild_with_another_model_never_takes_an_emptied_folder_for_deleted(built, news, tmp_path):
    # The new store is built from the files found: an empty mount point's articles were left out of it as
    # deleted ones, where a sync keeps them (a drive not mounted). Now the rebuild is refused, unchanged.
    (news / "ferry.txt").write_text(FERRY)
    assert open_chat(built, news).ingest().added == 1
    drive = news.with_name("drive")
    news.rename(drive)
    news.mkdir()
    settings = Settings(store_dir=built, articles_dir=news, chroma_url="", embedding_model=str(other_model(tmp_path)))
    with pytest.raises(StoreError, match=r"holds none of its files now.*a drive not mounted.*is unchanged"):
        rebuild(settings, [news])
    news.rmdir()
    drive.rename(news)
    assert open_chat(built, news).status()["articles"] == 2
    assert rebuild(settings, [news]).added == 2  # the drive back: rebuilt whole


def test_a_rebuild_with_another_model_that_cannot_write_keeps_the_old_store(built, news, tmp_path, monkeypatch):
    # A disk that fills up midway cannot be made here, so LangChain's indexing call fails in its place.
    other = other_model(tmp_path)
    before = open_chat(built, news)  # opened before the rebuild, like a waiting ingest or a running app
    stale = open_chat(built, news)  # another, whose new model will not load
    settings = other_settings(built, news, other)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(indexing, "index", full_disk)
    with pytest.raises(StoreError, match="is unchanged"):
        rebuild(settings, [news])
    monkeypatch.undo()
    assert open_chat(built, news).status()["articles"] == 1  # the old model's store, whole

    assert rebuild(settings, [news]).added == 1  # a rerun starts again and puts the new store in place
    # What they opened is gone. One whose new model cannot be loaded says so, naming the model to start
    # with, rather than writing into the deleted folder or answering from it; one whose new model loads
    # opens the new store with it and goes on (it used to refuse until restarted).
    other.rename(tmp_path / "moved-model")
    restart = f"rebuilt with the embedding model 'other-model'.* start again with `--model {other}`.*could not be loaded"
    for call in (stale.ingest, stale.status, lambda: stale.ask("When did the harbour reopen?")):
        with pytest.raises(StoreError, match=restart):
            call()
    (tmp_path / "moved-model").rename(other)
    answer = before.ask("When did the harbour reopen?")
    assert "reopened on Monday" in answer.citations[0].quote and before.status()["model"] == "other-model"
    assert before.ingest().unchanged == 1 and stale.ask("When did the harbour reopen?").citations
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("store")) == ["store"]


def test_a_rebuild_with_another_model_never_drops_articles_nobody_removed(built, news, tmp_path):
    # A stored article whose file no longer reads, or whose file is gone from outside the folders
    # given, keeps its place in the old store; the new store would lack it, so it is not swapped in.
    elsewhere = tmp_path / "elsewhere"
    ferry = ferry_in(elsewhere)
    assert open_chat(built, news).ingest([elsewhere]).added == 1
    other = other_model(tmp_path)
    settings = other_settings(built, news, other)

    (news / "harbour.txt").write_text("")
    with pytest.raises(StoreError, match=r"would lose .*harbour.txt: file is empty.* is unchanged"):
        rebuild(settings, [news])
    (news / "harbour.txt").write_text(STORY)
    ferry.rename(tmp_path / "ferry-away.txt")
    with pytest.raises(StoreError, match=r"would lose .*ferry.txt: the file is gone"):
        rebuild(settings, [news])
    assert open_chat(built, news).status()["articles"] == 2  # the old store, whole
    assert not built.with_name("store.rebuilding").exists()  # nothing half-built left beside it

    (tmp_path / "ferry-away.txt").rename(ferry)
    elsewhere.rename(tmp_path / "unmounted")  # a folder given to the rebuild but missing: no deletion
    with pytest.raises(StoreError, match=r"would lose .*ferry.txt: the file is gone"):
        rebuild(settings, [news, elsewhere])
    (tmp_path / "unmounted").rename(elsewhere)
    ferry.unlink()  # deleted on purpose from a folder given to the rebuild: dropped, and counted so
    report = rebuild(settings, [news, elsewhere])
    assert (report.added, report.deleted) == (1, 1)


def test_a_rebuild_with_another_model_drops_a_file_named_after_it_was_deleted(built, news, tmp_path):
    # A file ingested by name and deleted: named in the rebuild it is dropped on purpose (its folder is
    # there); not named, the rebuild refuses to lose it, as before.
    ferry = ferry_in(tmp_path / "saved")
    assert open_chat(built, news).ingest([ferry]).added == 1
    ferry.unlink()
    other = other_model(tmp_path)
    settings = other_settings(built, news, other)
    with pytest.raises(StoreError, match=r"would lose .*ferry.txt: the file is gone"):
        rebuild(settings, [news])
    report = rebuild(settings, [news, ferry])
    assert (report.added, report.deleted, report.failed) == (1, 1, [])
    assert open_chat(built, news, model=str(other)).status()["articles"] == 1


def test_a_process_that_opened_the_store_follows_a_rebuild_made_by_another(built, news, tmp_path):
    # The rebuild runs in another process, as `rag ingest --rebuild` beside a running app. Opening the
    # store again handed back Chroma's client of the replaced store: the old process answered from the
    # deleted vectors (missing what the rebuild added) and could not write again.
    before = open_chat(built, news)
    (news / "ferry.txt").write_text(FERRY)
    other = other_model(tmp_path)
    done = subprocess.run([sys.executable, "-m", "rag", "ingest", str(news), "--store", str(built), "--rebuild",
                           "--model", str(other), "--json"], capture_output=True, text=True, timeout=300)
    assert json.loads(done.stdout)["added"] == 2, done.stderr
    assert "ten percent" in before.ask("How much do ferry fares rise?").citations[0].quote
    status = before.status()
    assert (status["model"], status["articles"], status["vectors"]) == ("other-model", 2, status["chunks"])
    (news / "tram.txt").write_text("Tram line extended\n\nThe tram line now runs to the harbour.\n")
    assert before.ingest().added == 1 and before.status()["vectors"] == before.status()["chunks"]


def test_a_rebuild_reads_no_store_as_articles(tmp_path, news):
    # The store inside the articles folder: a rebuild with another model walked the old store (the new
    # one is built beside it) and stored its keyword index's files as articles.
    chat = open_chat(news / "store", news)
    assert chat.ingest().added == 1 and chat.ingest().failed == []
    other = other_model(tmp_path)
    settings = Settings(store_dir=news / "store", articles_dir=news, chroma_url="", database_url="",
                        embedding_model=str(other))
    report = rebuild(settings, [news])
    assert (report.added, report.failed) == (1, [])
    assert open_chat(news / "store", news, model=str(other)).status()["articles"] == 1


def test_a_rebuild_with_another_model_treats_files_reached_through_links_as_the_folders(built, news, tmp_path):
    # A file the folder reached through a symbolic link is stored by its real path, outside the folder:
    # the rebuild took it for another folder's file, carried it over when its link was removed, and
    # refused ("the file is gone") when it was deleted where it lives.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("ferry.txt", "tram.txt"):
        (elsewhere / name).write_text(f"{name[:-4].title()} news\n\nThe {name[:-4]} timetable changes in May.\n")
        (news / name).symlink_to(elsewhere / name)
    assert open_chat(built, news).ingest().added == 2
    other = other_model(tmp_path)
    settings = other_settings(built, news, other)
    (news / "ferry.txt").unlink()  # the link removed
    (elsewhere / "tram.txt").unlink()  # the file deleted where it lives
    report = rebuild(settings, [news])
    assert (report.added, report.deleted) == (1, 2)
    assert open_chat(built, news, model=str(other)).status()["articles"] == 1


def test_a_rebuild_killed_between_its_two_renames_leaves_the_old_store(built, news):
    # replace_store moves the old folder to STORE.replaced, then the new one to STORE: a kill in between
    # leaves no STORE; the next opening puts the old one back instead of creating an empty store.
    os.rename(built, built.with_name("store.replaced"))
    assert open_chat(built, news).status()["articles"] == 1
    assert not built.with_name("store.replaced").exists()
    link = built.with_name("linked-store")  # a store reached through a symbolic link: its target was moved
    link.symlink_to(built)
    os.rename(built, built.with_name("store.replaced"))
    assert open_chat(link, news).status()["articles"] == 1 and built.is_dir()


def test_a_catalog_from_before_links_were_recorded_gains_the_column_in_place(built, news, tmp_path):
    # `files.via` (how a folder reached a file through a symbolic link) is added when an older store is
    # opened, with no new layout: older versions go on reading and writing it as before.
    with closing(sqlite3.connect(built / "catalog.sqlite")) as db:
        db.execute("ALTER TABLE files DROP COLUMN via")
        db.execute("ALTER TABLE files DROP COLUMN machine")  # (added the same way)
        db.commit()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "ferry.txt").write_text("Ferry line opens\n\nThe new ferry line to the island opened on Monday.\n")
    (news / "ferry.txt").symlink_to(elsewhere / "ferry.txt")
    chat = open_chat(built, news)
    assert chat.status()["articles"] == 1 and chat.ingest().added == 1
    (news / "ferry.txt").unlink()
    assert chat.ingest().deleted == 1 and chat.status()["articles"] == 1
    with closing(sqlite3.connect(built / "catalog.sqlite")) as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'layout'").fetchall() == [("2",)]


def test_a_store_from_a_newer_version_is_refused_untouched(tmp_path, news, capsys):
    """A catalog in a layout this code does not know is neither used nor migrated (nor reset by --rebuild)."""
    store = tmp_path / "store"
    store.mkdir()
    newer = Catalog(make_engine(f"sqlite:///{store / 'catalog.sqlite'}"))
    newer.set_meta("layout", str(LAYOUT + 1))
    newer.set_meta("model", "all-MiniLM-L6-v2")
    newer.engine.dispose()
    message = (f"this store was written by a newer version of news-rag (layout {LAYOUT + 1}); "
               f"upgrade, or use another --store")
    with pytest.raises(StoreError) as caught:
        open_chat(store, news)
    assert str(caught.value) == message
    for command in (["status"], ["ingest", str(news), "--quiet"], ["ingest", str(news), "--rebuild", "--quiet"]):
        assert main([*command, "--store", str(store)]) == 2
        assert capsys.readouterr().err.strip() == f"rag: {message}"
    with closing(sqlite3.connect(store / "catalog.sqlite")) as db:  # as it was: not migrated, not reset
        assert db.execute("SELECT value FROM meta WHERE key = 'layout'").fetchall() == [(str(LAYOUT + 1),)]
    assert sorted(p.name for p in store.iterdir() if not p.name.startswith("catalog.sqlite")) == ["open.lock"]


def test_store_path_that_is_a_file(tmp_path, news):
    store = tmp_path / "store"
    store.write_text("not a folder")
    with pytest.raises(StoreError, match=f"{store}.*is a file, not a folder.*--store"):
        open_chat(store, news)
    assert store.read_text() == "not a folder"


def test_store_inside_a_file(tmp_path, news):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(StoreError, match="cannot create the store directory"):
        open_chat(tmp_path / "plain" / "store", news)


# `rag status` as another user: imported as root (the interpreter may live where only root can read,
# as under /root/.pyenv, so `runuser -u nobody -- python` cannot start it), then with root's rights given up
# for good before the store is opened. The store is checked before any model is loaded: about 2 s.
AS_USER = """
import os, pwd, sys
import torch  # noqa: F401  (what `rag status` imports on its way to the store, imported while it can be)
from rag.cli import main
user = pwd.getpwnam(sys.argv[1])
os.setgroups([]); os.setgid(user.pw_gid); os.setuid(user.pw_uid)
assert os.getuid() == os.geteuid() == user.pw_uid and not os.access(sys.argv[2], os.W_OK)
sys.exit(main(["status", "--store", sys.argv[2]]))
"""


def test_read_only_store_folder(tmp_path, news):
    if os.geteuid() != 0:
        store = tmp_path / "store"
        store.mkdir()
        store.chmod(0o555)
        try:
            with pytest.raises(StoreError, match="not writable"):
                open_chat(store, news)
        finally:
            store.chmod(0o755)
        return
    # root writes anywhere: the check runs as a user who cannot write the folder (root's own, 0755)
    user = next((name for name in ("nobody", "postgres") if _has_user(name)), None)
    if user is None:
        pytest.skip("running as root, and there is no nobody or postgres user to run the check as")
    folder = Path(tempfile.mkdtemp(prefix="rag-ro-"))  # pytest's tmp_path is private to root
    try:
        folder.chmod(0o755)
        store = folder / "store"
        store.mkdir(mode=0o755)
        env = {k: v for k, v in os.environ.items() if k not in ("RAG_CHROMA_URL", "RAG_DATABASE_URL", "RAG_STORE")}
        done = subprocess.run([sys.executable, "-c", AS_USER, user, str(store)], capture_output=True, text=True,
                              timeout=120, cwd=folder, env=env | {"HOME": str(folder)})
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == f"rag: the store directory {store} is not writable; choose another with --store"
        assert list(store.iterdir()) == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
