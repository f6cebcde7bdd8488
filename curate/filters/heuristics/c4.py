"""C4's rules (Raffel et al. 2020), as datatrove's C4QualityFilter applies them with its
defaults: lines are kept if they end in terminal punctuation (not an ellipsis), have at least 3
words, no word over 1000 characters, and mention neither "javascript" nor a cookie/terms
policy; the page is dropped for "lorem ipsum" or a curly bracket in a kept line, or when the
kept lines hold fewer than 5 sentences (spaCy's sentencizer, replayed). The bad-words rule is
not included (its list is downloaded at run time). The rules are English-centred (terminal
punctuation . ? ! " ', English phrases); they run on every language, as in datatrove.

By default the block only decides; remove_lines=True also rewrites a kept document to its kept
lines, as C4 and datatrove do (later blocks then see the shorter text)."""

from __future__ import annotations

import re

import pyarrow as pa

from curate.filters.heuristics.base import HeuristicFilter, rule_argument
from curate.filters.heuristics.features import Features

CITATION = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")


class C4Quality(HeuristicFilter):
    name = "c4"

    def __init__(self, remove_citations: bool = True, filter_no_terminal_punct: bool | None = True,
                 min_num_sentences: int | None = 5, min_words_per_line: int | None = 3,
                 max_word_length: int | None = 1000, filter_lorem_ipsum: bool | None = True,
                 filter_javascript: bool | None = True, filter_curly_bracket: bool | None = True,
                 filter_policy: bool | None = True, remove_lines: bool = False, **kwargs):
        """None switches a rule off: a threshold (min_num_sentences, min_words_per_line,
        max_word_length; 0 is a threshold) or a filter_* switch (None or False). datatrove's -1
        is not accepted. remove_citations and remove_lines change the text, they are not rules."""
        self.remove_citations = rule_argument(self, "remove_citations", remove_citations, "switch")
        self.filter_no_terminal_punct = rule_argument(self, "filter_no_terminal_punct", filter_no_terminal_punct, "switch")
        self.min_num_sentences = rule_argument(self, "min_num_sentences", min_num_sentences)
        self.min_words_per_line = rule_argument(self, "min_words_per_line", min_words_per_line)
        self.max_word_length = rule_argument(self, "max_word_length", max_word_length)
        self.filter_lorem_ipsum = rule_argument(self, "filter_lorem_ipsum", filter_lorem_ipsum, "switch")
        self.filter_javascript = rule_argument(self, "filter_javascript", filter_javascript, "switch")
        self.filter_curly_bracket = rule_argument(self, "filter_curly_bracket", filter_curly_bracket, "switch")
        self.filter_policy = rule_argument(self, "filter_policy", filter_policy, "switch")
        self.remove_lines = rule_argument(self, "remove_lines", remove_lines, "switch")
        super().__init__(**kwargs)

    def rules(self) -> list:
        return [("sentences", ">=", self.min_num_sentences)]

    def stat_types(self) -> dict:
        return {"lines": pa.int64(), "kept_lines": pa.int64(), "sentences": pa.int64()}

    def kept_lines(self, f: Features) -> tuple[list[str], str | None]:
        """The lines C4 keeps, and the page-level rule that fired first (or None)."""
        kept: list[str] = []
        failed = None
        for raw in f.lines:
            # datatrove's order is word length, citations, punctuation, word count; these only
            # drop lines, so testing the cheap punctuation first keeps the same lines
            raw = raw.strip()
            line = CITATION.sub("", raw) if self.remove_citations and "[" in raw else raw
            if self.filter_no_terminal_punct and (not line.endswith(END_PUNCTUATION) or line.endswith("...")):
                continue
            words = raw.split()
            if not words:
                continue  # has no words, never kept
            if self.max_word_length is not None and max(map(len, words)) > self.max_word_length:
                continue
            if self.min_words_per_line is not None and len(words) < self.min_words_per_line:
                continue
            lower = line.lower()
            if self.filter_lorem_ipsum and "lorem ipsum" in lower:
                failed = failed or "lorem_ipsum"
            if self.filter_javascript and "javascript" in lower:
                continue
            if self.filter_curly_bracket and "{" in line:
                failed = failed or "curly_bracket"
            if self.filter_policy and any(p in lower for p in POLICY_SUBSTRINGS):
                continue
            kept.append(line)
        return kept, failed

    def evaluate(self, f: Features) -> tuple[dict, str | None]:
        kept, failed = self.kept_lines(f)
        sentences = f.count_sentences(kept) if self.min_num_sentences is not None else None
        if failed is None and sentences is not None and sentences < self.min_num_sentences:
            failed = "too_few_sentences"
        self._kept = kept
        return {"lines": len(f.lines), "kept_lines": len(kept), "sentences": sentences}, failed

    def process(self, doc):
        reason = super().process(doc)
        if reason is None and self.remove_lines:
            doc.text = "\n".join(self._kept).strip()
        return reason
