"""Settings that cannot be used stop the `rag` command with one line naming them and exit status 2,
before anything is opened or loaded; and the answerer names have one source, `settings.ANSWERERS`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rag import llm
from rag.settings import ANSWERERS, EXTRACTIVE, Settings, SettingsError


def rag(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess:
    """`python -m rag ARGV` as a user runs it, in `tmp_path`, with only the RAG_ variables given."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    clean |= {"RAG_STORE": str(tmp_path / "store"), "RAG_ARTICLES": str(tmp_path / "articles")} | env
    return subprocess.run([sys.executable, "-m", "rag", *argv], cwd=tmp_path, env=clean, capture_output=True,
                          text=True, timeout=120)


def test_a_port_that_is_not_a_number_is_one_line_and_exit_2(tmp_path):
    done = rag(tmp_path, "serve", "--no-ingest", RAG_PORT="abc")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == ["rag: RAG_PORT must be a whole number, not 'abc'"]
    assert not (tmp_path / "store").exists()  # said before the store was opened or the model loaded


def test_an_unknown_answerer_is_one_line_and_exit_2(tmp_path):
    done = rag(tmp_path, "ask", "--answerer", "bogus", "x")
    assert done.returncode == 2 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("rag: unknown answerer 'bogus'") and all(name in line for name in ANSWERERS)
    assert not (tmp_path / "store").exists()


def test_unknown_sentence_weights_are_one_line_and_exit_2(tmp_path):
    done = rag(tmp_path, "ask", "x", RAG_RANKER_WEIGHTS="learnt")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        "rag: RAG_RANKER_WEIGHTS must be learned, handset or a weights file; 'learnt' is none of them"]
    assert not (tmp_path / "store").exists()


def test_the_answerer_names_have_one_source():
    assert ANSWERERS[0] == EXTRACTIVE == Settings(answerer=EXTRACTIVE).validate().answerer
    assert set(llm.BACKENDS) == set(ANSWERERS) - {EXTRACTIVE}


def test_passages_out_of_range_are_named():
    for name in ("top_k", "answer_passages"):
        try:
            Settings(**{name: 0}).validate()
        except SettingsError as error:
            assert str(error) == f"{name} must be from 1 to 100, not 0"
        else:
            raise AssertionError(f"{name}=0 was accepted")


def test_the_folders_the_web_app_watches(tmp_path):
    articles = tmp_path / "articles"
    settings = Settings(articles_dir=articles)
    settings.watch = ""
    assert settings.watched_folders() == [articles]  # the articles folder, by default
    settings.watch = str(tmp_path / "inbox")
    assert settings.watched_folders() == [articles, tmp_path / "inbox"]
    settings.watch = str(articles / "wire")  # inside it: watched once, not by two watchers syncing twice
    assert settings.watched_folders() == [articles]
    settings.watch_articles, settings.watch = False, str(articles)  # (the review) --no-watch --watch ARTICLES
    assert settings.watched_folders() == [articles]
    settings.watch = ""
    assert settings.watched_folders() == []

