"""The reader: the embedding model fine-tuned to read a question and a sentence together and score
whether the sentence answers it (a cross-encoder).

The packaged all-MiniLM-L6-v2 compares a question and a sentence as two separate vectors, which
tells a sentence on the topic from one that holds the answer poorly (the sentence ranker gained
nothing from that cosine, docs/BENCHMARKS.md). Read together, every word of the question attends to
every word of the sentence. `bench/train_reader.py` trains low-rank adapters (LoRA) for the model's
linear layers and a one-number head on rtqa-2023 questions (never the ones reported on), and ships
them as `rag/data/sentence_reader.json`: a small text file, so no other model is installed or
downloaded. At load the adapters are added into a copy of the model's weights, which then runs in one
of two precisions (whatever variant embeds the store, rag/embeddings.py):
- "int8" (linear layers quantized, one pair at a time): what the sentence ranker learned from, and the
  default on a CPU without Intel AMX.
- "bf16" (fp32 weights, the 24 pairs as one padded batch with matrix products in bfloat16): the
  default on a CPU with AMX. Its scores are the fp32 model's (0.01 logits apart) and differ from int8's
  by 0.47 logits on average; with the ranker trained on int8 scores it gave the same answers on the
  reported sets (support s150 0.660 and 0.660, held-out A 0.687 and 0.680, refusals unchanged but one
  more unanswerable A question), and an ask on s150 took 207 ms at p50 against 289 ms, one run after
  the other (docs/BENCHMARKS.md). The opening of about 3% of answers differs between the two.
"""

from __future__ import annotations

import base64
import functools
import json
import threading
import warnings
from dataclasses import dataclass
from importlib import resources

import numpy as np

# torch and transformers are imported where a model is built or run (see rag/embeddings.py: about 1 s).
from .embeddings import amx, quantize_int8, resolve_model, torch_threads

READER_FILE = "sentence_reader.json"
SENTENCE_TOKENS = 96  # question and sentence together; a longer sentence is judged by its start

_loaded: dict[tuple, object] = {}
_lock = threading.Lock()


def pack(array: np.ndarray) -> dict:
    """An array as JSON: its shape and its float16 bytes in base64."""
    return {"shape": list(array.shape), "f16": base64.b64encode(np.asarray(array, np.float16).tobytes()).decode()}


def unpack(packed: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(packed["f16"]), dtype=np.float16).astype(np.float32).reshape(packed["shape"])


@dataclass
class ReaderWeights:
    """The contents of rag/data/sentence_reader.json (written by bench/train_reader.py)."""

    base_model: str  # the model the adapters were trained on (the store's embedding model by default)
    scale: float  # LoRA's alpha / rank
    adapters: dict[str, tuple[np.ndarray, np.ndarray]]  # linear layer name -> (A: r x in, B: out x r)
    head_weight: np.ndarray  # 1 x hidden
    head_bias: float
    about: dict

    @classmethod
    def load(cls, path: str | None = None) -> ReaderWeights:
        text = (open(path, encoding="utf-8").read() if path
                else resources.files("rag.data").joinpath(READER_FILE).read_text(encoding="utf-8"))
        data = json.loads(text)
        adapters = {name: (unpack(ab["A"]), unpack(ab["B"])) for name, ab in data["adapters"].items()}
        return cls(data["base_model"], float(data["scale"]), adapters, unpack(data["head"]["weight"]),
                   float(data["head"]["bias"]), data.get("about", {}))


@functools.cache
def shipped_weights() -> ReaderWeights:
    """rag/data/sentence_reader.json, read once per process (its model is built once too)."""
    return ReaderWeights.load()


def pair_texts(question: str, sentence: str) -> tuple[str, str]:
    """What the reader reads: the question, then the sentence (one rule for training and use)."""
    return question, " ".join(sentence.split())


