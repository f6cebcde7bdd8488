"""Unit tests of the archive parser, the resilient gzip stream and the payload helpers, on
archives built byte by byte in the tests."""

from __future__ import annotations

import gzip
import io
import zlib

import brotli
import pytest

from curate.io import payload
from curate.io.archive import ArchiveParser
from curate.io.gzipstream import ResilientGzipReader

# -- building archives ------------------------------------------------------------------------


def http_block(body: bytes, content_type: str = "text/html; charset=utf-8", status: str = "200 OK",
               extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}\r\n".encode() + body


def page(n: int) -> bytes:
    return f"<html><head><title>Page {n}</title></head><body><p>Text of page {n}.</p></body></html>".encode()


def warc_record(n: int, block: bytes | None = None, rec_type: str = "response", length: int | None = None,
                extra_headers: str = "") -> bytes:
    block = http_block(page(n)) if block is None else block
    head = (
        f"WARC/1.0\r\nWARC-Type: {rec_type}\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{n:012d}>\r\n"
        f"WARC-Date: 2024-05-18T01:58:{n % 60:02d}Z\r\nWARC-Target-URI: https://example.com/{n}\r\n"
        f"{extra_headers}Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(block) if length is None else length}\r\n\r\n"
    )
    return head.encode() + block + b"\r\n\r\n"


def parse(data: bytes, gzipped: bool = False, **kwargs):
    """(records, parser, gzip reader or None)."""
    gz = ResilientGzipReader(io.BytesIO(data)) if gzipped else None
    stream = io.BufferedReader(gz) if gz else io.BytesIO(data)
    parser = ArchiveParser(stream, **kwargs)
    return list(parser), parser, gz


def corrupt(member: bytes) -> bytes:
    """The same gzip member with 8 bytes in the middle of its deflate data inverted."""
    bad = bytearray(member)
    middle = len(bad) // 2
    bad[middle : middle + 8] = bytes(b ^ 0xFF for b in bad[middle : middle + 8])
    return bytes(bad)


THREE = [warc_record(n) for n in (1, 2, 3)]


# -- WARC structure ---------------------------------------------------------------------------


def check_three(records):
    assert [r.rec_type for r in records] == ["response"] * 3
    assert [r.url for r in records] == ["https://example.com/1", "https://example.com/2", "https://example.com/3"]
    assert records[1].record_id == "<urn:uuid:00000000-0000-0000-0000-000000000002>"
    assert records[2].date == "2024-05-18T01:58:03Z"
    assert [r.content for r in records] == [http_block(page(n)) for n in (1, 2, 3)]
    assert not any(r.truncated or r.problems for r in records)


def test_plain_multiple_records():
    records, parser, _ = parse(b"".join(THREE))
    check_three(records)
    assert parser.events == {}


def test_per_record_gzip():
    records, parser, gz = parse(b"".join(gzip.compress(r) for r in THREE), gzipped=True)
    check_three(records)
    assert parser.events == {}
    assert (gz.corrupt_members, gz.truncated) == (0, False)


def test_whole_file_gzip():
    records, parser, gz = parse(gzip.compress(b"".join(THREE)), gzipped=True)
    check_three(records)
    assert parser.events == {}
    assert (gz.corrupt_members, gz.truncated) == (0, False)


def test_gzip_stream_larger_than_one_read_chunk():
    blocks = [http_block(page(n) + bytes(range(256)) * 600) for n in range(4)]  # ~150 kB each
    data = b"".join(gzip.compress(warc_record(n, block)) for n, block in enumerate(blocks))
    records, _, gz = parse(data, gzipped=True)
    assert [r.content for r in records] == blocks
    assert (gz.corrupt_members, gz.truncated) == (0, False)


def test_header_continuation_lines_and_case():
    record = warc_record(1, extra_headers="X-Note: first part\r\n  second part\r\n\tthird\r\nwarc-PROFILE: p\r\n")
    [rec], _, _ = parse(record)
    assert rec.headers["x-note"] == "first part second part third"
    assert rec.headers["warc-profile"] == "p"
    assert rec.content == http_block(page(1))


