"""FineWeb's additional rules (Penedo et al. 2024), as datatrove's FineWebQualityFilter applies
them: share of lines ending in terminal punctuation (any script), share of short lines,
characters in duplicate lines, and newlines per word (skipped for languages written without
spaces)."""

from __future__ import annotations

import pyarrow as pa
from datatrove.utils.text import TERMINAL_PUNCTUATION

from curate.errors import CurateError
from curate.filters.heuristics.base import HeuristicFilter, above, below, rule_argument
from curate.filters.heuristics.features import Features, duplicates


class FineWebQuality(HeuristicFilter):
    name = "fineweb"

    def __init__(self, line_punct_thr: float | None = 0.12, line_punct_exclude_zero: bool = False,
                 stop_chars: tuple[str, ...] | None = None, short_line_thr: float | None = 0.67,
                 short_line_length: int | None = 30, char_duplicates_ratio: float | None = 0.01,
                 new_line_ratio: float | None = 0.3, **kwargs):
        """None switches a rule off: line_punct_thr, short_line_thr (or short_line_length, the
        length of a short line), char_duplicates_ratio, new_line_ratio; 0 is a threshold.
        line_punct_exclude_zero (pass documents without any such line) and stop_chars (the
        terminal punctuation; None: datatrove's, all scripts) are not rule switches."""
        self.line_punct_thr = rule_argument(self, "line_punct_thr", line_punct_thr)
        self.line_punct_exclude_zero = rule_argument(self, "line_punct_exclude_zero", line_punct_exclude_zero, "switch")
        if stop_chars is None:
            stop_chars = TERMINAL_PUNCTUATION
        elif not (isinstance(stop_chars, (str, tuple, list, set, frozenset))
                  and all(isinstance(c, str) and c for c in stop_chars)):
            raise CurateError(f"FineWebQuality: stop_chars must be a tuple of strings or None, got {stop_chars!r}")
        self.stop_chars = tuple(stop_chars)
        self.short_line_thr = rule_argument(self, "short_line_thr", short_line_thr)
        self.short_line_length = rule_argument(self, "short_line_length", short_line_length)
        self.char_duplicates_ratio = rule_argument(self, "char_duplicates_ratio", char_duplicates_ratio)
        self.new_line_ratio = rule_argument(self, "new_line_ratio", new_line_ratio)
        super().__init__(**kwargs)

    def rules(self) -> list:
        return [("line_punct_ratio", ">=", self.line_punct_thr), ("short_line_ratio", "<=", self.short_line_thr),
                ("char_dup_ratio", "<=", self.char_duplicates_ratio), ("list_ratio", "<=", self.new_line_ratio)]

    def stat_types(self) -> dict:
        return dict.fromkeys(["line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio"], pa.float64())

    def evaluate(self, f: Features) -> tuple[dict, str | None]:
        lines = f.nonblank_lines
        if not lines:
            return dict.fromkeys(self.stat_types()), "empty"
        n = len(lines)
        stop_chars, short = self.stop_chars, self.short_line_length
        stats = {
            "line_punct_ratio": sum(1 for line in lines if line.endswith(stop_chars)) / n,
            "short_line_ratio": sum(1 for line in lines if len(line) <= short) / n if short is not None else None,
            "char_dup_ratio": duplicates(lines)[1] / (len(f.text) - f.newlines),
            "list_ratio": f.newlines / f.n_words if f.has_words and f.n_words else None,
        }
        punct = stats["line_punct_ratio"]
        checks = [
            (below(punct, self.line_punct_thr) and not (punct == 0 and self.line_punct_exclude_zero),
             "line_punct_ratio"),
            (above(stats["short_line_ratio"], self.short_line_thr), "short_line_ratio"),
            (above(stats["char_dup_ratio"], self.char_duplicates_ratio), "char_dup_ratio"),
            (above(stats["list_ratio"], self.new_line_ratio), "list_ratio"),
        ]
        return stats, next((rule for failed, rule in checks if failed), None)
