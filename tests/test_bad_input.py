"""Damaged and hostile inputs through the whole pipeline (`curate run pipelines/datacomp.py`):
the run finishes, every bad file is named in one line, every skipped record is counted by
reason, and every good page in the same folder reaches the Parquet output."""

from __future__ import annotations

import collections
import gzip
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.cli import main

REPO = Path(__file__).resolve().parent.parent
TOPICS = ["gardening", "bicycle repair", "bread baking", "birdwatching", "home brewing", "chess openings",
          "pottery", "sailing", "beekeeping", "astronomy", "woodworking", "photography", "knitting"]


def article(topic: str, extra: str = "") -> str:
    """A plain English article page that trafilatura extracts and lid.176 calls English."""
    t = topic
    paragraphs = [
        f"This guide about {t} explains the basics for people who are just getting started with {t}. "
        f"We describe the tools you need, the mistakes beginners make, and how to plan your first weekend of {t}.",
        f"Most people who try {t} for the first time are surprised by how much patience it takes. "
        f"Start with a small project, keep notes about what worked, and ask a friend who knows {t} for advice.",
        f"Good equipment for {t} does not have to be expensive. Buy the few things you will use every time, "
        f"look after them well, and replace them only when they are worn out.",
        f"After a month of regular practice you will notice real progress. Share your results with a local "
        f"{t} club, because other members will happily show you the next steps. {extra}",
    ]
    body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
    return (f"<!DOCTYPE html><html><head><title>A beginner's guide to {t}</title></head><body>"
            f"<nav><a href='/'>Home</a></nav><article><h1>A beginner's guide to {t}</h1>\n{body}</article>"
            f"<footer>Copyright 2024</footer></body></html>")


