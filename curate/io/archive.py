"""A streaming, forgiving parser for WARC (0.17-1.1) and ARC (v1/v2) archives.

Real crawl files break the spec in known ways: Content-Length that counts characters instead
of bytes (Nutch, CC-MAIN-2014), missing blank lines after records (ARC, WARC/0.18), truncated
tails, garbage between records. warcio stops at the first of these. This parser yields every
record it can delimit and resynchronises on the next record header after anything it cannot,
counting what it had to do in `ArchiveParser.events`.

Damage stays with the record it hit: a declared length never carries a record past the next WARC
record header inside the bytes it would take (a corrupt gzip member, whose record's remaining bytes
are lost, or a wrong Content-Length would otherwise swallow the records after it). The record ends
there, counted as `cut_at_next_record`, and the next one parses. (A payload that itself holds a
WARC file's text would be cut too; compressed ones, as served, are not.)
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

_ARC_DATE = re.compile(rb"^\d{14}$")
_SKIP_CHUNK = 1 << 20
_VERSION_LINE = re.compile(rb"\nWARC/(?:1\.[01]|0\.1[78])\r?\n")
_VERSION_AT_END = re.compile(rb"WARC/(?:1\.[01]|0\.1[78])\r?\n\Z")  # a version line glued to garbage
_RECORD_HEADER = re.compile(rb"(?im)^WARC-(?:Type|Record-ID|Date|Target-URI|Content-Length):")
_LOOKAHEAD = 2048  # bytes after a version line in which its record's own headers must show


def next_record_at(data: bytes, start: int = 0) -> int | None:
    """Where in `data` (from `start`) the next WARC record begins: a version line at a line start
    with WARC headers under it, or None."""
    for match in _VERSION_LINE.finditer(data, start):
        block = data[match.end():match.end() + _LOOKAHEAD].split(b"\r\n\r\n", 1)[0]
        if _RECORD_HEADER.search(block):
            return match.start() + 1
    return None


@dataclass(slots=True)
class ArchiveRecord:
    """One WARC or ARC record. `content` is the record block (HTTP headers + payload for
    responses), or None when the block was larger than the parser's limit and skipped."""

    rec_type: str
    headers: dict[str, str]
    content: bytes | None
    content_length: int
    is_arc: bool = False
    truncated: bool = False  # the file ended inside this record
    # problems: "cut_at_next_record" (the declared length ran past the next record header: the block
    # ends there), "content_length_mismatch" (it ended before the next header: the block runs to it)
    problems: list[str] = field(default_factory=list)

    @property
    def url(self) -> str | None:
        url = self.headers.get("warc-target-uri")
        if url and url.startswith("<") and url.endswith(">"):
            return url[1:-1]  # WARC/1.0's grammar put the URI in <> and wget follows it
        return url

    @property
    def date(self) -> str | None:
        return self.headers.get("warc-date")

    @property
    def record_id(self) -> str | None:
        return self.headers.get("warc-record-id")


