"""`rag ingest`, `rag status` and `rag search` as a user runs them, with every kind of bad input in one batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import re
import shutil
from pathlib import Path

import pytest

from rag.cli import main
from rag.models import article_uid
from rag.service import NewsChat
from rag.settings import OFFLINE_ENVIRONMENT, Settings

KEPT = "Harbour reopens after storm\n\nThe harbour reopened on Monday after a week of repairs.\n"
RECORDS = [{"title": "Bridge closed for repairs", "text": "The old river bridge closed for six weeks.",
            "published": "2023-04-03", "source": "local.example"},
           {"title": "Library opens new wing", "text": "The city library opened a children's wing.",
            "published": "2023-04-04", "source": "local.example"}]
NEW = "---\ntitle: Taiwan holds naval drills\npublished: 2023-03-05\nsource: reuters.com\n---\n" \
      "Warships from Taiwan's navy sailed through the strait on Sunday.\n"


@pytest.fixture(autouse=True)
def _local_settings(monkeypatch):
    for name in ("RAG_STORE", "RAG_CHROMA_URL", "RAG_EMBEDDING_MODEL", "RAG_ARTICLES"):
        monkeypatch.delenv(name, raising=False)


def rag(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the `rag` command in this process (the model stays loaded); (exit status, stdout, stderr)."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def snapshot(store: Path) -> dict:
    chat = NewsChat(Settings(store_dir=store, chroma_url="", embedding_model=""))
    got = chat.store.collection.get(include=["documents"])
    articles = {}
    for aid in {article_uid(m["path"], m["article_id"]) for m in chat.store.collection.get(include=["metadatas"])["metadatas"]}:
        a = chat.article(aid)
        articles[aid] = (a.title, a.body, a.published, a.source)
    return {"vectors": dict(zip(got["ids"], got["documents"])), "articles": articles}


def ingest_good_files(capsys, folder: Path, store: Path) -> None:
    """`folder` made with three good articles (a text file and a JSONL of two) and ingested into `store`."""
    folder.mkdir()
    (folder / "kept.txt").write_text(KEPT)
    (folder / "feed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    status, out, _ = rag(capsys, "ingest", str(folder), "--store", str(store), "--json", "--quiet")
    assert status == 0 and json.loads(out)["added"] == 3


@pytest.fixture
def batch(tmp_path: Path, capsys) -> tuple[Path, Path, dict]:
    """A folder ingested once with good files, then filled with every kind of bad input and one new article."""
    folder, store = tmp_path / "inbox", tmp_path / "store"
    ingest_good_files(capsys, folder, store)
    before = snapshot(store)

    (folder / "new.md").write_text(NEW)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20)
    (folder / "kept.txt").write_bytes(KEPT.encode() + b"Caf\x81 owners cheered.\n")  # neither UTF-8 nor cp1252
    (folder / "deep.json").write_text("[" * 5000)  # past what json.loads can nest: it raised RecursionError
    (folder / "long.json").write_text('{"id": ' + "9" * 5000 + ', "text": "A number too long to read."}')
    # an emoji cut in half (a lone surrogate, which no database can store) stopped the whole batch
    (folder / "cut.jsonl").write_text('{"title": "Ferry back \\ud83d", "text": "The Quarnby ferry runs again."}\n')
    (folder / "feed.jsonl").write_text(json.dumps(RECORDS[0]) + "\n"
                                       + '{"title": "Broken", "text": "no closing brace"\n'
                                       + json.dumps({"title": "Photo only", "image": "x.jpg"}) + "\n"
                                       + json.dumps(RECORDS[1]) + "\n")
    (folder / os.fsdecode(b"caf\xe9.txt")).write_text(NEW.replace("Taiwan", "Latin-1"))  # a name saved elsewhere
    with open(folder / "huge.txt", "wb") as f:
        line = b"A very long saved page that goes on and on and on.\n"
        f.write(line * (50 * 1024 * 1024 // len(line) + 1))
    return folder, store, before


EXPECTED_FAILURES = {  # file name -> the reason the user is told
    "empty.txt": r"^file is empty$",
    "binary.txt": r"^file is binary, not text$",
    # a stored file that breaks says its stored version still answers
    "kept.txt": r"^file is not valid UTF-8 \(bad byte at offset \d+\) \(the store keeps its earlier version: 1 article\)$",
    "huge.txt": r"^file is 50 MB, over the 10 MB limit",
    "feed.jsonl": r"^line 2: invalid JSON|^line 3: no article text",
    "deep.json": r"^invalid JSON: nested too deeply to read$",
    "long.json": r"^invalid JSON: a number too long to read$",
    "missing.txt": r"no such file",
    "caf\\udce9.txt": r"^the file's name .* is not valid UTF-8: rename it",  # (shown escaped: it cannot be printed)
}


def test_an_emptied_folder_is_named_and_kept_until_pruned(tmp_path, capsys):
    # The terminal names the emptied folder and the command that removes its articles on purpose;
    # --prune with --rebuild is refused before anything changes (a rebuild embeds, it does not delete).
    folder, store = tmp_path / "news", tmp_path / "store"
    ingest_good_files(capsys, folder, store)
    for f in folder.iterdir():
        f.unlink()
    status, out, err = rag(capsys, "ingest", str(folder), "--store", str(store), "--quiet")
    assert status == 0 and "0 deleted" in out
    assert f"warning: {folder}: holds no article files now" in err
    assert f"rag ingest {folder} --store {store} --prune" in err
    status, out, err = rag(capsys, "ingest", str(folder), "--store", str(store), "--rebuild", "--prune")
    assert status == 2 and "--prune works with a sync, not with --rebuild" in err
    assert len(snapshot(store)["articles"]) == 3
    status, out, _ = rag(capsys, "ingest", str(folder), "--store", str(store), "--prune", "--json", "--quiet")
    assert status == 0 and json.loads(out)["deleted"] == 3 and snapshot(store)["articles"] == {}


def test_bad_inputs_fail_one_by_one_and_good_ones_are_ingested(batch, capsys):
    folder, store, before = batch
    missing = folder.parent / "missing.txt"
    status, out, err = rag(capsys, "ingest", str(folder), str(missing), "--store", str(store), "--json", "--quiet")
    assert status == 1
    report = json.loads(out)
    assert (report["added"], report["updated"], report["deleted"]) == (2, 0, 0)
    failed = report["failed"]
    assert len(failed) == 10, failed
    for failure in failed:
        name = Path(failure["path"]).name
        assert re.search(EXPECTED_FAILURES[name], failure["error"]), failure
    assert {Path(f["path"]).name for f in failed} == set(EXPECTED_FAILURES)
    jsonl_errors = sorted(f["error"] for f in failed if f["path"].endswith("feed.jsonl"))
    assert [e[:6] for e in jsonl_errors] == ["line 2", "line 3"]

    after = snapshot(store)
    assert before["vectors"].items() <= after["vectors"].items()  # nothing stored before changed or went
    assert before["articles"].items() <= after["articles"].items()
    assert sorted(a[0] for a in after["articles"].values() if a not in before["articles"].values()) == [
        "Ferry back \ufffd", "Taiwan holds naval drills"]


def test_bad_inputs_are_one_line_each_without_json(batch, capsys):
    folder, store, _ = batch
    missing = folder.parent / "missing.txt"
    status, out, err = rag(capsys, "ingest", str(folder), str(missing), "--store", str(store), "--quiet")
    assert status == 1
    lines = err.strip().splitlines()
    assert len(lines) == 10 and "Traceback" not in err
    for line in lines:
        match = re.match(r"failed: (.+?): (.+)$", line)
        assert match, line
        assert re.search(EXPECTED_FAILURES[Path(match[1]).name], match[2]), line
    assert re.search(r"^2 added, 0 updated, \d+ unchanged, 0 deleted, 10 failed", out)


def test_broken_file_stays_failed_until_fixed(tmp_path, capsys):
    folder, store = tmp_path / "inbox", tmp_path / "store"
    folder.mkdir()
    (folder / "a.txt").write_bytes(b"\x00\x01\x02")
    args = ["ingest", str(folder), "--store", str(store), "--json", "--quiet"]
    for _ in range(2):  # reported on every run, not silently skipped the second time
        status, out, _ = rag(capsys, *args)
        assert status == 1 and "binary" in json.loads(out)["failed"][0]["error"]
    (folder / "a.txt").write_text(KEPT)
    status, out, _ = rag(capsys, *args)
    assert status == 0 and json.loads(out)["added"] == 1


def test_store_that_cannot_be_written(tmp_path, capsys):
    folder, store = tmp_path / "inbox", tmp_path / "store"
    folder.mkdir()
    (folder / "kept.txt").write_text(KEPT)
    store.write_text("a file where the store should be")  # (tests run as root, which ignores chmod)
    status, out, err = rag(capsys, "ingest", str(folder), "--store", str(store), "--json", "--quiet")
    assert status == 2 and out == ""
    assert err.startswith(f"rag: the store path {store} is a file") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_a_mistyped_store_is_named_and_not_made(tmp_path, capsys):
    # `rag ask ... --store vectorstor` made an empty store there and answered "No articles are indexed yet"
    missing = tmp_path / "vectorstor"
    for command in (["search", "harbour"], ["ask", "When did the harbour reopen?"]):
        status, out, err = rag(capsys, *command, "--store", str(missing))
        assert (status, out) == (2, "") and err.startswith(f"rag: no store at {missing}") and "rag ingest" in err, err
    assert not missing.exists()
    missing.mkdir()  # an empty folder (a mount point with nothing mounted) is no store either
    assert rag(capsys, "ask", "When did the harbour reopen?", "--store", str(missing))[0] == 2
    assert list(missing.iterdir()) == []


def test_an_articles_folder_given_as_the_store_is_refused_and_never_emptied(tmp_path, capsys):
    # `rag status --store news` (meaning --articles, or a slip) made a store among the articles; every later
    # sync skipped the folder as a store's and deleted all its articles from the real store
    folder, store = tmp_path / "news", tmp_path / "store"
    ingest_good_files(capsys, folder, store)
    for command in (["status"], ["search", "harbour"], ["ask", "When did the harbour reopen?"]):
        status, out, err = rag(capsys, *command, "--store", str(folder))
        assert status == 2 and "holds articles (feed.jsonl), not a store" in err and "Traceback" not in err, err
    assert sorted(p.name for p in folder.iterdir()) == ["feed.jsonl", "kept.txt"]  # nothing made there
    shipped = tmp_path / "vectorstore"  # the project's own store folder, as a clone has it, is no articles folder
    shipped.mkdir()
    shutil.copy(Path(__file__).resolve().parent.parent / "vectorstore" / "README.md", shipped)
    assert rag(capsys, "status", "--store", str(shipped))[0] == 0
    status, out, _ = rag(capsys, "ingest", str(folder), "--store", str(store), "--json", "--quiet")
    assert status == 0 and (json.loads(out)["deleted"], json.loads(out)["unchanged"]) == (0, 3)
    # a store made among the articles before this was refused: the folder is skipped, said so, and kept
    (folder / "open.lock").write_text("")
    status, out, _ = rag(capsys, "ingest", str(folder), "--store", str(store), "--json", "--quiet")
    report = json.loads(out)
    assert report["deleted"] == 0 and "it holds a store" in report["failed"][0]["error"]
    status, out, _ = rag(capsys, "status", "--store", str(store), "--json")
    assert json.loads(out)["articles"] == 3


def test_status_json(tmp_path, capsys):
    folder, store = tmp_path / "inbox", tmp_path / "store"
    folder.mkdir()
    (folder / "kept.txt").write_text(KEPT)
    (folder / "new.md").write_text(NEW)
    status, out, _ = rag(capsys, "status", "--store", str(store), "--json")
    assert status == 0
    empty = json.loads(out)
    assert (empty["articles"], empty["chunks"], empty["last_ingest"]) == (0, 0, None)
    rag(capsys, "ingest", str(folder), "--store", str(store), "--quiet")
    status, out, _ = rag(capsys, "status", "--store", str(store), "--json")
    got = json.loads(out)
    assert status == 0
    assert (got["articles"], got["chunks"], got["model"]) == (2, 2, "all-MiniLM-L6-v2")
    assert got["store"] == str(store.resolve())
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", got["last_ingest"])


def test_search_json_points_into_article_bodies(tmp_path, capsys):
    folder, store = tmp_path / "inbox", tmp_path / "store"
    folder.mkdir()
    (folder / "kept.txt").write_text(KEPT)
    (folder / "new.md").write_text(NEW)
    (folder / "feed.jsonl").write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    rag(capsys, "ingest", str(folder), "--store", str(store), "--quiet")
    status, out, _ = rag(capsys, "search", "warships in the Taiwan strait", "--store", str(store), "--json")
    assert status == 0
    got = json.loads(out)
    assert got["query"] == "warships in the Taiwan strait"
    results = got["results"]
    assert [r["rank"] for r in results] == list(range(1, len(results) + 1)) and results
    chat = NewsChat(Settings(store_dir=store, chroma_url="", embedding_model=""))
    for r in results:
        assert set(r) >= {"rank", "score", "text", "article", "start", "end"}
        assert set(r["article"]) >= {"id", "title", "url", "published", "source", "path"}
        assert isinstance(r["score"], float)
        assert r["text"] == chat.article(r["article"]["id"]).body[r["start"]:r["end"]]
    top = results[0]["article"]
    assert (top["title"], top["published"], top["source"]) == ("Taiwan holds naval drills", "2023-03-05", "reuters.com")
    assert Path(top["path"]) == (folder / "new.md").resolve()


def test_a_chroma_server_without_a_shared_database_is_refused(tmp_path, capsys, monkeypatch):
    # Vectors shared while each machine keeps its own catalog: one machine's repair would delete the
    # chunks another machine's catalog lists. Refused before anything is opened or contacted.
    monkeypatch.setenv("RAG_CHROMA_URL", "http://chroma.example:8000")
    monkeypatch.delenv("RAG_DATABASE_URL", raising=False)
    for command in (["status"], ["ingest", str(tmp_path)], ["ask", "Anything?"]):
        status, out, err = rag(capsys, *command, "--store", str(tmp_path / "store"))
        assert status == 2 and out == "" and len(err.strip().splitlines()) == 1, (command, err)
        assert "RAG_CHROMA_URL" in err and "set RAG_DATABASE_URL too" in err and "PostgreSQL" in err
    assert not (tmp_path / "store").exists()
    with pytest.raises(ValueError, match="set RAG_DATABASE_URL too"):
        Settings(chroma_url="http://127.0.0.1:8000", database_url="").validate()
    both = Settings(chroma_url="http://chroma.example:8000", database_url="postgresql+psycopg://u:p@db/rag")
    assert both.validate() is both


def test_a_normal_ask_prints_the_answer_and_sources_and_nothing_from_libraries(seed_store, tmp_path):
    """A real `rag` process (third-party progress bars and warnings are written by native code and
    by libraries straight to the terminal, which an in-process capture would not see), asking a copy of
    the seed's store (built once by conftest)."""
    env = dict(os.environ, **OFFLINE_ENVIRONMENT)
    for name in ("RAG_CHROMA_URL", "RAG_DATABASE_URL", "RAG_ANSWERER", "RAG_RANKER_WEIGHTS"):
        env.pop(name, None)
    store = tmp_path / "store"
    shutil.copytree(seed_store[0], store)
    done = subprocess.run([sys.executable, "-m", "rag", "ask", "What did Lukashenko say about sending soldiers?",
                           "--store", str(store)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no "Loading weights" bars, no warnings
    assert "[1]" in done.stdout and "send soldiers" in done.stdout
    assert "merkur" in done.stdout and "2022-12-20" in done.stdout  # the numbered source list
    assert max(len(line) for line in done.stdout.splitlines()) <= 100  # wrapped, not a wall of text
