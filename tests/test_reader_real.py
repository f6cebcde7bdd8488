"""ReadDocuments on every real crawl file of the shared data, and on JSONL / Parquet inputs made
in the test. The expected numbers were established by inspecting the files (warcio where it
can read them, zcat + grep where it cannot) and are asserted exactly."""

from __future__ import annotations

import collections
import gzip
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from curate.errors import InputError
from curate.io import payload
from curate.io.archive import ArchiveParser
from curate.io.inputs import decompressed, expand_inputs
from curate.io.reader import ReadDocuments

R = "record_type:"
# file -> (records in, documents by content_kind, skipped by reason, other counters, file errors)
EXPECTED = {
    "warc/archive-org-crawl-299.warc.gz": (822, {"html": 94}, {
        "empty": 1, "http_status:301": 2, "http_status:302": 5, "http_status:404": 40,
        "no_http_response": 38,  # dns: records
        "not_html:application/x-javascript": 8, "not_html:application/x-shockwave-flash": 8,
        "not_html:image/gif": 29, "not_html:image/jpeg": 18, "not_html:image/png": 8, "not_html:text/css": 4,
        "not_html:text/plain": 35, "not_html:text/xml": 9,
        R + "metadata": 261, R + "request": 261, R + "warcinfo": 1}, {}, []),
    # whole-file gzip; Content-Length counted before a rewrite of the block (3 records run on);
    # Content-Encoding: gzip on payloads stored decoded; the excerpt cuts the last record short
    "warc/cc-main-2014-35-nonchunked-gzip.warc.gz": (12, {"html": 4}, {
        R + "metadata": 3, R + "request": 4, R + "warcinfo": 1},
        {"content_length_mismatch": 3, "truncated_records": 1}, ["truncated: the file ends inside a record"]),
    "warc/cc-main-2020-34-sample.warc.gz": (50, {"html": 16}, {
        R + "metadata": 16, R + "request": 17, R + "warcinfo": 1}, {}, []),
    "warc/cc-main-2024-22-whirlwind.warc.gz": (4, {"html": 1}, {
        R + "metadata": 1, R + "request": 1, R + "warcinfo": 1}, {}, []),
    "warc/cc-main-2024-22-whirlwind.warc.wat.gz": (2, {}, {R + "metadata": 1, R + "warcinfo": 1}, {}, []),
    "warc/cc-main-2024-22-whirlwind.warc.wet.gz": (2, {"text": 1}, {R + "warcinfo": 1}, {}, []),
    # WARC/0.18 with dates like 2008-10-294T..., Content-Encoding: gzip on decoded EUC-JP payloads
    "warc/edge-cases/clueweb09-quirky-headers.warc.gz": (30, {"html": 29}, {R + "warcinfo": 1}, {}, []),
    "warc/edge-cases/clueweb09-warc-0.18.warc.gz": (101, {"html": 100}, {R + "warcinfo": 1}, {}, []),
    "warc/edge-cases/example.arc.gz": (2, {"html": 1}, {R + "warcinfo": 1}, {}, []),
    "warc/edge-cases/truncated-record.warc.gz": (1, {"html": 1}, {}, {"truncated_records": 1},
                                                 ["truncated: the gzip stream ends inside a member"]),
    # named "truncated" but every record is whole (9 of them; records cut at Heritrix' size limit)
    "warc/edge-cases/truncated.arc": (9, {"html": 2}, {
        "not_html:image/gif": 1, "not_html:image/jpeg": 1, "not_html:image/png": 1, "not_html:text/dns": 1,
        "not_html:text/plain": 1, "not_html:text/xml": 1, R + "warcinfo": 1}, {}, []),
    "warc/edge-cases/uncompressed-chunked.warc": (3, {"html": 1}, {R + "request": 1, R + "warcinfo": 1}, {}, []),
    "warc/wget-crawl-0000.warc.gz": (48, {"html": 22}, {
        "not_html:unknown": 2, R + "metadata": 1, R + "request": 22, R + "warcinfo": 1}, {}, []),
    "warc/wget-crawl-0001.warc.gz": (34, {"html": 15}, {
        "not_html:unknown": 2, R + "metadata": 1, R + "request": 15, R + "warcinfo": 1}, {}, []),
    "web/pages.warc.gz": (720, {"html": 720}, {}, {}, []),
}
_NOT_REASONS = {"docs_in", "docs_out", "bytes_in", "bytes_out", "cpu_s", "files", "file_errors"}