def test_target_uri_in_angle_brackets():
    # wget writes WARC/1.0's `<uri>` form
    data = warc_record(1).replace(b"URI: https://example.com/1", b"URI: <https://example.com/1>")
    [rec], _, _ = parse(data)
    assert rec.url == "https://example.com/1"


def test_content_length_too_short_extends_to_next_header():
    # the declared end falls inside a two-byte character, before a blank line of the block
    block = http_block(("<p>Grüße " + "ü" * 30 + "</p>\r\n\r\n<p>end</p>").encode())
    short = len(block.decode("utf-8"))  # counts characters, as Nutch did: fewer than the bytes
    assert short < len(block)
    records, parser, _ = parse(warc_record(1, block, length=short) + THREE[1])
    assert [r.url for r in records] == ["https://example.com/1", "https://example.com/2"]
    first = records[0]
    assert first.problems == ["content_length_mismatch"]
    assert first.content.rstrip(b"\r\n") == block  # exactly the file's bytes, nothing inserted
    assert records[1].content == http_block(page(2))
    assert parser.events == {"content_length_mismatch": 1}


def test_garbage_between_records_resyncs():
    garbage = b"this is not a record\r\n\x00\x01\x02 binary junk\r\nmore junk\r\n"
    data = b"junk before the first record\r\n" + THREE[0] + garbage + THREE[1] + garbage + THREE[2]
    records, parser, _ = parse(data)
    check_three(records)
    assert parser.events == {"resync": 3}


def test_bad_content_length_header_skips_the_record():
    data = THREE[0] + warc_record(2).replace(b"Content-Length: ", b"Content-Length: x") + THREE[2]
    records, parser, _ = parse(data)
    assert [r.url for r in records] == ["https://example.com/1", "https://example.com/3"]
    assert parser.events["bad_content_length"] == 1


def test_warc_018_without_blank_lines_between_records():
    data = b"".join(r.replace(b"WARC/1.0", b"WARC/0.18").removesuffix(b"\r\n\r\n") for r in THREE)
    records, parser, _ = parse(data)
    assert [r.content for r in records] == [http_block(page(n)) for n in (1, 2, 3)]
    assert parser.events == {}


def test_corrupt_gzip_member_in_the_middle():
    members = [gzip.compress(r) for r in THREE]
    records, parser, gz = parse(members[0] + corrupt(members[1]) + members[2], gzipped=True)
    assert [r.url for r in records] == ["https://example.com/1", "https://example.com/3"]
    assert [r.content for r in records] == [http_block(page(1)), http_block(page(3))]
    assert gz.corrupt_members == 1
    assert gz.truncated is False


def test_two_corrupt_members_count_twice():
    members = [gzip.compress(warc_record(n)) for n in range(5)]
    data = members[0] + corrupt(members[1]) + corrupt(members[2]) + members[3] + corrupt(members[4])
    records, _, gz = parse(data, gzipped=True)
    assert [r.url for r in records] == ["https://example.com/0", "https://example.com/3"]
    assert gz.corrupt_members == 3


def test_truncated_gzip_tail():
    members = [gzip.compress(r) for r in THREE]
    data = members[0] + members[1] + members[2][:-12]  # the file ends inside the third block
    records, _, gz = parse(data, gzipped=True)
    assert gz.truncated is True
    assert gz.corrupt_members == 0
    assert [r.truncated for r in records] == [False, False, True]
    assert records[2].url == "https://example.com/3"
    assert http_block(page(3)).startswith(records[2].content)


def test_record_larger_than_limit_is_skipped_unread():
    big = http_block(b"<html><body>" + b"x" * 5000 + b"</body></html>")
    records, _, _ = parse(THREE[0] + warc_record(2, big) + THREE[2], max_content_bytes=4096)
    assert [r.content is None for r in records] == [False, True, False]
    assert records[1].content_length == len(big)
    assert records[2].content == http_block(page(3))


