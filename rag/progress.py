"""What an ingest shows in the terminal: a progress bar (chunks per second, articles done, time left), and
why it waits."""

from __future__ import annotations

import sys

from tqdm import tqdm


def say_waiting(why: str) -> None:
    """What an ingest says while another process holds the store's writer lock (the CLI and `rag serve`)."""
    print(f"rag: waiting: {why}", file=sys.stderr, flush=True)


class TerminalProgress:
    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bar = None

    def update(self, chunks_done: int, chunks_total: int, articles_done: int, articles_total: int) -> None:
        if not self.enabled or chunks_total == 0:
            return
        if self.bar is None:
            self.bar = tqdm(total=chunks_total, unit="chunk", desc="embedding", file=sys.stderr,
                            dynamic_ncols=True, mininterval=0.5)
        self.bar.set_postfix_str(f"{articles_done}/{articles_total} articles", refresh=False)
        self.bar.update(chunks_done - self.bar.n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()
