"""One way to switch a heuristic rule off, in every rule set: None (a boolean switch: None or
False); a number, 0 included, is a threshold. Each rule on a small document that fails exactly
that rule at the defaults, then with the rule switched off; every switch at None on real
documents; wrong kinds of arguments refused with CurateError when the block is built."""

from __future__ import annotations

import inspect
import json
import math

import pytest
from datatrove.data import Document

from curate.errors import CurateError
from curate.filters.heuristics import C4Quality, FineWebQuality, GopherQuality, GopherRepetition, RefinedWebQuality
from curate.filters.heuristics.gopher import DUP_N_GRAMS, TOP_N_GRAMS

BLOCKS = (GopherRepetition, GopherQuality, C4Quality, FineWebQuality, RefinedWebQuality)

# every constructor parameter, as rule switch or not (a new parameter must be added to one of them)
RULE_SWITCHES = {
    GopherRepetition: {"dup_line_frac", "dup_para_frac", "dup_line_char_frac", "dup_para_char_frac",
                       "top_n_grams", "dup_n_grams"},
    GopherQuality: {"min_doc_words", "max_doc_words", "min_avg_word_length", "max_avg_word_length",
                    "max_symbol_word_ratio", "max_bullet_lines_ratio", "max_ellipsis_lines_ratio",
                    "max_non_alpha_words_ratio", "min_stop_words"},
    C4Quality: {"filter_no_terminal_punct", "min_num_sentences", "min_words_per_line", "max_word_length",
                "filter_lorem_ipsum", "filter_javascript", "filter_curly_bracket", "filter_policy"},
    FineWebQuality: {"line_punct_thr", "short_line_thr", "short_line_length", "char_duplicates_ratio",
                     "new_line_ratio"},
    RefinedWebQuality: {"max_uppercase_ratio", "drop_numeric_lines", "drop_counter_lines", "min_line_words",
                        "phrase_max_words", "max_removed_word_ratio"},
}
NOT_SWITCHES = {GopherRepetition: set(), GopherQuality: {"stop_words"}, C4Quality: {"remove_citations", "remove_lines"},
                FineWebQuality: {"line_punct_exclude_zero", "stop_chars"}, RefinedWebQuality: set()}
C4_LINE_RULES = {"filter_no_terminal_punct", "min_words_per_line", "max_word_length", "filter_javascript",
                 "filter_policy"}
LINE_RULES = C4_LINE_RULES | {"max_uppercase_ratio", "drop_numeric_lines", "drop_counter_lines", "min_line_words",
                              "phrase_max_words"}  # RefinedWeb's: lines counted as removed words
BOOLEAN_SWITCHES = {"filter_no_terminal_punct", "filter_lorem_ipsum", "filter_javascript", "filter_curly_bracket",
                    "filter_policy", "drop_numeric_lines", "drop_counter_lines"}


def run(block, text: str) -> tuple[str | None, dict]:
    doc = Document(text=text, id="t")
    reason = block.process(doc)
    stats = {k.removeprefix(block.name + "_"): v for k, v in doc.metadata.items() if k.startswith(block.name + "_")}
    return reason, stats


# ---- small documents made of unique words, so that only the rule under test fails
_NEXT = [0]


def fresh(count: int, length: int = 6) -> list[str]:
    """`count` lowercase words of `length` letters never returned before (q + base-26 digits)."""
    out = []
    for _ in range(count):
        i, letters = _NEXT[0], []
        _NEXT[0] += 1
        for _ in range(length - 1):
            i, d = divmod(i, 26)
            letters.append(chr(97 + d))
        out.append("q" + "".join(reversed(letters)))
    return out


def line(words: int = 10, stop: bool = True, end: str = ".", length: int = 6) -> str:
    """A sentence of unique words (with 'the' and 'and', Gopher's stop words, unless stop=False)."""
    w = fresh(words, length)
    if stop:
        w[2], w[5] = "the", "and"
    return w[0].capitalize() + " " + " ".join(w[1:]) + end


def prose(lines: int = 8, **kw) -> str:
    """Lines of unique words that every rule set keeps at its defaults."""
    return "\n".join(line(12, **kw) for _ in range(lines))


