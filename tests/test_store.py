"""The store on disk: what status reports, reopening, the embedding-model guard and unusable store paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rag import embeddings
from rag.cli import main
from rag.service import NewsChat
from rag.settings import Settings
from rag.store import ModelMismatchError, StoreError, chunk_from_metadata

STORY = "Harbour reopens after storm\n\nThe harbour reopened on Monday after a week of repairs.\n\nFerries run again.\n"


@pytest.fixture
def news(tmp_path: Path) -> Path:
    folder = tmp_path / "news"
    folder.mkdir()
    (folder / "harbour.txt").write_text(STORY)
    return folder


def open_chat(store: Path, news: Path, model: str = "") -> NewsChat:
    return NewsChat(Settings(store_dir=store, articles_dir=news, chroma_url="", embedding_model=model))


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


def test_rebuild_with_another_model(built, news, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("RAG_CHROMA_URL", raising=False)
    other = tmp_path / "other-model"  # the same weights under another name: a different model to the store
    other.symlink_to(embeddings.resolve_model("")[1])
    args = ["--store", str(built), "--model", str(other)]
    assert main(["status", *args]) == 2
    assert "rag ingest --rebuild" in capsys.readouterr().err

    assert main(["ingest", str(news), *args, "--rebuild", "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == 1 and report["failed"] == []
    assert main(["status", *args, "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["model"], status["articles"], status["chunks"]) == ("other-model", 1, status["vectors"])
    with pytest.raises(ModelMismatchError):
        open_chat(built, news)  # and now the default model is the other one


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


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_store_folder(tmp_path, news):
    store = tmp_path / "store"
    store.mkdir()
    store.chmod(0o555)
    try:
        with pytest.raises(StoreError, match="not writable"):
            open_chat(store, news)
    finally:
        store.chmod(0o755)
