"""Gopher's rules (Rae et al. 2021, table A1 and section A.1.1), with datatrove's defaults and
rule names, so decisions match GopherRepetitionFilter and GopherQualityFilter."""

from __future__ import annotations

import pyarrow as pa

from curate.errors import CurateError
from curate.filters.heuristics.base import HeuristicFilter, above, below, ratio, rule_argument
from curate.filters.heuristics.features import Features

TOP_N_GRAMS = ((2, 0.20), (3, 0.18), (4, 0.16))
DUP_N_GRAMS = ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))
# Gopher's stop words: English only. Languages without a list skip the rule (column null).
STOP_WORDS = {"en": ("the", "be", "to", "of", "and", "that", "have", "with")}


class GopherRepetition(HeuristicFilter):
    """Repetition: duplicate lines and paragraphs (by count and by characters), the most
    frequent 2-4-gram's share of characters and the characters in repeated 5-10-grams.
    The n-gram rules count words, so they are skipped for languages written without spaces.

    Every threshold switches its rule off with None. top_n_grams / dup_n_grams are (n, threshold)
    pairs, one rule each: a pair (n, None) writes the column but never drops, and
    top_n_grams=None / dup_n_grams=None switch all of them off (no columns for them)."""

    name = "gopher_rep"

    def __init__(self, dup_line_frac: float | None = 0.3, dup_para_frac: float | None = 0.3,
                 dup_line_char_frac: float | None = 0.2, dup_para_char_frac: float | None = 0.2,
                 top_n_grams=TOP_N_GRAMS, dup_n_grams=DUP_N_GRAMS, **kwargs):
        self.dup_line_frac = rule_argument(self, "dup_line_frac", dup_line_frac)
        self.dup_para_frac = rule_argument(self, "dup_para_frac", dup_para_frac)
        self.dup_line_char_frac = rule_argument(self, "dup_line_char_frac", dup_line_char_frac)
        self.dup_para_char_frac = rule_argument(self, "dup_para_char_frac", dup_para_char_frac)
        self.top_n_grams = self._n_grams("top_n_grams", top_n_grams)
        self.dup_n_grams = self._n_grams("dup_n_grams", dup_n_grams)
        super().__init__(**kwargs)

    def _n_grams(self, name: str, pairs) -> tuple:
        """((n, threshold), ...) with n a whole number >= 1; None: no n-gram rules."""
        if pairs is None:
            return ()
        if not isinstance(pairs, (tuple, list)):
            raise CurateError(f"GopherRepetition: {name} must be a tuple of (n, threshold) pairs or None, "
                              f"got {pairs!r}")
        checked = []
        for pair in pairs:
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], int)
                    and not isinstance(pair[0], bool) and pair[0] >= 1):
                raise CurateError(f"GopherRepetition: {name} must hold (n, threshold) pairs with n a whole "
                                  f"number >= 1, got {pair!r}")
            checked.append((pair[0], rule_argument(self, f"{name} threshold for n={pair[0]}", pair[1])))
        return tuple(checked)

    def rules(self) -> list:
        return ([("dup_para_frac", "<=", self.dup_para_frac), ("dup_para_char_frac", "<=", self.dup_para_char_frac),
                 ("dup_line_frac", "<=", self.dup_line_frac), ("dup_line_char_frac", "<=", self.dup_line_char_frac)]
                + [(f"top_{n}_gram_char_frac", "<=", t) for n, t in self.top_n_grams]
                + [(f"dup_{n}_gram_char_frac", "<=", t) for n, t in self.dup_n_grams])

    def stat_types(self) -> dict:
        names = ["dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac"]
        names += [f"top_{n}_gram_char_frac" for n, _ in self.top_n_grams]
        names += [f"dup_{n}_gram_char_frac" for n, _ in self.dup_n_grams]
        return dict.fromkeys(names, pa.float64())

    def evaluate(self, f: Features) -> tuple[dict, str | None]:
        if not f.text:
            return dict.fromkeys(self.stat_types()), "empty"
        size = len(f.text)
        paragraphs, para_dups, para_chars = f.paragraph_dups
        lines, line_dups, line_chars = f.line_dups
        stats = {"dup_para_frac": para_dups / paragraphs, "dup_para_char_frac": para_chars / size,
                 "dup_line_frac": line_dups / lines, "dup_line_char_frac": line_chars / size}
        checks = [("dup_para_frac", self.dup_para_frac, "dup_para_frac"),
                  ("dup_para_char_frac", self.dup_para_char_frac, "dup_para_char_frac"),
                  ("dup_line_frac", self.dup_line_frac, "dup_line_frac"),
                  ("dup_line_char_frac", self.dup_line_char_frac, "dup_line_char_frac")]
        for n, threshold in self.top_n_grams:
            stats[f"top_{n}_gram_char_frac"] = f.top_ngram_chars(n) / size
            if f.has_words:
                checks.append((f"top_{n}_gram_char_frac", threshold, f"top_{n}_gram"))
        for n, threshold in self.dup_n_grams:
            stats[f"dup_{n}_gram_char_frac"] = f.dup_ngram_chars(n) / size
            if f.has_words:
                checks.append((f"dup_{n}_gram_char_frac", threshold, f"duplicated_{n}_n_grams"))
        failed = next((rule for stat, threshold, rule in checks if above(stats[stat], threshold)), None)
        return stats, failed


