"""HeuristicFilter: the base of the rule-set blocks.

A block evaluates its rules on the shared Features of each document, writes every statistic as
a column named `<name>_<stat>` plus `<name>_failed` (the first failing rule, or null), and
drops the document with reason `<name>:<rule>` unless it runs with annotate_only=True.
"""

from __future__ import annotations

import numbers

import pyarrow as pa
from datatrove.data import Document

from curate.errors import CurateError
from curate.filters.heuristics.features import Features, features_of
from curate.step import CurateStep


class HeuristicFilter(CurateStep):
    """A rule set. Its name (e.g. "gopher_quality", or one given with name=) prefixes its columns
    and drop reasons, so two instances with different thresholds can run side by side."""

    def __init__(self, annotate_only: bool = False, default_language: str = "en", name: str | None = None,
                 max_chars: int = 10_000_000):
        """annotate_only: keep every document, only write the columns.
        default_language: the language of documents without metadata['language'] (set by
        LanguageFilter); datatrove's filters assume English.
        max_chars: longer documents are dropped as `<name>:too_large` (even with annotate_only)
        before any feature is computed: the shared features take ~25 bytes of memory per
        character, so this bounds what one document can cost."""
        super().__init__(name)
        self.annotate_only = annotate_only
        self.default_language = default_language
        self.max_chars = rule_argument(self, "max_chars", max_chars)
        self.columns = {f"{self.name}_{stat}": dtype for stat, dtype in self.stat_types().items()}
        self.columns[f"{self.name}_failed"] = pa.string()

    def stat_types(self) -> dict:
        """Statistic name -> pyarrow type (the columns, without the name prefix)."""
        raise NotImplementedError

    def rules(self) -> list[tuple[str, str, float | None]]:
        """(statistic, ">=" or "<=", threshold): what a document must satisfy; None: rule off."""
        return []

    def thresholds(self) -> list[tuple[str, str, float]]:
        return [(f"{self.name}_{stat}", op, value) for stat, op, value in self.rules() if value is not None]

    def evaluate(self, feats: Features) -> tuple[dict, str | None]:
        """(statistics, name of the first failing rule or None)."""
        raise NotImplementedError

    def process(self, doc: Document) -> str | None:
        if self.max_chars is not None and len(doc.text) > self.max_chars:
            return f"{self.name}:too_large"
        stats, failed = self.evaluate(features_of(doc, self.default_language))
        meta = doc.metadata
        prefix = self.name
        for stat, value in stats.items():
            meta[f"{prefix}_{stat}"] = value
        meta[f"{prefix}_failed"] = failed
        if failed is None or self.annotate_only:
            return None
        return f"{prefix}:{failed}"


def ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def above(value, threshold) -> bool:
    """A rule with threshold None is off; any number, 0 included, is a threshold; a missing
    statistic passes."""
    return threshold is not None and value is not None and value > threshold


def below(value, threshold) -> bool:
    return threshold is not None and value is not None and value < threshold


def rule_argument(block, name: str, value, kind: str = "number"):
    """A constructor argument of `block`, checked where the block is built so that a wrong kind
    fails at once with CurateError, not later inside a worker. kind "number": a threshold, a
    number >= 0 or None (its rule is off); kind "switch": True, False or None (off); returns the
    value (a switch as a bool)."""
    if kind == "switch":
        if value is None or isinstance(value, bool):
            return bool(value)
        wanted = "True, False or None"
    else:
        if value is None or (isinstance(value, numbers.Real) and not isinstance(value, bool) and value >= 0):
            return value  # NaN fails value >= 0
        wanted = "a number >= 0 or None"
    raise CurateError(f"{type(block).__name__}: {name} must be {wanted}, got {value!r}")
