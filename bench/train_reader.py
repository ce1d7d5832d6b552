"""Train the reader (rag/reader.py): LoRA adapters and a one-number head on all-MiniLM-L6-v2 read as
a cross-encoder, so that a sentence holding the answer to a question scores above the other
sentences retrieved for it. Writes rag/data/sentence_reader.json, and a copy of every data file with
a "reader" score for each of its candidate sentences (what bench/train_ranker.py learns from).

usage: python bench/train_reader.py --train DATA.pkl [...] [--exclude IDS.txt ...] [--oof DATA.pkl ...]
           [--score DATA.pkl ...] [--folds 2] [--epochs 3] [--made-up GROUPS.pkl]
           [--out-dir bench/out/reader] [--no-write]

DATA files come from bench/ranker_data.py. The training questions' own reader scores are out of
fold: with --folds 2 each half is scored by a reader trained on the other half, so the ranker that
learns to weigh the reader sees it as it will be on questions it never read. --oof files hold other
data of the training questions (the same questions made unanswerable) and are scored the same way. --score files (the sets
reported on, unanswerable questions) are scored by the final reader, trained on every training
question. Scores are made by `rag.reader` itself (the adapters merged, int8), as the app makes them
on a CPU without AMX (with AMX the app reads in bf16, 0.47 logits from int8 on average: rag/reader.py).

Loss: for each question, its answer sentences (up to POSITIVES) against the sentences the current
hand-set rule (sentence_ranker_handset.json) ranks highest that lack the answer (HARD) and a few others (EASY), as one softmax: the
share of the answer sentences is maximised (the listwise objective the ranker itself uses).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import pickle
import random
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

from rag.embeddings import DEFAULT_MODEL_NAME, resolve_model  # noqa: E402
from rag.ranker import SENTENCE_FEATURES, RankerWeights  # noqa: E402
from rag.reader import SENTENCE_TOKENS, ReaderWeights, SentenceReader, pack, pair_texts  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "rag" / "data" / "sentence_reader.json"
RANK, ALPHA, DROPOUT = 8, 16, 0.1
TARGETS = ["query", "key", "value", "dense"]  # every linear layer of the encoder (and the pooler)
POSITIVES, HARD, EASY = 3, 12, 4
QUESTIONS_PER_STEP = 2
LEARNING_RATE = 1e-3  # 4e-4 (the first reader) left the training loss at 1.57 after 3 epochs, near chance (1.85)
SEED = 13


def load(paths: list[Path]) -> list[dict]:
    items = []
    for p in paths:
        with open(p, "rb") as f:
            items += pickle.load(f)
    return items


def stage1_order(item: dict, stage1) -> np.ndarray:
    return np.argsort(-stage1.probabilities(item["rows"], SENTENCE_FEATURES))


def groups(items: list[dict], stage1, rng: random.Random) -> list[tuple[str, list[str], int]]:
    """(question, sentences, number of answer sentences first) for every question with an answer sentence."""
    out = []
    for it in items:
        labels = np.asarray(it["labels"], dtype=bool)
        if not labels.any():
            continue
        positives = [int(i) for i in np.flatnonzero(labels)]
        rng.shuffle(positives)
        order = [int(i) for i in stage1_order(it, stage1) if not labels[i]]
        hard, rest = order[:HARD], order[HARD:]
        easy = rng.sample(rest, min(EASY, len(rest)))
        chosen = positives[:POSITIVES] + hard + easy
        out.append((it["question"], [it["texts"][i] for i in chosen], min(POSITIVES, len(positives))))
    return out


@dataclass
class Training:
    """A reader part-way through training: the model, its optimiser and schedule, and the random state."""
    model: object
    optimizer: torch.optim.Optimizer
    schedule: object
    rng: random.Random
    made_up: int = 0  # made-up questions already trained on
    step: int = 0
    torch_rng: torch.Tensor | None = None  # dropout's random state where the copy starts


def steps_for(questions: int, epochs: int) -> int:
    return epochs * ((questions + QUESTIONS_PER_STEP - 1) // QUESTIONS_PER_STEP)


def begin(made_up: list, horizon: int, tokenizer, log=print) -> Training:
    """A fresh reader (LoRA on MiniLM) with a schedule of `horizon` steps, after one pass over the
    made-up groups (bench/cloze_questions.py) when given. Every reader of a run starts from a copy
    of this one (train()): the pass is the same for each, so it is made once (about 21 minutes)."""
    torch.manual_seed(SEED)
    _, path = resolve_model("")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    config = LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=DROPOUT, target_modules=TARGETS,
                        modules_to_save=["classifier"])
    model = get_peft_model(model, config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=LEARNING_RATE, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / 20) * max(0.0, 1 - s / horizon))
    run = Training(model, optimizer, schedule, random.Random(SEED))
    if made_up:
        run_pass(run, list(made_up), tokenizer, "made-up questions", log)
        run.made_up = len(made_up)
    run.torch_rng = torch.get_rng_state()
    return run


def run_pass(run: Training, batch_groups: list, tokenizer, label: str, log=print) -> None:
    """One pass over (question, sentences, number of answer sentences first) groups, shuffled."""
    run.model.train()
    params = [p for p in run.model.parameters() if p.requires_grad]
    run.rng.shuffle(batch_groups)
    started, total = time.perf_counter(), 0.0
    for at in range(0, len(batch_groups), QUESTIONS_PER_STEP):
        chunk = batch_groups[at:at + QUESTIONS_PER_STEP]
        pairs = [pair_texts(q, s) for q, sentences, _ in chunk for s in sentences]
        batch = tokenizer([a for a, _ in pairs], [b for _, b in pairs], truncation=True,
                          max_length=SENTENCE_TOKENS, padding=True, return_tensors="pt")
        logits = run.model(**batch).logits[:, 0]
        loss, offset = 0.0, 0
        for _, sentences, n_pos in chunk:
            scores = logits[offset:offset + len(sentences)]
            loss = loss - (torch.logsumexp(scores[:n_pos], 0) - torch.logsumexp(scores, 0))
            offset += len(sentences)
        loss = loss / len(chunk)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        run.optimizer.step()
        run.schedule.step()
        run.optimizer.zero_grad()
        total += float(loss.detach()) * len(chunk)
        run.step += 1
    log(f"  {label}: loss {total / max(len(batch_groups), 1):.3f}, "
        f"{time.perf_counter() - started:.0f} s, {run.step} steps")


def train(items: list[dict], stage1, epochs: int, start: Training, tokenizer, log=print) -> ReaderWeights:
    """A reader trained on the questions `items` for `epochs`, continuing a copy of `start` (begin())."""
    run = copy.deepcopy(start)
    torch.set_rng_state(run.torch_rng)
    for epoch in range(epochs):
        run_pass(run, groups(items, stage1, run.rng), tokenizer, f"epoch {epoch + 1}", log)
    return export(run.model, len(items), epochs, run.made_up)


def export(model, questions: int, epochs: int, made_up: int = 0) -> ReaderWeights:
    """The adapters and head of a trained peft model, as rag.reader loads them."""
    adapters = {}
    for name, module in model.named_modules():
        if hasattr(module, "lora_A") and "default" in module.lora_A:
            base_name = name.removeprefix("base_model.model.")
            adapters[base_name] = (module.lora_A["default"].weight.detach().numpy().copy(),
                                   module.lora_B["default"].weight.detach().numpy().copy())
    head = model.base_model.model.classifier.modules_to_save["default"]
    about = {"made_by": "bench/train_reader.py", "questions": questions, "epochs": epochs, "rank": RANK,
             "alpha": ALPHA, "targets": TARGETS, "positives_hard_easy": [POSITIVES, HARD, EASY],
             "learning_rate": LEARNING_RATE}
    if made_up:
        about["made_up_questions_first"] = made_up  # bench/cloze_questions.py
    # float16 round trip, as the file will hold them
    return ReaderWeights(DEFAULT_MODEL_NAME, ALPHA / RANK,
                         {k: (a.astype(np.float16).astype(np.float32), b.astype(np.float16).astype(np.float32))
                          for k, (a, b) in adapters.items()},
                         head.weight.detach().numpy().astype(np.float16).astype(np.float32),
                         float(head.bias.detach()[0]), about)


def to_json(w: ReaderWeights) -> dict:
    return {"about": w.about, "base_model": w.base_model, "scale": w.scale,
            "adapters": {name: {"A": pack(a), "B": pack(b)} for name, (a, b) in w.adapters.items()},
            "head": {"weight": pack(w.head_weight), "bias": round(w.head_bias, 6)}}


def score(weights: ReaderWeights, items: list[dict], log=print) -> None:
    """Every candidate sentence's reader score, into item["reader"] (as the app computes it)."""
    reader = SentenceReader(weights, precision="int8", threads=os.cpu_count() or 2)  # what the ranker learns from
    started = time.perf_counter()
    for n, it in enumerate(items, 1):
        it["reader"] = np.asarray(reader.scores(it["question"], it["texts"]), dtype=np.float32)
        if n % 100 == 0:
            log(f"  scored {n}/{len(items)} questions, {time.perf_counter() - started:.0f} s")


