"""Agreement with datatrove's GopherRepetitionFilter, GopherQualityFilter, C4QualityFilter and
FineWebQualityFilter on real text, and our statistics recomputed with datatrove's own helpers
and spaCy's words. Needs spaCy (the `test` extra) and the shared data."""

from __future__ import annotations

import json

import pytest
from datatrove.data import Document

from curate.filters.heuristics import heuristic_filters
from curate.filters.heuristics.tokenizer import VOCAB

spacy = pytest.importorskip("spacy")


@pytest.fixture(scope="module")
def real_texts(shared_data) -> list[str]:
    """Every third web-text document and 40 pages extracted from web/pages.warc.gz."""
    from curate.extract import ExtractText
    from curate.io import ReadDocuments

    texts = []
    for path in sorted((shared_data / "web-text").glob("*.jsonl")):
        texts += [json.loads(line)["text"] for line in path.read_text().splitlines()[::3]]
    pages = ExtractText().run(ReadDocuments([str(shared_data / "web" / "pages.warc.gz")], limit=40).run())
    return texts + [doc.text for doc in pages]


def test_words_equal_spacy_words(real_texts):
    from datatrove.utils.text import split_into_words

    differ = [i for i, text in enumerate(real_texts) if VOCAB.words_of(text) != split_into_words(text)]
    assert len(real_texts) > 200 and differ == []


def test_decisions_agree_with_datatrove(real_texts):
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter)

    theirs = {"gopher_rep": GopherRepetitionFilter(), "gopher_quality": GopherQualityFilter(),
              "c4": C4QualityFilter(), "fineweb": FineWebQualityFilter()}
    ours = {block.name: block for block in heuristic_filters(annotate_only=True)}
    same = dict.fromkeys(theirs, 0)
    for text in real_texts:
        doc = Document(text=text, id="x")
        for name, f in theirs.items():
            ours[name].process(doc)
            result = f.filter(Document(text=text, id="x"))
            same[name] += doc.metadata[f"{name}_failed"] == (None if result is True else result[1])
    for name, count in same.items():
        assert count / len(real_texts) >= 0.99, (name, count, len(real_texts))


def test_statistics_equal_datatrove_helpers(real_texts):
    """Our columns recomputed the way datatrove computes them, from spaCy's words."""
    from datatrove.pipeline.filters.gopher_repetition_filter import find_all_duplicate, find_top_duplicate, get_n_grams
    from datatrove.pipeline.filters import C4QualityFilter
    from datatrove.utils.text import PUNCTUATION_SET, split_into_sentences, split_into_words

    checked = c4_checked = 0
    for text in real_texts[:60]:
        words = split_into_words(text)
        if len(words) < 20:
            continue
        doc = Document(text=text, id="x")
        for block in heuristic_filters(annotate_only=True):
            block.process(doc)
        m = doc.metadata
        word_like = [w for w in words if any(c not in PUNCTUATION_SET for c in w)]
        assert m["gopher_quality_words"] == len(word_like)
        assert m["gopher_quality_mean_word_length"] == pytest.approx(sum(map(len, word_like)) / len(word_like))
        assert m["gopher_quality_alpha_words_ratio"] == pytest.approx(
            sum(any(c.isalpha() for c in w) for w in words) / len(words))
        assert m["gopher_quality_stop_words"] == len({"the", "be", "to", "of", "and", "that", "have", "with"} & set(words))
        for n in (2, 3, 4):
            assert m[f"gopher_rep_top_{n}_gram_char_frac"] == pytest.approx(
                find_top_duplicate(get_n_grams(words, n)) / len(text))
        for n in range(5, 11):
            assert m[f"gopher_rep_dup_{n}_gram_char_frac"] == pytest.approx(find_all_duplicate(words, n) / len(text))
        assert m["fineweb_list_ratio"] == pytest.approx(text.count("\n") / len(words))
        c4_doc = Document(text=text, id="x")
        if C4QualityFilter().filter(c4_doc) is True:  # datatrove keeps the kept lines in the text
            kept = c4_doc.text.split("\n")
            assert m["c4_kept_lines"] == len(kept)
            assert m["c4_sentences"] == sum(len(split_into_sentences(line)) for line in kept)
            c4_checked += 1
        checked += 1
    assert c4_checked >= 20
    assert checked >= 40


@pytest.mark.parametrize("text", [
    "", "word " * 3000, "x" * 5000 + " tail.", "Hello there friend.\r\nSecond line here.\r\n" * 50,
    "a\x00b \x00\ufdd0 c. Next one.\n" * 20, "... !!! ??? ---\n" * 30, "😀 🎉 ok. Fine.\n" * 40,
    "One.\tTwo three four. Five.\n" * 30, "- item one\n- item two\n• item three\n" * 30,
    "東京は日本の首都です。人口が多い。\n" * 30, "Москва — столица России. Это большой город.\n" * 30,
])
def test_edge_cases_agree_with_datatrove(text):
    from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
                                            GopherRepetitionFilter)

    theirs = {"gopher_rep": GopherRepetitionFilter(), "gopher_quality": GopherQualityFilter(),
              "c4": C4QualityFilter(), "fineweb": FineWebQualityFilter()}
    doc = Document(text=text, id="x")  # no language: English rules, as datatrove applies them
    for block in heuristic_filters(annotate_only=True)[:4]:
        block.process(doc)
        result = theirs[block.name].filter(Document(text=text, id="x"))
        assert doc.metadata[f"{block.name}_failed"] == (None if result is True else result[1]), block.name