def repeated_ngrams(n: int, size_per_pair: int, pairs: int = 4) -> str:
    """`pairs` sequences of n unique 6-letter words, each twice, padded with unique words to about
    `size_per_pair` characters a pair: repeated n-grams (and shorter) but none longer."""
    parts = []
    for _ in range(pairs):
        seq = " ".join(fresh(n))
        pad = max(size_per_pair - 2 * len(seq) - 2, 14) // 7
        parts.append(f"{seq} {' '.join(fresh(pad // 2))} {seq} {' '.join(fresh(pad - pad // 2))}.")
    return "\n".join(parts)


def repeated_gram(lengths: tuple[int, ...], times: int = 6, filler: int = 8) -> str:
    """One n-gram of words with the given lengths, in `times` lines of unique words."""
    gram = " ".join(fresh(1, length)[0] for length in lengths)
    return "\n".join(f"{' '.join(fresh(filler))} {gram} {' '.join(fresh(filler))}." for _ in range(times))


def ngram_off(name: str, n: int) -> dict:
    pairs = TOP_N_GRAMS if name == "top_n_grams" else DUP_N_GRAMS
    return {name: tuple((m, None if m == n else t) for m, t in pairs)}


# RefinedWeb's line rules: lines each flags (and the statistic that counts them)
FLAGGED = {"max_uppercase_ratio": "SHOP NOW AND SAVE BIG", "drop_numeric_lines": "12345\n67890\n24680\n13579\n97531",
           "drop_counter_lines": "3 likes\n12 views\n1.2k shares", "min_line_words": "Home\nAbout\nContact\nBlog",
           "phrase_max_words": "Sign-in to see your items in cart\nSign-in to see your items in cart"}


