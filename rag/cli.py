"""The `rag` command: ingest, search, ask, eval, status, serve (see DESIGN.md for the JSON shapes)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date
from pathlib import Path

from .settings import Settings


def _iso_date(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a date; use YYYY-MM-DD") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Ask questions about a folder of news articles.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", type=Path, help="store directory (default vectorstore/, env RAG_STORE)")
    common.add_argument("--model", help="sentence-transformers model path or name (default: packaged all-MiniLM-L6-v2)")
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("-k", type=int, default=10, help="how many passages to retrieve")
    filters.add_argument("--as-of", type=_iso_date, help="date the question is asked (default today)")
    filters.add_argument("--since", type=_iso_date, help="only articles published on or after this date")
    filters.add_argument("--until", type=_iso_date, help="only articles published on or before this date")
    filters.add_argument("--source", help="only articles from this outlet, e.g. cnn.com")
    filters.add_argument("--json", action="store_true", help="print JSON")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", parents=[common], help="embed new and changed articles; folders are synced")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default seeds/)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--rebuild", action="store_true", help="drop the store and embed everything again")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("search", parents=[common, filters], help="ranked passages for a query")
    p.add_argument("query")
    p = sub.add_parser("ask", parents=[common, filters], help="an answer in quotes with citations")
    p.add_argument("question")
    p.add_argument("--answerer", help="extractive (default), ollama, openai or gguf")

    p = sub.add_parser("eval", parents=[common], help="run a question file through search and ask")
    p.add_argument("questions", type=Path)
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--out", type=Path, help="write one JSON line per question")
    p.add_argument("--answers", action="store_true", help="also answer each question (not only retrieve)")
    p.add_argument("--answerer", help="extractive (default), ollama, openai or gguf")

    p = sub.add_parser("status", parents=[common], help="what the store holds")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("serve", parents=[common], help="the web chat (same as python app.py)")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 7860)")
    p.add_argument("--watch", help="folder to watch for new articles")
    p.add_argument("--no-ingest", action="store_true", help="do not sync the articles folder at start")
    p.add_argument("--answerer", help="extractive (default), ollama, openai or gguf")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    settings = Settings()
    if getattr(args, "store", None):
        settings.store_dir = args.store
    if getattr(args, "model", None):
        settings.embedding_model = args.model
    if getattr(args, "answerer", None):
        settings.answerer = args.answerer
    for name in ("host", "port", "watch"):
        if getattr(args, name, None):
            setattr(settings, name, getattr(args, name))
    return settings


def filters_from(args: argparse.Namespace):
    from .models import Filters

    return Filters(since=args.since or "", until=args.until or "", source=args.source or "",
                   as_of=args.as_of or date.today().isoformat())


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    args = _parser().parse_args(argv)
    settings = settings_from(args)
    from .store import StoreError

    try:
        return COMMANDS[args.command](args, settings)
    except StoreError as e:
        print(f"rag: {e}", file=sys.stderr)
        return 2


def _open(settings: Settings):
    from .service import NewsChat

    return NewsChat(settings)


def cmd_ingest(args, settings: Settings) -> int:
    from .progress import TerminalProgress

    if args.rebuild:  # before opening: a store built with another model only opens to be reset
        from .embeddings import SentenceEmbeddings
        from .store import Store

        embeddings = SentenceEmbeddings(settings.embedding_model, variant=settings.embedding_variant,
                                        device=settings.device)
        Store(settings.store_dir, embeddings, settings.chroma_url, settings.database_url, check_model=False).reset()
    chat = _open(settings)
    with TerminalProgress(enabled=not args.quiet) as progress:
        report = chat.ingest(args.paths or None, on_progress=progress.update,
                             on_wait=lambda why: print(f"rag: waiting: {why}", file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(report.to_json()))
    else:
        for failure in report.failed:
            print(f"failed: {failure['path']}: {failure['error']}", file=sys.stderr)
        print(f"{report.added} added, {report.updated} updated, {report.unchanged} unchanged, "
              f"{report.deleted} deleted, {len(report.failed)} failed ({report.chunks_embedded} chunks embedded)")
    return 1 if report.failed else 0


def cmd_search(args, settings: Settings) -> int:
    chat = _open(settings)
    chunks = chat.search(args.query, filters_from(args), args.k)
    if args.json:
        print(json.dumps({"query": args.query, "results": [c.to_json(i + 1) for i, c in enumerate(chunks)]}))
        return 0
    if not chunks:
        print("No passages found.")
    for i, c in enumerate(chunks, 1):
        print(f"{i}. [{c.score:.2f}] {c.title} ({c.source or 'unknown outlet'}, {c.published or 'undated'})")
        print(f"   {' '.join(c.text.split())[:300]}")
    return 0


def cmd_ask(args, settings: Settings) -> int:
    chat = _open(settings)
    answer = chat.ask(args.question, filters=filters_from(args), k=args.k)
    if args.json:
        print(json.dumps(answer.to_json()))
        return 0
    print(answer.text)
    if answer.citations:
        print()
    for c in answer.citations:
        print(f"[{c.n}] {c.chunk.title} ({c.chunk.source or 'unknown outlet'}, {c.chunk.published or 'undated'})"
              f" {c.chunk.url or c.chunk.path}")
    return 0


def cmd_eval(args, settings: Settings) -> int:
    from .evaluation import run_eval

    chat = _open(settings)
    summary = run_eval(chat, args.questions, k=args.k, out=args.out, with_answers=args.answers)
    print(json.dumps(summary))
    return 0


def cmd_status(args, settings: Settings) -> int:
    chat = _open(settings)
    status = chat.status()
    if args.json:
        print(json.dumps(status))
    else:
        for key, value in status.items():
            print(f"{key}: {value}")
    return 0


def cmd_serve(args, settings: Settings) -> int:
    from .ui import serve

    serve(settings, ingest_at_start=not args.no_ingest)
    return 0


COMMANDS = {"ingest": cmd_ingest, "search": cmd_search, "ask": cmd_ask, "eval": cmd_eval,
            "status": cmd_status, "serve": cmd_serve}