def build_model(weights: ReaderWeights, path: str, int8: bool):
    """The base model as a one-output sequence classifier with the adapters merged into its weights."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the head is "newly initialised": it is set from the file below
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
            tokenizer = AutoTokenizer.from_pretrained(path)
    finally:
        hf_logging.set_verbosity(previous)
    modules = dict(model.named_modules())
    with torch.no_grad():
        for name, (a, b) in weights.adapters.items():
            linear = modules[name]
            linear.weight += torch.from_numpy(b @ a * weights.scale)
        model.classifier.weight.copy_(torch.from_numpy(weights.head_weight))
        model.classifier.bias.fill_(weights.head_bias)
    model.eval()
    if int8:
        quantize_int8(model)
    return model, tokenizer


def traced(model, tokenizer):
    """The int8 model traced once with TorchScript for the one shape of input it is given: one unpadded
    (question, sentence) pair. It scores exactly as the model it traces (the same logits on 1,502 s150
    pairs of 16 to 96 tokens) in about a fifth less time: 24 pairs took 153-178 ms against 202 ms, as
    most of the rest is transformers' Python around the layers, run again for every pair. The trace fixes
    what transformers decides from the example (no padding, so no attention mask is applied), which holds
    for every pair `SentenceReader.scores` reads in int8."""
    import torch

    example = tokenizer("Which team won?", "The Bills won the game.", return_tensors="pt")
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # TracerWarnings for exactly those decisions
        return torch.jit.trace(model, (example["input_ids"], example["attention_mask"], example["token_type_ids"]),
                               strict=False, check_trace=False)


PRECISIONS = ("int8", "bf16")


def default_precision() -> str:
    """bf16 on a CPU with Intel AMX, int8 elsewhere. Unlike the embeddings, AVX512-BF16 alone does not
    make the reader faster: on an AMD Zen 4 (2 cores, one thread) 24 pairs took 288 ms in bf16 as one
    padded batch against 182 ms in int8 one at a time (p50 over 20 questions)."""
    return "bf16" if amx() else "int8"


class SentenceReader:
    """Scores (question, sentence) pairs: higher means more likely to hold the answer (a logit)."""

    def __init__(self, weights: ReaderWeights | None = None, precision: str = "", threads: int = 1):
        self.weights = weights or shipped_weights()
        name, self.path = resolve_model("")  # the packaged model, whatever model embeds the store
        if name != self.weights.base_model:
            raise ValueError(f"the reader's adapters were trained on {self.weights.base_model}, not {name}")
        self.precision = precision or default_precision()
        if self.precision not in PRECISIONS:
            raise ValueError(f"unknown reader precision '{precision}': use int8 or bf16")
        self.threads = threads  # 1 on the query path (see embeddings.torch_threads)

    def _model(self):
        int8 = self.precision == "int8"
        key = (self.path, id(self.weights), int8)
        with _lock:
            if key not in _loaded:
                model, tokenizer = build_model(self.weights, self.path, int8)
                _loaded[key] = (traced(model, tokenizer) if int8 else model), tokenizer
            return _loaded[key]

    def scores(self, question: str, sentences: list[str]) -> list[float]:
        if not sentences:
            return []
        import torch

        model, tokenizer = self._model()
        pairs = [pair_texts(question, sentence) for sentence in sentences]
        with torch_threads(self.threads), torch.inference_mode():
            if self.precision == "bf16":  # one padded batch: 164 ms for 24 pairs against int8's 252 ms
                batch = tokenizer([q for q, _ in pairs], [s for _, s in pairs], truncation=True,
                                  max_length=SENTENCE_TOKENS, padding=True, return_tensors="pt")
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return [float(x) for x in model(**batch).logits[:, 0].float()]
            # int8: one pair at a time. int8 layers scale their inputs by the largest value in the whole
            # batch, so in a batch a sentence's score depended on the others beside it (by up to 2 logits;
            # the best of 24 sentences changed for a third of s150's questions). Alone, a pair scores the
            # same in training and in the app, and no slower: 215 ms for 24 sentences against 237 ms batched.
            out = []
            for q, s in pairs:
                pair = tokenizer(q, s, truncation=True, max_length=SENTENCE_TOKENS, return_tensors="pt")
                logits = model(pair["input_ids"], pair["attention_mask"], pair["token_type_ids"])["logits"]
                out.append(float(logits[0, 0]))
            return out
