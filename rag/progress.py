"""A terminal progress bar for long ingests: chunks per second, articles done, time left."""

from __future__ import annotations

import sys

from tqdm import tqdm


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
