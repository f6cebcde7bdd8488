"""Streaming decompression that survives corrupt gzip members.

Crawl archives are gzipped one record per member (Common Crawl) or as one whole-file member
(older crawls). Python's gzip module handles both, but stops at the first corrupt byte and
loses the rest of the file. Here a corrupt member is skipped by scanning for the next gzip
header, so one bad record costs one record; the WARC parser resynchronises on what follows.
"""

from __future__ import annotations

import io
import zlib

GZIP_MAGIC = b"\x1f\x8b\x08"
_CHUNK = 1 << 16


class ResilientGzipReader(io.RawIOBase):
    """A readable stream of the concatenated, decompressed members of a gzip stream."""

    def __init__(self, raw, name: str = "<stream>"):
        self.raw = raw
        self.name = name
        self.corrupt_members = 0  # members abandoned because of bad data
        self.leading_garbage = 0  # bytes before the first member, skipped
        self._started = False
        self.truncated = False  # the compressed stream ended inside a member
        self._pending = b""  # compressed bytes read but not yet fed to zlib
        self._out = b""  # decompressed bytes not yet handed out, from self._pos on
        self._pos = 0
        self._dec = None
        self._eof = False
        self._skipping_bad = False  # the bytes up to the next header belong to a counted member
        self._member_out = False  # the current member has handed out decompressed bytes

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        """Decompress until some output is available or the input ends."""
        while self._pos >= len(self._out) and not self._eof:
            if not self._pending:
                self._pending = self.raw.read(_CHUNK)
                if not self._pending:
                    if self._dec is not None and not self._dec.eof:
                        self.truncated = True
                    self._eof = True
                    return
            if self._dec is None:
                start = self._pending.find(GZIP_MAGIC)
                if start < 0:
                    if not self._started:
                        self.leading_garbage += max(0, len(self._pending) - 2)
                    # keep the last bytes: a header may straddle two reads
                    self._pending = self._pending[-2:] if len(self._pending) > 2 else self._pending
                    more = self.raw.read(_CHUNK)
                    if not more:
                        self._eof = True
                        return
                    self._pending += more
                    continue
                if not self._started:
                    self.leading_garbage += start
                elif start > 0 and not self._skipping_bad:
                    self.corrupt_members += 1  # garbage that is no member at all
                self._started = True
                self._skipping_bad = False
                self._pending = self._pending[start:]
                self._dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._member_out = False
            data, self._pending = self._pending, b""
            try:
                self._out, self._pos = self._dec.decompress(data), 0
                self._member_out = self._member_out or bool(self._out)
            except zlib.error:
                # resynchronise after this member's header
                self.corrupt_members += 1
                self._skipping_bad = True
                self._dec = None
                self._pending = data[1:]
                if self._member_out:
                    # the part of this member handed out already ends mid-line: end the line, so the
                    # record header (or JSON line) the next member starts with starts a line, where
                    # the archive parser cuts the damaged record (else the next record is swallowed)
                    self._out, self._pos, self._member_out = b"\r\n", 0, False
                continue
            if self._dec.eof:
                self._pending = self._dec.unused_data
                self._dec = None

    def readinto(self, buffer) -> int:
        self._fill()
        n = min(len(buffer), len(self._out) - self._pos)
        buffer[:n] = self._out[self._pos : self._pos + n]
        self._pos += n
        return n

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            super().close()
