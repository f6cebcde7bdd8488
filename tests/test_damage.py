"""Damaged inputs made from real crawl files: damage stays with the record it hits.

A small generator takes real files of the shared data apart (WARC records at their boundaries,
JSON lines), damages one piece (flipped bits in one gzip member, a wrong Content-Length, garbage
before the first member or between records, hostile JSON lines, lines that do not fit in memory,
a mislabelled charset, odd paths) and puts them back together, one gzip member per record as
Common Crawl writes them. Each test reads the undamaged and the damaged version and asserts that
every intact record still becomes the same document (same id, same text, once), that only the
damaged record is lost or shortened, and that the damage is counted by its reason.
"""

from __future__ import annotations

import collections
import gzip
import json
import os
import random
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.errors import InputError
from curate.io.archive import ArchiveParser, next_record_at
from curate.io.gzipstream import _CHUNK  # the compressed bytes the gzip reader decompresses at a time
from curate.io.inputs import decompressed, expand_inputs
from curate.io.payload import split_http
from curate.io.reader import ReadDocuments

REPO = Path(__file__).resolve().parent.parent
ARCHIVE_ORG = "warc/archive-org-crawl-299.warc.gz"  # WARC/0.17, 822 records, 94 documents
WGET = "warc/wget-crawl-0000.warc.gz"  # WARC/1.0, 48 records, 22 documents
WIKIPEDIA = "wikipedia/enwiki-2016-sample.jsonl"
CUT_ERROR = "1 record(s) cut short at the next record header (a declared length ran past it)"
CORRUPT_ERROR = "corrupt gzip data: skipped 1 damaged member(s)"


# -- the generator ------------------------------------------------------------------------------

_RECORDS: dict[str, list[bytes]] = {}


def warc_records(shared_data: Path, name: str) -> list[bytes]:
    """The records of a real WARC file, each with the blank lines that end it, split where
    next_record_at finds a record start (a version line with WARC headers under it)."""
    if name not in _RECORDS:
        data = gzip.decompress((shared_data / name).read_bytes())
        starts, at = [0], 1
        while (start := next_record_at(data, at)) is not None:
            starts.append(start)
            at = start + 1
        records = [data[a:b] for a, b in zip(starts, starts[1:] + [len(data)])]
        assert b"".join(records) == data and all(r.startswith(b"WARC/") for r in records)
        _RECORDS[name] = records
    return _RECORDS[name]


def record_id(record: bytes) -> str:
    return re.search(rb"(?im)^WARC-Record-ID:[ \t]*(\S+)", record).group(1).decode()


def members(records: list[bytes]) -> list[bytes]:
    """One gzip member per record, as Common Crawl writes them."""
    return [gzip.compress(r, mtime=0) for r in records]


def offsets(parts: list[bytes]) -> list[int]:
    at, out = 0, []
    for part in parts:
        out.append(at)
        at += len(part)
    return out


def flip_bits(member: bytes, n: int = 10, seed: int = 0) -> bytes:
    """`n` single-bit flips within 64 bytes of the middle of a gzip member's deflate data."""
    damaged, rng = bytearray(member), random.Random(seed)
    middle = len(member) // 2
    assert 10 + 64 < middle < len(member) - 8 - 64  # inside the deflate data, past the header, before CRC/size
    for _ in range(n):
        damaged[middle + rng.randrange(-64, 64)] ^= 1 << rng.randrange(8)
    assert damaged != member
    return bytes(damaged)


def split_record(record: bytes) -> tuple[bytes, bytes]:
    """(WARC header, block) of a record as warc_records gives it (the block without its blank lines)."""
    head, block = record.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"(?im)^Content-Length:[ \t]*(\d+)", head).group(1))
    assert block[length:].strip() == b""
    return head, block[:length]


def set_content_length(record: bytes, length) -> bytes:
    """The record with its Content-Length replaced by length(true length)."""
    head, block = split_record(record)
    m = re.search(rb"(?im)^Content-Length:[ \t]*(\d+)", head)
    return record[:m.start(1)] + str(length(len(block))).encode() + record[m.end(1):]