def report(name: str, items: list[dict], stage1) -> dict:
    """How often the best sentence holds the answer, and the best four, by stage 1 (the hand-set rule's),
    by the reader over every candidate, and by the reader over the sentences the app's reader reads
    (the shipped first stage's best 24)."""
    rows = [it for it in items if it["answerable"] and any(it["labels"])]
    out = {"set": name, "questions_with_answer_sentence": len(rows)}
    app = RankerWeights.load()
    kept = app.candidates

    def reader_of_kept(it: dict) -> np.ndarray:
        best = stage1_order(it, app.stage1)[:kept]
        return best[np.argsort(-it["reader"][best])]

    for label, order_of in (("stage1", lambda it: stage1_order(it, stage1)),
                            ("reader", lambda it: np.argsort(-it["reader"])),
                            (f"reader_of_stage1_{kept}", reader_of_kept)):
        for k in (1, 4, 16):
            out[f"{label}_top{k}"] = round(float(np.mean([any(np.asarray(it["labels"])[order_of(it)[:k]])
                                                          for it in rows])), 3) if rows else 0.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", nargs="+", type=Path, required=True)
    ap.add_argument("--exclude", nargs="*", type=Path, default=[])
    ap.add_argument("--oof", nargs="*", type=Path, default=[],
                    help="more data of the training questions (made unanswerable): scored out of fold too")
    ap.add_argument("--score", nargs="*", type=Path, default=[])
    ap.add_argument("--folds", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--made-up", type=Path, help="bench/cloze_questions.py groups, trained on first (one pass)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--out-dir", type=Path, default=Path("bench/out/reader"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    torch.set_num_threads(os.cpu_count() or 2)
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    excluded = set()
    for p in args.exclude:
        excluded |= set(p.read_text().split())
    items = [it for it in load(args.train) if it["id"] not in excluded and it["answerable"]]
    stage1 = RankerWeights.load("handset").stage1  # hard negatives: the hand-set rule's favourites
    ids = sorted({it["id"] for it in items})
    random.Random(SEED).shuffle(ids)
    fold_of = {q: i % max(args.folds, 1) for i, q in enumerate(ids)}
    extra = {path: [it for it in load([path]) if it["id"] in fold_of] for path in args.oof}
    made_up = load([args.made_up]) if args.made_up else []
    # as many steps for a fold reader as the final reader takes (more epochs over fewer questions): with
    # the same epochs a fold reader had taken half the steps and stayed near chance (training loss 1.98
    # against the final reader's 1.57), so the ranker learned to weigh a weaker reader than it gets
    parts = [[it for it in items if fold_of[it["id"]] != f] for f in range(args.folds)]
    fold_epochs = [round(args.epochs * len(items) / len(part)) for part in parts]
    horizon = steps_for(len(made_up), 1) + max(
        [steps_for(len(items), args.epochs)] + [steps_for(len(p), e) for p, e in zip(parts, fold_epochs)])
    tokenizer = AutoTokenizer.from_pretrained(resolve_model("")[1])
    start = begin(made_up, horizon, tokenizer, log)
    for f, (part, epochs) in enumerate(zip(parts, fold_epochs)):  # --folds 0: the final reader only
        log(f"fold {f + 1}/{args.folds}: training on {len(part)} questions, {epochs} epochs")
        weights = train(part, stage1, epochs, start, tokenizer, log)
        score(weights, [it for it in items + sum(extra.values(), []) if fold_of[it["id"]] == f], log)
    lines = [report("training (out of fold)", items, stage1)] if args.folds else []
    log(f"final: training on {len(items)} questions")
    weights = train(items, stage1, args.epochs, start, tokenizer, log)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with open(args.out_dir / "train.pkl", "wb") as f:
        pickle.dump(items, f)
    for path, scored in extra.items():
        with open(args.out_dir / path.name, "wb") as f:
            pickle.dump(scored, f)
    for path in args.score:
        scored = load([path])
        score(weights, scored, log)
        lines.append(report(path.stem, scored, stage1))
        with open(args.out_dir / path.name, "wb") as f:
            pickle.dump(scored, f)
    for line in lines:
        print(json.dumps(line))
    if not args.no_write:
        args.out.write_text(json.dumps(to_json(weights)) + "\n")
        print(f"wrote {args.out} ({args.out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