def stats(step) -> dict:
    return {k: (v["total"] if isinstance(v, dict) else v) for k, v in step.stats.to_dict()["stats"].items()}


def read(paths, tmp_path: Path, **kwargs):
    """(documents, stats, file errors) of one ReadDocuments run."""
    reader = ReadDocuments([str(p) for p in paths], **kwargs)
    reader.report_dir = str(tmp_path / "errors")
    docs = list(reader.run())
    errors = [json.loads(line) for f in sorted((tmp_path / "errors").glob("*.jsonl")) for line in f.open()]
    # (each report also says how many documents its file gave: tests/test_reliability.py)
    return docs, stats(reader), [{"file": e["file"], "error": e["error"]} for e in errors]


def test_every_crawl_file_is_listed(shared_data):
    # (peer-fixtures/ holds other readers' test files, checked against their expected.json in
    # tests/test_peer_fixtures.py)
    present = {str(p.relative_to(shared_data)) for p in (shared_data / "warc").rglob("*")
               if p.is_file() and p.parent.name != "peer-fixtures"}
    assert present | {"web/pages.warc.gz"} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file(shared_data, tmp_path, name):
    records, kinds, skipped, other, errors = EXPECTED[name]
    path = shared_data / name
    docs, st, file_errors = read([path], tmp_path)
    assert st["docs_in"] == records
    assert st.get("docs_out", 0) == len(docs) == sum(kinds.values())
    assert dict(collections.Counter(d.metadata["content_kind"] for d in docs)) == kinds
    assert {k.removeprefix("skipped."): v for k, v in st.items() if k.startswith("skipped.")} == skipped
    assert {k: v for k, v in st.items() if not k.startswith("skipped.") and k not in _NOT_REASONS} == other
    assert st["docs_in"] == len(docs) + sum(skipped.values())  # every record accounted for
    assert file_errors == [{"file": str(path), "error": e} for e in errors]
    assert st.get("file_errors", 0) == len(errors)
    for doc in docs:
        assert doc.id and doc.text.strip()
        assert doc.metadata["url"].startswith(("http://", "https://")), doc.metadata["url"]
        assert doc.metadata["warc_date"][:2] in ("19", "20")
        assert doc.metadata["source_file"] == str(path)
    assert len({d.id for d in docs}) == len(docs)


def test_archive_org_crawl_responses(shared_data):
    """299 responses, 140 of them text/html (the README's count); 94 of those are 200 OK."""
    path = shared_data / "warc/archive-org-crawl-299.warc.gz"
    with path.open("rb") as f:
        stream, _ = decompressed(f, str(path))
        responses = [r for r in ArchiveParser(stream) if r.rec_type == "response"]
    assert len(responses) == 299
    http = [payload.split_http(r.content)[:2] for r in responses]
    html = [status for status, headers in http if payload.media_type(headers.get("content-type")) == "text/html"]
    assert collections.Counter(html) == {200: 94, 404: 40, 302: 5, 301: 1}


