"""The output folder is a dataset: every client people use reads exactly the documents from it,
the run's own files live beside it (OUTPUT.curate/), and the dedup staging is gone when the run
completes."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from curate.cli import main

REPO = Path(__file__).resolve().parent.parent
DATACOMP = str(REPO / "pipelines" / "datacomp.py")


@pytest.fixture(scope="module")
def output(shared_data, lid_model, tmp_path_factory):
    """datacomp.py on real pages and crawl files, 3 tasks (so several shards)."""
    out = tmp_path_factory.mktemp("dataset") / "out"
    inputs = [str(shared_data / "warc" / "wget-crawl-0000.warc.gz"), str(shared_data / "warc" / "wget-crawl-0001.warc.gz"),
              str(shared_data / "warc" / "archive-org-crawl-299.warc.gz")]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CURATE_LID_MODEL", lid_model)
        args = ["run", DATACOMP, "--output", str(out), "--tasks", "3", "--workers", "2"]
        assert main(args + [arg for i in inputs for arg in ("--input", i)]) == 0
    return out


def expected_ids(out: Path) -> list[str]:
    import pyarrow.parquet as pq

    ids = [i for f in sorted(glob.glob(str(out / "*.parquet"))) for i in pq.read_table(f).column("id").to_pylist()]
    assert len(ids) == len(set(ids)) >= 20
    return sorted(ids)


def test_only_documents_in_the_output_folder(output):
    assert {p.name for p in output.iterdir()} == {f"000_{rank:05d}.parquet" for rank in range(3)}
    run_dir = Path(str(output) + ".curate")
    assert (run_dir / "funnel.json").is_file() and (run_dir / "stage_1" / "completions").is_dir()
    assert not (run_dir / "staging").exists()  # dedup's staging: removed once the run completed
    assert not list(run_dir.rglob("*.parquet"))


def test_duckdb_reads_the_documents(output):
    import duckdb

    ids = expected_ids(output)
    for pattern in ("*.parquet", "**/*.parquet"):
        rows = duckdb.sql(f"SELECT id FROM '{output}/{pattern}' ORDER BY id").fetchall()
        assert [r[0] for r in rows] == ids, pattern


def test_pandas_pyarrow_and_polars_read_the_documents(output):
    import pandas as pd
    import polars as pl
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    ids = expected_ids(output)
    assert sorted(pd.read_parquet(output)["id"]) == ids
    assert sorted(ds.dataset(output).to_table().column("id").to_pylist()) == ids
    assert sorted(pq.read_table(output).column("id").to_pylist()) == ids
    assert sorted(pl.scan_parquet(sorted(glob.glob(f"{output}/*.parquet"))).collect()["id"].to_list()) == ids
    assert sorted(pl.scan_parquet(f"{output}/").collect()["id"].to_list()) == ids


def test_hf_datasets_reads_the_documents(output, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets

    loaded = datasets.load_dataset("parquet", data_dir=str(output), split="train",
                                   cache_dir=str(tmp_path / "hf-cache"))
    assert sorted(loaded["id"]) == expected_ids(output)


def test_datatrove_parquet_reader_reads_the_documents(output):
    from datatrove.pipeline.readers import ParquetReader

    docs = list(ParquetReader(str(output)).run())
    assert sorted(d.id for d in docs) == expected_ids(output)
    assert all(d.metadata["language"] == "en" and "quality_score" in d.metadata for d in docs)


def test_keep_staging_keeps_the_dedup_files_beside_the_output(shared_data, lid_model, tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_LID_MODEL", lid_model)
    out = tmp_path / "out"
    assert main(["run", DATACOMP, "--output", str(out), "--keep-staging"]) == 0
    staging = Path(str(out) + ".curate") / "staging" / "dedup"
    assert list((staging / "docs").glob("*.parquet")) and list((staging / "clusters").glob("*.parquet"))
    assert [p.name for p in out.iterdir()] == ["000_00000.parquet"]  # still only documents


def test_a_rerun_after_a_complete_run_gives_the_same_rows(output, tmp_path, lid_model, monkeypatch, shared_data):
    # the staging is gone, every task is complete: the rerun skips everything and keeps the rows
    import shutil

    monkeypatch.setenv("CURATE_LID_MODEL", lid_model)
    copy = tmp_path / "out"
    shutil.copytree(output, copy)
    shutil.copytree(str(output) + ".curate", str(copy) + ".curate")
    before = expected_ids(copy)
    inputs = [str(shared_data / "warc" / n) for n in ("wget-crawl-0000.warc.gz", "wget-crawl-0001.warc.gz",
                                                      "archive-org-crawl-299.warc.gz")]
    args = ["run", DATACOMP, "--output", str(copy), "--tasks", "3", "--workers", "2"]
    assert main(args + [arg for i in inputs for arg in ("--input", i)]) == 0
    assert expected_ids(copy) == before
    assert not os.path.exists(os.path.join(str(copy) + ".curate", "staging"))


def test_the_readme_reading_snippets_work_as_printed(output, tmp_path, monkeypatch):
    import re
    import shutil

    readme = (REPO / "README.md").read_text()
    section = readme.split("### Reading the output", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copytree(output, tmp_path / "out")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own snippet
    ids = expected_ids(output)
    assert sorted(scope["df"]["id"]) == ids and sorted(scope["table"].column("id").to_pylist()) == ids
    assert sorted(scope["lf"].collect()["id"].to_list()) == ids and sorted(scope["d"]["id"]) == ids
    assert sorted(doc.id for doc in scope["docs"]) == ids