class _Lines:
    """readline/read over a binary stream, with push-back of any bytes. Pushed-back bytes are read
    from an offset, never copied per line (after a cut, megabytes may wait there)."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self._buf, self._at = b"", 0

    def readline(self, limit: int = 1 << 16) -> bytes:
        buf, at = self._buf, self._at
        if at < len(buf):
            end = buf.find(b"\n", at, at + limit)
            if end >= 0 or len(buf) - at >= limit:
                stop = end + 1 if end >= 0 else at + limit
                self._at = stop
                return buf[at:stop]
            head = buf[at:]
            self._buf, self._at = b"", 0
            return head + self.stream.readline(limit - len(head))
        return self.stream.readline(limit)

    def push(self, data: bytes) -> None:
        if not data:
            return
        at = self._at
        if at >= len(data) and self._buf[at - len(data):at] == data:
            self._at = at - len(data)  # the bytes just read from the buffer: step back
        else:
            self._buf, self._at = data + self._buf[at:], 0

    def read(self, n: int) -> bytes:
        head = b""
        if self._at < len(self._buf):
            head = self._buf[self._at:self._at + n]
            self._at += len(head)
            n -= len(head)
            if self._at >= len(self._buf):
                self._buf, self._at = b"", 0
        return head + (self.stream.read(n) if n > 0 else b"")

    def skip(self, n: int) -> int:
        skipped = 0
        while skipped < n:
            got = len(self.read(min(_SKIP_CHUNK, n - skipped)))
            if not got:
                break
            skipped += got
        return skipped


def _is_warc_version(line: bytes) -> bool:
    return line.startswith(b"WARC/") and len(line.strip()) <= 12


def _arc_header(line: bytes) -> dict[str, str] | None:
    """Parse an ARC record header line: URL IP DATE MIME LENGTH (v1) or its longer v2 form
    (URL IP DATE MIME CODE CHECKSUM LOCATION OFFSET FILENAME LENGTH). URLs may hold spaces, so the
    fields are found from the date: 14 digits after the IP, with 2 (v1) or 7 (v2) fields after it."""
    parts = line.strip().split(b" ")
    if len(parts) < 5 or not parts[-1].isdigit() or b":" not in parts[0]:
        return None
    for at in range(2, len(parts) - 2):
        if _ARC_DATE.match(parts[at]) and len(parts) - at - 1 in (2, 7):
            break
    else:
        return None
    d = parts[at].decode()
    return {
        "warc-target-uri": b" ".join(parts[:at - 1]).decode("utf-8", "replace"),
        "warc-date": f"{d[0:4]}-{d[4:6]}-{d[6:8]}T{d[8:10]}:{d[10:12]}:{d[12:14]}Z",
        "arc-ip": parts[at - 1].decode("latin-1"),
        "arc-content-type": parts[at + 1].decode("latin-1"),
        "content-length": parts[-1].decode(),
    }


class ArchiveParser:
    """Iterate over the records of one decompressed archive stream."""

    def __init__(self, stream: BinaryIO, max_content_bytes: int = 20 << 20):
        self.lines = _Lines(stream)
        self.max_content_bytes = max_content_bytes
        self.events: Counter[str] = Counter()

    def __iter__(self) -> Iterator[ArchiveRecord]:
        while True:
            line = self._next_nonblank()
            if not line:
                return
            if _is_warc_version(line):
                record = self._read_warc(line)
            elif (arc := _arc_header(line)) is not None:
                record = self._read_arc(line, arc)
            else:
                self.events["resync"] += 1
                if not self._resync(line):
                    return
                continue
            if record is not None:
                yield record

    def _next_nonblank(self) -> bytes:
        while True:
            line = self.lines.readline()
            if not line or line.strip():
                return line

    def _resync(self, line: bytes) -> bool:
        """Skip from `line`, which starts no record, to the next line that does, or to the WARC
        version line that garbage without a line break of its own runs into; False at end of stream."""
        tail = b""  # the end of a line longer than readline's limit, where a version line may start
        while True:
            glued = _VERSION_AT_END.search(tail + line)
            if glued:
                self.lines.push((tail + line)[glued.start():])
                return True
            tail = b"" if line.endswith(b"\n") else line[-16:]
            line = self.lines.readline()
            if not line:
                return False
            if _is_warc_version(line) or _arc_header(line) is not None:
                self.lines.push(line)
                return True

    def _read_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        last = None
        while True:
            line = self.lines.readline()
            if not line or not line.strip():
                return headers
            if line[:1] in (b" ", b"\t") and last:
                headers[last] += " " + line.strip().decode("utf-8", "replace")
                continue
            name, sep, value = line.decode("utf-8", "replace").partition(":")
            if sep:
                last = name.strip().lower()
                headers[last] = value.strip()

    def _read_content(self, length: int) -> tuple[bytes | None, bool, bool]:
        """Read or skip `length` bytes, but never past the next record header in them; returns
        (content, or None if skipped as too large; truncated: the stream ended first; cut short at
        the next record header)."""
        if length > self.max_content_bytes:
            return None, *self._skip(length)
        content = self.lines.read(length)
        lookahead = self.lines.read(_LOOKAHEAD)  # a header right at the end needs its next lines
        self.lines.push(lookahead)
        cut = next_record_at(content + lookahead[:len(lookahead) if len(content) == length else 0])
        if cut is not None and cut < len(content):
            self.events["cut_at_next_record"] += 1
            self.lines.push(content[cut:])
            block = content[:cut]
            for separator in (b"\r\n\r\n", b"\n\n"):  # the blank lines that end every record are not its block
                if block.endswith(separator):
                    block = block[:-len(separator)]
                    break
            return block, False, True
        return content, len(content) < length, False

    def _skip(self, length: int) -> tuple[bool, bool]:
        """Skip a record too large to keep, stopping at the next record header; returns (truncated:
        the stream ended first, cut short at the next record header)."""
        skipped, tail = 0, b""
        while skipped < length:
            chunk = self.lines.read(min(_SKIP_CHUNK, length - skipped))
            if not chunk:
                return True, False
            window = tail + chunk
            lookahead = self.lines.read(_LOOKAHEAD)
            self.lines.push(lookahead)
            cut = next_record_at(window + lookahead)
            if cut is not None and cut < len(window):
                self.events["cut_at_next_record"] += 1
                self.lines.push(window[cut:])
                return False, True
            skipped += len(chunk)
            tail = window[-64:]  # a version line may straddle two chunks
        return False, False

    def _read_warc(self, version_line: bytes) -> ArchiveRecord | None:
        headers = self._read_headers()
        try:
            length = int(headers.get("content-length", ""))
        except ValueError:
            self.events["bad_content_length"] += 1
            return None
        rec_type = headers.get("warc-type", "unknown").lower()
        content, truncated, cut = self._read_content(length)
        record = ArchiveRecord(rec_type, headers, content, length, truncated=truncated)
        if cut:
            record.problems.append("cut_at_next_record")
        elif content is not None and not truncated:
            self._extend_on_length_mismatch(record)
        return record

    def _extend_on_length_mismatch(self, record: ArchiveRecord) -> None:
        """If the declared length ended the block early, the bytes up to the next record
        header belong to it: take them (bounded), so the record is whole and the next one
        still parses."""
        extra = []  # the bytes after the declared end, kept exactly (blank lines included)
        while (line := self.lines.readline()) and not line.strip():
            extra.append(line)
        if not line or _is_warc_version(line) or len(extra) >= 2:
            # (a full blank-line separator after the block: what follows is garbage to resync past)
            self.lines.push(line)
            return
        self.events["content_length_mismatch"] += 1
        record.problems.append("content_length_mismatch")
        extra.append(line)
        size = sum(map(len, extra))
        while True:
            line = self.lines.readline()
            if not line:
                break
            if _is_warc_version(line):
                self.lines.push(line)
                break
            if size < self.max_content_bytes:
                extra.append(line)
                size += len(line)
        record.content = record.content + b"".join(extra)

    def _read_arc(self, line: bytes, headers: dict[str, str]) -> ArchiveRecord:
        length = int(headers["content-length"])
        is_filedesc = headers["warc-target-uri"].startswith("filedesc:")
        content, truncated, cut = self._read_content(length)
        rec_type = "warcinfo" if is_filedesc else "response"
        return ArchiveRecord(rec_type, headers, content, length, is_arc=True, truncated=truncated,
                             problems=["cut_at_next_record"] if cut else [])
