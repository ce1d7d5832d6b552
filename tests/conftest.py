"""Shared fixtures: the real embedding model and a real Chroma store in a temporary directory."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from rag.settings import Settings  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
SEED = PROJECT / "seeds" / "000_11f259bdbcec11cc.txt"
BENCH = PROJECT.parent / "shared" / "bench"


@pytest.fixture
def articles_dir(tmp_path: Path) -> Path:
    """A folder holding a copy of the seed article."""
    folder = tmp_path / "articles"
    folder.mkdir()
    shutil.copy(SEED, folder / SEED.name)
    return folder


@pytest.fixture
def settings(tmp_path: Path, articles_dir: Path) -> Settings:
    return Settings(store_dir=tmp_path / "store", articles_dir=articles_dir, chroma_url="",
                    embedding_model="", answerer="extractive")


@pytest.fixture
def chat(settings: Settings):
    """A NewsChat over an empty store in tmp_path (call chat.ingest() to fill it)."""
    from rag.service import NewsChat

    return NewsChat(settings)


@pytest.fixture
def seeded_chat(chat):
    """A NewsChat whose store holds the seed article."""
    report = chat.ingest()
    assert report.added == 1 and not report.failed
    return chat
