"""The running app while another process writes its store: `rag ingest` adds ten articles and edits one
while questions come in through the API. No question may fail, every citation must open as an article
page with its quote, the app's log must stay free of tracebacks, and once the ingest is done the app
answers from the new articles (it notices the other process's writes by itself).

The real app (`python app.py`) and the real CLI, in subprocesses, over a store in tmp_path: about a minute
(55-95 s measured on 2 busy cores; each of the three processes loads the embedding model).
"""

from __future__ import annotations

import html
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

from filelock import FileLock

from processes import free_port, stop, wait_http
from rag.service import NewsChat
from rag.settings import OFFLINE_ENVIRONMENT, Settings

PROJECT = Path(__file__).resolve().parent.parent

# Small invented articles: each town has one fact a question can ask for.
FIRST = [("Quillsby", "glass footbridge", "Marta Oyelaran", 410),
         ("Drennock", "tidal mill", "Aurel Fintan", 270),
         ("Saltmere", "seaweed library", "Ines Kowalczyk", 95),
         ("Harrowgate Minor", "clock tower", "Piet Olowe", 330)]
LATER = [("Vellbrook", "rope ferry", "Odile Sarr", 120), ("Kestrin", "bell foundry", "Yusuf Brannagh", 640),
         ("Ombersley Cove", "lifeboat house", "Hana Petrov", 215), ("Tarnwick", "peat museum", "Lars Umeh", 88),
         ("Greyhollow", "cider press", "Noor Vasquez", 57), ("Bramblecote", "observatory dome", "Elio Marsh", 730),
         ("Fennimoor", "eel hatchery", "Ada Quist", 44), ("Larchmouth", "salt pan", "Ravi Holm", 19),
         ("Wyndle", "stone circle trail", "Greta Abiola", 160), ("Corrabeg", "wool exchange", "Tomas Ferreira", 380)]
BY_MEANING = ("somewhere to look at the stars through a telescope", "Bramblecote")  # not a word of its article
EDITED_NOTE = "\n\nUpdate: the opening of the {thing} in {town} was moved to the autumn after a late delivery.\n"


def article(town: str, thing: str, mayor: str, crowns: int) -> str:
    return (f"{town} opens a new {thing}\n\n"
            f"The town of {town} opened its new {thing} on Monday, mayor {mayor} said. The {thing} cost "
            f"{crowns} thousand crowns, paid for by a local lottery.\n\n"
            f"{mayor} said the {thing} would welcome its first visitors in the spring.\n")


def question(town: str, thing: str, *_) -> str:
    return f"How much did the new {thing} in {town} cost?"


def file_name(town: str) -> str:
    return town.lower().replace(" ", "-") + ".txt"


def env() -> dict:
    out = dict(os.environ, **OFFLINE_ENVIRONMENT, RAG_ANSWERER="extractive", PYTHONUNBUFFERED="1")
    for name in ("RAG_AUTH", "RAG_HOST", "RAG_CHROMA_URL", "RAG_DATABASE_URL", "RAG_EMBEDDING_MODEL", "RAG_WATCH",
                 "RAG_WATCH_ARTICLES", "RAG_PORT", "RAG_EMBEDDING_VARIANT", "RAG_STORE"):
        out.pop(name, None)
    return out


