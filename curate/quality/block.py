"""QualityClassifier: score each document with a fastText quality model and filter on it."""

from __future__ import annotations

import math
import time

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline
from datatrove.utils.logging import logger

from curate.errors import CurateError
from curate.quality.model import QualityModel, find_quality_model
from curate.step import BYTES_IN, BYTES_OUT, CPU_S, DOCS_IN, DOCS_OUT, DROPPED, CurateStep, Funnel, utf8_len

DEFAULT_THRESHOLD = 0.5  # the mode when neither threshold nor top_fraction is given
THRESHOLD_STAT = "top_fraction.threshold"  # per task: the score threshold the sample gave
SAMPLE_STAT = "top_fraction.sample_docs"  # per task: how many documents the estimate used


class QualityClassifier(CurateStep):
    """Add `column` (the probability that the document is "wikipedia-like") and filter on it.

    Modes (one of):
        threshold=T: keep documents scoring at least T (default DEFAULT_THRESHOLD, 0.5);
        top_fraction=F: keep about the top F of documents (DCLM keeps ~0.1). The threshold is
            estimated per task on its first `sample_size` documents (score quantile 1 - F), then
            fixed; it is recorded in the run stats as `top_fraction.threshold` (one value per
            task: mean/min/max in the stats files) with `top_fraction.sample_docs`;
        annotate_only=True: keep everything, only add the score column.

    The model, in this order: `model_path`, else $CURATE_QUALITY_MODEL, else curate's demo model
    (trained on project-written text only; train a real one with classifiers/wikipedia_vs_web.py).
    It loads lazily in each worker (fastText models cannot be pickled).
    """

    name = "quality"

    def __init__(self, model_path: str | None = None, threshold: float | None = None,
                 top_fraction: float | None = None, annotate_only: bool = False, column: str = "quality_score",
                 sample_size: int = 2000, positive_label: str | None = None, name: str | None = None):
        super().__init__(name)
        if threshold is not None and top_fraction is not None:
            raise CurateError("QualityClassifier: give threshold or top_fraction, not both")
        if threshold is not None and not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):
            raise CurateError(f"QualityClassifier: threshold must be a number in [0, 1], got {threshold!r}")
        if top_fraction is not None and not (isinstance(top_fraction, (int, float)) and 0 < top_fraction <= 1):
            raise CurateError(f"QualityClassifier: top_fraction must be in (0, 1], got {top_fraction!r}")
        self.model_path = find_quality_model(model_path)  # fail at build time, not in every worker
        self.threshold = DEFAULT_THRESHOLD if threshold is None and top_fraction is None else threshold
        self.top_fraction = top_fraction
        self.annotate_only = annotate_only
        self.column = column
        self.columns = {column: pa.float64()}
        self.sample_size = max(1, sample_size)
        self.positive_label = positive_label
        self._model: QualityModel | None = None
        self._cached: dict[int, float] = {}

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_model"] = None
        state["_cached"] = {}
        return state

    def setup(self, rank: int, world_size: int) -> None:
        if self._model is None:
            self._model = QualityModel(self.model_path, self.positive_label)

    def thresholds(self) -> list:
        # with top_fraction each task estimates its own threshold: funnel "top_fraction.threshold"
        return [(self.column, ">=", self.threshold)] if self.threshold is not None else []

    def score(self, text: str) -> float:
        return self._model.score(text)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        """CurateStep.run's loop and funnel, leaner: this block never changes the text, so each
        document's UTF-8 size is measured once (bytes in = bytes out), and the counters are plain
        integers until the end. Scoring is most of the cost; this keeps the rest near zero."""
        if self.top_fraction is not None and not self.annotate_only:
            data = self._estimate_threshold(data or (), rank)
        self.setup(rank, world_size)
        funnel = Funnel()
        clock, process = time.process_time, self.process
        docs_in = docs_out = bytes_in = bytes_out = 0
        try:
            with self.removed_sink() as removed:
                for doc in data or ():
                    start = clock()
                    size = utf8_len(doc.text)
                    docs_in += 1
                    bytes_in += size
                    reason = process(doc)
                    if reason is None:
                        docs_out += 1
                        bytes_out += size
                        funnel.cpu_s += clock() - start
                        yield doc
                    else:
                        funnel.counts[DROPPED + reason] += 1
                        self.drop(doc, reason, removed, rank)
                        funnel.cpu_s += clock() - start
        finally:
            for key, value in ((DOCS_IN, docs_in), (DOCS_OUT, docs_out), (BYTES_IN, bytes_in), (BYTES_OUT, bytes_out)):
                if value:
                    funnel.counts[key] += value
            funnel.flush(self)

    def _estimate_threshold(self, data, rank: int):
        """Hold the first sample_size documents, score them, set the threshold that keeps the top
        fraction of them, then pass them (scores cached) and the rest on."""
        self.setup(rank, 1)
        start = time.process_time()
        held, scores = [], []
        iterator = iter(data)
        for doc in iterator:
            held.append(doc)
            value = self.score(doc.text)
            self._cached[id(doc)] = value
            scores.append(value)
            if len(held) >= self.sample_size:
                break
        if scores:
            keep = max(1, math.ceil(self.top_fraction * len(scores)))
            self.threshold = sorted(scores, reverse=True)[keep - 1]
            self.stat_update(THRESHOLD_STAT, value=self.threshold, unit="task")
            self.stat_update(SAMPLE_STAT, value=len(scores), unit="task")
            logger.info(f"quality: top {self.top_fraction:.1%} of {len(scores)} sampled documents "
                        f"-> threshold {self.threshold:.4f}")
        self.stat_update(CPU_S, value=round(time.process_time() - start, 6), unit="task")  # the sample's scoring
        yield from held
        held.clear()
        yield from iterator

    def process(self, doc: Document) -> str | None:
        value = self._cached.pop(id(doc), None) if self._cached else None
        if value is None:
            value = self._model.score(doc.text)
        doc.metadata[self.column] = round(value, 6)
        if self.annotate_only or value >= self.threshold:
            return None
        return "quality_score"
