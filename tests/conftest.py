"""Shared fixtures: the real embedding model and real Chroma stores in temporary directories.

`seeded_chat` and `news_chat_ro` read stores built once per test session (the seed article; a few
made-up news records): tests that only ask and search share them. A test that writes gets its own
store from `chat` (empty) and ingests what it needs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.settings import Settings, offline_environment

offline_environment()

from news_fixtures import SEED, write_corpus  # noqa: E402
from rag.service import NewsChat  # noqa: E402


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    """A folder holding a copy of the seed article."""
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    return folder


def make_settings(store: Path, articles: Path) -> Settings:
    return Settings(store_dir=store, articles_dir=articles, chroma_url="", database_url="", embedding_model="",
                    embedding_variant="", answerer="extractive", ranker_weights="")


@pytest.fixture
def settings(tmp_path: Path, articles_dir: Path) -> Settings:
    return make_settings(tmp_path / "store", articles_dir)


@pytest.fixture
def chat(settings: Settings) -> NewsChat:
    """A NewsChat over an empty store of its own (call chat.ingest() to fill it)."""
    return NewsChat(settings)


@pytest.fixture(scope="session")
def seed_store(tmp_path_factory) -> tuple[Path, Path]:
    """A store holding the seed article, built once (read it, do not write to it)."""
    root = tmp_path_factory.mktemp("seed")
    articles = root / "articles"
    articles.mkdir()
    shutil.copy(SEED, articles / SEED.name)
    report = NewsChat(make_settings(root / "store", articles)).ingest()
    assert report.added == 1 and not report.failed
    return root / "store", articles


@pytest.fixture
def seeded_chat(seed_store) -> NewsChat:
    """A NewsChat of its own over the shared seed store (its answerer may be swapped; the store not written)."""
    return NewsChat(make_settings(*seed_store))


@pytest.fixture(scope="session")
def news_store(tmp_path_factory) -> Path:
    """A store holding the made-up news records of news_fixtures, built once (read it only)."""
    root = tmp_path_factory.mktemp("news")
    report = NewsChat(make_settings(root / "store", root)).ingest([write_corpus(root)])
    assert report.added == 5 and not report.failed
    return root / "store"


@pytest.fixture
def news_chat_ro(news_store) -> NewsChat:
    return NewsChat(make_settings(news_store, news_store.parent))