class Warc:
    """Builds WARC records; every good page gets a known record id."""

    def __init__(self):
        self.n = 0
        self.good: set[str] = set()

    def record(self, block: bytes, rec_type: str = "response") -> tuple[str, bytes]:
        self.n += 1
        rid = f"<urn:uuid:00000000-0000-4000-8000-{self.n:012d}>"
        head = (f"WARC/1.0\r\nWARC-Type: {rec_type}\r\nWARC-Record-ID: {rid}\r\n"
                f"WARC-Date: 2024-05-18T01:58:10Z\r\nWARC-Target-URI: https://bad-input.example/{self.n}\r\n"
                f"Content-Type: application/http; msgtype=response\r\nContent-Length: {len(block)}\r\n\r\n")
        return rid, head.encode() + block + b"\r\n\r\n"

    def response(self, body: bytes, content_type: str = "text/html; charset=utf-8", status: str = "200 OK",
                 good: bool = False) -> bytes:
        rid, data = self.record(f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n\r\n".encode() + body)
        if good:
            self.good.add(rid)
        return data

    def page(self, topic: str) -> bytes:
        return self.response(article(topic).encode(), good=True)


def corrupt(member: bytes) -> bytes:
    bad = bytearray(member)
    middle = len(bad) // 2
    bad[middle : middle + 8] = bytes(b ^ 0xFF for b in bad[middle : middle + 8])
    return bytes(bad)


def make_bad_folder(folder: Path) -> tuple[set[str], dict[str, str]]:
    """Write the bad inputs; returns (ids of the good pages, file name -> expected file error)."""
    w = Warc()
    topic = iter(TOPICS)
    folder.mkdir()
    # a corrupt gzip member between two good ones
    members = [gzip.compress(w.page(next(topic))) for _ in range(3)]
    w.good.discard(f"<urn:uuid:00000000-0000-4000-8000-{2:012d}>")  # the corrupt one is lost
    (folder / "corrupt-middle.warc.gz").write_bytes(members[0] + corrupt(members[1]) + members[2])
    # a file that ends inside its last gzip member (and inside that record's HTML)
    members = [gzip.compress(w.page(next(topic))) for _ in range(2)]
    cut = b"".join(b"<p>Line %d of a page that the file cuts short.</p>\n" % i for i in range(400))
    last = gzip.compress(w.response(b"<html><body>" + cut + b"</body></html>"))
    (folder / "truncated.warc.gz").write_bytes(b"".join(members) + last[: len(last) // 2])
    # charsets: declared iso-8859-1 but UTF-8; declared utf-8 but cp1252; invalid UTF-8, no declaration
    utf8 = article(next(topic), "Our café owner in Zürich says: “naïve beginners welcome”.")
    cp1252 = article(next(topic), "The café in Besançon – open daily – sells “crème brûlée”.")
    invalid = article(next(topic), "Broken bytes follow:").encode() + b"<p>\xff\xfe\x80 \xc3 stray bytes</p>"
    (folder / "charsets.warc").write_bytes(
        w.response(utf8.encode(), "text/html; charset=iso-8859-1", good=True)
        + w.response(cp1252.encode("cp1252"), "text/html; charset=utf-8", good=True)
        + w.response(invalid, "text/html", good=True))
    # a single 50 MB page (skipped as too_large), then a good page
    rows = b"".join(b"<p>row %08d of a huge page</p>\n" % i for i in range(1_700_000))
    huge = b"<html><body>" + rows + b"</body></html>"
    assert len(huge) > 50_000_000
    (folder / "huge.warc.gz").write_bytes(gzip.compress(w.response(huge) + w.page(next(topic)), compresslevel=1))
    # binary payloads, and an untyped page that is HTML (kept)
    (folder / "binary.warc.gz").write_bytes(gzip.compress(
        w.response(b"\x00\x01\x02\x03 binary \x00" * 100, "application/octet-stream")
        + w.response(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "image/png")
        + w.response(b"<html>\x00\x00\x00\x01 not really html", "text/html")
        + w.response(article(next(topic)).encode(), "application/octet-stream", good=True)))
    # empty records
    (folder / "empty-records.warc.gz").write_bytes(gzip.compress(
        w.response(b"") + w.response(b" \r\n \n") + w.record(b"")[1]
        + w.response(article(next(topic)).encode(), status="404 Not Found") + w.page(next(topic))))
    (folder / "zero-bytes.warc.gz").write_bytes(b"")
    (folder / "not-an-archive.warc.gz").write_bytes(article("spam").encode())
    errors = {
        "corrupt-middle.warc.gz": "corrupt gzip data: skipped 1 damaged member(s)",
        "truncated.warc.gz": "truncated: the gzip stream ends inside a member",
        "zero-bytes.warc.gz": "empty file",
        "not-an-archive.warc.gz": "not an archive: no WARC/ARC record found",
    }
    return w.good, errors


def read_output(out: Path) -> list[dict]:
    rows = []
    for f in sorted(out.glob("*.parquet")):
        rows.extend(pq.read_table(f).to_pylist())
    return rows


def read_output_removed(folder: Path) -> list[dict]:
    rows = []
    for f in sorted(folder.glob("*/*.parquet")):
        rows.extend(pq.read_table(f).to_pylist())
    return rows


def run_cli(inputs: list[Path], out: Path, removed: Path | None = None) -> tuple[int, dict]:
    # broken files on purpose: exit 0 only with --tolerate-failures (tests/test_reliability.py checks the 1)
    argv = ["run", str(REPO / "pipelines" / "datacomp.py"), "--output", str(out), "--tolerate-failures"]
    if removed is not None:
        argv += ["--removed", str(removed)]
    for path in inputs:
        argv += ["--input", str(path)]
    code = main(argv)
    return code, json.loads((Path(f"{out}.curate") / "funnel.json").read_text())


def test_bad_inputs_through_the_pipeline(shared_data, lid_model, tmp_path, monkeypatch):
    monkeypatch.setenv("CURATE_LID_MODEL", lid_model)
    good, expected_errors = make_bad_folder(tmp_path / "in")
    edge_cases = shared_data / "warc" / "edge-cases"
    code, funnel = run_cli([tmp_path / "in", edge_cases], tmp_path / "out", tmp_path / "removed")
    assert code == 0
    stages = {s["stage"]: s for s in funnel["stages"]}
    names = [s["stage"] for s in funnel["stages"]]  # the recipe grows (heuristics, dedup, ...)
    assert names[:3] == ["read", "extract", "language"] and names[-1] == "write"

    # one line per bad file, naming it
    errors = {}
    for e in funnel["file_errors"]:
        assert "\n" not in e["error"]
        errors.setdefault(Path(e["file"]).name, []).append(e["error"])
    assert errors == {name: [error] for name, error in expected_errors.items()} | {
        "truncated-record.warc.gz": ["truncated: the gzip stream ends inside a member"]}

    read = stages["read"]
    assert read["skipped"] == {
        "binary_payload": 1,
        "empty": 2,
        "http_status:404": 1,
        "no_http_response": 1,
        "not_html:application/octet-stream": 1,
        "not_html:image/gif": 1, "not_html:image/jpeg": 1, "not_html:image/png": 2,  # truncated.arc + ours
        "not_html:text/dns": 1, "not_html:text/plain": 1, "not_html:text/xml": 1,
        "record_type:request": 1, "record_type:warcinfo": 5,
        "too_large": 1,
    }
    assert read["other"]["files"] == 14
    assert read["other"]["truncated_records"] == 2  # ours and edge-cases/truncated-record
    ours = len(good) + 1  # the good pages and our truncated record's partial page
    assert read["docs_out"] == ours + 134  # edge cases: 29 + 100 + 1 + 1 + 2 + 1 documents

    rows = read_output(tmp_path / "out")
    ids = {r["id"] for r in rows}
    # the good pages share one template (pairwise Jaccard ~0.57), so MinHash-LSH may, rarely, take
    # two for near duplicates: such a page counts as surviving when its kept twin is in the output
    removed = {r["id"]: r for r in read_output_removed(tmp_path / "removed")}
    deduped = {i: r["dup_cluster_id"] for i, r in removed.items() if r["removed_by"] in ("dedup_exact", "dedup_fuzzy")}
    assert set(deduped.values()) <= ids
    assert good <= ids | set(deduped)  # every good page of the bad folder survives
    from_us = {r["id"] for r in rows if r["url"].startswith("https://bad-input.example/")} | set(deduped)
    partial = "<urn:uuid:00000000-0000-4000-8000-000000000006>"  # kept: what was read of the cut record
    # what was read of the cut record: 400 near-identical lines, which the heuristic rules may drop
    if partial in ids:
        assert [r["text"] for r in rows if r["id"] == partial][0].startswith("Line 0 of a page that the file cuts short.")
    else:
        assert removed[partial]["text"].startswith("Line 0 of a page that the file cuts short.")
        assert removed[partial]["removed_by"] == "gopher_rep"
    assert from_us | {partial} == good | {partial}
    # the edge cases: ClueWeb09 Japanese pages and short or non-English ones go; the rest is kept.
    # (Counted with the default extractor, blocks: it finds no text in three pages that are only
    # links, and extracts different text than trafilatura from a few others.)
    dropped = collections.Counter(stages["extract"]["dropped"]) + collections.Counter(stages["language"]["dropped"])
    assert dropped == {"no_text": 3, "language:ja": 29, "language:it": 1, "language_score": 7}
    # what passed language ID: the output, and what the heuristic rules and dedup removed after it
    passed = rows + [r for r in removed.values() if r["removed_by"] not in ("extract", "language")]
    ours_passed = {r["id"] for r in passed if r["url"].startswith("https://bad-input.example/")}
    assert ours_passed == good | {partial}
    kept = collections.Counter(Path(r["source_file"]).name for r in passed if r["id"] not in ours_passed)
    assert kept == {"clueweb09-warc-0.18.warc.gz": 90, "example.arc.gz": 1, "truncated-record.warc.gz": 1,
                    "truncated.arc": 1, "uncompressed-chunked.warc": 1}
    assert len(rows) == stages["write"]["docs_in"]
    assert len(passed) == stages["language"]["docs_out"] == len(ours_passed) + 94
    texts = [r["text"] for r in passed if r["id"] in ours_passed]
    for sentence in ("Our café owner in Zürich says: “naïve beginners welcome”.",  # declared iso-8859-1
                     "The café in Besançon – open daily – sells “crème brûlée”.",  # declared utf-8
                     "Broken bytes follow:"):  # invalid UTF-8
        assert sum(sentence in t for t in texts) == 1, sentence
    assert not any("\ufffd" in t for t in texts)
    assert {r["language"] for r in passed} == {"en"}


def test_bad_lid_model_is_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CURATE_LID_MODEL", str(tmp_path / "missing.ftz"))
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "x.warc").write_bytes(Warc().page("gardening"))
    code = main(["run", str(REPO / "pipelines" / "datacomp.py"), "--input", str(folder), "--output",
                 str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"curate: error: language-ID model not found at {tmp_path / 'missing.ftz'}")
    assert "\n" not in err


@pytest.mark.parametrize("content", [b"", b"garbage\n" * 10, b"\x1f\x8b\x08\x00"])
def test_only_bad_files_still_finish(lid_model, tmp_path, monkeypatch, content):
    monkeypatch.setenv("CURATE_LID_MODEL", lid_model)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "bad.warc.gz").write_bytes(content)
    code, funnel = run_cli([folder], tmp_path / "out")
    assert code == 0
    assert [Path(e["file"]).name for e in funnel["file_errors"]] == ["bad.warc.gz"]
    assert read_output(tmp_path / "out") == []
