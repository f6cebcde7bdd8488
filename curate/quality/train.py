"""Training a two-label fastText quality classifier from a recipe file.

A recipe file (e.g. classifiers/wikipedia_vs_web.py) defines RECIPE = Recipe(...). Training:
1. reads the negatives (web documents) and the positives (reference articles), extracting HTML;
2. keeps one language (fastText language ID), so the model cannot learn "English = good";
3. cuts the positives into passages whose lengths are drawn from the negatives' lengths;
4. normalises every text (curate.quality.text.normalize, the same function prediction uses),
   drops short ones, removes exact duplicates (and texts found in both classes);
5. holds out a fraction of each class by source document (passages of one article never sit on
   both sides of the split), balances each split by down-sampling the larger class;
6. trains fastText supervised, then scores the held-out split through the prediction path and
   writes the model card (MODEL.card.json) beside MODEL.bin.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import random
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from loguru import logger

from curate.errors import CurateError
from curate.quality.data import Text, read_texts
from curate.quality.fit import fit
from curate.quality.metrics import evaluate, threshold_table
from curate.quality.model import QualityModel, card_path
from curate.quality.text import MAX_CHARS, NORMALIZATION, normalize, split_passages


def _default_fasttext() -> dict:
    return {"dim": 32, "epoch": 30, "lr": 0.5, "wordNgrams": 2, "bucket": 100_000, "minCount": 2, "loss": "softmax"}


@dataclass
class Recipe:
    name: str = "quality"
    positive_label: str = "wiki"
    negative_label: str = "web"
    split_positives: bool = True  # cut positive articles into passages of web-document-like length
    min_chars: int = 200  # shorter documents and passages are not used
    min_tokens: int = 30  # ... nor those with fewer normalised tokens
    language: str | None = "en"  # keep only this language in both classes (None: no language ID)
    language_threshold: float = 0.65
    extractor: str = "resiliparse"  # for HTML inputs
    heldout_fraction: float = 0.15
    seed: int = 1
    fasttext: dict = field(default_factory=_default_fasttext)
    # positive articles are cut at the first of these section headings: reference lists and link
    # collections are not the prose the positives stand for
    positive_end_sections: tuple = ("References", "External links", "See also", "Further reading", "Notes",
                                    "Bibliography", "Footnotes", "Sources", "Citations")

    def label(self, positive: bool) -> str:
        return "__label__" + (self.positive_label if positive else self.negative_label)

    def clean_positive(self, text: str) -> str:
        """A positive article without its trailing reference sections."""
        ends = set(self.positive_end_sections)
        lines = text.split("\n")
        for i, line in enumerate(lines):
            if line.strip().strip("=").strip() in ends:
                return "\n".join(lines[:i])
        return text


def load_recipe(path: str) -> Recipe:
    file = Path(path)
    if not file.is_file():
        raise CurateError(f"{path}: no such recipe file")
    spec = importlib.util.spec_from_file_location(f"curate_recipe_{file.stem}", file)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as e:
        raise CurateError(f"{path}: failed to load ({type(e).__name__}: {e})") from e
    recipe = getattr(module, "RECIPE", None)
    if not isinstance(recipe, Recipe):
        raise CurateError(f"{path}: a classifier recipe file must define RECIPE = curate.quality.Recipe(...)")
    return recipe


def _stable_hash(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(parts).encode("utf-8", "replace"), digest_size=8).digest(), "big")


class _LanguageCheck:
    def __init__(self, recipe: Recipe, lid_model: str | None):
        self.language, self.model = recipe.language, None
        self.threshold = recipe.language_threshold
        if self.language:
            from curate.filters.language import find_lid_model, load_fasttext

            self.model = load_fasttext(find_lid_model(lid_model))

    def __call__(self, text: str) -> bool:
        if self.model is None:
            return True
        labels, scores = self.model.predict(text[:MAX_CHARS].replace("\n", " "))
        return labels[0] == f"__label__{self.language}" and scores[0] >= self.threshold


def _prepare(texts: list[Text], recipe: Recipe, counts: Counter) -> list[tuple[Text, str]]:
    """(text, normalised line) for texts long enough after normalisation."""
    kept = []
    for item in texts:
        if len(item.text) < recipe.min_chars:
            counts["too_short"] += 1
            continue
        line = normalize(item.text)
        if len(line.split()) < recipe.min_tokens:
            counts["too_short"] += 1
            continue
        kept.append((item, line))
    return kept


def build_dataset(recipe: Recipe, positive_paths: list[str], negative_paths: list[str], lid_model: str | None = None,
                  extractor: str | None = None) -> tuple[dict, dict]:
    """{'train': [(label, Text, line)], 'heldout': [...]}, and the data statistics for the card."""
    extractor = extractor or recipe.extractor
    rng = random.Random(recipe.seed)
    language_ok = _LanguageCheck(recipe, lid_model)
    stats = {"positive": Counter(), "negative": Counter()}

    def read(paths, counts):
        out = []
        for item in read_texts(paths, extractor=extractor, counts=counts):
            if not language_ok(item.text):
                counts["other_language"] += 1
                continue
            out.append(item)
        return out

    t0 = time.perf_counter()
    negatives = read(negative_paths, stats["negative"])
    if not negatives:
        raise CurateError("no usable negative documents in " + ", ".join(negative_paths))
    articles = read(positive_paths, stats["positive"])
    if not articles:
        raise CurateError("no usable positive documents in " + ", ".join(positive_paths))
    lengths = sorted(len(item.text) for item in negatives if len(item.text) >= recipe.min_chars) or [2000]
    positives = []
    for article in articles:
        article.text = recipe.clean_positive(article.text)
        if recipe.split_positives:
            for i, passage in enumerate(split_passages(article.text, lengths, rng, recipe.min_chars)):
                positives.append(Text(id=f"{article.id}/{i}", text=passage, group=article.group))
        else:
            positives.append(article)
    stats["positive"]["passages"] = len(positives)
    prepared = {True: _prepare(positives, recipe, stats["positive"]),
                False: _prepare(negatives, recipe, stats["negative"])}

    # exact dedup on the normalised text, within each class and across them
    keys = {side: Counter(" ".join(line.split()) for _, line in items) for side, items in prepared.items()}
    both = keys[True].keys() & keys[False].keys()
    for side, items in prepared.items():
        seen, unique = set(), []
        for item, line in items:
            key = " ".join(line.split())
            if key in both:
                stats["positive" if side else "negative"]["in_both_classes"] += 1
            elif key in seen:
                stats["positive" if side else "negative"]["duplicates"] += 1
            else:
                seen.add(key)
                unique.append((item, line))
        prepared[side] = unique

    # held-out split by source document: groups in hash order until the fraction is reached
    splits = {"train": {True: [], False: []}, "heldout": {True: [], False: []}}
    for side, items in prepared.items():
        by_group: dict[str, list] = {}
        for item, line in items:
            by_group.setdefault(item.group or item.id, []).append((item, line))
        order = sorted(by_group, key=lambda g: _stable_hash(str(recipe.seed), g))
        want, held = recipe.heldout_fraction * len(items), 0
        for group in order:
            split = "heldout" if held < want else "train"
            if split == "heldout":
                held += len(by_group[group])
            splits[split][side].extend(by_group[group])

    # balance each split by down-sampling the larger class
    dataset = {}
    for split, sides in splits.items():
        n = min(len(sides[True]), len(sides[False]))
        rows = []
        for side, items in sides.items():
            chosen = rng.sample(items, n) if len(items) > n else items
            rows.extend((side, item, line) for item, line in chosen)
            stats["positive" if side else "negative"][f"{split}_available"] = len(items)
            stats["positive" if side else "negative"][split] = len(chosen)
        rng.shuffle(rows)
        dataset[split] = rows
    stats = {side: dict(sorted(c.items())) for side, c in stats.items()}
    stats["seconds"] = round(time.perf_counter() - t0, 2)
    stats["extractor"] = extractor
    return dataset, stats


def train(recipe: Recipe, positive_paths: list[str], negative_paths: list[str], out: str,
          lid_model: str | None = None, threads: int = 1, extractor: str | None = None) -> dict:
    """Train, save MODEL.bin and MODEL.card.json; return the card."""
    dataset, data_stats = build_dataset(recipe, positive_paths, negative_paths, lid_model, extractor)
    if len(dataset["train"]) < 4:
        raise CurateError(f"too little training data: {data_stats}")
    params = {**_default_fasttext(), **recipe.fasttext}
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        train_file = os.path.join(tmp, "train.txt")
        with open(train_file, "w", encoding="utf-8") as f:
            for side, _, line in dataset["train"]:
                f.write(f"{recipe.label(side)} {line}\n")
        attempts = fit(train_file, str(out_path), {**params, "thread": threads, "seed": recipe.seed})
    train_seconds = time.perf_counter() - t0
    card = {
        "name": recipe.name,
        "model": out_path.name,
        "model_bytes": out_path.stat().st_size,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "normalization": NORMALIZATION,
        "labels": {"positive": recipe.label(True), "negative": recipe.label(False)},
        "score": f"probability of {recipe.label(True)} on curate.quality.text.normalize(text)",
        "inputs": {"positive": list(positive_paths), "negative": list(negative_paths)},
        "data": data_stats,
        "recipe": {k: v for k, v in asdict(recipe).items() if k != "fasttext"},
        "hyperparameters": {**params, "thread": threads, "seed": recipe.seed},
        "train_seconds": round(train_seconds, 2),
        "train_attempts": attempts,
    }
    with open(card_path(out_path), "w") as f:  # the scorer reads the labels from the card
        json.dump(card, f, indent=2)
    scorer = QualityModel(str(out_path))
    for split in ("heldout", "train"):
        pos = [scorer.score(item.text) for side, item, _ in dataset[split] if side]
        neg = [scorer.score(item.text) for side, item, _ in dataset[split] if not side]
        card[split] = evaluate(pos, neg)
        if split == "heldout":
            card["threshold_table"] = threshold_table(pos, neg) if pos and neg else []
    with open(card_path(out_path), "w") as f:
        json.dump(card, f, indent=2)
    logger.info(f"wrote {out_path} and {card_path(out_path)}")
    return card
