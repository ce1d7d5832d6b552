"""The one settings object, built at the edge (CLI flags over environment variables) and passed in.

`Settings()` reads the environment; a value that cannot be used (RAG_PORT=abc) raises SettingsError
naming the variable, and `validate()` checks what depends on several values. The CLI turns either
into one line and exit status 2.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

EXTRACTIVE = "extractive"  # the default answerer: sentences of the articles, no language model
# Every answerer's name, the default first; `llm.BACKENDS` builds the others (a chat model each).
ANSWERERS = (EXTRACTIVE, "ollama", "openai", "gguf")
# The shipped sentence weights RAG_RANKER_WEIGHTS can name (rag/data; anything else is a weights file).
HANDSET = "handset"  # the earlier hand-set rule, as weights (small stores use it: service.py)
RANKER_WEIGHT_NAMES = ("learned", HANDSET)  # "learned" (the default): bench/train_pipeline.sh made them

# Set for every entry point (CLI, app.py, tests): no model hub, no telemetry, no analytics.
OFFLINE_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False", "ANONYMIZED_TELEMETRY": "False",
                       "TOKENIZERS_PARALLELISM": "false", "TRANSFORMERS_VERBOSITY": "error"}


def offline_environment() -> None:
    """Default the environment to offline use (an explicit setting of the user's wins)."""
    for name, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it and says what it should be."""


def unknown_answerer_text(answerer: str, where: str = "") -> str:
    """ "unknown answerer 'bogus'{where}: use extractive, ollama, openai, gguf": what an answerer name that
    is none of ANSWERERS gets told (`Settings.validate`; `llm.make_chat_model`)."""
    return f"unknown answerer '{answerer}'{where}: use {', '.join(ANSWERERS)}"


MAX_PASSAGES = 100  # the most passages a search lists or an answer reads (-k, the API's k, top_k)


def passage_count(value, name: str = "k") -> int:
    """A number of passages (a -k, the API's k, a setting) as a whole number from 1 to MAX_PASSAGES;
    SettingsError naming `name` otherwise. The one place this rule is written."""
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} must be a whole number from 1 to {MAX_PASSAGES}, not {value!r}") from None
    if not 1 <= count <= MAX_PASSAGES:
        raise SettingsError(f"{name} must be from 1 to {MAX_PASSAGES}, not {value}")
    return count


# Where things are when no RAG_* variable says otherwise (the settings below and the command's help).
DEFAULT_STORE = "vectorstore"
DEFAULT_ARTICLES = "seeds"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
MAX_FILE_MB = 10.0  # a single article file (txt, md, html)
MAX_JSONL_MB = 1024.0  # an export of many articles (JSONL is read record by record, a JSON file whole)


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not '{raw}'") from None


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    if not raw.strip():
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not '{raw}'") from None


@dataclass
class Settings:
    store_dir: Path = field(default_factory=lambda: Path(_env("RAG_STORE", DEFAULT_STORE)))
    chroma_url: str = field(default_factory=lambda: _env("RAG_CHROMA_URL"))
    # An SQLAlchemy URL for the catalog and the record manager (PostgreSQL to share a store between
    # machines, with RAG_CHROMA_URL); "" keeps them as SQLite files in the store folder.
    database_url: str = field(default_factory=lambda: _env("RAG_DATABASE_URL"))
    # This machine's name in a shared store ("": the host name). A sync removes only the files this
    # machine stored (`machine_name`): set it where the host name changes (a container made anew).
    machine: str = field(default_factory=lambda: _env("RAG_MACHINE"))
    # "" means the packaged all-MiniLM-L6-v2; otherwise any sentence-transformers path or name.
    embedding_model: str = field(default_factory=lambda: _env("RAG_EMBEDDING_MODEL"))
    # "" means one of the store's vector space, else bf16 on a CPU with AMX or AVX512-BF16 and fp32
    # elsewhere (rag/embeddings.py).
    embedding_variant: str = field(default_factory=lambda: _env("RAG_EMBEDDING_VARIANT"))
    device: str = field(default_factory=lambda: _env("RAG_DEVICE", "auto"))  # auto, cpu, cuda or mps
    articles_dir: Path = field(default_factory=lambda: Path(_env("RAG_ARTICLES", DEFAULT_ARTICLES)))
    # Characters. Measured on rtqa-2023-s150 (README "Measured"): 1500/225 beat 1000/150 on every metric;
    # MiniLM reads the first ~256 tokens of a chunk (about 1,100 characters), BM25 reads all of it.
    chunk_size: int = 1500
    chunk_overlap: int = 225
    max_file_mb: float = MAX_FILE_MB
    max_jsonl_mb: float = MAX_JSONL_MB
    top_k: int = 10  # passages a search lists
    # Passages an answer reads (its sentences are the candidates). The training questions' real `rag eval
    # --answers` runs at 10, 15 and 20 (B and the rest over their own stores, both over the whole year: 508
    # answers) gave support 0.667, 0.683 and 0.675 at the shipped threshold, with 4.3%, 3.7% and 3.7% of
    # them refused and 76%, 72% and 66% of 87 unanswerable training questions refused; the reader still
    # reads the best 24 sentences, so an ask takes 7-17 ms more at p50 (docs/BENCHMARKS.md).
    answer_passages: int = 15
    answerer: str = field(default_factory=lambda: _env("RAG_ANSWERER", EXTRACTIVE))  # one of ANSWERERS
    # The sentence ranker's weights: "" = the learned ones in rag/data, the hand-set rule on a small store
    # (answering.SMALL_STORE_CHUNKS); "learned" or "handset" for those on every store; or a weights file.
    ranker_weights: str = field(default_factory=lambda: _env("RAG_RANKER_WEIGHTS"))
    llm_model: str = field(default_factory=lambda: _env("RAG_LLM_MODEL"))
    llm_base_url: str = field(default_factory=lambda: _env("RAG_LLM_BASE_URL"))
    llm_api_key: str = field(default_factory=lambda: _env("RAG_LLM_API_KEY", "not-needed"))
    # Three quotes fit in 400 tokens; without a cap a small model can ramble until its context is full.
    llm_max_tokens: int = field(default_factory=lambda: _env_int("RAG_LLM_MAX_TOKENS", 400))
    llm_threads: int = field(default_factory=lambda: _env_int("RAG_LLM_THREADS", 0))  # 0: llama.cpp decides
    host: str = field(default_factory=lambda: _env("RAG_HOST", DEFAULT_HOST))
    port: int = field(default_factory=lambda: _env_int("RAG_PORT", DEFAULT_PORT))
    auth: str = field(default_factory=lambda: _env("RAG_AUTH"))  # "user:password", required off loopback
    watch: str = field(default_factory=lambda: _env("RAG_WATCH"))  # a folder watched besides the articles folder
    # The articles folder is watched while the web app runs, so an article edited or deleted there reaches the
    # answers within seconds (a tester's edited article was quoted as it was until "Re-sync now");
    # RAG_WATCH_ARTICLES=0 (or `rag serve --no-watch`) leaves it to the Re-sync button.
    watch_articles: bool = field(default_factory=lambda: _env("RAG_WATCH_ARTICLES", "1").strip().lower()
                                 not in ("0", "no", "off", "false"))
    feeds: list[str] = field(default_factory=lambda: _env("RAG_FEEDS").split())  # followed besides `rag follow`'s
    feed_minutes: float = field(default_factory=lambda: _env_float("RAG_FEED_MINUTES", 15.0))  # between two polls
    max_upload_mb: float = 10.0

    @property
    def answerer_kind(self) -> str:
        """The answerer's name as ANSWERERS spells it (RAG_ANSWERER may be written in capitals, or empty)."""
        return (self.answerer or EXTRACTIVE).lower()

    def watched_folders(self) -> list[Path]:
        """The folders the web app watches: the articles folder (unless `watch_articles` is off) and the
        RAG_WATCH folder, unless it is in the articles folder watched already (two watchers, two syncs)."""
        folders = [Path(self.articles_dir)] if self.watch_articles else []
        if self.watch:
            inside = Path(self.watch).resolve().is_relative_to(Path(self.articles_dir).resolve())
            if not (self.watch_articles and inside):
                folders.append(Path(self.watch))
        return folders

    def machine_name(self) -> str:
        """The name a shared store records with each file this machine stores ("" for a store in a folder,
        which one machine uses): a sync removes the files gone from this machine's folders that this
        machine stored, never another machine's that only share their path (`indexing.machine_split`)."""
        if not self.database_url:
            return ""
        return self.machine or socket.gethostname()

    def validate(self) -> Settings:
        """Raise SettingsError for a combination that cannot work; returns self."""
        if self.answerer_kind not in ANSWERERS:
            raise SettingsError(unknown_answerer_text(self.answerer, " (RAG_ANSWERER or --answerer)"))
        named = not self.ranker_weights or self.ranker_weights in RANKER_WEIGHT_NAMES
        if not named and not os.path.isfile(self.ranker_weights):
            raise SettingsError(f"RAG_RANKER_WEIGHTS must be learned, handset or a weights file; "
                                f"'{self.ranker_weights}' is none of them")
        if not 1 <= self.port <= 65535:
            raise SettingsError(f"RAG_PORT must be from 1 to 65535, not {self.port}")
        for name in ("top_k", "answer_passages"):
            passage_count(getattr(self, name), name)
        if not self.feed_minutes > 0:  # (also false for NaN)
            raise SettingsError(f"RAG_FEED_MINUTES must be more than 0, not {self.feed_minutes:g}")
        if self.database_url and not self.chroma_url:
            raise SettingsError("RAG_DATABASE_URL shares the catalog between machines; set RAG_CHROMA_URL too, "
                                "so the vectors are shared with it")
        if self.chroma_url and not self.database_url:  # each machine's own catalog: one's repair deletes another's chunks
            raise SettingsError("RAG_CHROMA_URL shares the vectors between machines; set RAG_DATABASE_URL too (the "
                                "SQLAlchemy URL of a PostgreSQL database, postgresql+psycopg://user:password@host/db), "
                                "so the catalog is shared with them")
        return self


def every(minutes: float) -> str:
    """ "every 5 minutes", "every minute": how often feeds are polled (RAG_FEED_MINUTES), as every message says it."""
    return "every minute" if minutes == 1 else f"every {minutes:g} minutes"
