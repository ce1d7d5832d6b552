"""The one settings object, built at the edge (CLI flags over environment variables) and passed in."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


@dataclass
class Settings:
    store_dir: Path = field(default_factory=lambda: Path(_env("RAG_STORE", "vectorstore")))
    chroma_url: str = field(default_factory=lambda: _env("RAG_CHROMA_URL"))
    # An SQLAlchemy URL for the catalog and the record manager (PostgreSQL to share a store between
    # machines, with RAG_CHROMA_URL); "" keeps them as SQLite files in the store folder.
    database_url: str = field(default_factory=lambda: _env("RAG_DATABASE_URL"))
    # "" means the packaged all-MiniLM-L6-v2; otherwise any sentence-transformers path or name.
    embedding_model: str = field(default_factory=lambda: _env("RAG_EMBEDDING_MODEL"))
    # "" means the variant the store was built with, else int8 on a CPU / fp32 on a GPU (rag/embeddings.py).
    embedding_variant: str = field(default_factory=lambda: _env("RAG_EMBEDDING_VARIANT"))
    device: str = field(default_factory=lambda: _env("RAG_DEVICE", "auto"))  # auto, cpu, cuda or mps
    articles_dir: Path = field(default_factory=lambda: Path(_env("RAG_ARTICLES", "seeds")))
    # Characters. Measured on rtqa-2023-s150 (README "Measured"): 1500/225 beat 1000/150 on every metric;
    # MiniLM reads the first ~256 tokens of a chunk (about 1,100 characters), BM25 reads all of it.
    chunk_size: int = 1500
    chunk_overlap: int = 225
    max_file_mb: float = 10.0  # a single article file (txt, md, html); JSON/JSONL are read record by record
    max_jsonl_mb: float = 1024.0
    top_k: int = 10
    # Answering: "extractive" (default, no model) or "ollama", "openai", "gguf".
    answerer: str = field(default_factory=lambda: _env("RAG_ANSWERER", "extractive"))
    # The sentence ranker's weights; "" = the ones shipped in rag/data (for benchmarks of other fits).
    ranker_weights: str = field(default_factory=lambda: _env("RAG_RANKER_WEIGHTS"))
    llm_model: str = field(default_factory=lambda: _env("RAG_LLM_MODEL"))
    llm_base_url: str = field(default_factory=lambda: _env("RAG_LLM_BASE_URL"))
    llm_api_key: str = field(default_factory=lambda: _env("RAG_LLM_API_KEY", "not-needed"))
    # Three quotes fit in 400 tokens; without a cap a small model can ramble until its context is full.
    llm_max_tokens: int = field(default_factory=lambda: int(_env("RAG_LLM_MAX_TOKENS", "400")))
    llm_threads: int = field(default_factory=lambda: int(_env("RAG_LLM_THREADS", "0")))  # 0: llama.cpp decides
    host: str = field(default_factory=lambda: _env("RAG_HOST", "127.0.0.1"))
    port: int = field(default_factory=lambda: int(_env("RAG_PORT", "7860")))
    auth: str = field(default_factory=lambda: _env("RAG_AUTH"))  # "user:password", required off loopback
    watch: str = field(default_factory=lambda: _env("RAG_WATCH"))
    max_upload_mb: float = 10.0

    @property
    def collection_name(self) -> str:
        return "articles"