def read(path: Path, tmp_path: Path, **kwargs):
    """(documents, counters, file error messages) of one ReadDocuments run over `path`."""
    reports = tmp_path / f"errors-{path.name}"
    shutil.rmtree(reports, ignore_errors=True)
    reader = ReadDocuments([str(path)], **kwargs)
    reader.report_dir = str(reports)
    docs = list(reader.run())
    stats = {k: (v["total"] if isinstance(v, dict) else v) for k, v in reader.stats.to_dict()["stats"].items()}
    errors = [json.loads(line) for f in sorted(reports.glob("*.jsonl")) for line in f.read_text().splitlines()]
    assert all(e["file"] == str(path) for e in errors)
    return docs, stats, [e["error"] for e in errors]


def archive_records(path: Path, max_record_bytes: int = 20 << 20) -> list[tuple[str, bytes | None]]:
    """(record id, block) of every record the parser delimits: records that make no document
    (requests, metadata) must come through intact too."""
    with open(path, "rb") as raw:
        stream, _ = decompressed(raw, str(path))
        return [(r.record_id, r.content) for r in ArchiveParser(stream, max_record_bytes)]


def damage_counters(stats: dict) -> dict:
    names = ("corrupt_gzip_members", "cut_at_next_record", "leading_garbage", "resync", "truncated_records",
             "content_length_mismatch", "bad_content_length", "skipped.too_large")
    return {k: stats[k] for k in names if k in stats}


def assert_documents_intact(clean: list, damaged: list, damaged_id: str | None = None) -> None:
    """Every clean document but the damaged record's is in `damaged` once, same id, same text, in
    the same order; the damaged record's document may be missing or cut short (flipped bits garble
    what inflates between them and the point where zlib notices), and holds no other record."""
    texts = {d.id: d.text for d in clean}
    assert len(texts) == len(clean)
    ids = [d.id for d in damaged]
    assert len(ids) == len(set(ids)), [i for i, n in collections.Counter(ids).items() if n > 1]
    assert set(ids) <= set(texts)
    assert set(texts) - set(ids) <= {damaged_id}
    for doc in damaged:
        if doc.id != damaged_id:
            assert doc.text == texts[doc.id], doc.id
            continue
        others = [i for i in texts if i != damaged_id and i in doc.text]
        assert not others and "WARC-Record-ID:" not in doc.text  # no second record's page inside
    assert [d.id for d in damaged] == [d.id for d in clean if d.id in set(ids)]  # in file order


def assert_records_intact(clean: list, damaged: list, damaged_id: str) -> None:
    """The same at the record level: every other record (requests, metadata too) has its block."""
    got = collections.defaultdict(list)
    for rid, block in damaged:
        got[rid].append(block)
    for rid, block in clean:
        if rid == damaged_id:
            assert len(got.get(rid, [])) <= 1
            if got.get(rid) and got[rid][0] is not None:  # lost, or shortened (what came before the damage)
                assert len(got[rid][0]) <= len(block) + 2
        else:
            assert got.get(rid) == [block], rid
    assert set(got) <= {rid for rid, _ in clean}


@pytest.fixture
def clean_gz(shared_data, tmp_path):
    """name -> (the real file split and re-gzipped, its records, its documents, its parsed records):
    the undamaged version, which gives the real file's documents."""
    made = {}

    def make(name: str):
        if name not in made:
            records = warc_records(shared_data, name)
            path = tmp_path / ("clean-" + Path(name).name)
            path.write_bytes(b"".join(members(records)))
            docs, stats, errors = read(path, tmp_path)
            assert errors == [] and damage_counters(stats) == {}
            real, _, _ = read(shared_data / name, tmp_path)
            assert [(d.id, d.text) for d in docs] == [(d.id, d.text) for d in real]
            made[name] = path, records, docs, archive_records(path)
        return made[name]

    return make


# -- 1. flipped bits in one gzip member -------------------------------------------------------