def test_record_type_and_empty_block():
    data = warc_record(1, b"software: test\r\n", rec_type="warcinfo") + warc_record(2, b"")
    records, parser, _ = parse(data)
    assert [(r.rec_type, r.content) for r in records] == [("warcinfo", b"software: test\r\n"), ("response", b"")]
    assert parser.events == {}


def test_empty_stream_and_non_archive():
    assert parse(b"")[0] == []
    records, parser, _ = parse(b"<html>not an archive</html>\n" * 100)
    assert records == []
    assert parser.events == {"resync": 1}


# -- ARC --------------------------------------------------------------------------------------


def arc_file() -> bytes:
    filedesc_body = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    html = http_block(page(7), content_type="text/html")
    image = http_block(b"\x89PNG\r\n\x1a\n\x00\x00", content_type="image/png")
    dns = b"20240102030405\nexample.com. 300 IN A 93.184.216.34\n"
    return (
        b"filedesc://test.arc 0.0.0.0 20240102030405 text/plain %d\n" % len(filedesc_body) + filedesc_body + b"\n"
        + b"dns:example.com 10.0.0.1 20240102030405 text/dns %d\n" % len(dns) + dns + b"\n"
        + b"http://example.com/ 93.184.216.34 20240102030406 text/html %d\n" % len(html) + html + b"\n"
        # ARC v2 header: URL IP DATE MIME STATUS CHECKSUM LOCATION OFFSET FILENAME LENGTH
        + b"http://example.com/a.png 93.184.216.34 20240102030407 image/png 200 ABC - 0 test.arc %d\n" % len(image)
        + image + b"\n"
    )


@pytest.mark.parametrize("gzipped", [False, True])
def test_arc_records(gzipped):
    data = gzip.compress(arc_file()) if gzipped else arc_file()
    records, parser, _ = parse(data, gzipped=gzipped)
    assert [(r.rec_type, r.url) for r in records] == [
        ("warcinfo", "filedesc://test.arc"),
        ("response", "dns:example.com"),
        ("response", "http://example.com/"),
        ("response", "http://example.com/a.png"),
    ]
    assert all(r.is_arc and not r.truncated for r in records)
    html = records[2]
    assert html.date == "2024-01-02T03:04:06Z"
    assert html.headers["arc-ip"] == "93.184.216.34"
    assert html.headers["arc-content-type"] == "text/html"
    assert html.content == http_block(page(7), content_type="text/html")
    assert records[3].headers["arc-content-type"] == "image/png"
    assert parser.events == {}


# -- payload ----------------------------------------------------------------------------------


def test_split_http():
    status, headers, body = payload.split_http(b"HTTP/1.1 404 Not Found\r\nContent-TYPE: text/html\r\n\r\n<p>x</p>")
    assert (status, headers, body) == (404, {"content-type": "text/html"}, b"<p>x</p>")
    assert payload.split_http(b"HTTP/1.0 200 OK\nServer: a\n\nbody") == (200, {"server": "a"}, b"body")
    assert payload.split_http(b"plain text block") == (None, {}, b"plain text block")
    assert payload.split_http(b"HTTP/1.1 200 OK\r\nServer: cut") == (None, {}, b"")


def test_dechunk():
    chunked = b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n"
    assert payload.dechunk(chunked) == b"Wikipedia in\r\n\r\nchunks."
    assert payload.dechunk(b"4;ext=1\r\nWiki\r\n0\r\n\r\n") == b"Wiki"  # chunk extensions
    assert payload.dechunk(b"4\nWiki\n5\npedia\n0\n\n") == b"Wikipedia"  # LF only
    assert payload.dechunk(b"<html>not chunked</html>") == b"<html>not chunked</html>"
    assert payload.dechunk(b"4\r\nWiki\r\n") == b"Wiki"  # cut off before the last chunk


