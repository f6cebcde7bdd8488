"""FineWeb's additional rules (Penedo et al. 2024), as datatrove's FineWebQualityFilter applies
them: share of lines ending in terminal punctuation (any script), share of short lines,
characters in duplicate lines, and newlines per word (skipped for languages written without
spaces)."""

from __future__ import annotations

import pyarrow as pa
from datatrove.utils.text import TERMINAL_PUNCTUATION

from curate.filters.heuristics.base import HeuristicFilter
from curate.filters.heuristics.features import Features, duplicates


class FineWebQuality(HeuristicFilter):
    name = "fineweb"
    prefix = "fineweb"

    def __init__(self, line_punct_thr: float = 0.12, line_punct_exclude_zero: bool = False,
                 stop_chars: tuple[str, ...] | None = None, short_line_thr: float = 0.67,
                 short_line_length: int = 30, char_duplicates_ratio: float = 0.01,
                 new_line_ratio: float = 0.3, **kwargs):
        self.line_punct_thr, self.line_punct_exclude_zero = line_punct_thr, line_punct_exclude_zero
        self.stop_chars = tuple(stop_chars) if stop_chars is not None else tuple(TERMINAL_PUNCTUATION)
        self.short_line_thr, self.short_line_length = short_line_thr, short_line_length
        self.char_duplicates_ratio, self.new_line_ratio = char_duplicates_ratio, new_line_ratio
        super().__init__(**kwargs)

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
            "short_line_ratio": sum(1 for line in lines if len(line) <= short) / n,
            "char_dup_ratio": duplicates(lines)[1] / (len(f.text) - f.newlines),
            "list_ratio": f.newlines / f.n_words if f.has_words and f.n_words else None,
        }
        punct, lists = stats["line_punct_ratio"], stats["list_ratio"]
        off = None  # a threshold of None switches its rule off
        checks = [
            (self.line_punct_thr is not off and punct < self.line_punct_thr
             and not (punct == 0 and self.line_punct_exclude_zero), "line_punct_ratio"),
            (self.short_line_thr is not off and stats["short_line_ratio"] > self.short_line_thr, "short_line_ratio"),
            (self.char_duplicates_ratio is not off and stats["char_dup_ratio"] > self.char_duplicates_ratio,
             "char_dup_ratio"),
            (self.new_line_ratio is not off and lists is not None and lists > self.new_line_ratio, "list_ratio"),
        ]
        return stats, next((rule for failed, rule in checks if failed), None)