def straddling(parts: list[bytes], usable) -> int:
    """A member whose first bytes the gzip reader decompresses in one read and whose damaged
    middle in a later one: part of its record is handed out before the damage shows."""
    for i, (start, part) in enumerate(zip(offsets(parts), parts)):
        boundary = (start // _CHUNK + 1) * _CHUNK
        if usable(i) and i + 1 < len(parts) and start + 1024 <= boundary <= start + len(part) // 2 - 256:
            return i
    raise AssertionError("no member straddles a read boundary")


def within_one_read(parts: list[bytes], usable) -> int:
    for i, (start, part) in enumerate(zip(offsets(parts), parts)):
        if usable(i) and len(part) > 2048 and start // _CHUNK == (start + len(part) - 1) // _CHUNK:
            return i
    raise AssertionError("no member within one read")


def test_flipped_bits_in_a_member_read_at_once_lose_that_record_only(clean_gz, tmp_path):
    path, records, docs, parsed = clean_gz(ARCHIVE_ORG)
    doc_ids = {d.id for d in docs}
    parts = members(records)
    i = within_one_read(parts, lambda i: record_id(records[i]) in doc_ids)
    damaged = tmp_path / "flipped.warc.gz"
    damaged.write_bytes(b"".join(parts[:i] + [flip_bits(parts[i])] + parts[i + 1:]))
    got, stats, errors = read(damaged, tmp_path)
    lost = record_id(records[i])
    assert_documents_intact(docs, got, lost)
    assert [d.id for d in got] == [d.id for d in docs if d.id != lost]  # nothing of it was handed out
    assert damage_counters(stats) == {"corrupt_gzip_members": 1}
    assert stats["docs_in"] == len(records) - 1
    assert errors == [CORRUPT_ERROR]
    assert_records_intact(parsed, archive_records(damaged), lost)


@pytest.mark.parametrize("source", ["archive-org responses", "wget-crawl all records"])
def test_flipped_bits_after_part_of_the_record_was_handed_out(clean_gz, tmp_path, source):
    """The member's first part is decompressed (and handed to the parser) before the damage is
    found: its record's declared length then reaches into the next member's record, and is cut
    at that record's header. From archive-org, only the responses that make documents (so the
    record after the damaged one is a document too); from wget-crawl, every record."""
    if source.startswith("archive-org"):
        path, records, docs, _ = clean_gz(ARCHIVE_ORG)
        keep = {d.id for d in docs}
        records = [r for r in records if record_id(r) in keep]
        path = tmp_path / "responses.warc.gz"
        path.write_bytes(b"".join(members(records)))
        docs, stats, _ = read(path, tmp_path)
        assert len(docs) == len(records) == 94 and damage_counters(stats) == {}
        parsed = archive_records(path)
    else:
        path, records, docs, parsed = clean_gz(WGET)
    doc_ids = {d.id for d in docs}
    parts = members(records)
    i = straddling(parts, lambda i: record_id(records[i]) in doc_ids)
    damaged = tmp_path / "flipped.warc.gz"
    damaged.write_bytes(b"".join(parts[:i] + [flip_bits(parts[i])] + parts[i + 1:]))
    got, stats, errors = read(damaged, tmp_path)
    hit = record_id(records[i])
    assert_documents_intact(docs, got, hit)
    if source.startswith("archive-org"):
        assert record_id(records[i + 1]) in {d.id for d in got}  # the record after it is a document, kept
    assert damage_counters(stats) == {"corrupt_gzip_members": 1, "cut_at_next_record": 1}
    assert stats["docs_in"] == len(records)  # the damaged record is read, shortened
    assert errors == [f"{CORRUPT_ERROR}; {CUT_ERROR}"]
    assert_records_intact(parsed, archive_records(damaged), hit)


def test_flipped_bits_in_a_jsonl_gz_member(shared_data, tmp_path):
    """The same in JSON lines gzipped one member per line: the part of the damaged line that was
    handed out is one bad line, and the next member's first line is not glued to it."""
    lines = (shared_data / WIKIPEDIA).read_bytes().splitlines(keepends=True)
    parts = [gzip.compress(line, mtime=0) for line in lines]
    clean = tmp_path / "clean.jsonl.gz"
    clean.write_bytes(b"".join(parts))
    docs, stats, _ = read(clean, tmp_path)
    assert len(docs) == len(lines) == 106 and stats.get("skipped.bad_json", 0) == 0
    i = straddling(parts, lambda i: True)
    damaged = tmp_path / "flipped.jsonl.gz"
    damaged.write_bytes(b"".join(parts[:i] + [flip_bits(parts[i])] + parts[i + 1:]))
    got, stats, errors = read(damaged, tmp_path)
    assert [(d.id, d.text) for d in got] == [(d.id, d.text) for j, d in enumerate(docs) if j != i]
    assert stats["corrupt_gzip_members"] == 1 and stats["skipped.bad_json"] == 1
    assert errors == [f"line {i + 1}: not a JSON object (further bad lines are only counted)", CORRUPT_ERROR]


# -- 2. a Content-Length past the record ------------------------------------------------------

@pytest.mark.parametrize("length, max_record_bytes, gzipped", [
    (lambda n: 999_999_999_999, 20 << 20, True),
    (lambda n: 999_999_999_999, 20 << 20, False),
    (lambda n: n + 5_000_000, 32 << 20, True),
    (lambda n: n + 5_000_000, 20 << 20, True),
    (lambda n: n + 5_000_000, 20 << 20, False),
], ids=["999999999999", "999999999999-uncompressed", "plus-5MB-cap-32MiB", "plus-5MB", "plus-5MB-uncompressed"])
def test_content_length_past_the_record_is_cut_at_the_next_header(clean_gz, tmp_path, length, max_record_bytes,
                                                                  gzipped):
    path, records, docs, parsed = clean_gz(ARCHIVE_ORG)
    doc_ids = [d.id for d in docs]
    i = next(j for j, r in enumerate(records) if record_id(r) == doc_ids[len(doc_ids) // 2])
    hit = record_id(records[i])
    changed = records[:i] + [set_content_length(records[i], length)] + records[i + 1:]
    damaged = tmp_path / ("length.warc.gz" if gzipped else "length.warc")
    damaged.write_bytes(b"".join(members(changed)) if gzipped else b"".join(changed))
    declared = length(len(split_record(records[i])[1]))
    got, stats, errors = read(damaged, tmp_path, max_record_bytes=max_record_bytes)
    assert_documents_intact(docs, got, hit)
    assert stats["docs_in"] == len(records)
    if declared > max_record_bytes:  # too large to keep: skipped, and the skip stops at the next record
        assert [d.id for d in got] == [d for d in doc_ids if d != hit]
        assert damage_counters(stats) == {"cut_at_next_record": 1, "skipped.too_large": 1}
    else:  # read: the record ends at the next header, so its block is whole and its document the same
        assert [(d.id, d.text) for d in got] == [(d.id, d.text) for d in docs]
        assert damage_counters(stats) == {"cut_at_next_record": 1}
    assert errors == [CUT_ERROR]  # not "the file ends inside a record": it does not
    blocks = archive_records(damaged, max_record_bytes)
    assert_records_intact(parsed, blocks, hit)
    if declared <= max_record_bytes:
        assert blocks == parsed


# -- 3. garbage before the first gzip member ---------------------------------------------------

@pytest.mark.parametrize("seed, brace_line", [(0, False), (1, True), (2, True)])
def test_garbage_before_the_first_gzip_member(clean_gz, tmp_path, seed, brace_line):
    """64 KiB of random bytes before the first member. Random bytes hold a line starting with "{"
    about once per 64 KiB (seeds 1 and 2 do): that must not pass for JSON lines."""
    path, records, docs, parsed = clean_gz(WGET)
    garbage = random.Random(seed).randbytes(64 << 10)
    assert (b"\n{" in garbage) is brace_line
    assert b"\x1f\x8b\x08" not in garbage and b"WARC/" not in garbage  # no false member, no false record
    damaged = tmp_path / "garbage.warc.gz"
    damaged.write_bytes(garbage + path.read_bytes())
    got, stats, errors = read(damaged, tmp_path)
    assert [(d.id, d.text) for d in got] == [(d.id, d.text) for d in docs]
    assert damage_counters(stats) == {"leading_garbage": 1}
    assert errors == ["skipped 65536 bytes of garbage before the first gzip member"]
    assert archive_records(damaged) == parsed


# -- 4. garbage between the records of an uncompressed WARC -------------------------------------

def test_garbage_between_records_of_an_uncompressed_warc(shared_data, tmp_path):
    """Garbage after a record's blank lines: random bytes with line breaks; garbage that runs into
    the next record's version line without one (short, just under and over the parser's 64 KiB line
    limit, and split right inside that limit); each skipped to the next record (resync)."""
    records = warc_records(shared_data, WGET)
    clean = tmp_path / "clean.warc"
    clean.write_bytes(b"".join(records))
    docs, stats, _ = read(clean, tmp_path)
    assert len(docs) == 22 and damage_counters(stats) == {}
    rng = random.Random(4)
    no_break = lambda n: rng.randbytes(n).replace(b"\n", b" ")  # noqa: E731
    garbage = [rng.randbytes(4096), b"<<garbage>>" * 9, no_break(65533), no_break(100_000), no_break(65534) + b"\r"]
    assert all(not g.endswith(b"\n") and b"WARC/" not in g for g in garbage)
    out, at = [], iter(garbage)
    for j, record in enumerate(records):
        out.append(record)
        if j % 9 == 4:
            out.append(next(at))
    assert next(at, None) is None
    damaged = tmp_path / "garbage.warc"
    damaged.write_bytes(b"".join(out))
    got, stats, errors = read(damaged, tmp_path)
    assert [(d.id, d.text) for d in got] == [(d.id, d.text) for d in docs]
    assert damage_counters(stats) == {"resync": len(garbage)}
    assert stats["docs_in"] == len(records)
    assert archive_records(damaged) == archive_records(clean)


# -- 5. hostile JSON lines ---------------------------------------------------------------------

def test_hostile_json_lines_among_good_ones(shared_data, tmp_path):
    good = (shared_data / WIKIPEDIA).read_bytes().splitlines(keepends=True)[:12]
    bad = {
        "[" * 100_000: "bad_json",  # 100,000 levels deep
        '{"a":' * 100_000 + "1" + "}" * 100_000: "bad_json",  # and as nested objects
        "[1, 2, 3]": "bad_json",  # not an object
        '"just a string"': "bad_json",
        "42": "bad_json",
        '{"id": "number", "text": 12345}': "no_text",  # text of the wrong type
        '{"id": "list", "text": ["a", "b"]}': "no_text",
        '{"id": "null", "text": null}': "no_text",
    }
    lines = []
    for j, line in enumerate(good):
        lines.append(line)
        if j < len(bad):
            lines.append(list(bad)[j].encode() + b"\n")
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"".join(lines))
    rows = [json.loads(line) for line in good]
    reader = ReadDocuments([str(path)])
    assert set(reader.resolve_columns()) == set(rows[0]) - {"id", "text"}  # the schema sample survives them too
    got, stats, errors = read(path, tmp_path)
    assert [(d.id, d.text) for d in got] == [(r["id"], r["text"]) for r in rows]
    reasons = collections.Counter(bad.values())
    assert {k: v for k, v in stats.items() if k.startswith("skipped.")} == {
        f"skipped.{k}": v for k, v in reasons.items()}
    assert stats["docs_in"] == len(good) + len(bad) and stats["docs_out"] == len(good)
    assert errors == ["line 2: not a JSON object (further bad lines are only counted)"]


# -- 6. the memory bound -----------------------------------------------------------------------

# A small run needs about 450 MiB of address space here (measured: 425 MiB fails, 450 MiB works), so
# 2 GiB leaves room for the work and none for a 2 GiB line or a few copies of a 200 MB one.
ADDRESS_SPACE = 2 << 30

PIPELINE = '''
from curate.filters import GopherQuality
from curate.io import ReadDocuments, WriteParquet


def build(run):
    return [ReadDocuments({read_args}), GopherQuality(annotate_only=True), WriteParquet(run.output)]
'''


def run_bounded(pipeline: Path, inputs: list[Path], out: Path) -> tuple[subprocess.CompletedProcess, dict, list]:
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        pytest.fail("prlimit not found: it comes with util-linux (Debian: apt-get install util-linux)")
    argv = [prlimit, f"--as={ADDRESS_SPACE}", sys.executable, "-m", "curate.cli", "run", str(pipeline),
            "--output", str(out)]
    for path in inputs:
        argv += ["--input", str(path)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=REPO)
    funnel_file = Path(f"{out}.curate") / "funnel.json"
    funnel = json.loads(funnel_file.read_text()) if funnel_file.exists() else {}
    rows = [r for f in sorted(out.glob("*.parquet")) for r in pq.read_table(f, columns=["id", "text"]).to_pylist()]
    return done, funnel, rows


@pytest.fixture(scope="module")
def oversized(shared_data, tmp_path_factory):
    """A .jsonl.gz whose one 2 GiB line (real text, repeated) sits between good lines, streamed
    through gzip 1 MiB at a time (about 10 MB compressed, 7-8 s), and a .jsonl with one 200 MB
    document between good lines. Returns (files, the good rows)."""
    folder = tmp_path_factory.mktemp("oversized")
    rows = [json.loads(line) for line in (shared_data / WIKIPEDIA).read_text().splitlines()[:12]]
    line = lambda r: json.dumps({"id": r["id"], "text": r["text"]}).encode() + b"\n"  # noqa: E731
    piece = json.dumps(rows[0]["text"][:1000])[1:-1].encode()
    chunk = piece * ((1 << 20) // len(piece))
    huge = folder / "two-gib-line.jsonl.gz"
    written = 0
    with open(huge, "wb") as f:
        z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        for r in rows[:3]:
            f.write(z.compress(line(r)))
        f.write(z.compress(b'{"id": "two-gib", "text": "'))
        while written < ADDRESS_SPACE:
            f.write(z.compress(chunk))
            written += len(chunk)
        f.write(z.compress(b'"}\n'))
        for r in rows[3:6]:
            f.write(z.compress(line(r)))
        f.write(z.flush())
    assert written >= ADDRESS_SPACE and huge.stat().st_size < 16 << 20
    big = folder / "two-hundred-mb-document.jsonl"
    piece = json.dumps(rows[1]["text"])[1:-1].encode()
    with open(big, "wb") as f:
        f.write(b"".join(map(line, rows[6:9])) + b'{"id": "two-hundred-mb", "text": "')
        for _ in range(200_000_000 // len(piece) + 1):
            f.write(piece)
        f.write(b'"}\n' + b"".join(map(line, rows[9:12])))
    assert big.stat().st_size > 200_000_000
    return [huge, big], rows


@pytest.mark.slow
@pytest.mark.parametrize("read_args", ["", "keep_columns=False"], ids=["default", "no-kept-columns"])
def test_oversized_lines_under_an_address_space_limit(shared_data, oversized, tmp_path, read_args):
    """`curate run` under `prlimit --as=2GiB`: first a plain small run (the interpreter, pyarrow and
    the pipeline fit at all), then the 2 GiB line and the 200 MB document, each skipped unread as
    too_large while the good lines around them reach the output. The default reader also samples
    the JSONL files' fields before the run (keep_columns) and must not hold the long lines either."""
    pipeline = tmp_path / "pipeline.py"
    pipeline.write_text(PIPELINE.format(read_args=read_args))
    files, rows = oversized
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in rows))
    done, funnel, out = run_bounded(pipeline, [small], tmp_path / "small-out")
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(r["id"] for r in out) == sorted(r["id"] for r in rows)

    done, funnel, out = run_bounded(pipeline, files, tmp_path / "out")
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted((r["id"], r["text"]) for r in out) == sorted((r["id"], r["text"]) for r in rows)
    read_row = funnel["stages"][0]
    assert read_row["stage"] == "read"
    assert read_row["skipped"] == {"too_large": 2}
    assert read_row["docs_in"] == len(rows) + 2 and read_row["docs_out"] == len(rows)
    assert funnel["file_errors"] == []


# -- 7. a mislabelled charset ------------------------------------------------------------------

JAPANESE = "https://htmldate.fixtures.invalid/1521513101"
FRENCH = "https://htmldate.fixtures.invalid/liberation.fr-Gaza"
GERMAN = "https://htmldate.fixtures.invalid/eatsmarter.de-stoffwechsel"


def test_shift_jis_labelled_iso_8859_1_and_real_windows_1252(shared_data, tmp_path):
    """A real Japanese page re-encoded as Shift_JIS, and real French and German pages encoded as
    windows-1252 (’ – … € are bytes 0x80-0x9F there), all served as `charset=iso-8859-1`: the
    Japanese page is detected (an override, counted); the others are not overridden and read as
    windows-1252, as browsers read that label (not as C1 control characters)."""
    pages = {}
    with open(shared_data / "web" / "pages.warc.gz", "rb") as raw:
        stream, _ = decompressed(raw, "pages.warc.gz")
        for record in ArchiveParser(stream):
            if record.url in (JAPANESE, FRENCH, GERMAN):
                pages[record.url] = (record.record_id, split_http(record.content)[2].decode("utf-8"))
    assert set(pages) == {JAPANESE, FRENCH, GERMAN}
    out, expected = [], {}
    for url, encoding in ((JAPANESE, "shift_jis"), (FRENCH, "cp1252"), (GERMAN, "cp1252")):
        rid, html = pages[url]
        html = re.sub(r"(?i)(charset\s*=\s*[\"']?)utf-8", r"\1iso-8859-1", html)  # the page says it too
        body = html.encode(encoding)  # (strict: these pages have no character outside the charset)
        assert re.search(rb"[\x80-\x9f]", body)  # bytes that ISO-8859-1 proper would make C1 controls
        block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=iso-8859-1\r\n\r\n" + body
        out.append(f"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: {rid}\r\nWARC-Date: 2024-05-18T01:58:10Z\r\n"
                   f"WARC-Target-URI: {url}\r\nContent-Type: application/http; msgtype=response\r\n"
                   f"Content-Length: {len(block)}\r\n\r\n".encode() + block + b"\r\n\r\n")
        expected[rid] = html
    path = tmp_path / "charsets.warc.gz"
    path.write_bytes(b"".join(members(out)))
    got, stats, errors = read(path, tmp_path)
    assert {d.id: d.text for d in got} == expected
    assert len(re.findall(r"[\u3040-\u30ff]", expected[pages[JAPANESE][0]])) > 1000  # it is Japanese
    assert "’" in expected[pages[FRENCH][0]] and "–" in expected[pages[GERMAN][0]]
    assert not any(re.search("[\x80-\x9f]", d.text) for d in got)
    assert stats["charset_override"] == 1  # the Japanese page only
    assert errors == []


# -- 8. paths ----------------------------------------------------------------------------------

def test_odd_paths_fifo_and_devices(shared_data, tmp_path):
    rows = [json.loads(line) for line in (shared_data / WIKIPEDIA).read_text().splitlines()[:4]]
    folder = tmp_path / "in"
    folder.mkdir()
    odd = folder / "what?.jsonl"  # a name with a glob character, taken literally
    odd.write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    (folder / "what1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[2:]))  # what "?" would match
    fifo = folder / "pipe.jsonl"
    os.mkfifo(fifo)

    assert [d.id for d in ReadDocuments([str(odd)]).run()] == [r["id"] for r in rows[:2]]
    skipped = []
    assert expand_inputs([str(folder)], skipped=skipped) == [str(folder / "what1.jsonl"), str(odd)]
    assert skipped == [str(fifo)]
    skipped = []
    assert expand_inputs([str(folder / "*.jsonl")], skipped=skipped) == [str(folder / "what1.jsonl"), str(odd)]
    assert skipped == [str(fifo)]  # a glob lists what it leaves out too
    for uri, message in (("/dev/null", "/dev/null: not a regular file"), (str(fifo), f"{fifo}: not a regular file"),
                         (str(folder / "pipe*"), f"{folder / 'pipe*'}: matches only what is not a regular file")):
        with pytest.raises(InputError) as e:
            expand_inputs([uri])
        assert str(e.value).startswith(message)

    # the whole run with the FIFO in its input folder: it finishes (nothing opens the FIFO)
    pipeline = tmp_path / "pipeline.py"
    pipeline.write_text("from curate.io import ReadDocuments, WriteParquet\n\n\n"
                        "def build(run):\n    return [ReadDocuments(), WriteParquet(run.output)]\n")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "curate.cli", "run", str(pipeline), "--input", str(folder),
                           "--output", str(out)], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    ids = [r["id"] for f in sorted(out.glob("*.parquet")) for r in pq.read_table(f, columns=["id"]).to_pylist()]
    assert sorted(ids) == sorted(r["id"] for r in rows)
    read_row = json.loads((Path(f"{out}.curate") / "funnel.json").read_text())["stages"][0]
    assert read_row["other"]["files"] == 2 and read_row["other"]["not_regular_files"] == 1
    assert f"{fifo}: skipped, not a regular file" in done.stderr
