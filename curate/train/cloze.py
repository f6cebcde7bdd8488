"""Cloze tasks built from held-out text on disk, scored as a continuous metric next to bpb.

The model reads a held-out article up to the end of a sentence and scores `choices` endings:
- word_order (the default): the sentence's last 4 words as written, against the same words in
  other orders (drawn from the same article, the sentence itself). Every choice has the same bytes,
  so nothing but the model's sense of how English goes can prefer one: small models trained on
  real text get above chance early, a model of random bytes cannot.
- final_word (LAMBADA-style): the sentence's last word against other words of the same article,
  of the same length (items without enough of them are skipped). It asks for meaning, and tiny
  models stay at chance on it
  (docs/train.md).
Every choice of an item has the same number of bytes, so a choice's score is simply its
log-likelihood (no length normalisation to argue about); the metric is the probability the model
gives the true ending among the choices (softmax of the scores), averaged over items: 1/choices
for a model that knows nothing, 1 for one that is sure and right. Accuracy (the true ending
strictly best) is reported too. Small-model studies (DataDecide; "Signal and Noise") find such
continuous probabilities rank data better than accuracy at small scale.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

import numpy as np

from curate.errors import CurateError
from curate.train.loop import token_logprobs

FINAL_WORD = re.compile(r"(?<=\s)([A-Za-z]{3,})(?=[.!?](?:\s|$))")
WORD = re.compile(r"\b[A-Za-z]{3,}\b")
MIN_CONTEXT_CHARS = 200  # an item needs this much of its article before it
ORDER_WORDS = 6  # word_order items: the words a sentence ends with, reordered


@dataclass
class ClozeSet:
    name: str
    inputs: np.ndarray  # (items x choices, context) token ids; choice c of item i is row i * choices + c
    targets: np.ndarray
    mask: np.ndarray  # which target positions are the choice's tokens
    choice_bytes: np.ndarray  # (items x choices,) UTF-8 bytes of each choice
    choices: int
    items: int
    correct: np.ndarray  # (items,) which choice is the true word


KINDS = ("word_order", "final_word")


def build_cloze(name: str, texts: list[str], tokenizer, context: int, items: int, choices: int,
                seed: int, kind: str = "word_order") -> ClozeSet:
    """`items` items of `kind` from `texts`, each with `choices` choices, the true one at a seeded
    position (a model scoring every choice alike gets no credit from the order)."""
    if choices < 2 or items < 1:
        raise CurateError(f"cloze {name}: needs at least 2 choices and 1 item")
    if kind not in KINDS:
        raise CurateError(f"cloze {name}: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    rng = random.Random(seed)
    found = [(t, m) for t, text in enumerate(texts) for m in FINAL_WORD.finditer(text)
             if m.start() >= MIN_CONTEXT_CHARS]
    rng.shuffle(found)
    rows, answers = [], []
    for t, match in found:
        item = (_final_word if kind == "final_word" else _word_order)(texts[t], match, choices, rng)
        if item is None:
            continue
        prefix, options = item
        if max(len(ids) for ids in tokenizer.encode(options)[0]) > context // 2:
            continue  # the choice would leave the model too little of its article to read
        correct = rng.randrange(choices)
        options = options[1:correct + 1] + options[:1] + options[correct + 1:]  # the true one (first) to its place
        rows.append((prefix[-8 * context:], options))
        answers.append(correct)
        if len(rows) == items:
            break
    if len(rows) < items:
        raise CurateError(f"cloze {name}: {len(rows)} {kind} items found, {items} asked (sentences with "
                          f"{MIN_CONTEXT_CHARS} characters of their article before them, endings of at most {context // 2} tokens)")
    contexts, _ = tokenizer.encode([prefix for prefix, _ in rows])
    flat_choices = [c for _, options in rows for c in options]
    choice_ids, _ = tokenizer.encode(flat_choices)
    n = len(flat_choices)
    inputs = np.zeros((n, context), np.int64)
    targets = np.zeros((n, context), np.int64)
    mask = np.zeros((n, context), bool)
    for row, ids in enumerate(choice_ids):
        ctx = contexts[row // choices]
        keep = context + 1 - len(ids)  # at least half the window: choices are at most context // 2 tokens
        sequence = np.concatenate([ctx[-keep:], ids]).astype(np.int64)
        # left-aligned, padded at the end: causal attention never looks at the padding
        inputs[row, :len(sequence) - 1] = sequence[:-1]
        targets[row, :len(sequence) - 1] = sequence[1:]
        mask[row, len(sequence) - 1 - len(ids):len(sequence) - 1] = True
    choice_bytes = np.array([len(c.encode("utf-8")) for c in flat_choices], np.float64)
    return ClozeSet(name, inputs, targets, mask, choice_bytes, choices, len(rows), np.array(answers))


def _final_word(text: str, match: re.Match, choices: int, rng: random.Random):
    """The sentence's last word against other words of the article of the same length."""
    word = match.group(1)
    words = {w for w in WORD.findall(text) if w.lower() != word.lower()}
    same_length = sorted(w for w in words if len(w) == len(word))
    if len(same_length) < choices - 1:
        return None
    return text[:match.start() - 1], [" " + w for w in [word, *rng.sample(same_length, choices - 1)]]


def _word_order(text: str, match: re.Match, choices: int, rng: random.Random):
    """The sentence's last ORDER_WORDS words as written against the same words in other orders:
    every choice has the same bytes, so only the order can make one likelier."""
    end, start = match.end() + 1, match.start()  # the final punctuation included
    for _ in range(ORDER_WORDS - 1):  # back over single spaces, within one line
        if start < 2 or text[start - 1] != " ":
            return None
        previous = text.rfind(" ", 0, start - 1) + 1
        if previous == start - 1 or any(c.isspace() for c in text[previous:start - 1]):
            return None
        start = previous
    # the final punctuation stays last in every choice: moved inside, it would bring its own
    # easy byte (the space after a full stop) to the reordered choices
    words, stop = text[start:end - 1].split(" "), text[end - 1]
    options = [" " + " ".join(words) + stop]
    for _ in range(50):
        shuffled = " " + " ".join(rng.sample(words, len(words))) + stop
        if shuffled not in options:
            options.append(shuffled)
        if len(options) == choices:
            return text[:start - 1], options
    return None


def score_cloze(model, data: ClozeSet, device, autocast, batch_size: int = 64) -> dict[str, float]:
    """{"cloze_prob": mean probability of the true ending among the choices, "cloze_acc": share of
    items where it scores strictly best}."""
    loglik = (token_logprobs(model, data.inputs, data.targets, device, autocast, batch_size) * data.mask).sum(axis=1)
    total = loglik.reshape(data.items, data.choices)  # the choices of an item have the same bytes
    shifted = total - total.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    rows = np.arange(data.items)
    truth = total[rows, data.correct]
    others = np.where(np.arange(data.choices)[None, :] == data.correct[:, None], -math.inf, total)
    return {"cloze_prob": float(probs[rows, data.correct].mean()),
            "cloze_acc": float(np.mean(truth > others.max(axis=1)))}
