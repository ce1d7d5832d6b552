"""The web chat over the articles folder: `python app.py [--port N] [--watch PATH] ...` is `rag serve`.

Settings come from RAG_* environment variables (the list, with defaults: rag/settings.py and the README).
"""

import sys

from rag.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["serve", *sys.argv[1:]]))
