"""RefinedWeb's line-wise rules (Penedo et al. 2023, appendix G.2), with the thresholds of
DCLM's reproduction (baselines_configs/refinedweb.yaml). RefinedWeb's document-wise rules are
Gopher's: run GopherRepetition and GopherQuality beside this block.

A line is flagged when it is mostly upper case (> 50% of its characters), only digits, a social
counter ("3 likes", "1.2k views"), or a single word; in lines of at most 10 words the phrases
"items in cart" (anywhere), "Read more..." (at the end) and "Sign-in" (at the start) are
flagged words. The document is dropped when flagged words exceed 5% of its words (words split on
whitespace). datatrove has no RefinedWeb block. The counter words and phrases are English: for
other languages those two rules find nothing and the remaining rules are script-neutral.
"""

from __future__ import annotations

import re

import pyarrow as pa

from curate.filters.heuristics.base import HeuristicFilter, above, rule_argument
from curate.filters.heuristics.features import Features

COUNTER = re.compile(r"^\W*\d(?:[,.\d])*[kmb]?\s+(?:likes|shares|comments|retweets|reposts|quotes|bookmarks|"
                     r"upvotes|downvotes|downloads|views|followers)\W*$")
PHRASES = (re.compile(r"\s?items in cart", re.I), re.compile(r"\s?read more\.\.\.$", re.I),
           re.compile(r"^sign-in\s?", re.I))


class RefinedWebQuality(HeuristicFilter):
    name = "refinedweb"

    def __init__(self, max_uppercase_ratio: float | None = 0.5, drop_numeric_lines: bool | None = True,
                 drop_counter_lines: bool | None = True, min_line_words: int | None = 2,
                 phrase_max_words: int | None = 10, max_removed_word_ratio: float | None = 0.05, **kwargs):
        """None switches a rule off: each line rule (max_uppercase_ratio, drop_numeric_lines,
        drop_counter_lines, min_line_words, phrase_max_words: its lines are no longer counted as
        removed; a drop_* switch is also off for False) and max_removed_word_ratio, the document
        rule. A number, 0 included, is a threshold."""
        self.max_uppercase_ratio = rule_argument(self, "max_uppercase_ratio", max_uppercase_ratio)
        self.drop_numeric_lines = rule_argument(self, "drop_numeric_lines", drop_numeric_lines, "switch")
        self.drop_counter_lines = rule_argument(self, "drop_counter_lines", drop_counter_lines, "switch")
        self.min_line_words = rule_argument(self, "min_line_words", min_line_words)
        self.phrase_max_words = rule_argument(self, "phrase_max_words", phrase_max_words)
        self.max_removed_word_ratio = rule_argument(self, "max_removed_word_ratio", max_removed_word_ratio)
        super().__init__(**kwargs)

    def rules(self) -> list:
        return [("removed_word_ratio", "<=", self.max_removed_word_ratio)]

    def stat_types(self) -> dict:
        return {"uppercase_lines": pa.int64(), "numeric_lines": pa.int64(), "counter_lines": pa.int64(),
                "short_lines": pa.int64(), "removed_word_ratio": pa.float64()}

    def line_rule(self, line: str, words: int) -> str | None:
        """The statistic a non-blank line is counted under when the whole line is flagged."""
        if self.max_uppercase_ratio is not None and sum(map(str.isupper, line)) / len(line) > self.max_uppercase_ratio:
            return "uppercase_lines"
        if self.drop_numeric_lines and line.isdigit():
            return "numeric_lines"
        if self.drop_counter_lines and COUNTER.match(line.lower()):
            return "counter_lines"
        if self.min_line_words is not None and words < self.min_line_words:
            return "short_lines"
        return None

    def evaluate(self, f: Features) -> tuple[dict, str | None]:
        stats = dict.fromkeys(["uppercase_lines", "numeric_lines", "counter_lines", "short_lines"], 0)
        removed = total = 0
        for line in f.text.split("\n"):
            words = len(line.split())
            if not words:
                continue
            total += words
            rule = self.line_rule(line, words)
            if rule is None:
                removed += self._phrase_words(line, words)
            else:
                stats[rule] += 1
                removed += words
        ratio = stats["removed_word_ratio"] = removed / total if total else None
        return stats, "removed_word_ratio" if above(ratio, self.max_removed_word_ratio) else None

    def _phrase_words(self, line: str, words: int) -> int:
        if self.phrase_max_words is None or words > self.phrase_max_words:
            return 0
        rest = line
        for phrase in PHRASES:
            rest = phrase.sub("", rest)
        return words - len(rest.split()) if rest is not line else 0