def test_real_document_contents(shared_data, tmp_path):
    warc = shared_data / "warc"
    docs, _, _ = read([warc / "edge-cases/uncompressed-chunked.warc"], tmp_path)
    assert docs[0].text.startswith("<!doctype html>\n<html>")  # no chunk-size line left
    assert docs[0].text.rstrip().endswith("</html>")
    assert docs[0].metadata["url"] == "http://www.iana.org/"

    docs, _, _ = read([warc / "edge-cases/clueweb09-quirky-headers.warc.gz"], tmp_path / "2")
    assert "ヘッドポーター HEADPORTER 吉田かばん" in docs[0].text  # EUC-JP, "gzip" but stored decoded
    assert all("\ufffd" not in d.text for d in docs)

    docs, _, _ = read([warc / "edge-cases/example.arc.gz"], tmp_path / "3")
    assert docs[0].id == "<arc:2014-02-16T05:02:21Z:http://example.com/>"
    assert "<title>Example Domain</title>" in docs[0].text

    docs, _, _ = read([warc / "wget-crawl-0001.warc.gz"], tmp_path / "4")
    assert docs[0].metadata["url"] == "https://creativecommons.org/"  # WARC/1.0 <uri> unwrapped

    wet, _, _ = read([warc / "cc-main-2024-22-whirlwind.warc.wet.gz"], tmp_path / "5")
    html, _, _ = read([warc / "cc-main-2024-22-whirlwind.warc.gz"], tmp_path / "6")
    assert wet[0].metadata["content_kind"] == "text"
    assert wet[0].text.startswith("Escopete - Biquipedia, a enciclopedia libre\n")
    assert wet[0].metadata["url"] == html[0].metadata["url"] == "https://an.wikipedia.org/wiki/Escopete"

    docs, _, _ = read([warc / "cc-main-2014-35-nonchunked-gzip.warc.gz"], tmp_path / "7")
    run_on = docs[0].text  # its Content-Length ended the block early: the rest is joined back whole
    assert "<requires rdf:resource=" in run_on and run_on.rstrip().endswith("</html>")


def test_folder_of_all_crawl_files(shared_data, tmp_path):
    # the folders of warc/ except peer-fixtures/ (tests/test_peer_fixtures.py)
    warc = shared_data / "warc"
    docs, st, errors = read([warc / name for name in os.listdir(warc) if name != "peer-fixtures"], tmp_path)
    warc_only = {k: v for k, v in EXPECTED.items() if k.startswith("warc/")}
    assert st["files"] == len(warc_only) == 14
    assert len(docs) == sum(sum(kinds.values()) for _, kinds, *_ in warc_only.values()) == 287
    assert st["docs_in"] == sum(v[0] for v in warc_only.values())
    assert sorted(Path(e["file"]).name for e in errors) == [
        "cc-main-2014-35-nonchunked-gzip.warc.gz", "truncated-record.warc.gz"]


def test_tasks_split_files_round_robin(shared_data, tmp_path):
    files = [str(shared_data / "warc" / n) for n in ("cc-main-2020-34-sample.warc.gz", "wget-crawl-0000.warc.gz",
                                                      "wget-crawl-0001.warc.gz")]
    ids = [[d.id for d in ReadDocuments(files).run(rank=rank, world_size=2)] for rank in (0, 1)]
    assert (len(ids[0]), len(ids[1])) == (16 + 15, 22)
    assert not set(ids[0]) & set(ids[1])
    assert len(list(ReadDocuments(files, limit=5).run())) == 5


# -- JSONL and Parquet --------------------------------------------------------------------------

ROWS = [
    {"id": "a", "text": "First document.", "url": "https://a.example/", "date": "2024-01-01"},
    {"id": "b", "text": "Second document, ünïcödé.", "url": "https://b.example/"},
    {"text": "No id: one is made up."},
]


def jsonl_bytes() -> bytes:
    lines = [json.dumps(r) for r in ROWS]
    lone_surrogate = '{"id": "s", "text": "\\ud800 x"}'
    lines[1:1] = ["", "{broken json", "[1, 2]", json.dumps({"id": "e", "text": "  "}), lone_surrogate]
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("name, pack", [
    ("docs.jsonl", lambda b: b),
    ("docs.jsonl.gz", gzip.compress),
    ("docs.jsonl.zst", lambda b: zstandard.ZstdCompressor().compress(b)),
])
def test_jsonl(tmp_path, name, pack):
    path = tmp_path / name
    path.write_bytes(pack(jsonl_bytes()))
    docs, st, errors = read([path], tmp_path)
    assert [d.id for d in docs] == ["a", "s", "b", f"{path}/7"]
    assert [d.text for d in docs] == ["First document.", "? x", "Second document, ünïcödé.",
                                      "No id: one is made up."]
    assert docs[0].metadata == {"url": "https://a.example/", "warc_date": "2024-01-01", "warc_record_id": None,
                                "source_file": str(path), "content_kind": "text"}
    assert docs[2].metadata["warc_date"] is None
    assert (st["docs_in"], st["docs_out"], st["skipped.bad_json"], st["skipped.no_text"]) == (7, 4, 2, 1)
    assert errors == [{"file": str(path), "error": "line 3: not a JSON object (further bad lines are only counted)"}]


