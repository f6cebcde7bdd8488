"""`curate ablate` end to end on real text: outputs, verdicts, pipeline variants with a step left
out, configs in Python and TOML, and one-line errors for bad configs."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.cli import main
from curate.errors import CurateError
from curate.run import leave_out_steps
from curate.train.verdicts import NOISE_FLOOR, verdict
from curate.train.config import Ablation, Mix, Pipeline, RandomBytes, Texts, load_ablation

MODEL = {"n_layer": 1, "n_head": 2, "d_model": 32, "context": 32, "batch_size": 8, "learning_rate": 0.01}

PIPELINE = '''
from curate.filters import C4Quality
from curate.io import ReadDocuments, WriteParquet


def build(run):
    return [ReadDocuments(run.inputs), C4Quality(), WriteParquet(run.output)]
'''


def _config(tmp_path: Path, shared_data: Path, variants: str, baseline: str, extra: str = "") -> Path:
    (tmp_path / "c4only.py").write_text(PIPELINE)
    config = tmp_path / "ablation.py"
    config.write_text(textwrap.dedent(f"""
        from curate.train.config import Ablation, Mix, Pipeline, RandomBytes, Texts

        DATA = {str(shared_data)!r}
        WEB = [DATA + "/web-text/dclm-quality-labelled-499.jsonl"]
        WIKI = Texts([DATA + "/wikipedia/enwiki-2016-sample.jsonl"])

        from dataclasses import dataclass
        from curate.settings import setting

        @dataclass
        class Settings:
            steps: int = setting(60, "training steps")

        def build(settings):
            return Ablation(
                variants={variants},
                baseline={baseline!r},
                eval_sets={{"wikitext2": Texts([DATA + "/wikipedia/wikitext2-valid.jsonl"]),
                            "web": Texts([DATA + "/web-text/c4-ccnet-redpajama-samples.jsonl"])}},
                flops=float(settings.steps) * {_step_flops()},
                seeds=[0, 1], model={MODEL!r}, evals=3, eval_tokens=2048, {extra}
            )
        """))
    return config


def _step_flops() -> int:
    from curate.train.flops import flops_per_step
    from curate.train.model import ModelConfig

    return flops_per_step(ModelConfig(**MODEL, vocab_size=257))


@pytest.fixture(scope="module")
def ablation_run(shared_data, tmp_path_factory):
    """One small ablation through the CLI: Wikipedia text (baseline), random bytes, a 1:1 mix,
    and web text through a pipeline without its C4 filter, then that output through the C4 filter."""
    tmp = tmp_path_factory.mktemp("ablate")
    variants = ('{"wiki": WIKI, "random": RandomBytes(n_bytes=200_000), '
                '"mix": Mix([(WIKI, 1), (RandomBytes(n_bytes=50_000), 1)]), '
                '"web no c4": Pipeline(str(__import__("pathlib").Path(__file__).parent / "c4only.py"), WEB, '
                'leave_out=["C4Quality"]), '
                # filters what the variant before it wrote
                '"web c4": Pipeline(str(__import__("pathlib").Path(__file__).parent / "c4only.py"), '
                '["variant:web no c4"])}')
    config = _config(tmp, shared_data, variants, "wiki")
    out = tmp / "out"
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["ablate", str(config), "--out", str(out)])
    return code, out, stdout.getvalue()


def test_results_parquet_schema_and_values(ablation_run):
    code, out, _ = ablation_run
    assert code == 0
    table = pq.read_table(out / "results.parquet")
    assert table.column_names == ["variant", "seed", "subsample", "step", "flops", "tokens", "epochs", "train_loss",
                                  "eval_set", "metric", "value", "eval_bpb"]
    rows = table.to_pylist()
    assert len(rows) == 5 * 2 * 3 * 2  # variants x seeds x evaluations x eval sets
    assert {r["variant"] for r in rows} == {"wiki", "random", "mix", "web c4", "web no c4"}
    assert {r["step"] for r in rows} == {20, 40, 60}
    step_flops = _step_flops()
    for r in rows:
        assert r["flops"] == r["step"] * step_flops and r["tokens"] == r["step"] * 8 * 32
        assert 0 < r["eval_bpb"] < 9 and r["train_loss"] > 0 and r["epochs"] > 0
        assert r["metric"] == "bpb" and r["value"] == r["eval_bpb"] and r["subsample"] == 0
    random_final = [r for r in rows if r["variant"] == "random" and r["step"] == 60]
    # 60 steps x 256 tokens from 200,000 random bytes (+ one end-of-document token per 2,000)
    assert random_final[0]["epochs"] == pytest.approx(60 * 256 / 200_100, rel=1e-6)


def test_summary_verdicts_and_data(ablation_run):
    _, out, printed = ablation_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["baseline"] == "wiki" and summary["seeds"] == [0, 1] and summary["steps"] == 60
    assert "helps" in summary["verdict_rule"] and "spread" in summary["verdict_rule"]
    wiki, random = summary["variants"]["wiki"], summary["variants"]["random"]
    assert "verdict" not in wiki["eval"]["wikitext2"]
    for eval_name in ("wikitext2", "web"):
        entry = random["eval"][eval_name]
        assert entry["verdict"] == "hurts"
        assert entry["diff_vs_baseline"] == pytest.approx(entry["mean"] - wiki["eval"][eval_name]["mean"], abs=1e-4)
        assert entry["mean"] > 7.0 and wiki["eval"][eval_name]["mean"] < entry["mean"] - 1.5
        assert set(entry["final"]) == {"0", "1"} and entry["metric"] == "bpb"
    mix = summary["variants"]["mix"]
    # the mix's small random half is drawn as often as the large Wikipedia half: it repeats most
    assert mix["data"]["sources"][1]["tokens"] == 50_025
    assert mix["epochs"] > summary["variants"]["wiki"]["epochs"]
    # the C4 filter removed documents that the run without it kept
    documents = {name: summary["variants"][name]["data"]["documents"] for name in ("web c4", "web no c4")}
    assert 0 < documents["web c4"] < documents["web no c4"]
    assert "(baseline)" in printed and "hurts" in printed
    assert json.loads(printed.strip().splitlines()[-1])["random"] == {"wikitext2": "hurts", "web": "hurts"}
    png = (out / "curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_pipeline_variant_outputs_are_kept(ablation_run):
    _, out, _ = ablation_run
    for name in ("web c4", "web no c4"):
        funnel = json.loads((out / "variants" / f"{name}.curate" / "funnel.json").read_text())
        stages = [row["stage"] for row in funnel["stages"]]
        assert ("c4" in stages) == (name == "web c4")


def test_verdict_rule():
    assert verdict(-0.05, 0.01) == "helps"
    assert verdict(0.05, 0.01) == "hurts"
    assert verdict(-0.015, 0.01) == "within noise"
    assert verdict(-0.003, 0.0) == "within noise"  # the noise floor
    assert verdict(-3 * NOISE_FLOOR, 0.0) == "helps"


def test_toml_config_matches_python(tmp_path, monkeypatch):
    monkeypatch.setenv("SOME_DATA", "/data")
    toml = tmp_path / "a.toml"
    toml.write_text(textwrap.dedent("""
        baseline = "raw"
        flops = 1e12
        seeds = [0, 1, 2]
        model = {n_layer = 1}
        [variants.raw]
        paths = "${SOME_DATA}/raw"
        [variants.mix]
        mix = [{paths = ["real"], weight = 1},
               {paths = ["synthetic"], column = "rephrased_text", where = {rephrase_status = "ok"}, weight = 1}]
        [variants.no_c4]
        pipeline = "pipelines/datacomp.py"
        inputs = ["pages.warc.gz"]
        leave_out = ["C4Quality"]
        [variants.control]
        random_bytes = 1000
        [eval_sets.wiki]
        paths = ["wiki.jsonl"]
        """))
    assert load_ablation(str(toml)) == Ablation(
        variants={"raw": Texts(["/data/raw"]),
                  "mix": Mix([(Texts(["real"]), 1.0),
                              (Texts(["synthetic"], "rephrased_text", {"rephrase_status": "ok"}), 1.0)]),
                  "no_c4": Pipeline("pipelines/datacomp.py", ["pages.warc.gz"], leave_out=["C4Quality"]),
                  "control": RandomBytes(n_bytes=1000)},
        baseline="raw", eval_sets={"wiki": Texts(["wiki.jsonl"])}, flops=1e12, seeds=[0, 1, 2],
        model={"n_layer": 1})


def test_example_config_loads(shared_data):
    repo = Path(__file__).resolve().parent.parent
    ablation = load_ablation(str(repo / "pipelines" / "ablate.py"), {"data": str(shared_data), "leave_one_out": "1"})
    assert list(ablation.variants)[:5] == ["raw", "+language", "+heuristics", "+dedup", "+classifier"]
    assert ablation.baseline == "raw" and len(ablation.seeds) >= 2
    assert ablation.variants["full -C4Quality"].leave_out == ["C4Quality"]
    for data in ablation.eval_sets.values():  # held-out text is not what the variants are made from
        assert all("pages.warc.gz" not in p for p in data.paths)


def test_leave_out_steps_by_class_or_name_and_unknown():
    class A:
        name = "a"

    class B:
        name = "b"

    a, b, b2 = A(), B(), B()
    assert leave_out_steps([a, b, b2], ["B"], "p") == [a]
    assert leave_out_steps([a, b], ["b"], "p") == [a]
    assert leave_out_steps([a, b], [], "p") == [a, b]
    with pytest.raises(CurateError, match="no step named C"):
        leave_out_steps([a, b], ["C"], "p")


@pytest.mark.parametrize("variants, baseline, extra, message", [
    ('{"wiki": WIKI}', "nope", "", "baseline 'nope' is not a variant"),
    ('{"wiki": Texts(["/no/such/file.jsonl"])}', "wiki", "", "/no/such/file.jsonl: no such file"),
    ('{"wiki": WIKI}', "wiki", "preset='huge',", "unknown model preset 'huge'"),
    ('{"wiki": WIKI, "x": Texts([DATA + "/wikipedia/enwiki-2016-sample.jsonl"], column="body")}', "wiki", "",
     "no record has a 'body' field"),
    ('{"wiki": Pipeline(str(__import__("pathlib").Path(__file__).parent / "c4only.py"), WEB, leave_out=["C5"])}',
     "wiki", "", "no step named C5"),
])
def test_bad_config_is_one_line_error(shared_data, tmp_path, capsys, variants, baseline, extra, message):
    config = _config(tmp_path, shared_data, variants, baseline, extra)
    assert main(["ablate", str(config), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("curate: error:") and message in err[-1], err
    assert not any("Traceback" in line for line in err)


def test_cli_argument_errors(shared_data, tmp_path, capsys):
    config = _config(tmp_path, shared_data, '{"wiki": WIKI}', "wiki")
    assert main(["ablate", str(config), "--out", str(tmp_path), "--seeds", "0"]) == 2
    assert "at least 2 seeds" in capsys.readouterr().err
    assert main(["ablate", str(tmp_path / "missing.py"), "--out", str(tmp_path)]) == 2
    assert "no such ablation config" in capsys.readouterr().err
    assert main(["ablate", str(config), "--out", str(tmp_path), "--flops", "10"]) == 2
    assert "less than one training step" in capsys.readouterr().err


def test_toml_example_loads(shared_data, monkeypatch):
    monkeypatch.setenv("CURATE_SHARED_DATA", str(shared_data))
    ablation = load_ablation(str(Path(__file__).resolve().parent.parent / "pipelines" / "ablate.toml"))
    assert ablation.baseline == "web" and ablation.seeds == [0, 1]
    assert isinstance(ablation.variants["web+wikipedia 1:1"], Mix)
    assert ablation.variants["random bytes"] == RandomBytes(n_bytes=2_000_000)
    for spec in [*ablation.eval_sets.values(), ablation.variants["web"]]:
        assert all(Path(p).is_file() for p in spec.paths)


def test_toml_unset_variable_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    toml = tmp_path / "a.toml"
    toml.write_text('baseline = "a"\nflops = 1e12\n[variants.a]\npaths = ["${NOT_SET_ANYWHERE}/x"]\n'
                    '[eval_sets.e]\npaths = ["e.jsonl"]\n')
    assert main(["ablate", str(toml), "--out", str(tmp_path / "out")]) == 2
    assert "${NOT_SET_ANYWHERE}/x: set the environment variable it names" in capsys.readouterr().err


def test_texts_where_keeps_only_matching_rows(tmp_path):
    # a rephrase output: flagged rewrites (echo, refusal, cut off) must not be trained on
    import json as json_module
    from collections import Counter

    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.train.data import read_texts

    statuses = ["ok", "echo", "ok", "refusal", "truncated", "ok"]
    rewrites = [f"rewrite {i}" for i in range(6)]
    pq.write_table(pa.table({"text": [f"source {i}" for i in range(6)], "rephrased_text": rewrites,
                             "rephrase_status": statuses}), tmp_path / "out.parquet")
    (tmp_path / "out.jsonl").write_text("".join(json_module.dumps({"rephrased_text": r, "rephrase_status": s}) + "\n"
                                                for r, s in zip(rewrites, statuses)))
    for name in ("out.parquet", "out.jsonl"):
        skipped = Counter()
        texts = read_texts([str(tmp_path / name)], "rephrased_text", skipped, where={"rephrase_status": "ok"})
        assert texts == ["rewrite 0", "rewrite 2", "rewrite 5"], name
        assert skipped["not_where"] == 3
    assert len(read_texts([str(tmp_path / "out.parquet")], "rephrased_text")) == 6  # no where: all
    with pytest.raises(CurateError, match="no column 'status'"):
        read_texts([str(tmp_path / "out.parquet")], "rephrased_text", where={"status": "ok"})


DEDUP_PIPELINE = '''
import os
from curate.dedup import dedup_steps
from curate.io import ReadDocuments, WriteParquet


def build(run):
    return [ReadDocuments(run.inputs), *dedup_steps(exact=True, fuzzy=None),
            WriteParquet(run.output)]
'''


def test_pipeline_variant_in_a_mix_runs_in_a_folder_with_glob_characters(tmp_path):
    # a Mix's parts are named "VARIANT[i]": that folder name must not be read as a glob pattern by
    # the funnel, the dedup stages or a later "variant:" input
    from curate.train.ablate import run_pipeline_variant
    from curate.train.config import Pipeline

    (tmp_path / "dedup.py").write_text(DEDUP_PIPELINE)
    words = ["harbour", "mountain", "library", "orchard", "railway", "glacier"]
    texts = [f"the {w} was described at length in the survey" for w in words] + [
        "the harbour was described at length in the survey"]
    (tmp_path / "docs.jsonl").write_text("".join(json.dumps({"id": f"d{i}", "text": t}) + "\n" for i, t in enumerate(texts)))
    out = str(tmp_path / "out")
    first = run_pipeline_variant("+mix[0]", Pipeline(str(tmp_path / "dedup.py"), [str(tmp_path / "docs.jsonl")]), out)
    assert first.endswith("+mix[0]")

    def ids(folder: str) -> list[str]:
        return sorted(i for p in Path(folder).glob("*.parquet") for i in pq.read_table(p).column("id").to_pylist())

    assert ids(first) == [f"d{i}" for i in range(6)]  # the exact duplicate removed, by the second stage
    again = run_pipeline_variant("+mix[1]", Pipeline(str(tmp_path / "dedup.py"), ["variant:+mix[0]"]), out)
    assert ids(again) == [f"d{i}" for i in range(6)]
