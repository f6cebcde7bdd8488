"""Other readers' test files (warcio, FastWARC, jwarc, whirlwind, dolma, cc_net; several broken on
purpose): curate yields the documents warcio or FastWARC yield from each (their expected.json),
and every record it does not turn into a document is counted by reason."""

from __future__ import annotations

import json

import pytest

from curate.io import ReadDocuments


# where curate keeps more than the peers, and why (tests/test_reliability.py: damage stays local)
MORE_THAN_THE_PEERS = {
    # its first record's Content-Length is too long: warcio and FastWARC take the next record into
    # it; curate ends the record at the next record header and keeps the one after, intact
    "facebookresearch__sample.warc.txt": 3,
}


@pytest.fixture(scope="module")
def fixtures(shared_data):
    folder = shared_data / "warc" / "peer-fixtures"
    return folder, json.loads((folder / "expected.json").read_text())


def test_every_fixture_is_listed(fixtures):
    folder, expected = fixtures
    assert len(expected) == 35
    assert {p.name for p in folder.iterdir()} == set(expected) | {"expected.json", "README.md"}


def test_documents_per_file_match_the_peers(fixtures, tmp_path):
    folder, expected = fixtures
    got = {}
    for name in sorted(expected):
        reader = ReadDocuments(str(folder / name))
        reader.report_dir = str(tmp_path / "errors")
        docs = list(reader.run())
        got[name] = len(docs)
        stats = {k: (v["total"] if isinstance(v, dict) else v) for k, v in reader.stats.to_dict()["stats"].items()}
        skipped = sum(v for k, v in stats.items() if k.startswith("skipped."))
        # every record read is a document or a counted reason
        assert stats.get("docs_in", 0) - stats.get("docs_out", 0) == skipped, name
    assert got == expected | MORE_THAN_THE_PEERS


def test_the_record_the_peers_lose_is_kept_whole(fixtures):
    folder, _ = fixtures
    docs = list(ReadDocuments(str(folder / "facebookresearch__sample.warc.txt")).run())
    assert [d.metadata["url"] for d in docs] == ["http://sample_english.com", "http://sample_chinese.zh",
                                                 "http://sample_russian.ru"]
    assert "WARC/1.0" not in docs[0].text and docs[1].text.startswith("馬克·吐溫名言")


def test_an_arc_url_with_spaces_keeps_its_url(fixtures):
    folder, _ = fixtures
    docs = list(ReadDocuments(str(folder / "webrecorder__example-space-in-url.arc")).run())
    assert [d.metadata["url"] for d in docs] == [
        "http://example.com/index.cfm?FuseAction=Email&EmailTitle=Examples From The Live Web&IsPopUp=False"]
    assert docs[0].metadata["warc_date"] == "2014-02-16T05:02:21Z"


def test_lz4_archives_read_like_their_gzip_twins(fixtures):
    folder, _ = fixtures
    lz4 = list(ReadDocuments(str(folder / "chatnoir-eu__warcfile.warc.lz4")).run())
    gz = list(ReadDocuments(str(folder / "chatnoir-eu__warcfile.warc.gz")).run())
    assert len(lz4) == 16 and [(d.id, d.text) for d in lz4] == [(d.id, d.text) for d in gz]