def test_parquet_fineweb_columns(tmp_path):
    n = 2500  # more than one read batch
    table = pa.table({
        "id": [f"<urn:uuid:{i}>" for i in range(n)],
        "text": [f"Document number {i}." if i != 7 else None for i in range(n)],
        "url": [f"https://site.example/{i}" for i in range(n)],
        "date": ["2024-05-18T01:58:10Z"] * n,
        "dump": ["CC-MAIN-2024-22"] * n,
        "language": ["en"] * n,
    })
    path = tmp_path / "fineweb.parquet"
    pq.write_table(table, path, row_group_size=1000)
    docs, st, errors = read([path], tmp_path)
    assert (st["docs_in"], st["docs_out"], st["skipped.no_text"], errors) == (n, n - 1, 1, [])
    assert docs[0].id == "<urn:uuid:0>" and docs[-1].text == f"Document number {n - 1}."
    assert docs[8].metadata == {"url": "https://site.example/9", "warc_date": "2024-05-18T01:58:10Z",
                                "warc_record_id": None, "source_file": str(path), "content_kind": "text"}

    bad = tmp_path / "no-text.parquet"
    pq.write_table(pa.table({"id": ["x"], "content": ["y"]}), bad)
    docs, st, errors = read([bad, path], tmp_path / "2")
    assert len(docs) == n - 1  # the next file is still read
    assert errors == [{"file": str(bad), "error": "stopped reading after 0 records "
                       "(ValueError: no 'text' column (columns: ['content', 'id']))"}]


def test_expand_inputs_folders_and_globs(shared_data, tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    made = ["a.jsonl", "sub/b.jsonl.gz", "sub/deeper/c.parquet", "sub/d.warc.gz", "sub/e.arc", "sub/f.wet.gz"]
    for name in made + ["README.txt", "sub/notes.md"]:
        (tmp_path / name).write_bytes(b"")
    assert expand_inputs([str(tmp_path)]) == sorted(str(tmp_path / n) for n in made)
    assert expand_inputs([str(tmp_path / "sub" / "*.gz")]) == [str(tmp_path / "sub/b.jsonl.gz"),
                                                              str(tmp_path / "sub/d.warc.gz"),
                                                              str(tmp_path / "sub/f.wet.gz")]
    # the same file named twice is read once
    assert expand_inputs([str(tmp_path / "a.jsonl"), str(tmp_path / "*.jsonl")]) == [str(tmp_path / "a.jsonl")]
    found = expand_inputs([str(shared_data / "warc" / "**" / "*.warc.gz")])
    assert len([f for f in found if "/peer-fixtures/" not in f]) == 9
    with pytest.raises(InputError, match="no such file or directory"):
        expand_inputs([str(tmp_path / "missing.warc.gz")])
    with pytest.raises(InputError, match="matches nothing|no such file"):
        expand_inputs([str(tmp_path / "*.nothing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="directory has no .warc"):
        expand_inputs([str(tmp_path / "empty")])


def test_mixed_folder_through_reader(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "docs.jsonl").write_bytes(jsonl_bytes())
    pq.write_table(pa.table({"id": ["p"], "text": ["From Parquet."]}), folder / "x.parquet")
    body = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><body>A page.</body></html>"
    record = (b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: https://example.com/\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body)) + body + b"\r\n\r\n"
    (folder / "page.warc.gz").write_bytes(gzip.compress(record))
    docs, st, _ = read([folder], tmp_path)
    assert st["files"] == 3
    assert [d.metadata["content_kind"] for d in docs] == ["text"] * 4 + ["html", "text"]
    assert docs[-1].id == "p"