def cases():
    """(block, the arguments that switch the rule off, text, reason at the defaults, reason with the rule off)."""
    # a line (paragraph) of one word after lines without a full stop: repeating it repeats no n-gram
    one_word = "y" * 300
    body = [prose(3, end=""), prose(3, end=""), prose(3, end="")]
    gopher_rep = [
        (GopherRepetition, {"dup_para_frac": None},
         "\n\n".join([prose(4), "Same words here.", prose(4), "Same words here.", "Same words here."]),
         "dup_para_frac", None),
        # a repeated paragraph repeats its lines: with its rule off, the line rule drops it
        (GopherRepetition, {"dup_para_char_frac": None}, "\n\n".join([body[0], one_word, body[1], body[2], one_word]),
         "dup_para_char_frac", "dup_line_char_frac"),
        (GopherRepetition, {"dup_line_frac": None},
         "\n".join(f"{line(12)}\nOk." for _ in range(5)) + "\n" + prose(1), "dup_line_frac", None),
        (GopherRepetition, {"dup_line_char_frac": None},
         "\n".join([body[0], one_word, body[1], one_word, prose(1)]), "dup_line_char_frac", None),
        (GopherRepetition, ngram_off("top_n_grams", 2), repeated_gram((20, 14)), "top_2_gram", None),
        (GopherRepetition, ngram_off("top_n_grams", 3), repeated_gram((20, 1, 20), filler=9), "top_3_gram", None),
        (GopherRepetition, ngram_off("top_n_grams", 4), repeated_gram((20, 1, 1, 20), filler=11), "top_4_gram", None),
    ]
    # characters per repeated pair, chosen so that dup_{n-1} <= its threshold < dup_n
    for n, size in ((5, 150), (6, 230), (7, 290), (8, 360), (9, 440), (10, 540)):
        gopher_rep.append((GopherRepetition, ngram_off("dup_n_grams", n), repeated_ngrams(n, size),
                           f"duplicated_{n}_n_grams", None))
    gopher_rep += [(GopherRepetition, {"top_n_grams": None}, repeated_gram((20, 14)), "top_2_gram", None),
                   (GopherRepetition, {"dup_n_grams": None}, repeated_ngrams(7, 290), "duplicated_7_n_grams", None)]

    long_words = " ".join(["the and"] * 3 + fresh(60, 14)) + "."
    gopher_quality = [
        (GopherQuality, {"min_doc_words": None}, prose(3), "gopher_short_doc", None),
        (GopherQuality, {"max_doc_words": None},
         "The quick brown fox jumps over the lazy dog and then it runs away with the cat.\n" * 5883,
         "gopher_long_doc", None),
        (GopherQuality, {"min_avg_word_length": None}, "the and of to be it is an ox\n" * 8,
         "gopher_below_avg_threshold", None),
        (GopherQuality, {"max_avg_word_length": None}, long_words, "gopher_above_avg_threshold", None),
        (GopherQuality, {"max_symbol_word_ratio": None}, prose() + "\n" + " ".join(["#tag"] * 15),
         "gopher_too_many_hashes", None),
        (GopherQuality, {"max_symbol_word_ratio": None},
         "\n".join(f"{line(6, end='...')} {line(4, stop=False, end='...')} {line(4, stop=False)}" for _ in range(8)),
         "gopher_too_many_ellipsis", None),
        (GopherQuality, {"max_bullet_lines_ratio": None}, "\n".join("- " + line(12) for _ in range(8)),
         "gopher_too_many_bullets", None),
        (GopherQuality, {"max_ellipsis_lines_ratio": None}, prose(5) + "\n" + prose(3, end="..."),
         "gopher_too_many_end_ellipsis", None),
        (GopherQuality, {"max_non_alpha_words_ratio": None}, prose() + "\n" + " ".join(map(str, range(30))),
         "gopher_below_alpha_threshold", None),
        (GopherQuality, {"min_stop_words": None}, prose(stop=False), "gopher_enough_stop_words", None),
    ]
    c4 = [
        (C4Quality, {"min_num_sentences": None}, prose(3), "too_few_sentences", None),
        (C4Quality, {"filter_lorem_ipsum": None}, prose(6) + "\nLorem ipsum dolor sit amet.", "lorem_ipsum", None),
        (C4Quality, {"filter_lorem_ipsum": False}, prose(6) + "\nLorem ipsum dolor sit amet.", "lorem_ipsum", None),
        (C4Quality, {"filter_curly_bracket": None}, prose(6) + "\nThe value is {x} here.", "curly_bracket", None),
    ]
    fineweb = [
        (FineWebQuality, {"line_punct_thr": None}, prose(end=""), "line_punct_ratio", None),
        (FineWebQuality, {"short_line_thr": None}, "\n".join(line(7, length=3) for _ in range(20)),
         "short_line_ratio", None),
        (FineWebQuality, {"short_line_length": None}, "\n".join(line(7, length=3) for _ in range(20)),
         "short_line_ratio", None),
        (FineWebQuality, {"char_duplicates_ratio": None}, prose() + "\nThe same line twice in this text.\n"
         "The same line twice in this text.", "char_dup_ratio", None),
        (FineWebQuality, {"new_line_ratio": None}, "\n".join(line(2, stop=False, length=16) for _ in range(20)),
         "list_ratio", None),
    ]
    # a line of digits is one word, so with its rule off it still counts as a short line (see below)
    refinedweb = [(RefinedWebQuality, {name: off}, prose(4) + "\n" + FLAGGED[name], "removed_word_ratio",
                   "removed_word_ratio" if name == "drop_numeric_lines" else None)
                  for name in FLAGGED for off in ((None, False) if name in BOOLEAN_SWITCHES else (None,))]
    refinedweb.append((RefinedWebQuality, {"max_removed_word_ratio": None},
                       prose(4) + "\n" + FLAGGED["max_uppercase_ratio"], "removed_word_ratio", None))
    return gopher_rep + gopher_quality + c4 + fineweb + refinedweb


CASES = cases()


@pytest.mark.parametrize("block, off, text, reason, reason_off", CASES,
                         ids=[f"{c[0].name}:{c[3]}-{','.join(c[1])}" for c in CASES])
def test_each_rule_fails_and_switches_off(block, off, text, reason, reason_off):
    assert run(block(), text)[0] == f"{block.name}:{reason}"
    got, stats = run(block(**off), text)
    assert got == (None if reason_off is None else f"{block.name}:{reason_off}")
    assert stats["failed"] == reason_off


