"""Heuristic rule-set blocks: each rule on hand-made edge cases and on real documents, with the
statistics' values asserted. (Agreement with datatrove's filters: test_heuristics_agreement.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datatrove.data import Document

from curate.filters.heuristics import (C4Quality, FineWebQuality, GopherQuality, GopherRepetition,
                                       RefinedWebQuality, features_of, heuristic_filters)
from curate.filters.heuristics.features import Features
from curate.filters.heuristics.tokenizer import VOCAB

REPO = Path(__file__).resolve().parent.parent
SENTENCE = "The quick brown fox jumps over the lazy dog and then it runs away with the cat."  # 17 words


def run(block, text: str, language: str | None = None) -> tuple[str | None, dict]:
    doc = Document(text=text, id="t", metadata={"language": language} if language else {})
    reason = block.process(doc)
    return reason, {k.removeprefix(block.name + "_"): v for k, v in doc.metadata.items() if k.startswith(block.name)}


def prose(sentences: int = 6) -> str:
    return "\n".join(f"{SENTENCE} Line {i} has its own words, number {i}." for i in range(sentences))


# ---- the word splitter: spaCy English tokens (expected lists produced by spacy.blank("en"))
@pytest.mark.parametrize("text, words", [
    ("Don't stop (e.g. now), U.S.-based co-op's 3.5km; visit https://example.com/a?b=1!",
     ["Do", "n't", "stop", "(", "e.g.", "now", ")", ",", "U.S.-based", "co", "-", "op", "'s", "3.5", "km", ";",
      "visit", "https://example.com/a?b=1", "!"]),
    ('He said:"I\'m done." Then left...', ["He", "said:\"I'm", "done", ".", '"', "Then", "left", "..."]),
    ("Le café est fermé; l'école aussi.", ["Le", "café", "est", "fermé", ";", "l'école", "aussi", "."]),
    ("東京は日本の首都です。人口は多い。", ["東京は日本の首都です。人口は多い", "。"]),
    ("", []),
    (" \n\t ", []),
])
def test_words_match_spacy(text, words):
    assert VOCAB.words_of(text) == words


@pytest.mark.parametrize("line, sentences", [
    ("One. Two! Three? (Four.) five", 5), ("e.g. this is fine. Mr. Smith came.", 2),
    ("Hello.  World", 2), ("end.  )", 2), ("No end mark here", 1)])
def test_sentences_match_spacy_sentencizer(line, sentences):
    assert Features(line).count_sentences([line]) == sentences


# ---- empty text
def test_empty_text():
    assert run(GopherRepetition(), "") == ("gopher_rep:empty", {**dict.fromkeys(GopherRepetition().stat_types()),
                                                                 "failed": "empty"})
    reason, stats = run(GopherQuality(), "")
    assert reason == "gopher_quality:gopher_short_doc" and stats["words"] == 0 and stats["hash_ratio"] is None
    reason, stats = run(C4Quality(), "")
    assert reason == "c4:too_few_sentences" and (stats["lines"], stats["kept_lines"], stats["sentences"]) == (0, 0, 0)
    assert run(FineWebQuality(), "")[0] == "fineweb:empty"
    assert run(RefinedWebQuality(), "") == (None, {"uppercase_lines": 0, "numeric_lines": 0, "counter_lines": 0,
                                                   "short_lines": 0, "removed_word_ratio": None, "failed": None})


# ---- one giant line
def test_one_giant_line():
    text = " ".join([SENTENCE] * 40)  # 720 words on one 3199-character line
    reason, stats = run(GopherRepetition(), text)
    assert stats["dup_line_frac"] == 0.0 and stats["dup_para_frac"] == 0.0
    # every n-gram occurs 40 times; the first one seen wins the tie: "The quick", "The quick brown"
    assert stats["top_2_gram_char_frac"] == pytest.approx(9 * 40 / 3199)
    assert stats["top_3_gram_char_frac"] == pytest.approx(15 * 40 / 3199)
    assert reason == "gopher_rep:top_3_gram"
    assert stats["dup_10_gram_char_frac"] == pytest.approx(2453 / 3199)  # datatrove's find_all_duplicate
    reason, stats = run(FineWebQuality(), text)
    assert stats["line_punct_ratio"] == 1.0 and stats["short_line_ratio"] == 0.0 and stats["list_ratio"] == 0.0
    reason, stats = run(C4Quality(), text)
    assert reason is None and stats["sentences"] == 40 and stats["kept_lines"] == 1
    huge_word = "x" * 1001 + " and more words here."
    reason, stats = run(C4Quality(), huge_word)
    assert reason == "c4:too_few_sentences" and stats["kept_lines"] == 0  # a word over 1000 chars drops the line


# ---- all bullets
def test_all_bullets():
    text = "\n".join(f"- item {i}: {SENTENCE}" for i in range(10))
    reason, stats = run(GopherQuality(), text)
    assert stats["bullet_lines_ratio"] == 1.0 and reason == "gopher_quality:gopher_too_many_bullets"
    assert run(GopherQuality(max_bullet_lines_ratio=None), text)[0] is None
    reason, stats = run(GopherQuality(), "\n".join(f"• {SENTENCE}..." for i in range(10)))
    assert stats["bullet_lines_ratio"] == 1.0 and stats["ellipsis_lines_ratio"] == 1.0


# ---- repeated paragraphs
def test_repeated_paragraphs():
    para = "A paragraph about one thing, written at some length.\nIt has two lines of text, and both are long."
    text = "\n\n".join([para] * 3)
    reason, stats = run(GopherRepetition(), text)
    assert reason == "gopher_rep:dup_para_frac"
    assert stats["dup_para_frac"] == pytest.approx(2 / 3)
    assert stats["dup_para_char_frac"] == pytest.approx(2 * len(para) / len(text))
    assert stats["dup_line_frac"] == pytest.approx(4 / 6)
    reason, stats = run(FineWebQuality(), text)
    assert reason == "fineweb:char_dup_ratio"
    assert stats["char_dup_ratio"] == pytest.approx(2 * (len(para) - 1) / (len(text) - text.count("\n")))


# ---- non-Latin scripts and the language rules
def test_non_latin_scripts_are_not_all_dropped():
    japanese = "\n".join(["東京は日本の首都です。人口が多く、交通機関がとても便利な大都市です。"] * 1 + [
        "京都には古いお寺や神社がたくさんあり、毎年多くの観光客が訪れます。", "大阪は食べ物がおいしい町として知られています。"] * 3)
    reason, stats = run(GopherQuality(), japanese, language="ja")
    assert reason is None and stats["stop_words"] is None and stats["words"] < 50  # word rules skipped for ja
    # without a language (datatrove's assumption: English) the same text is too short
    assert run(GopherQuality(), japanese)[0] == "gopher_quality:gopher_short_doc"
    assert run(GopherRepetition(), japanese, language="ja")[0] == "gopher_rep:dup_line_frac"  # line rules still apply

    russian = " ".join(["Москва является столицей России и крупнейшим городом страны с богатой историей."] * 1 +
                       [f"Это предложение номер {i} рассказывает о городе и его жителях." for i in range(8)])
    reason, stats = run(GopherQuality(), russian, language="ru")
    assert reason is None and stats["stop_words"] is None and stats["words"] >= 50  # no Russian list: rule skipped
    assert run(GopherQuality(), russian, language="en")[0] == "gopher_quality:gopher_enough_stop_words"
    reason, stats = run(GopherQuality(stop_words={"ru": ["и", "о", "с"]}), russian, language="ru")
    assert reason is None and stats["stop_words"] == 3


# ---- each rule set on small cases
def test_gopher_quality_rules():
    reason, stats = run(GopherQuality(), prose())
    assert reason is None and stats["stop_words"] == 3 and stats["words"] == 6 * 25  # the, and, with
    assert run(GopherQuality(), "the and of " * 5)[0] == "gopher_quality:gopher_short_doc"
    assert run(GopherQuality(min_doc_words=5), "the and of to be " * 3)[0] == "gopher_quality:gopher_below_avg_threshold"
    reason, stats = run(GopherQuality(), prose() + "\n" + "#tag " * 30)
    assert reason == "gopher_quality:gopher_too_many_hashes" and stats["hash_ratio"] == pytest.approx(30 / (6 * 28 + 60))
    reason, stats = run(GopherQuality(), prose().replace("the ", "The "))
    assert stats["stop_words"] == 2  # case-sensitive, like Gopher and datatrove: "The" does not count


def test_c4_rules():
    text = prose() + "\nClick here\nEnable javascript to see this page.\nWe use cookies. See our privacy policy."
    reason, stats = run(C4Quality(), text)
    assert reason is None and stats["lines"] == 9 and stats["kept_lines"] == 6 and stats["sentences"] == 12
    assert run(C4Quality(), prose() + "\nLorem ipsum dolor sit amet.")[0] == "c4:lorem_ipsum"
    assert run(C4Quality(), prose() + "\nfunction f() { return 1; }.")[0] == "c4:curly_bracket"
    assert run(C4Quality(), prose(2))[0] == "c4:too_few_sentences"
    assert run(C4Quality(min_num_sentences=4), prose(2))[0] is None
    doc = Document(text=text, id="t")
    assert C4Quality(remove_lines=True).process(doc) is None and doc.text == prose()


def test_fineweb_rules():
    reason, stats = run(FineWebQuality(), prose())
    assert reason is None and stats["line_punct_ratio"] == 1.0 and stats["list_ratio"] == pytest.approx(5 / (6 * 28))
    assert run(FineWebQuality(), "\n".join(f"menu entry {i}" for i in range(20)))[0] == "fineweb:line_punct_ratio"
    short = "\n".join(f"Item {i}." for i in range(20))
    assert run(FineWebQuality(), short)[0] == "fineweb:short_line_ratio"


def test_refinedweb_rules():
    text = prose(10) + "\nSHOP NOW AND SAVE\n12345\n3 likes\nHome"
    reason, stats = run(RefinedWebQuality(), text)
    assert (stats["uppercase_lines"], stats["numeric_lines"], stats["counter_lines"], stats["short_lines"]) == (1, 1, 1, 1)
    assert stats["removed_word_ratio"] == pytest.approx(8 / 258) and reason is None  # 10 * 25 + 8 words
    reason, stats = run(RefinedWebQuality(), prose(2) + "\nSHOP NOW AND SAVE BIG\nSign-in to see your items in cart")
    assert reason == "refinedweb:removed_word_ratio" and stats["removed_word_ratio"] == pytest.approx(9 / 62)


# ---- block behaviour
def test_annotate_only_keeps_and_writes_columns():
    for block in heuristic_filters(annotate_only=True):
        doc = Document(text="", id="t")
        assert block.process(doc) is None
        assert set(block.columns) <= set(doc.metadata)
        assert doc.metadata[f"{block.name}_failed"] is not None or block.name == "refinedweb"


def test_columns_and_thresholds_are_per_block():
    rep = GopherRepetition(top_n_grams=[(2, 0.5)], dup_n_grams=[(5, 0.5)])
    assert set(rep.columns) == {"gopher_rep_dup_para_frac", "gopher_rep_dup_para_char_frac", "gopher_rep_dup_line_frac",
                                "gopher_rep_dup_line_char_frac", "gopher_rep_top_2_gram_char_frac",
                                "gopher_rep_dup_5_gram_char_frac", "gopher_rep_failed"}
    assert run(rep, " ".join([SENTENCE] * 40))[0] == "gopher_rep:duplicated_5_n_grams"


def test_features_computed_once_per_document(monkeypatch):
    calls = []
    original = Features.__init__
    monkeypatch.setattr(Features, "__init__", lambda self, *a: (calls.append(1), original(self, *a))[1])
    doc = Document(text=prose(), id="t")
    for block in heuristic_filters():
        block.process(doc)
    assert len(calls) == 1 and features_of(doc) is features_of(doc)
    doc.text = "changed"
    features_of(doc)
    assert len(calls) == 2


# ---- real documents
def test_real_documents(shared_data):
    lines = (shared_data / "web-text" / "c4-ccnet-redpajama-samples.jsonl").read_text().splitlines()
    doc = Document(text=json.loads(lines[0])["text"], id="0")
    for block in heuristic_filters():
        assert block.process(doc) is None
    m = doc.metadata
    assert (m["gopher_quality_words"], m["gopher_quality_stop_words"]) == (280, 5)
    assert m["gopher_quality_mean_word_length"] == pytest.approx(4.639285714285714)
    assert m["gopher_quality_alpha_words_ratio"] == pytest.approx(0.8404907975460123)
    assert m["gopher_rep_top_2_gram_char_frac"] == pytest.approx(0.014769230769230769)
    assert (m["c4_lines"], m["c4_kept_lines"], m["c4_sentences"]) == (16, 16, 19)
    assert (m["fineweb_line_punct_ratio"], m["fineweb_short_line_ratio"]) == (0.875, 0.0625)
    assert m["fineweb_list_ratio"] == pytest.approx(15 / 326)


# ---- the DataComp recipe
def test_datacomp_pipeline_runs_rules_after_language_id(lid_model, monkeypatch):
    from curate.filters import LanguageFilter
    from curate.io import WriteParquet
    from curate.run import plan
    from curate.step import RunContext

    monkeypatch.setenv("CURATE_LID_MODEL", lid_model)
    steps = [step for stage in plan(str(REPO / "pipelines" / "datacomp.py"), RunContext())[1] for step in stage.steps]
    kinds = [type(step).__name__ for step in steps]
    rules = ["GopherRepetition", "GopherQuality", "C4Quality", "FineWebQuality", "RefinedWebQuality"]
    assert kinds[kinds.index("LanguageFilter") + 1:kinds.index("WriteParquet")][:5] == rules
    docs = steps[0].run()
    for step in steps[1:kinds.index("DedupSignatures")]:  # dedup runs as later stages (tests/test_dedup.py)
        docs = step.run(docs)
    kept = list(docs)
    assert isinstance(steps[-1], WriteParquet) and isinstance(steps[2], LanguageFilter)
    assert len(kept) >= 5 and all(doc.metadata["language"] == "en" for doc in kept)  # the sample's English articles pass
    assert all(doc.metadata["gopher_quality_words"] >= 50 for doc in kept)


def test_fast_paths_equal_full_rules(shared_data):
    """split_chunk's shortcuts for common shapes ("word", "word,", "(word", "well-known") give what the full
    affix rules give, on every chunk of real documents and on tricky hand-made ones."""
    from curate.filters.heuristics.tokenizer import SPECIALS, _apply_special_cases, _split_affixes, split_chunk

    text = (shared_data / "web-text" / "dclm-quality-labelled-499.jsonl").read_text()
    chunks = {c for line in text.splitlines()[:150] for c in json.loads(line)["text"].split()}
    chunks |= {"A.", "AB.", "aB.", "Ab.", "x.", "ÉÉ.", "éé.", "ΣΣ.", "σσ.", "日本.", "e.", "p.", "Calif.", "St.", "dont.",
               "dont,", "cant!", "Mr.", "U.S.", "km.", "ok?", "I'm.", "yes;", "(dont", "dont)", "(Calif", "Calif)", '"Hello',
               "“Hi”", "+abc", "e-mail", "my-e-mail", "well-known", "state-of-the-art", "x--y", "-x", "x-", "US-based"}
    assert len(chunks) > 5000
    for chunk in chunks:
        if chunk not in SPECIALS:
            assert split_chunk(chunk) == _apply_special_cases(_split_affixes(chunk, SPECIALS)), chunk
