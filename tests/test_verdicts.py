"""Ablation verdicts (curate/train/verdicts.py, cloze.py): stage-by-stage and leave-one-out
effects that equal the differences of the reported means, no verdict between variants trained on
the same data, a cloze metric that real text beats random bytes on, data subsamples as replicates."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from curate.errors import CurateError
from curate.train.ablate import run_ablation
from curate.train.config import Ablation, Cloze, RandomBytes, Texts, load_ablation
from curate.train.data import TokenStream, document_counts, documents_of, subsample
from curate.train.flops import flops_per_step
from curate.train.model import preset
from curate.train.verdicts import format_table


@pytest.fixture(scope="module")
def summary(shared_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("verdicts")
    wiki = str(shared_data / "wikipedia" / "enwiki-2016-sample.jsonl")
    records = [json.loads(line) for line in open(wiki)]
    shortest = min(range(len(records)), key=lambda i: len(records[i]["text"]))
    all_but_one = tmp / "wiki-but-one.jsonl"
    all_but_one.write_text("".join(json.dumps(r) + "\n" for i, r in enumerate(records) if i != shortest))
    model = {"n_layer": 1, "n_head": 2, "d_model": 32, "context": 32, "batch_size": 8, "learning_rate": 0.01}
    ablation = Ablation(
        variants={"wiki": Texts([wiki]), "random": RandomBytes(n_bytes=300_000),
                  "wiki again": Texts([wiki]),  # the same documents: no verdict
                  "wiki but one": Texts([str(all_but_one)])},  # > 99% of the tokens: no verdict either
        baseline="wiki",
        eval_sets={"web": Texts([str(shared_data / "web-text" / "c4-ccnet-redpajama-samples.jsonl")])},
        cloze={"wikitext2": Cloze([str(shared_data / "wikipedia" / "wikitext2-valid.jsonl")], items=100,
                                 kind="final_word")},  # short endings: this model reads 32 bytes
        chain=["random", "wiki", "wiki again"], leave_one_out={"real text": "random"}, full="wiki",
        flops=60 * flops_per_step(replace(preset("cpu-tiny"), **model).with_vocab(257)), seeds=[0, 1], model=model,
        evals=3, eval_tokens=2048, average_last=2).check("test")
    return run_ablation(ablation, str(tmp / "out"), progress=False, cache=None)


def mean(summary, variant, eval_name):
    return summary["variants"][variant]["eval"][eval_name]["mean"]


def test_stage_and_leave_one_out_diffs_are_differences_of_the_reported_means(summary):
    stages = {s["stage"]: s for s in summary["stages"]}
    assert list(stages) == ["wiki", "wiki again"] and stages["wiki"]["vs"] == "random"
    for stage in stages.values():
        for eval_name, result in stage["eval"].items():
            expected = mean(summary, stage["stage"], eval_name) - mean(summary, stage["vs"], eval_name)
            assert result["diff"] == pytest.approx(expected, abs=2e-5)
    (left_out,) = summary["leave_one_out"]
    assert (left_out["stage"], left_out["full"], left_out["vs"]) == ("real text", "wiki", "random")
    assert left_out["eval"]["web"]["diff"] == pytest.approx(mean(summary, "wiki", "web") - mean(summary, "random", "web"),
                                                            abs=2e-5)
    assert stages["wiki"]["eval"]["web"]["verdict"] == "helps" and stages["wiki"]["eval"]["web"]["diff"] < -2
    assert stages["wiki"]["eval"]["wikitext2"]["metric"] == "cloze_prob"
    assert summary["average_last"] == 2


def test_variants_trained_on_the_same_data_get_no_verdict(summary):
    again, but_one = summary["variants"]["wiki again"], summary["variants"]["wiki but one"]
    assert again["vs_baseline"]["shared_tokens"] == 1.0
    assert {e["verdict"] for e in again["vs_baseline"]["eval"].values()} == {"same data"}
    assert 0.99 < but_one["vs_baseline"]["shared_tokens"] < 1.0
    assert {e["verdict"] for e in but_one["vs_baseline"]["eval"].values()} == {"near-identical data"}
    assert but_one["data"]["documents"] == summary["variants"]["wiki"]["data"]["documents"] - 1
    stage = summary["stages"][1]
    assert {e["verdict"] for e in stage["eval"].values()} == {"same data"}
    assert stage["removed"] == {"documents": 0, "tokens": 0, "documents_pct": 0.0, "tokens_pct": 0.0}
    assert summary["variants"]["random"]["vs_baseline"]["shared_tokens"] == 0.0
    table = format_table(summary)
    assert "Stage by stage" in table and "wiki again on top of wiki: web +0.0000 bpb (same data)" in table
    assert "Leave one out" in table and "real text (wiki vs random)" in table


def test_the_cloze_metric_is_better_for_real_text_than_for_random_bytes(shared_data, tmp_path):
    # cpu-tiny, 300 steps: where word order starts to show in this model (at 160 steps it is
    # still at chance, docs/train.md)
    ablation = Ablation(
        variants={"wiki": Texts([str(shared_data / "wikipedia" / "enwiki-2016-sample.jsonl")]),
                  "random": RandomBytes(n_bytes=300_000)}, baseline="wiki",
        eval_sets={"web": Texts([str(shared_data / "web-text" / "c4-ccnet-redpajama-samples.jsonl")])},
        cloze={"wikitext2": Cloze([str(shared_data / "wikipedia" / "wikitext2-valid.jsonl")], items=200)},
        flops=300 * flops_per_step(preset("cpu-tiny").with_vocab(257)), seeds=[0, 1], preset="cpu-tiny",
        evals=4, eval_tokens=1024, average_last=2).check("test")
    summary = run_ablation(ablation, str(tmp_path / "out"), progress=False, cache=None)
    real, random = (summary["variants"][v]["eval"]["wikitext2"] for v in ("wiki", "random"))
    assert real["metric"] == random["metric"] == "cloze_prob"
    assert random["mean"] == pytest.approx(0.25, abs=0.01)  # 4 choices: a model of random bytes cannot choose
    assert real["mean"] > random["mean"] + 0.01
    assert random["verdict"] == "hurts" and set(real["final"]) == {"0", "1"}
    assert 0 <= real["accuracy"] <= 1


def test_data_subsamples_are_disjoint_halves_or_bootstrap_draws():
    eod = 256
    docs = [np.append(np.full(i + 1, i % 200, np.uint16), np.uint16(eod)) for i in range(101)]
    stream = TokenStream("s", np.concatenate(docs), None, len(docs), byte_count=100)
    halves = [documents_of(subsample(stream, eod, "halves", n), eod) for n in range(4)]
    for first, second in (halves[:2], halves[2:]):
        seen = [tuple(d) for d in first] + [tuple(d) for d in second]
        assert sorted(seen) == sorted(tuple(d) for d in docs) and abs(len(first) - len(second)) <= 1
    assert [tuple(d) for d in halves[0]] != [tuple(d) for d in halves[2]]  # another seeded split
    drawn = subsample(stream, eod, "bootstrap", 3)
    assert drawn.documents == 101 and len(document_counts(drawn, eod)) < 101  # with replacement: repeats
    assert np.array_equal(drawn.tokens, subsample(stream, eod, "bootstrap", 3).tokens)


def test_subsamples_are_replicates_of_each_run(shared_data, tmp_path):
    wiki = str(shared_data / "wikipedia" / "enwiki-2016-sample.jsonl")
    model = {"n_layer": 1, "n_head": 2, "d_model": 32, "context": 32, "batch_size": 4}
    config = preset("cpu-tiny")
    ablation = Ablation(variants={"wiki": Texts([wiki]), "random": RandomBytes(n_bytes=100_000)}, baseline="wiki",
                        eval_sets={"wikitext2": Texts([str(shared_data / "wikipedia" / "wikitext2-valid.jsonl")])},
                        flops=10 * flops_per_step(replace(config, **model).with_vocab(257)), seeds=[0, 1],
                        model=model, evals=2, eval_tokens=256, subsamples=2, subsample="halves").check("test")
    summary = run_ablation(ablation, str(tmp_path / "out"), progress=False, cache=None)
    assert set(summary["variants"]["wiki"]["eval"]["wikitext2"]["final"]) == {"0/0", "0/1", "1/0", "1/1"}
    assert summary["subsamples"] == 2 and "2 halves data subsamples" in format_table(summary)


def test_bad_verdict_settings_are_one_line_errors(tmp_path):
    base = dict(variants={"a": Texts(["a"]), "b": Texts(["b"])}, baseline="a", eval_sets={"e": Texts(["e"])},
                flops=1e9)
    with pytest.raises(CurateError, match="chain names 'c', not a variant"):
        Ablation(**base, chain=["a", "c"]).check("x")
    with pytest.raises(CurateError, match="leave_one_out needs the full recipe"):
        Ablation(**base, leave_one_out={"s": "b"}).check("x")
    with pytest.raises(CurateError, match="average_last must be from 1 to evals"):
        Ablation(**base, evals=2, average_last=3).check("x")
    with pytest.raises(CurateError, match="at least 2 seeds"):
        Ablation(**base, seeds=[0]).check("x")
    Ablation(**base, seeds=[0], subsamples=2).check("x")  # one seed, two data subsamples: two replicates
    config = tmp_path / "a.toml"
    config.write_text('baseline = "a"\nflops = 1e9\nchain = ["a", "b"]\nleave_one_out = {s = "a"}\nfull = "b"\n'
                      'average_last = 2\n[variants.a]\npaths = ["a"]\n[variants.b]\npaths = ["b"]\n'
                      '[eval_sets.e]\npaths = ["e"]\n[cloze.w]\npaths = ["w.jsonl"]\nitems = 50\nkind = "final_word"\n')
    loaded = load_ablation(str(config))
    assert loaded.chain == ["a", "b"] and loaded.cloze["w"] == Cloze(["w.jsonl"], items=50, kind="final_word")