def rag(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rag", *args], cwd=cwd, env=env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_questions_while_another_process_ingests(tmp_path):
    from gradio_client import Client

    articles, later, store = tmp_path / "articles", tmp_path / "later", tmp_path / "store"
    articles.mkdir()
    later.mkdir()
    for facts in FIRST:
        (articles / file_name(facts[0])).write_text(article(*facts))
    first = rag("ingest", str(articles), "--store", str(store), "--quiet", cwd=tmp_path)
    out, _ = first.communicate(timeout=120)
    assert first.returncode == 0, out

    # What the other process will add (ten articles) and change (one, appended to: earlier quotes keep
    # their offsets, so a page opened meanwhile still shows them).
    for facts in LATER:
        (later / file_name(facts[0])).write_text(article(*facts))
    town, thing = FIRST[0][:2]
    (articles / file_name(town)).write_text(article(*FIRST[0]) + EDITED_NOTE.format(thing=thing, town=town))

    # The store's writer lock, held here while the app and the ingest start side by side (each loading
    # its model): the ingest then waits for it, and writes only once questions are coming in.
    writer = FileLock(store / "writer.lock")
    writer.acquire()
    port, log = free_port(), tmp_path / "app.log"
    with open(log, "w") as sink:
        app = subprocess.Popen([sys.executable, str(PROJECT / "app.py"), "--store", str(store), "--port", str(port),
                                "--no-ingest"], cwd=tmp_path, env=dict(env(), RAG_ARTICLES=str(articles)),
                               stdout=sink, stderr=subprocess.STDOUT)
    ingest = rag("ingest", str(articles), str(later), "--store", str(store), "--quiet", "--json", cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/", app, log)
        client = Client(url + "/", verbose=False, download_files=False)
        ready_by = time.monotonic() + 90
        while True:  # the store opens (and the model loads) in the background: asked meanwhile, it says so
            try:
                assert client.predict(api_name="/status")["articles"] == len(FIRST)
                break
            except Exception:
                assert time.monotonic() < ready_by, log.read_text()
                time.sleep(0.3)
        while "rag: ready" not in log.read_text():  # models loaded: the questions below are warm ones
            assert time.monotonic() < ready_by and app.poll() is None, log.read_text()
            time.sleep(0.3)

        failures: list[str] = []
        asked = opened = 0

        def ask_and_open(q: str, user=client) -> dict:
            nonlocal asked, opened
            try:
                result = user.predict(question=q, api_name="/ask")
            except Exception as e:  # noqa: BLE001 - every failure is reported, with the question
                failures.append(f"{q!r}: {type(e).__name__}: {e}")
                return {}
            asked += 1
            for c in result["citations"]:
                page_url = f"{url}/article/{quote(c['article']['id'], safe='')}?quote={c['start']}-{c['end']}"
                try:
                    with urllib.request.urlopen(page_url, timeout=30) as response:
                        page = response.read().decode()
                except Exception as e:  # noqa: BLE001
                    failures.append(f"{page_url} (cited for {q!r}): {e}")
                    continue
                opened += 1
                if f"<mark id='quote'>{html.escape(c['quote'], quote=True)}</mark>" not in page:
                    failures.append(f"{page_url} does not show the cited quote {c['quote']!r}")
            return result

        questions = [question(*facts) for facts in FIRST + LATER]
        stop_by = time.monotonic() + 60

        def keep_asking(offset: int, user) -> None:  # while the ingest runs, and at least twice
            n = offset
            while (ingest.poll() is None or n < offset + 4) and time.monotonic() < stop_by:
                ask_and_open(questions[n % len(questions)], user)
                n += 2

        # Two users asking at once, each with a client (a session) of their own: gradio_client's Client is
        # not for two threads at once (one's job can be cancelled when the other's event stream closes).
        users = [client, Client(url + "/", verbose=False, download_files=False)]
        askers = [threading.Thread(target=keep_asking, args=(i, user)) for i, user in enumerate(users)]
        for t in askers:
            t.start()
        assert ingest.poll() is None, ingest.communicate()[0]  # still waiting to write
        writer.release()
        try:
            out, _ = ingest.communicate(timeout=90)
        finally:
            for t in askers:
                t.join(60)
        assert ingest.returncode == 0, out
        report = json.loads(out.strip().splitlines()[-1])
        assert (report["added"], report["updated"], report["failed"]) == (len(LATER), 1, []), out
        assert not failures, "\n".join(failures)
        assert asked >= 4, "too few questions were asked while the ingest ran"

        # The app catches up with the other process's writes without being told: a question about a new
        # article is answered from it, and a search that shares no word with it (so only the vectors can
        # find it, not the keyword index) finds it first.
        new_town, _, _, crowns = LATER[-1]
        caught_up_by = time.monotonic() + 20
        while True:
            result = ask_and_open(question(*LATER[-1]))
            cited = [c for c in result.get("citations", []) if c["article"]["path"].endswith(file_name(new_town))]
            if cited and not result["refused"] and f"{crowns} thousand crowns" in result["answer"]:
                break
            assert time.monotonic() < caught_up_by, f"the new article is still not answered from: {result}"
            time.sleep(0.3)
        by_meaning = client.predict(query=BY_MEANING[0], k=1, api_name="/search")["results"]
        assert by_meaning and by_meaning[0]["article"]["path"].endswith(file_name(BY_MEANING[1])), by_meaning
        found = client.predict(query=f"{town} {thing} opening moved to the autumn", k=3, api_name="/search")
        assert any("moved to the autumn" in r["text"] for r in found["results"]), found
        assert client.predict(api_name="/status")["articles"] == len(FIRST) + len(LATER)
        assert not failures, "\n".join(failures)
        assert opened, "no citation was opened"
        for user in users:
            user.close()  # its heartbeat stream open would hold up the app's shutdown
    finally:
        if writer.is_locked:
            writer.release()
        if ingest.poll() is None:
            stop(ingest)
        stop(app)
    assert "Traceback" not in log.read_text(), log.read_text()


def test_ctrl_c_during_a_sync_stops_the_app_and_the_next_sync_finishes_it(tmp_path):
    # Ctrl-C while the app's first sync embedded a large folder printed "terminate called without an active
    # exception" and exited 134 (SIGABRT): Python's exit tore down the model's threads under the sync
    # (a tester). Now it says so and exits 130, and the store is as a killed sync leaves it.
    articles, store = tmp_path / "articles", tmp_path / "store"
    articles.mkdir()
    for i in range(200):
        (articles / f"boat-{i}.txt").write_text(f"Boat {i} returns to the harbour\n\nThe harbour master said boat "
                                                f"{i} returned safely on Monday after the storm.\n")
    port, log = free_port(), tmp_path / "app.log"
    with open(log, "w") as sink:
        app = subprocess.Popen([sys.executable, str(PROJECT / "app.py"), "--store", str(store), "--port", str(port)],
                               cwd=tmp_path, env=dict(env(), RAG_ARTICLES=str(articles)), stdout=sink,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while "rag: syncing" not in log.read_text():
            assert time.monotonic() < deadline and app.poll() is None, log.read_text()
            time.sleep(0.2)
        time.sleep(1)
        app.send_signal(signal.SIGINT)
        assert app.wait(timeout=30) == 130, log.read_text()
    finally:
        stop(app)
    said = log.read_text()
    assert "stopped during a sync" in said and "terminate called" not in said, said
    again = rag("ingest", str(articles), "--store", str(store), "--quiet", "--json", cwd=tmp_path)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    # (read here, every process done: `rag status` itself is tested in test_cli_ingest.py, and its own
    # process took 6 s, most of it starting up)
    status = NewsChat(Settings(store_dir=store, chroma_url="", database_url="", embedding_model="")).status()
    assert status["articles"] == 200 and status["vectors"] == status["chunks"], (status, out)

