"""The reader (rag/reader.py): the packaged model with the shipped adapters, as the app runs it."""

from __future__ import annotations

import pytest
import torch

from rag import embeddings, reader
from rag.reader import SentenceReader

QUESTION = "How big is the Belarusian army, according to Lukashenko?"
ANSWER = "Lukashenko said the Belarusian army has 35,000 to 40,000 men."
OTHERS = [
    "The president spoke to reporters in Minsk on Friday.",
    "Belarus has been a close ally of Russia for decades, and the two countries held joint military "
    "exercises near the border with Ukraine last year, drawing criticism from Kyiv and from Western "
    "governments who said the drills were a cover for preparing an attack from the north.",
]


@pytest.mark.parametrize("precision, tolerance", [("int8", 0.0), ("bf16", 0.05)])
def test_a_sentence_scores_the_same_whatever_is_scored_beside_it(precision, tolerance):
    # int8 layers scale their inputs by the largest value in a batch: scored in one padded batch, a
    # sentence's score moved with its neighbours (by up to 2 logits), so the app (24 sentences) and
    # training (every candidate) saw different scores for the same sentence; int8 reads one pair at a
    # time. bf16 (the reader's default on a CPU with AMX) reads the 24 as one batch: the padding may move
    # a score by a bfloat16 step (0.02 here), never by enough to reorder these sentences.
    reader = SentenceReader(precision=precision)
    alone = reader.scores(QUESTION, [ANSWER])[0]
    assert abs(reader.scores(QUESTION, [ANSWER, *OTHERS])[0] - alone) <= tolerance
    assert abs(reader.scores(QUESTION, [OTHERS[1], ANSWER])[1] - alone) <= tolerance


def test_bf16_orders_sentences_as_the_int8_scores_the_ranker_learned_from():
    # The sentence ranker learned from int8 scores; bf16 scores are the fp32 model's, 0.5 logits from
    # int8's on average (docs/BENCHMARKS.md measured the answers with them), and keep their order.
    sentences = [ANSWER, *OTHERS]
    int8 = SentenceReader(precision="int8").scores(QUESTION, sentences)
    bf16 = SentenceReader(precision="bf16").scores(QUESTION, sentences)
    assert sorted(range(3), key=int8.__getitem__) == sorted(range(3), key=bf16.__getitem__)
    assert max(abs(a - b) for a, b in zip(int8, bf16)) < 2.0


@pytest.mark.parametrize("amx, avx512_bf16, passages, sentences", [
    (True, True, "bf16", "bf16"),  # Intel Sapphire Rapids and later
    (False, True, "bf16", "int8"),  # AMD Zen 4
    (False, False, "fp32", "int8"),  # older x86, ARM
])
def test_each_cpu_gets_the_precisions_measured_fastest_on_it(monkeypatch, amx, avx512_bf16, passages, sentences):
    # What the CPU offers decides the defaults (docs/BENCHMARKS.md, "bf16 against fp32"): passages embed
    # in bf16 wherever bfloat16 is multiplied in hardware (AMX 2.8-3x fp32's speed, AVX512-BF16 alone
    # 1.6-2x), the reader reads in bf16 only with AMX (with AVX512-BF16 alone its 24 pairs took 288 ms
    # against int8's 182 ms). One CPU is all a machine has, so torch's CPU checks are replaced here to
    # stand for the other two; a GPU embeds in fp32.
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    assert str(embeddings.default_variant("cpu")) == passages
    assert str(embeddings.default_variant("cuda")) == "fp32"
    assert reader.default_precision() == sentences
    assert SentenceReader().precision == sentences


def test_the_traced_int8_reader_scores_exactly_as_the_model_it_traces():
    # SentenceReader reads int8 through a TorchScript trace of the model (faster per pair); the trace is
    # made from one short pair and must give the same logits for pairs of any length, cut at 96 tokens too.
    model, tokenizer = reader.build_model(reader.shipped_weights(), reader.resolve_model("")[1], int8=True)
    sentences = [ANSWER, *OTHERS, " ".join(OTHERS * 6), "Yes."]
    with torch.inference_mode():
        expected = [float(model(**tokenizer(QUESTION, s, truncation=True, max_length=reader.SENTENCE_TOKENS,
                                            return_tensors="pt")).logits[0, 0]) for s in sentences]
    assert SentenceReader(precision="int8").scores(QUESTION, sentences) == expected
