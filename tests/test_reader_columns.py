"""ReadDocuments(keep_columns=...): the other columns of Parquet inputs (an earlier run's scores)
reach the output with their types, the same schema in every shard, and clear errors for
conflicting types or a named column no input has."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.errors import InputError
from curate.io import ReadDocuments, WriteParquet
from curate.run import StagePlan, prepare
from curate.step import RunContext


def write(path, **columns):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


@pytest.fixture
def two_files(tmp_path):
    write(tmp_path / "in" / "a.parquet", id=["a0", "a1"], text=["first text", "second text"],
          quality_score=[0.25, 0.75], language=["en", "de"], warc_record_id=["<urn:a0>", "<urn:a1>"],
          source_file=["crawl-1.warc.gz", "crawl-1.warc.gz"])
    # the second file lacks language and adds a column of its own
    write(tmp_path / "in" / "b.parquet", id=["b0"], text=["third text"], quality_score=[0.5],
          dup_cluster_size=pa.array([3], pa.int64()))
    return tmp_path / "in"


def test_kept_columns_reach_the_output_with_their_types(two_files, tmp_path):
    reader = ReadDocuments([str(two_files)], keep_columns=True)
    assert reader.resolve_columns() == {"quality_score": pa.float64(), "language": pa.string(),
                                        "warc_record_id": pa.string(), "dup_cluster_size": pa.int64()}
    writer = WriteParquet(str(tmp_path / "out"))
    prepare([StagePlan([reader, writer])], RunContext(inputs=[str(two_files)], output=str(tmp_path / "out")), "p")
    for rank in (0, 1):  # two tasks: one file each
        for doc in reader.run(rank=rank, world_size=2):
            writer.write(doc, rank=rank)
    writer.close()
    shards = sorted((tmp_path / "out").glob("*.parquet"))
    assert len(shards) == 2
    assert len({pq.read_schema(p) for p in shards}) == 1  # one schema whichever file a task read
    rows = {r["id"]: r for p in shards for r in pq.read_table(p).to_pylist()}
    assert rows["a1"]["quality_score"] == 0.75 and rows["a1"]["language"] == "de"
    assert rows["a0"]["warc_record_id"] == "<urn:a0>"
    assert rows["b0"]["language"] is None and rows["b0"]["dup_cluster_size"] == 3
    assert rows["a0"]["dup_cluster_size"] is None
    # the reader's own lineage wins: the file this run read, not the earlier run's source
    assert rows["a0"]["source_file"].endswith("a.parquet")


def test_named_columns_only(two_files):
    reader = ReadDocuments([str(two_files)], keep_columns=["quality_score"])
    assert reader.resolve_columns() == {"quality_score": pa.float64()}
    docs = list(reader.run())
    assert [d.metadata["quality_score"] for d in docs] == [0.25, 0.75, 0.5]
    assert "language" not in docs[0].metadata


def test_default_keeps_every_column_and_false_the_core_ones_only(two_files):
    reader = ReadDocuments([str(two_files)])
    assert reader.resolve_columns() == {"quality_score": pa.float64(), "language": pa.string(),
                                        "warc_record_id": pa.string(), "dup_cluster_size": pa.int64()}
    assert next(iter(reader.run())).metadata["quality_score"] == 0.25
    reader = ReadDocuments([str(two_files)], keep_columns=False)
    assert reader.resolve_columns() == {}
    assert "quality_score" not in next(iter(reader.run())).metadata


def test_conflicting_types_and_missing_names_are_clear_errors(two_files):
    write(two_files / "c.parquet", id=["c0"], text=["fourth"], quality_score=["high"])
    with pytest.raises(InputError, match=r"c\.parquet: column 'quality_score' is string here but double"):
        ReadDocuments([str(two_files)], keep_columns=True).resolve_columns()
    with pytest.raises(InputError, match="no Parquet or JSONL input has column.s. nope"):
        ReadDocuments([str(two_files / "a.parquet")], keep_columns=["nope"]).resolve_columns()


def test_an_output_folder_as_input_reads_its_data_not_its_bookkeeping(tmp_path):
    # a curate output folder holds dedup staging Parquet (with a text column), logs and caches
    from curate.io import expand_inputs

    out = tmp_path / "out"
    write(out / "00000.parquet", id=["a"], text=["kept document"])
    write(out / "_dedup" / "docs" / "00000_00000.parquet", id=["a", "b"], text=["kept document", "a duplicate"])
    (out / "_logs" / "errors").mkdir(parents=True)
    (out / "_logs" / "errors" / "00000.jsonl").write_text('{"text": "not a document"}\n')
    write(out / ".checkpoints" / "old.parquet", id=["c"], text=["stale"])
    write(out / "more" / "00001.parquet", id=["d"], text=["another document"])
    assert expand_inputs([str(out)]) == [str(out / "00000.parquet"), str(out / "more" / "00001.parquet")]
    assert [d.id for d in ReadDocuments([str(out)]).run()] == ["a", "d"]
    # named explicitly, such a file is still read
    assert expand_inputs([str(out / "_dedup" / "docs" / "00000_00000.parquet")]) == [
        str(out / "_dedup" / "docs" / "00000_00000.parquet")]
