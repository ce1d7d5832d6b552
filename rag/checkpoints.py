"""Named moments of a write, where a test can stop a real process (crash-recovery tests).

`reached(name)` does nothing unless the environment asks for that moment: with RAG_PAUSE_AT=name and
RAG_PAUSE_FILE=path, the process writes the name to the file and waits there to be killed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def reached(name: str) -> None:
    if os.environ.get("RAG_PAUSE_AT") == name and os.environ.get("RAG_PAUSE_FILE"):
        Path(os.environ["RAG_PAUSE_FILE"]).write_text(name)
        while True:
            time.sleep(60)
