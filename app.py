"""The web chat over the articles folder: `python app.py [--port N] [--watch PATH] ...` is `rag serve`.

Environment: RAG_STORE, RAG_ARTICLES (default seeds/), RAG_HOST, RAG_PORT, RAG_AUTH, RAG_WATCH, RAG_ANSWERER.
"""

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from rag.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["serve", *sys.argv[1:]]))