def test_cases_cover_every_rule_and_switch():
    reasons = {(c[0], c[3]) for c in CASES}
    for block in BLOCKS:
        params = set(inspect.signature(block.__init__).parameters) - {"self", "kwargs"}
        assert params == RULE_SWITCHES[block] | NOT_SWITCHES[block], block
        switched = {name for c in CASES if c[0] is block for name in c[1]}
        assert switched == RULE_SWITCHES[block] - C4_LINE_RULES, block  # C4's line rules: below
    assert {rule for block, rule in reasons if block is GopherRepetition} == {
        "dup_para_frac", "dup_para_char_frac", "dup_line_frac", "dup_line_char_frac",
        *(f"top_{n}_gram" for n, _ in TOP_N_GRAMS), *(f"duplicated_{n}_n_grams" for n, _ in DUP_N_GRAMS)}
    assert {rule for block, rule in reasons if block is GopherQuality} == {
        "gopher_short_doc", "gopher_long_doc", "gopher_below_avg_threshold", "gopher_above_avg_threshold",
        "gopher_too_many_hashes", "gopher_too_many_ellipsis", "gopher_too_many_bullets", "gopher_too_many_end_ellipsis",
        "gopher_below_alpha_threshold", "gopher_enough_stop_words"}
    assert {rule for block, rule in reasons if block is C4Quality} == {"too_few_sentences", "lorem_ipsum",
                                                                      "curly_bracket"}
    assert {rule for block, rule in reasons if block is FineWebQuality} == {
        "line_punct_ratio", "short_line_ratio", "char_dup_ratio", "list_ratio"}
    assert {rule for block, rule in reasons if block is RefinedWebQuality} == {"removed_word_ratio"}


# ---- C4's line rules drop lines, not pages: switched off, the line is kept (and counts as a sentence)
C4_BAD_LINES = {
    "filter_no_terminal_punct": "Click here to continue reading now",
    "min_words_per_line": "Yes indeed.",
    "max_word_length": "x" * 1001 + " and more words here.",
    "filter_javascript": "Please enable javascript in your browser.",
    "filter_policy": "Read our privacy policy for the details.",
}


@pytest.mark.parametrize("param, off", [(p, off) for p in C4_BAD_LINES
                                        for off in ((None, False) if p in BOOLEAN_SWITCHES else (None,))])
def test_c4_line_rules_switch_off(param, off):
    text = prose(4) + "\n" + C4_BAD_LINES[param]
    reason, stats = run(C4Quality(), text)
    assert (reason, stats["lines"], stats["kept_lines"], stats["sentences"]) == ("c4:too_few_sentences", 5, 4, 4)
    reason, stats = run(C4Quality(**{param: off}), text)
    assert (reason, stats["lines"], stats["kept_lines"], stats["sentences"]) == (None, 5, 5, 5)


@pytest.mark.parametrize("param, counted, off_counts", [
    ("max_uppercase_ratio", "uppercase_lines", {}), ("drop_numeric_lines", "numeric_lines", {"short_lines": 5}),
    ("drop_counter_lines", "counter_lines", {}), ("min_line_words", "short_lines", {}), ("phrase_max_words", None, {}),
])
def test_refinedweb_line_rules_switch_off(param, counted, off_counts):
    text = prose(4) + "\n" + FLAGGED[param]
    flagged_lines = FLAGGED[param].count("\n") + 1
    counts = ("uppercase_lines", "numeric_lines", "counter_lines", "short_lines")
    _, stats = run(RefinedWebQuality(), text)
    assert {c: stats[c] for c in counts} == {c: flagged_lines if c == counted else 0 for c in counts}
    assert stats["removed_word_ratio"] > 0.05
    _, stats = run(RefinedWebQuality(**{param: None}), text)
    assert {c: stats[c] for c in counts} == {c: off_counts.get(c, 0) for c in counts}
    assert stats["removed_word_ratio"] == (0 if not off_counts else pytest.approx(5 / (48 + 5)))


