"""MixSynthetic: the real:synthetic ratio, exact or by hash, on both forms Rephrase writes."""

from __future__ import annotations

import pytest
from datatrove.data import Document

from curate.errors import CurateError
from curate.rephrase.mix import MixSynthetic, parse_ratio


def column_form(n: int, failed=()) -> list[Document]:
    return [Document(text=f"real {i}", id=f"d{i}", metadata={
        "rephrased_text": None if i in failed else f"synthetic {i}",
        "rephrase_status": "failed:timeout" if i in failed else "ok", "rephrase_style": "wikipedia"})
        for i in range(n)]


def documents_form(n: int, failed=()) -> list[Document]:
    out = []
    for i in range(n):
        out.append(Document(text=f"real {i}", id=f"d{i}", metadata={
            "synthetic": False, "source_id": None, "rephrase_status": "refusal" if i in failed else "ok"}))
        if i not in failed:
            out.append(Document(text=f"synthetic {i}", id=f"d{i}/rephrase/wikipedia",
                                metadata={"synthetic": True, "source_id": f"d{i}", "rephrase_status": "ok"}))
    return out


def mix(docs, **kw) -> list[Document]:
    return list(MixSynthetic(**kw).run(docs))


def split(out):
    real = [d for d in out if not d.metadata["synthetic"]]
    synthetic = [d for d in out if d.metadata["synthetic"]]
    return real, synthetic


@pytest.mark.parametrize("form", [column_form, documents_form])
@pytest.mark.parametrize("ratio,expected", [("1:1", (100, 100)), ("2:1", (100, 50)), ("1:2", (50, 100)),
                                            ("3:1", (100, 33)), ("1:0", (100, 0)), ("0:1", (0, 100))])
def test_exact_ratio(form, ratio, expected):
    out = mix(form(100), ratio=ratio)
    real, synthetic = split(out)
    assert (len(real), len(synthetic)) == expected
    assert all(d.text.startswith("real") and d.metadata["source_id"] is None for d in real)
    assert all(d.text.startswith("synthetic") and d.metadata["source_id"] == d.id.split("/")[0] for d in synthetic)
    assert all(d.metadata.get("rephrased_text") is None for d in out)  # rewrites are documents, not columns
    assert [d.id for d in out] == [d.id for d in mix(form(100), ratio=ratio)]  # deterministic


@pytest.mark.parametrize("form", [column_form, documents_form])
def test_exact_ratio_with_missing_rewrites_catches_up(form):
    failed = set(range(0, 40, 2))  # 20 of the first 40 rewrites are missing; 80 ok in all
    real, synthetic = split(mix(form(100, failed), ratio="2:1"))
    assert (len(real), len(synthetic)) == (100, 50)  # later rewrites make up for the missing ones
    real, synthetic = split(mix(form(100, failed), ratio="1:1"))
    assert (len(real), len(synthetic)) == (100, 80)  # not enough rewrites: all 80 are used


def test_same_pairs_from_either_form():
    for ratio in ("1:1", "2:1", "1:3"):
        a = [(d.id, d.text) for d in mix(column_form(60, {5, 6}), ratio=ratio)]
        b = [(d.id, d.text) for d in mix(documents_form(60, {5, 6}), ratio=ratio)]
        assert a == b


def test_hash_method_is_order_and_shard_independent():
    docs = column_form(4000)
    out = mix(docs, ratio="3:1", method="hash", seed=7)
    kept = {d.id for d in out}
    # another order, or the same documents split over two tasks, keeps the same documents
    assert {d.id for d in mix(list(reversed(column_form(4000))), ratio="3:1", method="hash", seed=7)} == kept
    halves = mix(column_form(4000)[::2], ratio="3:1", method="hash", seed=7) + \
        mix(column_form(4000)[1::2], ratio="3:1", method="hash", seed=7)
    assert {d.id for d in halves} == kept
    real, synthetic = split(out)
    assert len(real) == 4000 and abs(len(synthetic) - 4000 / 3) < 4 * (4000 * 0.25 * 0.75) ** 0.5
    other_seed = {d.id for d in mix(column_form(4000), ratio="3:1", method="hash", seed=8)}
    assert other_seed != kept


def test_bad_ratio():
    assert parse_ratio("1:1") == (1, 1) and parse_ratio("0.5:1") == (1, 2) and parse_ratio((3, 1)) == (3, 1)
    for bad in ("1", "a:b", "0:0", "-1:2", "1:1:1"):
        with pytest.raises(CurateError, match="ratio"):
            MixSynthetic(ratio=bad)
    with pytest.raises(CurateError, match="method"):
        MixSynthetic(method="random")
