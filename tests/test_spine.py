"""The run spine: typed settings, the block contract, the quiet console, consistent blocks and
optional extras, through the real CLI where a user would meet them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pyarrow.parquet as pq
import pytest

from curate.cli import main
from curate.errors import CurateError
from curate.settings import convert, describe, make_settings, parse_pairs, setting

REPO = Path(__file__).resolve().parent.parent
DATACOMP = str(REPO / "pipelines" / "datacomp.py")


@pytest.fixture(autouse=True)
def lid_env(monkeypatch, lid_model):
    monkeypatch.setenv("CURATE_LID_MODEL", lid_model)


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


# -- typed settings ---------------------------------------------------------------------------------


@dataclass
class Example:
    name: str = setting("x", "a name")
    count: int = setting(3, "how many", min=1)
    ratio: float = setting(0.5, "a fraction", min=0, max=1)
    on: bool = setting(False, "a switch")
    langs: list[str] = setting(["en"], "languages")
    mode: Literal["fast", "slow"] = setting("fast", "a choice")
    model: str | None = setting(None, "a path")
    top: float | None = setting(None, "optional number", min=0, max=1)


def test_settings_convert_strings_by_type_and_check_typed_values():
    s = make_settings(Example, parse_pairs(["count=7", "ratio=0.25", "on=yes", "langs=en, de", "mode=slow",
                                            "model=/m.bin", "top=none"]), "p.py")
    assert (s.count, s.ratio, s.on, s.langs, s.mode, s.model, s.top) == (7, 0.25, True, ["en", "de"], "slow",
                                                                         "/m.bin", None)
    typed = make_settings(Example, {"count": 2, "ratio": 1, "on": False, "langs": ["fr"], "top": 0.1}, "p.py")
    assert (typed.count, typed.ratio, typed.langs, typed.top) == (2, 1.0, ["fr"], 0.1)
    assert isinstance(typed.ratio, float)
    assert make_settings(Example, {}, "p.py") == Example()
    assert Example().langs is not Example().langs  # a list default is not shared


@pytest.mark.parametrize("key, value, message", [
    ("count", "many", "--set count=many: expected an integer"),
    ("count", "0", "--set count=0: must be at least 1"),
    ("ratio", "nan", "--set ratio=nan: expected a finite number"),
    ("ratio", "1.5", "--set ratio=1.5: must be between 0 and 1"),
    ("on", "maybe", "--set on=maybe: expected true or false"),
    ("mode", "medium", "--set mode=medium: expected one of fast, slow"),
    ("count", 2.5, "setting count=2.5: expected an integer"),
    ("on", 1, "setting on=1: expected true or false"),
    ("name", 3, "setting name=3: expected a string"),
])
def test_bad_setting_values_are_one_line_errors(key, value, message):
    with pytest.raises(CurateError) as raised:
        make_settings(Example, {key: value}, "p.py")
    assert str(raised.value) == message


def test_unknown_setting_lists_the_known_ones():
    with pytest.raises(CurateError, match=r"p.py: unknown setting nme \(settings: name, count, ratio, on, langs, "
                                          r"mode, model, top\)"):
        make_settings(Example, {"nme": "y"}, "p.py")
    assert [row["name"] for row in describe(Example)] == ["name", "count", "ratio", "on", "langs", "mode", "model",
                                                          "top"]
    assert convert("x", int | None, "12") == 12
    with pytest.raises(CurateError, match="expected KEY=VALUE"):
        parse_pairs(["novalue"])


def test_a_typo_in_set_fails_with_the_list_of_keys(tmp_path):
    result = cli("run", DATACOMP, "--output", str(tmp_path / "out"), "--set", "quality_treshold=0.3")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"curate: error: {DATACOMP}: unknown setting quality_treshold (settings: extractor, languages, "
        "language_threshold, dedup_threshold, annotate_only, quality_model, quality_threshold, quality_top)"]
    assert not (tmp_path / "out").exists()  # nothing ran


def test_bad_values_fail_before_anything_runs(tmp_path):
    for pair, message in [("quality_threshold=nan", "expected a finite number"),
                          ("language_threshold=2", "must be between 0 and 1"),
                          ("extractor=lynx", "expected one of blocks, trafilatura, resiliparse")]:
        result = cli("run", DATACOMP, "--output", str(tmp_path / "out"), "--set", pair)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, pair
    assert not (tmp_path / "out").exists()


def test_list_settings_prints_names_defaults_and_help():
    result = cli("run", DATACOMP, "--list-settings")
    assert result.returncode == 0
    assert "  language_threshold = 0.65  (float)" in result.stdout
    assert "  extractor = 'blocks'  (blocks|trafilatura|resiliparse)" in result.stdout
    assert "quality_top = None  (float or none)" in result.stdout and "DCLM" in result.stdout


def test_settings_reach_the_blocks(tmp_path):
    from curate.quality import QualityClassifier
    from curate.run import plan
    from curate.step import RunContext

    _, stages = plan(DATACOMP, RunContext(), {"quality_top": 0.25, "languages": "en,de", "annotate_only": "true"})
    steps = [step for stage in stages for step in stage.steps]
    quality = next(step for step in steps if isinstance(step, QualityClassifier))
    assert (quality.top_fraction, quality.threshold, quality.annotate_only) == (0.25, None, True)
    language = next(step for step in steps if step.name == "language")
    assert language.languages == {"en", "de"}


# -- the block contract -----------------------------------------------------------------------------

NO_LIMIT_PIPELINE = '''
from curate.io import ReadDocuments, WriteParquet


def build(run):
    return [ReadDocuments({inputs!r}), WriteParquet(run.output)]
'''


def _jsonl(path: Path, n: int, prefix: str) -> Path:
    path.write_text("".join(json.dumps({"id": f"{prefix}{i}", "text": f"document {prefix} {i}"}) + "\n"
                            for i in range(n)))
    return path


def test_limit_reaches_a_reader_the_recipe_built_without_it(tmp_path):
    files = [_jsonl(tmp_path / "a.jsonl", 10, "a"), _jsonl(tmp_path / "b.jsonl", 10, "b")]
    pipeline = tmp_path / "nolimit.py"
    pipeline.write_text(NO_LIMIT_PIPELINE.format(inputs=[str(f) for f in files]))
    assert main(["run", str(pipeline), "--output", str(tmp_path / "out"), "--limit", "3", "--tasks", "2"]) == 0
    ids = sorted(i for f in (tmp_path / "out").glob("*.parquet") for i in pq.read_table(f).column("id").to_pylist())
    assert ids == ["a0", "a1", "a2", "b0", "b1", "b2"]  # 3 per task: the reader's own default input
    assert main(["run", str(pipeline), "--output", str(tmp_path / "bad"), "--limit", "0"]) == 2


def test_input_replaces_the_recipe_default_and_is_listed_once_in_the_driver(tmp_path):
    from curate.io import ReadDocuments
    from curate.step import RunContext

    folder = tmp_path / "in"
    folder.mkdir()
    _jsonl(folder / "a.jsonl", 2, "a")
    reader = ReadDocuments("the-recipe-default.warc.gz")
    reader.prepare(RunContext(inputs=[str(folder)], output=str(tmp_path / "out")))
    assert reader.files == [str(folder / "a.jsonl")]
    _jsonl(folder / "b.jsonl", 2, "b")  # appears after the listing: not part of this run
    assert [d.id for d in reader.run(rank=0, world_size=1)] == ["a0", "a1"]
    with pytest.raises(CurateError, match="read: no input: give --input"):
        ReadDocuments().prepare(RunContext(output=str(tmp_path / "out")))


def test_two_rule_sets_of_one_kind_coexist_under_their_own_names(tmp_path):
    from curate.filters import GopherQuality
    from curate.run import StagePlan, prepare
    from curate.step import RunContext

    strict, loose = GopherQuality(name="gopher_strict", min_doc_words=400), GopherQuality()
    assert set(strict.columns).isdisjoint(loose.columns) and "gopher_strict_words" in strict.columns
    from datatrove.data import Document

    doc = Document(text=" ".join(["the river flows through the green valley and to the distant mountains"] * 10),
                   id="d")
    assert loose.process(doc) is None and strict.process(doc) == "gopher_strict:gopher_short_doc"
    assert doc.metadata["gopher_strict_words"] == doc.metadata["gopher_quality_words"] == 120
    with pytest.raises(CurateError, match="more than one step is named gopher_quality: give each its own name"):
        prepare([StagePlan([GopherQuality(), GopherQuality(min_doc_words=10)])], RunContext(), "p.py")
    with pytest.raises(CurateError, match="name must be letters, digits and _"):
        GopherQuality(name="gopher strict")


def test_a_failing_task_is_one_line_naming_the_task_and_its_log(tmp_path):
    pipeline = tmp_path / "boom.py"
    pipeline.write_text(
        "from datatrove.pipeline.base import PipelineStep\n"
        "class Boom(PipelineStep):\n"
        "    name = 'boom'\n"
        "    def run(self, data, rank=0, world_size=1):\n"
        "        raise ZeroDivisionError('a bug in the block')\n"
        "        yield\n"
        "def build(run):\n"
        "    return [Boom()]\n")
    result = cli("run", str(pipeline), "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    log = tmp_path / "out.curate" / "stage_1" / "logs" / "task_00000.log"
    assert result.stderr.strip().splitlines() == [
        f"curate: error: task 0 failed (ZeroDivisionError: a bug in the block); traceback in {log}"]
    assert "Traceback" in log.read_text() and "a bug in the block" in log.read_text()


# -- the console ------------------------------------------------------------------------------------


def test_the_embedded_sample_run_prints_the_funnel_and_little_else(tmp_path):
    result = cli("run", DATACOMP, "--output", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) < 40, "\n".join(lines)
    stages = [line.split()[0] for line in result.stdout.splitlines()[2:] if line and not line.startswith(" ")]
    # the stages a user wrote: dedup as its two filters, not its hashing, staging and clustering
    assert stages[:-1] == ["read", "extract", "language", "gopher_rep", "gopher_quality", "c4", "fineweb",
                           "refinedweb", "dedup_exact", "dedup_fuzzy", "quality", "write"]
    assert not any(word in result.stdout + result.stderr for word in ("Stats:", "INFO", "Launching", "SUCCESS"))
    verbose = cli("run", DATACOMP, "--output", str(tmp_path / "out-v"), "-v")
    assert verbose.returncode == 0 and "Stats:" in verbose.stderr  # -v brings datatrove's task stats back
    task_log = (tmp_path / "out.curate" / "stage_1" / "logs" / "task_00000.log").read_text()
    assert "Stats:" in task_log  # the task's log has everything


def test_progress_snapshots_count_the_documents_read(tmp_path):
    from curate.run import run
    from curate.step import RunContext

    files = [_jsonl(tmp_path / "a.jsonl", 30, "a"), _jsonl(tmp_path / "b.jsonl", 20, "b")]
    pipeline = tmp_path / "p.py"
    pipeline.write_text(NO_LIMIT_PIPELINE.format(inputs=[str(f) for f in files]))
    snapshots = []
    result = run(str(pipeline), RunContext(output=str(tmp_path / "out"), tasks=2, workers=2),
                 progress=snapshots.append)
    assert result.complete
    final = [s for s in snapshots if s.finished]
    assert len(final) == 1 and (final[0].documents, final[0].tasks_done, final[0].tasks) == (50, 2, 2)
    assert final[0].label == "read .. write" and (final[0].stage, final[0].stages) == (1, 1)


# -- blocks ---------------------------------------------------------------------------------------


def test_datatrove_jsonl_reader_then_extract_keeps_text_documents(shared_data):
    from datatrove.pipeline.readers import JsonlReader, WarcReader

    from curate.extract import ExtractText

    texts = ExtractText().run(JsonlReader(str(shared_data / "web-text"),
                                          glob_pattern="c4-ccnet-redpajama-samples.jsonl").run())
    kept = list(texts)
    assert len(kept) == 80  # text, not HTML: passed through unchanged
    pages = list(ExtractText().run(WarcReader(str(shared_data / "warc"), glob_pattern="wget-crawl-0000.warc.gz").run()))
    assert pages and all("<html" not in d.text.lower() for d in pages)  # HTML: extracted


def test_block_constructors_raise_one_line_errors():
    from curate.dedup import DedupSignatures
    from curate.extract import ExtractText
    from curate.filters import LanguageFilter
    from curate.io import ReadDocuments
    from curate.quality import QualityClassifier
    from curate.step import Stage

    for make, message in [(lambda: ExtractText(extractor="lynx"), "unknown extractor 'lynx'"),
                          (lambda: LanguageFilter(threshold=2), "threshold must be a number in"),
                          (lambda: QualityClassifier(threshold="high"), "threshold must be a number in"),
                          (lambda: QualityClassifier(top_fraction=0), "top_fraction must be in"),
                          (lambda: ReadDocuments("x.jsonl", limit=0), "limit must be a positive integer"),
                          (lambda: DedupSignatures("w", exact=False, fuzzy=None), "nothing to do"),
                          (lambda: Stage(tasks=0), "tasks must be a positive integer")]:
        with pytest.raises(CurateError, match=message):
            make()


# -- packaging ------------------------------------------------------------------------------------


@pytest.mark.parametrize("module, feature, extra", [("torch", "ablate", "ablate"), ("openai", "rephrase", "rephrase")])
def test_a_feature_without_its_extra_is_a_one_line_error(tmp_path, module, feature, extra):
    # the extra's package made unimportable, as on a base install
    code = (f"import sys; sys.modules[{module!r}] = None\n"
            "from curate.cli import main\n"
            f"sys.exit(main(sys.argv[1:]))\n")
    if feature == "ablate":
        args = ["ablate", str(REPO / "pipelines" / "ablate.toml"), "--out", str(tmp_path / "out")]
    else:
        args = ["run", str(REPO / "pipelines" / "rephrase.py"), "--input", str(tmp_path), "--output",
                str(tmp_path / "out")]
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("curate: error:")
    assert f"pip install 'curate[{extra}]'" in result.stderr and "Traceback" not in result.stderr


def test_importing_curate_changes_no_environment():
    code = ("import os; before = dict(os.environ)\n"
            "import curate.cli, curate.train, curate.run, curate.rephrase, curate.dedup, curate.filters\n"
            "print(sorted(set(os.environ.items()) ^ set(before.items())))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_developer_generators_are_not_in_the_installed_package():
    package = REPO / "curate"
    assert not list(package.rglob("make_*.py")) and not (package / "dedup" / "planted.py").exists()