def test_zero_is_a_threshold():
    no_stop_words = prose(stop=False)
    assert run(GopherQuality(), no_stop_words)[0] == "gopher_quality:gopher_enough_stop_words"
    assert run(GopherQuality(min_stop_words=0), no_stop_words)[0] is None  # 0 stop words is not fewer than 0
    one_hash = prose() + "\nIssue #12 is fixed."
    assert run(GopherQuality(), one_hash)[0] is None
    assert run(GopherQuality(max_symbol_word_ratio=0), one_hash)[0] == "gopher_quality:gopher_too_many_hashes"
    assert run(GopherQuality(max_symbol_word_ratio=0), prose())[0] is None  # no '#', no ellipsis: 0 is not above 0
    text = prose(4) + "\nGood."
    assert run(C4Quality(min_words_per_line=0), text)[1]["kept_lines"] == 5
    assert run(C4Quality(max_word_length=0), text)[1]["kept_lines"] == 0  # every word is longer than 0
    assert run(C4Quality(min_num_sentences=0), "")[0] is None
    assert run(RefinedWebQuality(max_removed_word_ratio=0), prose(4) + "\nHome")[0] == "refinedweb:removed_word_ratio"
    assert run(RefinedWebQuality(max_removed_word_ratio=0), prose(4))[0] is None
    assert run(FineWebQuality(char_duplicates_ratio=0), prose() + "\nAgain.\nAgain.")[0] == "fineweb:char_dup_ratio"
    assert run(GopherRepetition(dup_line_frac=0), prose() + "\nAgain.\nAgain.")[0] == "gopher_rep:dup_line_frac"


def test_ngram_pairs_switch_off_one_or_all():
    text = repeated_ngrams(7, 290)
    rep = GopherRepetition(dup_n_grams=((5, None), (7, None)))
    reason, stats = run(rep, text)
    assert reason is None and stats["dup_7_gram_char_frac"] > 0.13  # (n, None): the column, no rule
    assert set(stats) == {c.removeprefix("gopher_rep_") for c in rep.columns}
    rep = GopherRepetition(top_n_grams=None, dup_n_grams=None)
    reason, stats = run(rep, text)
    assert reason is None
    assert set(rep.columns) == {"gopher_rep_dup_para_frac", "gopher_rep_dup_para_char_frac", "gopher_rep_dup_line_frac",
                                "gopher_rep_dup_line_char_frac", "gopher_rep_failed"}
    assert set(stats) == {c.removeprefix("gopher_rep_") for c in rep.columns}
    assert run(rep, "")[1] == {**dict.fromkeys(rep.stat_types()), "failed": "empty"}


# ---- every rule switch at None on real documents
@pytest.fixture(scope="module")
def real_docs(shared_data) -> list[str]:
    lines = (shared_data / "web-text" / "c4-ccnet-redpajama-samples.jsonl").read_text().splitlines()
    return [json.loads(line)["text"] for line in lines[:6]]


@pytest.mark.parametrize("block, param", [(b, p) for b in BLOCKS for p in sorted(RULE_SWITCHES[b])])
def test_every_switch_accepts_none_on_real_documents(real_docs, block, param):
    # the rules the switch alone turns off (a line rule only lowers a statistic of a page rule)
    governs = set() if param in LINE_RULES else {
        f"{block.name}:{c[3]}" for c in CASES if c[0] is block and param in c[1]}
    assert governs or param in LINE_RULES
    default, off = block(), block(**{param: None})
    for text in real_docs:
        reason, stats = run(off, text)
        assert set(stats) == {c.removeprefix(block.name + "_") for c in off.columns}
        assert reason not in governs
        if param not in C4_LINE_RULES:  # a line C4 now keeps can bring a '{' or 'lorem ipsum' in
            # switching a rule off lets documents through or leaves the decision to a later rule
            assert reason is None or run(default, text)[0] is not None
        if block is RefinedWebQuality and param != "max_removed_word_ratio":
            assert stats["removed_word_ratio"] <= run(default, text)[1]["removed_word_ratio"]


