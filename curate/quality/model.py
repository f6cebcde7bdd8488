"""Loading a quality model and scoring text with it: the one scoring path used by the
QualityClassifier block, `curate classifier eval` and the trainer's held-out evaluation."""

from __future__ import annotations

import json
import os
from pathlib import Path

from curate.errors import CurateError, ModelNotFound
from curate.quality.text import NORMALIZATION, normalize_utf8

MODEL_ENV = "CURATE_QUALITY_MODEL"
POSITIVE_LABELS = ("__label__wiki", "__label__hq", "__label__1", "__label__positive")


def card_path(model_path: str | os.PathLike) -> Path:
    """The model card beside a model: MODEL.bin -> MODEL.card.json."""
    path = Path(model_path)
    return path.with_name(path.stem + ".card.json")


def read_card(model_path: str | os.PathLike) -> dict | None:
    path = card_path(model_path)
    if not path.is_file():
        return None
    with open(path) as f:
        return json.load(f)


def find_quality_model(path: str | None = None) -> str:
    """A model path: the argument, else $CURATE_QUALITY_MODEL, else the demo model shipped with
    curate (trained on project-written text: see tools/make_quality_model.py)."""
    from curate.samples import QUALITY_MODEL

    candidate = path or os.environ.get(MODEL_ENV) or QUALITY_MODEL
    if not Path(candidate).is_file():
        raise ModelNotFound(f"quality model not found at {candidate}: train one with "
                            "`curate classifier train classifiers/wikipedia_vs_web.py ...`")
    return candidate


class QualityModel:
    """A fastText quality model; `score(text)` is the probability of the positive label
    ("wikipedia-like"), computed on `normalize(text)` exactly as in training."""

    def __init__(self, path: str, positive_label: str | None = None):
        import fasttext

        fasttext.FastText.eprint = lambda *args, **kwargs: None
        self.path = path
        if not Path(path).is_file():
            raise ModelNotFound(f"quality model not found at {path}")
        try:
            self.model = fasttext.load_model(path)
        except ValueError as e:
            raise ModelNotFound(f"{path}: not a fastText model ({e})") from None
        labels = list(self.model.labels)
        card = read_card(path) or {}
        if card.get("normalization", NORMALIZATION) != NORMALIZATION:
            raise CurateError(f"{path}: trained with text normalisation {card['normalization']!r}, this curate "
                              f"uses {NORMALIZATION!r}: retrain the model")
        positive = positive_label or card.get("labels", {}).get("positive")
        if positive is None:
            positive = next((label for label in POSITIVE_LABELS if label in labels), None)
        elif not positive.startswith("__label__"):
            positive = "__label__" + positive
        if positive not in labels or len(labels) != 2:
            raise CurateError(f"{path}: expected a two-label model with a positive label, got labels {labels}"
                              + (f" (positive: {positive})" if positive else ""))
        self.positive_label = positive
        self.card = card
        # the binding's call itself, on UTF-8 bytes: predict()'s Python wrapper (a newline check, a
        # copy, a numpy array) and a str -> UTF-8 conversion would add ~25% per document
        self._predict = self.model.f.predict

    def score(self, text: str) -> float:
        line = normalize_utf8(text)
        if not line or line.isspace():
            return 0.0  # nothing left to judge (only titles, menu items or markup)
        (prob, label), = self._predict(line + b"\n", 1, 0.0, "strict")  # (labels are ASCII)
        p = prob if label == self.positive_label else 1.0 - prob
        return 0.0 if p < 0.0 else 1.0 if p > 1.0 else p

    def scores(self, texts) -> list[float]:
        return [self.score(text) for text in texts]
