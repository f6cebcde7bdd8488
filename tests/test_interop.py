"""Round trips keep what they carry, and curate's blocks under datatrove's own executor either work
or refuse in one line."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.cli import main
from curate.errors import CurateError

REPO = Path(__file__).resolve().parent.parent
DATACOMP = str(REPO / "pipelines" / "datacomp.py")


def table(folder) -> pa.Table:
    files = sorted(glob.glob(f"{folder}/*.parquet"))
    assert files, f"no Parquet in {folder}"
    return pa.concat_tables([pq.read_table(f) for f in files])


def pipeline(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / f"{name}.py"
    path.write_text(body)
    return str(path)


@pytest.fixture(scope="module")
def curated(lid_model, tmp_path_factory):
    out = tmp_path_factory.mktemp("curated") / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CURATE_LID_MODEL", lid_model)
        assert main(["run", DATACOMP, "--output", str(out)]) == 0
    return out


def test_curate_output_read_back_and_written_keeps_every_column(curated, tmp_path):
    copy = pipeline(tmp_path, "copy", "from curate.io import ReadDocuments, WriteParquet\n"
                                      "def build(run):\n    return [ReadDocuments(), WriteParquet(run.output)]\n")
    assert main(["run", copy, "--input", str(curated), "--output", str(tmp_path / "again")]) == 0
    before, after = table(curated), table(tmp_path / "again")
    assert after.schema == before.schema  # every column, core and scores, with its type
    # the same values, but for the lineage: source_file is the file this run read
    assert before.drop(["source_file"]).to_pylist() == after.drop(["source_file"]).to_pylist()
    assert set(after.column("source_file").to_pylist()) == {str(curated / "000_00000.parquet")}


def test_datatrove_reader_then_curate_blocks_keep_the_score_columns(curated, tmp_path):
    body = ("from datatrove.pipeline.readers import ParquetReader\n"
            "from curate.filters import LanguageFilter\n"
            "from curate.io import WriteParquet\n"
            f"def build(run):\n    return [ParquetReader({str(curated)!r}), LanguageFilter(annotate_only=True),\n"
            "            WriteParquet(run.output)]\n")
    assert main(["run", pipeline(tmp_path, "dt", body), "--output", str(tmp_path / "out")]) == 0
    before, after = table(curated), table(tmp_path / "out")
    for field in before.schema:
        if before.column(field.name).null_count < before.num_rows:  # a column with values keeps its type
            assert after.schema.field(field.name).type == field.type, field.name
    assert set(before.schema.names) <= set(after.schema.names)
    key = lambda row: row["id"]  # noqa: E731
    for b, a in zip(sorted(before.to_pylist(), key=key), sorted(after.to_pylist(), key=key)):
        assert a["quality_score"] == b["quality_score"] and a["gopher_rep_dup_line_frac"] == b["gopher_rep_dup_line_frac"]
        # the columns rode along (datatrove's date and file_path only fill them where they are empty)
        assert (a["warc_date"], a["source_file"]) == (b["warc_date"], b["source_file"])


def test_datatrove_warc_reader_fills_warc_date_and_source_file(shared_data, tmp_path):
    body = ("from datatrove.pipeline.readers import WarcReader\n"
            "from curate.extract import ExtractText\n"
            "from curate.io import WriteParquet\n"
            f"def build(run):\n    return [WarcReader({str(shared_data / 'warc')!r}, glob_pattern='wget-crawl-0000.warc.gz'),\n"
            "            ExtractText(), WriteParquet(run.output)]\n")
    assert main(["run", pipeline(tmp_path, "warc", body), "--output", str(tmp_path / "out")]) == 0
    rows = table(tmp_path / "out").to_pylist()
    assert len(rows) >= 10
    assert all(r["warc_date"] and r["warc_date"].startswith("20") for r in rows)
    assert {r["source_file"] for r in rows} == {str(shared_data / "warc" / "wget-crawl-0000.warc.gz")}
    assert all(r["url"].startswith("http") for r in rows)


def test_jsonl_extra_fields_are_carried_with_types(tmp_path):
    from curate.io.columns import SAMPLE_LINES

    lines = [{"id": "a", "text": "first", "score": 0.5, "n": 3, "flag": True, "tags": ["x", "y"], "mixed": 1},
             {"id": "b", "text": "second", "score": 1, "n": 4, "flag": False, "tags": [], "mixed": "one",
              "nested": {"k": 1}}]
    lines += [{"id": f"f{i}", "text": "filler", "n": i} for i in range(SAMPLE_LINES)]
    lines += [{"id": "c", "text": "third", "n": "many"}]  # after the lines the types are learnt from
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(line) + "\n" for line in lines))
    copy = pipeline(tmp_path, "copy", "from curate.io import ReadDocuments, WriteParquet\n"
                                      "def build(run):\n    return [ReadDocuments(), WriteParquet(run.output)]\n")
    assert main(["run", copy, "--input", str(src), "--output", str(tmp_path / "out")]) == 0
    out = table(tmp_path / "out")
    types = {f.name: f.type for f in out.schema}
    assert (types["score"], types["n"], types["flag"], types["tags"], types["mixed"]) == (
        pa.float64(), pa.int64(), pa.bool_(), pa.list_(pa.string()), pa.string())
    rows = {r["id"]: r for r in out.to_pylist()}
    assert (rows["a"]["score"], rows["b"]["score"], rows["c"]["score"]) == (0.5, 1.0, None)
    assert (rows["a"]["n"], rows["c"]["n"]) == (3, None)  # "many" is not an integer: null, and counted
    assert (rows["a"]["mixed"], rows["b"]["mixed"]) == ("1", "one")
    assert rows["a"]["tags"] == ["x", "y"] and rows["b"]["nested"] == {"k": 1} and rows["c"]["nested"] is None
    funnel = json.loads((tmp_path / "out.curate" / "funnel.json").read_text())
    assert funnel["stages"][0]["other"]["bad_values"] == 1


# -- datatrove's own executor and writers ---------------------------------------------------


def _docs_with_duplicates(path: Path) -> str:
    import random

    rng = random.Random(0)
    vocabulary = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6)) for _ in range(500)]
    texts = [" ".join(rng.choice(vocabulary) for _ in range(40)) for _ in range(30)]
    rows = [{"id": f"d{i:02d}", "text": t} for i, t in enumerate(texts)]  # 30 distinct
    rows += [{"id": f"e{i:02d}", "text": t} for i, t in enumerate(texts)]  # and an exact copy of each
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def test_dedup_under_a_plain_datatrove_executor_refuses_in_one_line(tmp_path):
    from datatrove.executor import LocalPipelineExecutor

    from curate.dedup import dedup_steps
    from curate.io import ReadDocuments, WriteParquet

    steps = [ReadDocuments(_docs_with_duplicates(tmp_path / "in.jsonl")), *dedup_steps(str(tmp_path / "work")),
             WriteParquet(str(tmp_path / "out"))]
    with pytest.raises(CurateError, match=r"this pipeline has stages .* run it with `curate run`, or split it"):
        LocalPipelineExecutor(steps, tasks=1, logging_dir=str(tmp_path / "logs")).run()
    assert not glob.glob(str(tmp_path / "out" / "*.parquet"))  # nothing half-done where readers look


def test_dedup_stages_chained_with_depends_as_datatrove_documents(tmp_path):
    from datatrove.executor import LocalPipelineExecutor

    from curate.dedup import dedup_steps
    from curate.io import ReadDocuments, WriteParquet
    from curate.run import split_stages

    steps = [ReadDocuments(_docs_with_duplicates(tmp_path / "in.jsonl")), *dedup_steps(str(tmp_path / "work")),
             WriteParquet(str(tmp_path / "out"))]
    executors = []
    for number, stage in enumerate(split_stages(steps)):
        executors.append(LocalPipelineExecutor(stage.steps, tasks=stage.tasks or 2, logging_dir=str(tmp_path / f"l{number}"),
                                               depends=executors[-1] if executors else None))
    executors[-1].run()
    out = table(tmp_path / "out")
    assert out.num_rows == 30 and sorted(out.column("id").to_pylist()) == [f"d{i:02d}" for i in range(30)]
    assert "dup_cluster_size" in out.schema.names and set(out.column("dup_cluster_size").to_pylist()) == {2}


def test_write_parquet_under_a_plain_executor_keeps_the_metadata(tmp_path):
    from datatrove.executor import LocalPipelineExecutor

    from curate.filters import GopherQuality
    from curate.io import ReadDocuments, WriteParquet

    LocalPipelineExecutor([ReadDocuments(_docs_with_duplicates(tmp_path / "in.jsonl")),
                           GopherQuality(annotate_only=True), WriteParquet(str(tmp_path / "out"))],
                          tasks=1, logging_dir=str(tmp_path / "logs")).run()
    out = table(tmp_path / "out")
    assert out.num_rows == 60
    assert out.schema.field("gopher_quality_words").type == pa.int64()
    assert out.schema.field("gopher_quality_failed").type == pa.string()
    assert set(out.column("gopher_quality_failed").to_pylist()) == {"gopher_short_doc"}
    assert "content_kind" not in out.schema.names


def test_no_internal_key_reaches_a_datatrove_writer(tmp_path):
    body = ("from datatrove.pipeline.writers import JsonlWriter\n"
            "from curate.dedup import dedup_steps\n"
            "from curate.io import ReadDocuments\n"
            "def build(run):\n"
            "    return [ReadDocuments(), *dedup_steps(exact=True, fuzzy=None), JsonlWriter(run.output, compression=None)]\n")
    src = _docs_with_duplicates(tmp_path / "in.jsonl")
    assert main(["run", pipeline(tmp_path, "dedup", body), "--input", src, "--output", str(tmp_path / "out")]) == 0
    rows = [json.loads(line) for f in sorted((tmp_path / "out").glob("*.jsonl")) for line in f.open()]
    assert len(rows) == 30
    assert not any(key.startswith("_") for row in rows for key in row["metadata"])
