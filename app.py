"""The web chat over the articles folder: `python app.py [--port N] [--watch PATH] ...` is `rag serve`.

Environment: RAG_STORE, RAG_ARTICLES (default seeds/), RAG_HOST, RAG_PORT, RAG_AUTH, RAG_WATCH, RAG_ANSWERER.
"""

import sys

from rag.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["serve", *sys.argv[1:]]))