def test_all_switches_off_keeps_every_real_document(real_docs):
    dropped_by_default = 0
    for block in BLOCKS:
        everything_off = block(**dict.fromkeys(RULE_SWITCHES[block]))
        for text in real_docs:
            dropped_by_default += block().process(Document(text=text, id="x")) is not None
            reason, stats = run(everything_off, text)
            assert reason is None and stats["failed"] is None, block
            assert set(stats) == {c.removeprefix(block.name + "_") for c in everything_off.columns}
    assert dropped_by_default > 0  # the sample has documents the default rules drop


# ---- wrong kinds of arguments: CurateError when the block is built, naming block and parameter
@pytest.mark.parametrize("block, kwargs, message", [
    (C4Quality, {"min_num_sentences": "five"},
     "C4Quality: min_num_sentences must be a number >= 0 or None, got 'five'"),
    (C4Quality, {"min_words_per_line": -1}, "C4Quality: min_words_per_line must be a number >= 0 or None, got -1"),
    (C4Quality, {"max_word_length": -1}, "C4Quality: max_word_length must be a number >= 0 or None, got -1"),
    (C4Quality, {"filter_javascript": "no"}, "C4Quality: filter_javascript must be True, False or None, got 'no'"),
    (C4Quality, {"remove_lines": 1}, "C4Quality: remove_lines must be True, False or None, got 1"),
    (GopherQuality, {"min_doc_words": True}, "GopherQuality: min_doc_words must be a number >= 0 or None, got True"),
    (GopherQuality, {"max_symbol_word_ratio": math.nan},
     "GopherQuality: max_symbol_word_ratio must be a number >= 0 or None, got nan"),
    (GopherQuality, {"min_stop_words": [2]}, "GopherQuality: min_stop_words must be a number >= 0 or None, got [2]"),
    (GopherQuality, {"stop_words": {"en": "the and"}}, "GopherQuality: stop_words must be a dict of language"),
    (GopherQuality, {"stop_words": ["the"]}, "GopherQuality: stop_words must be a dict of language"),
    (GopherRepetition, {"dup_line_frac": "0.3"},
     "GopherRepetition: dup_line_frac must be a number >= 0 or None, got '0.3'"),
    (GopherRepetition, {"top_n_grams": 0.2},
     "GopherRepetition: top_n_grams must be a tuple of (n, threshold) pairs or None, got 0.2"),
    (GopherRepetition, {"top_n_grams": "2,0.2"},
     "GopherRepetition: top_n_grams must be a tuple of (n, threshold) pairs or None, got '2,0.2'"),
    (GopherRepetition, {"dup_n_grams": [(5,)]}, "GopherRepetition: dup_n_grams must hold (n, threshold) pairs"),
    (GopherRepetition, {"dup_n_grams": [("5", 0.1)]}, "GopherRepetition: dup_n_grams must hold (n, threshold) pairs"),
    (GopherRepetition, {"dup_n_grams": [(0, 0.1)]}, "GopherRepetition: dup_n_grams must hold (n, threshold) pairs"),
    (GopherRepetition, {"top_n_grams": [(2, "x")]},
     "GopherRepetition: top_n_grams threshold for n=2 must be a number >= 0 or None, got 'x'"),
    (FineWebQuality, {"line_punct_thr": "0.12"}, "FineWebQuality: line_punct_thr must be a number >= 0 or None"),
    (FineWebQuality, {"short_line_length": -30}, "FineWebQuality: short_line_length must be a number >= 0 or None"),
    (FineWebQuality, {"stop_chars": 5}, "FineWebQuality: stop_chars must be a tuple of strings or None, got 5"),
    (FineWebQuality, {"stop_chars": (".", 1)}, "FineWebQuality: stop_chars must be a tuple of strings or None"),
    (FineWebQuality, {"line_punct_exclude_zero": "yes"}, "FineWebQuality: line_punct_exclude_zero must be True, False"),
    (RefinedWebQuality, {"drop_numeric_lines": "false"}, "RefinedWebQuality: drop_numeric_lines must be True, False"),
    (RefinedWebQuality, {"max_removed_word_ratio": -0.1}, "RefinedWebQuality: max_removed_word_ratio must be a number"),
])
def test_wrong_kinds_raise_curate_error(block, kwargs, message):
    with pytest.raises(CurateError) as error:
        block(**kwargs)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)
