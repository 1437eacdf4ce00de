"""Multiple-choice tasks scored by log-likelihood, as lm-evaluation-harness scores HellaSwag, ARC and PIQA.

A task is a JSONL file, one example per line: {"context": str, "choices": [str, ...], "label": int}. Each
choice is scored by the summed log-probability of its tokens after the context. Two accuracies, as the harness:
  acc       the choice with the highest summed log-probability;
  acc_norm  the highest log-probability per UTF-8 byte of the choice (so long choices are not penalised).
Centred accuracy, (acc - 1/k) / (1 - 1/k) for k choices, is 0 at chance and 1 when perfect; its mean over
tasks is CORE-style (nanochat's CORE metric, after DCLM), comparable across tasks with different k. Where the
number of choices differs between examples, chance is the mean of 1/k.

Context and choice are tokenized separately (context whitespace at its end moves to the choice, as the harness
does), the pair is cut from the left to the model's seq_len + 1 tokens. The public sets live at
rowanz/hellaswag (data/hellaswag_val.jsonl: ctx, endings, label), allenai ARC (ARC-Easy/Challenge JSONL:
question.stem, question.choices[].text, answerKey) and ybisk/piqa (valid.jsonl + valid-labels.lst: goal, sol1,
sol2); convert them to the three fields above (docs in README, "Is my curation better?").
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import torch
import torch.nn.functional as F

from common.typed import named_path


class TaskError(ValueError):
    pass


def read_task(path: str | Path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise TaskError(f"{path}: task file not found")
    examples = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            ex = json.loads(line)
            context, choices, label = ex["context"], ex["choices"], ex["label"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise TaskError(f'{path}:{n}: expected {{"context": str, "choices": [str, ...], "label": int}}') from None
        if not (
            isinstance(context, str)
            and isinstance(choices, list)
            and len(choices) >= 2
            and all(isinstance(c, str) and c for c in choices)
            and isinstance(label, int)
            and 0 <= label < len(choices)
        ):
            raise TaskError(f"{path}:{n}: need a context string, 2+ non-empty choices and a label indexing them")
        examples.append({"context": context, "choices": choices, "label": label})
    if not examples:
        raise TaskError(f"{path}: no examples")
    return examples


@torch.no_grad()
def choice_logprobs(model, tokenizer, context: str, choices: list[str], device="cpu") -> list[float]:
    """Summed log P(choice tokens | context) for each choice, in one batch."""
    stripped = context.rstrip()
    moved = context[len(stripped) :]
    ctx = tokenizer.encode(stripped) if stripped else []
    if tokenizer.eot_id is not None:
        ctx = [tokenizer.eot_id] + ctx  # a document boundary before the context, as in training
    limit = model.config.seq_len + 1
    rows, spans = [], []
    for choice in choices:
        cont = tokenizer.encode(moved + choice)[-(limit - 1) :]
        seq = (ctx + cont)[-limit:]
        rows.append(seq)
        spans.append(len(cont))
    width = max(len(r) for r in rows)
    batch = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        batch[i, : len(r)] = torch.tensor(r)
    batch = batch.to(device)
    logits, _ = model(batch[:, :-1])
    logprobs = F.log_softmax(logits.float(), dim=-1)
    scores = []
    for i, (r, n) in enumerate(zip(rows, spans)):
        targets = batch[i, len(r) - n : len(r)]
        scores.append(logprobs[i, len(r) - n - 1 : len(r) - 1].gather(-1, targets[:, None]).sum().item())
    return scores


def evaluate_task(model, tokenizer, examples: list[dict], device="cpu", advance=None) -> dict:
    was_training = model.training
    model.eval()
    correct = correct_norm = 0
    chance = 0.0
    best = lambda values: max(range(len(values)), key=values.__getitem__)
    for ex in examples:
        scores = choice_logprobs(model, tokenizer, ex["context"], ex["choices"], device)
        normed = [s / max(len(c.encode("utf-8")), 1) for s, c in zip(scores, ex["choices"])]
        correct += best(scores) == ex["label"]
        correct_norm += best(normed) == ex["label"]
        chance += 1 / len(ex["choices"])
        if advance is not None:
            advance(1)
    model.train(was_training)
    n = len(examples)
    acc, acc_norm, chance = correct / n, correct_norm / n, chance / n
    return {
        "examples": n,
        "acc": acc,
        "acc_norm": acc_norm,
        "chance": chance,
        "centered": (acc_norm - chance) / (1 - chance),
    }


def evaluate_tasks(model, tokenizer, paths: list, device="cpu", max_examples: int | None = None, advance=None) -> dict:
    """{task name: {examples, acc, acc_norm, chance, centered}, "core": mean centred accuracy}."""
    results = {}
    for entry in paths:
        name, path = named_path(entry, "task")
        results[name] = evaluate_task(model, tokenizer, read_task(path)[:max_examples], device, advance)
    results["core"] = sum(r["centered"] for r in results.values()) / len(results)
    return results


def format_tasks(results: dict) -> str:
    lines = [f"{'task':<24} {'n':>6} {'acc':>7} {'acc_norm':>8} {'chance':>7} {'centred':>8}"]
    for name, r in results.items():
        if name != "core":
            lines.append(
                f"{name:<24} {r['examples']:>6} {r['acc']:>7.3f} {r['acc_norm']:>8.3f} {r['chance']:>7.3f} "
                f"{r['centered']:>8.3f}"
            )
    lines.append(f"{'CORE (mean centred acc_norm)':<49} {results['core']:>8.3f}")
    return "\n".join(lines)


def continuation_task(
    documents: list[str],
    examples: int = 100,
    choices: int = 4,
    context_chars: int = 300,
    choice_chars: int = 80,
    seed: int = 0,
    distractors: str = "other",
) -> list[dict]:
    """A task whose answer is known without labelling: a passage of a held-out document, its true next
    `choice_chars` characters, and distractors. Cuts fall on spaces, so every choice starts with a word.
    distractors="other": same-length passages from other documents; the model must use the context (topic,
    names, grammar across the cut), which small models learn late. "shuffled": the true continuation's words in
    another order; same words, same bytes, nearly the same tokens, so an untrained model is at chance and any
    model that learned word order beats it (the BLiMP idea: the minimal pair differs only in what is tested)."""
    if distractors not in ("other", "shuffled"):
        raise TaskError(f"continuation task: distractors must be 'other' or 'shuffled', got {distractors!r}")
    rng = random.Random(seed)
    docs = [re.sub(r"\s+", " ", d).strip() for d in documents]
    docs = [d for d in docs if len(d) >= context_chars + choice_chars + 2]
    if len(docs) < choices:
        raise TaskError(f"continuation task: {len(docs)} documents long enough, need {choices}")

    def passage(doc: str, start: int, length: int) -> str:
        end = doc.rfind(" ", start, start + length + 1)
        return doc[start : end if end > start else start + length]

    out = []
    for _ in range(examples):
        i = rng.randrange(len(docs))
        doc = docs[i]
        cut = doc.find(" ", rng.randrange(context_chars, len(doc) - choice_chars))
        if cut < 0 or cut + choice_chars >= len(doc):
            continue
        true = passage(doc, cut, choice_chars)
        wrong = []
        if distractors == "shuffled":
            words = true.split()
            while len(set(wrong)) < choices - 1 and len(set(words)) >= choices:
                order = rng.sample(words, len(words))
                if order != words:
                    wrong.append(" " + " ".join(order))
                wrong = list(dict.fromkeys(wrong))
            if len(wrong) < choices - 1:
                continue
        for j in rng.sample([j for j in range(len(docs)) if j != i], choices - 1) if distractors == "other" else []:
            other = docs[j]
            start = other.find(" ", rng.randrange(0, len(other) - choice_chars - 1))
            wrong.append(passage(other, max(start, 0), choice_chars))
        label = rng.randrange(choices)
        options = wrong[:label] + [true] + wrong[label:]
        start = doc.find(" ", cut - context_chars) + 1  # the context starts on a word, too
        out.append({"context": doc[start:cut], "choices": options, "label": label})
    return out


def write_task(examples: list[dict], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples), encoding="utf-8")
    return path