class GopherQuality(HeuristicFilter):
    """Quality: document length in words, mean word length, '#' and ellipsis per word, bullet
    and ellipsis lines, words with a letter, and Gopher's English stop words. Word rules are
    skipped for languages written without spaces; the stop-word rule runs only for languages
    in `stop_words` (English by default) and is skipped, with a null column, for the others."""

    name = "gopher_quality"

    def __init__(self, min_doc_words: int | None = 50, max_doc_words: int | None = 100_000,
                 min_avg_word_length: float | None = 3, max_avg_word_length: float | None = 10,
                 max_symbol_word_ratio: float | None = 0.1, max_bullet_lines_ratio: float | None = 0.9,
                 max_ellipsis_lines_ratio: float | None = 0.3, max_non_alpha_words_ratio: float | None = 0.8,
                 min_stop_words: int | None = 2, stop_words: dict | None = None, **kwargs):
        """max_non_alpha_words_ratio keeps datatrove's name: the rule drops documents where fewer
        than this fraction of words contain a letter. max_symbol_word_ratio is the threshold of
        two rules ('#' per word, ellipses per word). Every threshold switches its rule off with
        None; 0 is a threshold (min_stop_words=0 never fails). stop_words: language -> word list
        (not a rule switch: None means Gopher's English list)."""
        self.min_doc_words = rule_argument(self, "min_doc_words", min_doc_words)
        self.max_doc_words = rule_argument(self, "max_doc_words", max_doc_words)
        self.min_avg_word_length = rule_argument(self, "min_avg_word_length", min_avg_word_length)
        self.max_avg_word_length = rule_argument(self, "max_avg_word_length", max_avg_word_length)
        self.max_symbol_word_ratio = rule_argument(self, "max_symbol_word_ratio", max_symbol_word_ratio)
        self.max_bullet_lines_ratio = rule_argument(self, "max_bullet_lines_ratio", max_bullet_lines_ratio)
        self.max_ellipsis_lines_ratio = rule_argument(self, "max_ellipsis_lines_ratio", max_ellipsis_lines_ratio)
        self.max_non_alpha_words_ratio = rule_argument(self, "max_non_alpha_words_ratio", max_non_alpha_words_ratio)
        self.min_stop_words = rule_argument(self, "min_stop_words", min_stop_words)
        if stop_words is not None and not (isinstance(stop_words, dict) and all(
                isinstance(words, (list, tuple, set, frozenset)) and all(isinstance(w, str) for w in words)
                for words in stop_words.values())):
            raise CurateError(f"GopherQuality: stop_words must be a dict of language -> list of words or None, "
                              f"got {stop_words!r}")
        self.stop_words = {lang: frozenset(words) for lang, words in (stop_words or STOP_WORDS).items()}
        super().__init__(**kwargs)

    def rules(self) -> list:
        return [("words", ">=", self.min_doc_words), ("words", "<=", self.max_doc_words),
                ("mean_word_length", ">=", self.min_avg_word_length),
                ("mean_word_length", "<=", self.max_avg_word_length),
                ("hash_ratio", "<=", self.max_symbol_word_ratio), ("ellipsis_ratio", "<=", self.max_symbol_word_ratio),
                ("bullet_lines_ratio", "<=", self.max_bullet_lines_ratio),
                ("ellipsis_lines_ratio", "<=", self.max_ellipsis_lines_ratio),
                ("alpha_words_ratio", ">=", self.max_non_alpha_words_ratio), ("stop_words", ">=", self.min_stop_words)]

    def stat_types(self) -> dict:
        return {"words": pa.int64(), "mean_word_length": pa.float64(), "hash_ratio": pa.float64(),
                "ellipsis_ratio": pa.float64(), "bullet_lines_ratio": pa.float64(),
                "ellipsis_lines_ratio": pa.float64(), "alpha_words_ratio": pa.float64(), "stop_words": pa.int64()}

    def evaluate(self, f: Features) -> tuple[dict, str | None]:
        n_tokens, lines = f.n_words, len(f.lines)
        stop_words = self.stop_words.get(f.language)
        stats = {"words": f.n_word_like, "mean_word_length": f.mean_word_length,
                 "hash_ratio": ratio(f.hashes, n_tokens), "ellipsis_ratio": ratio(f.ellipses, n_tokens),
                 "bullet_lines_ratio": ratio(f.bullet_lines, lines),
                 "ellipsis_lines_ratio": ratio(f.ellipsis_lines, lines),
                 "alpha_words_ratio": ratio(f.alpha_words, n_tokens),
                 "stop_words": f.stop_words(stop_words) if stop_words is not None else None}
        words = f.has_words
        checks = [
            (words and below(stats["words"], self.min_doc_words), "gopher_short_doc"),
            (words and above(stats["words"], self.max_doc_words), "gopher_long_doc"),
            (words and below(stats["mean_word_length"], self.min_avg_word_length), "gopher_below_avg_threshold"),
            (words and above(stats["mean_word_length"], self.max_avg_word_length), "gopher_above_avg_threshold"),
            (words and above(stats["hash_ratio"], self.max_symbol_word_ratio), "gopher_too_many_hashes"),
            (words and above(stats["ellipsis_ratio"], self.max_symbol_word_ratio), "gopher_too_many_ellipsis"),
            (above(stats["bullet_lines_ratio"], self.max_bullet_lines_ratio), "gopher_too_many_bullets"),
            (above(stats["ellipsis_lines_ratio"], self.max_ellipsis_lines_ratio), "gopher_too_many_end_ellipsis"),
            (words and below(stats["alpha_words_ratio"], self.max_non_alpha_words_ratio), "gopher_below_alpha_threshold"),
            (words and below(stats["stop_words"], self.min_stop_words), "gopher_enough_stop_words"),
        ]
        return stats, next((rule for failed, rule in checks if failed), None)
