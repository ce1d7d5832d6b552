"""Time the web chat as a user meets it: start to usable page, first streamed words, full answer.

usage: python bench/ui_latency.py [--store DIR] [--articles DIR] [--question Q] [--no-ingest]

Starts `python app.py` on a free port, opens it in Debian's chromium (Playwright), waits for the
"Ready" status, asks the question and prints the timings. Run twice on a new store to see a first
and a second start.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default=str(Path(tempfile.mkdtemp(prefix="rag-ui-")) / "store"))
    ap.add_argument("--articles", default=str(PROJECT / "seeds"))
    ap.add_argument("--question", default="What did Lukashenko say about sending soldiers?")
    ap.add_argument("--no-ingest", action="store_true")
    args = ap.parse_args()
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", RAG_ARTICLES=args.articles)
    command = [sys.executable, str(PROJECT / "app.py"), "--store", args.store, "--port", str(port)]
    started = time.monotonic()
    proc = subprocess.Popen(command + (["--no-ingest"] if args.no_ingest else []), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except Exception:
                time.sleep(0.1)
        print(f"server answers: {time.monotonic() - started:.1f} s")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page()
            page.goto(url, wait_until="domcontentloaded")
            page.wait_for_selector("#question textarea")
            print(f"page drawn, can type: {time.monotonic() - started:.1f} s")
            page.wait_for_selector("#status-line .status-ready", timeout=600_000)
            print(f"ready (synced, model loaded): {time.monotonic() - started:.1f} s")
            for attempt in ("first question", "second question"):
                before = page.locator("#chat .answer-meta").count()
                bots = page.locator("#chat [data-testid=bot]").count()
                page.fill("#question textarea", args.question)
                asked = time.monotonic()
                page.keyboard.press("Enter")
                page.wait_for_function(f"() => document.querySelectorAll('#chat [data-testid=bot]').length > {bots}"
                                       f" && document.querySelectorAll('#chat [data-testid=bot]')[{bots}].innerText.trim()"
                                       f".length > 0")
                first = time.monotonic() - asked
                page.wait_for_function(f"() => document.querySelectorAll('#chat .answer-meta').length > {before}")
                print(f"{attempt}: first words {1000 * first:.0f} ms, full answer with cards "
                      f"{1000 * (time.monotonic() - asked):.0f} ms")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