def test_content_encodings():
    html = page(1) * 20
    assert payload.decode_content_encoding(gzip.compress(html), "gzip") == html
    assert payload.decode_content_encoding(gzip.compress(html), " X-GZIP ") == html
    assert payload.decode_content_encoding(zlib.compress(html), "deflate") == html
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert payload.decode_content_encoding(raw_deflate.compress(html) + raw_deflate.flush(), "deflate") == html
    assert payload.decode_content_encoding(brotli.compress(html), "br") == html
    assert payload.decode_content_encoding(html, "identity") == html
    assert payload.decode_content_encoding(html, "") == html


def test_content_encoding_errors_and_already_decoded_payloads():
    with pytest.raises(payload.PayloadError, match="^bad_content_encoding:gzip$"):
        payload.decode_content_encoding(gzip.compress(b"x")[:10] + b"\xff\xff\xff\xffgarbage", "gzip")
    with pytest.raises(payload.PayloadError, match="^bad_content_encoding:br$"):
        payload.decode_content_encoding(b"\x00\x01\x02binary", "br")
    with pytest.raises(payload.PayloadError, match="^unsupported_content_encoding:compress$"):
        payload.decode_content_encoding(b"data", "compress")
    # crawlers that stored the decoded payload but kept the header (Nutch: CC-MAIN-2014, ClueWeb09)
    for encoding in ("gzip", "deflate", "br"):
        stored = b"\r\n<!DOCTYPE html><p>x</p>"
        assert payload.decode_content_encoding(stored, encoding) == stored


def test_decode_text():
    text = "Grüße aus München – café"
    # valid UTF-8 wins over a wrong declaration
    assert payload.decode_text(text.encode(), "iso-8859-1") == (text, "utf-8")
    # Latin-1 bytes declared as UTF-8 are still decoded right, by detection
    french = "Café crème brûlée à la française : une façade naïve, déjà vue. Où est le garçon ?"
    assert payload.decode_text(french.encode("latin-1"), "utf-8") == (french, "detected")
    cp1252 = "<p>He said “quotes” – and it’s fine… café</p>"
    assert payload.decode_text(cp1252.encode("cp1252"), "utf-8") == (cp1252, "detected")
    # a right declaration of a non-UTF-8 charset
    japanese = "日本語のテキストです。これはテストです。"
    assert payload.decode_text(japanese.encode("shift_jis"), "shift_jis") == (japanese, "declared")
    # BOM removed; unknown charset names fall through
    assert payload.decode_text(b"\xef\xbb\xbfhello", None) == ("hello", "utf-8")
    assert payload.decode_text(b"caf\xe9 au lait", "no-such-charset")[0] == "café au lait"
    # invalid UTF-8 without a declaration never raises
    text, how = payload.decode_text(b"abc\xff\xfe\x80 def\x81\x8d\x8f\x90\x9d", None)
    assert text.startswith("abc") and "def" in text
    assert how in ("detected", "replaced")


def test_declared_charset():
    assert payload.declared_charset("text/html; charset=ISO-8859-1", b"") == "ISO-8859-1"
    assert payload.declared_charset('text/html; charset="utf-8"', b"") == "utf-8"
    assert payload.declared_charset("text/html", b'<html><head><meta charset="euc-jp">') == "euc-jp"
    meta = b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
    assert payload.declared_charset(None, meta) == "windows-1251"
    assert payload.declared_charset("text/html", b"<html><body>no charset</body></html>") is None


@pytest.mark.parametrize("body, expected", [
    (b"<!DOCTYPE html><html>", True),
    (b"\xef\xbb\xbf  \n<html lang=en>", True),
    (b"<!-- generated -->\n<!-- twice -->\n<HEAD><title>", True),
    (b"<body>x</body>", True),
    (b"<title>t</title>", True),
    (b"\r\n<meta charset=utf-8>", True),
    (b"plain text that mentions <html> later", False),
    (b'{"json": "<html>"}', False),
    (b"<?xml version='1.0'?><rss>", False),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", False),
    (b"", False),
])
def test_looks_like_html(body, expected):
    assert payload.looks_like_html(body) is expected


def test_media_type():
    assert payload.media_type("Text/HTML; charset=utf-8") == "text/html"
    assert payload.media_type(None) == ""
