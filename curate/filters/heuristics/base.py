"""HeuristicFilter: the base of the rule-set blocks.

A block evaluates its rules on the shared Features of each document, writes every statistic as
a column named `<prefix>_<stat>` plus `<prefix>_failed` (the first failing rule, or null), and
drops the document with reason `<prefix>:<rule>` unless it runs with annotate_only=True.
"""

from __future__ import annotations

import pyarrow as pa
from datatrove.data import Document

from curate.filters.heuristics.features import Features, features_of
from curate.step import CurateStep


class HeuristicFilter(CurateStep):
    prefix = ""  # column and reason prefix, e.g. "gopher_rep"

    def __init__(self, annotate_only: bool = False, default_language: str = "en"):
        """annotate_only: keep every document, only write the columns.
        default_language: the language of documents without metadata['language'] (set by
        LanguageFilter); datatrove's filters assume English."""
        super().__init__()
        self.annotate_only = annotate_only
        self.default_language = default_language
        self.stage = self.prefix
        self.columns = {f"{self.prefix}_{name}": dtype for name, dtype in self.stat_types().items()}
        self.columns[f"{self.prefix}_failed"] = pa.string()

    def stat_types(self) -> dict:
        """Statistic name -> pyarrow type (the columns, without the prefix)."""
        raise NotImplementedError

    def evaluate(self, feats: Features) -> tuple[dict, str | None]:
        """(statistics, name of the first failing rule or None)."""
        raise NotImplementedError

    def process(self, doc: Document) -> str | None:
        stats, failed = self.evaluate(features_of(doc, self.default_language))
        meta = doc.metadata
        prefix = self.prefix
        for name, value in stats.items():
            meta[f"{prefix}_{name}"] = value
        meta[f"{prefix}_failed"] = failed
        if failed is None or self.annotate_only:
            return None
        return f"{prefix}:{failed}"


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def above(value, threshold) -> bool:
    """A rule with threshold None (or 0, as in datatrove) is off; a missing statistic passes."""
    return bool(threshold) and value is not None and value > threshold


def below(value, threshold) -> bool:
    return bool(threshold) and value is not None and value < threshold
