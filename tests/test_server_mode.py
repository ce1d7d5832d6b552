"""Server mode: the same ingest and search against a real `chroma run` server (RAG_CHROMA_URL)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.models import Filters
from rag.service import NewsChat

from processes import free_port

CHROMA = Path(sys.executable).parent / "chroma"


@pytest.fixture
def chroma_server(tmp_path):
    if not CHROMA.exists() and not shutil.which("chroma"):
        pytest.skip("the chroma command is not installed")
    port = free_port()
    proc = subprocess.Popen([str(CHROMA) if CHROMA.exists() else "chroma", "run", "--path", str(tmp_path / "server"),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma run did not start within 60 s")
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=20)


def test_ingest_and_search_through_a_chroma_server(settings, chroma_server):
    settings.chroma_url = chroma_server
    chat = NewsChat(settings)
    assert chat.ingest().added == 1
    assert chat.status()["store"] == chroma_server
    assert chat.status()["vectors"] == chat.status()["chunks"] > 0
    top = chat.search("Lukashenko soldiers", Filters(), k=1)[0]
    assert "soldiers" in top.text and top.source == "merkur"
    assert NewsChat(settings).ingest().unchanged == 1  # a second process sees the same server store
