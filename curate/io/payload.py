"""From an archive record's block to HTML text: HTTP headers, transfer/content encodings,
media type and character set."""

from __future__ import annotations

import codecs
import re
import zlib

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "unknown/unknown", "application/unknown"})
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]{1,40})""", re.I)
_HTML_START = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|title|meta)\b", re.I | re.S)


class PayloadError(ValueError):
    """The payload cannot be turned into text; the message is the skip reason."""


def split_http(block: bytes) -> tuple[int | None, dict[str, str], bytes]:
    """(status, lower-cased headers, body) of an HTTP response block; (None, {}, block) if the
    block has no HTTP header (WET conversions, resource records, dns: ARC records)."""
    if not block.startswith(b"HTTP/"):
        return None, {}, block
    end, sep = block.find(b"\r\n\r\n"), 4
    lf = block.find(b"\n\n")
    if end < 0 or (0 <= lf < end):
        end, sep = lf, 2
    if end < 0:
        return None, {}, b""  # headers only, cut off
    head = block[:end].decode("latin-1").splitlines()
    status = None
    parts = head[0].split(" ", 2)
    if len(parts) > 1 and parts[1].isdigit():
        status = int(parts[1])
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers[name.strip().lower()] = value.strip()
    return status, headers, block[end + sep :]


def dechunk(body: bytes) -> bytes:
    """Undo HTTP chunked transfer encoding; returns the body unchanged if it is not chunked."""
    out, pos = [], 0
    while True:
        eol = body.find(b"\n", pos)
        if eol < 0:
            break
        size_field = body[pos:eol].split(b";")[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            return body if not out else b"".join(out)
        if size == 0:
            break
        out.append(body[eol + 1 : eol + 1 + size])
        pos = eol + 1 + size
        if body.startswith(b"\r\n", pos):
            pos += 2
        elif body.startswith(b"\n", pos):
            pos += 1
    return b"".join(out) if out else body


def decode_content_encoding(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity", "none"):
        return body
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
        if encoding == "br":
            import brotli

            return brotli.decompress(body)
    except Exception as e:  # noqa: BLE001 - any decoder failure means the same thing here
        if body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
            return body  # stored already decoded, header kept (Nutch: CC-MAIN-2014, ClueWeb09)
        raise PayloadError(f"bad_content_encoding:{encoding}") from e
    raise PayloadError(f"unsupported_content_encoding:{encoding}")


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def looks_like_html(body: bytes) -> bool:
    return bool(_HTML_START.match(body[:2048].lstrip(b"\xef\xbb\xbf")))


def declared_charset(content_type: str | None, body: bytes) -> str | None:
    m = re.search(r"charset\s*=\s*[\"']?([\w.:-]+)", content_type or "", re.I)
    if m:
        return m.group(1)
    m = _META_CHARSET.search(body[:4096])
    return m.group(1).decode("ascii") if m else None


# single-byte charsets decode any bytes, so a page that lies about one never fails to decode
_ACCEPTS_ANY_BYTES = re.compile(r"(iso[-_ ]?8859|latin|windows-125|cp125|cp1252|ascii|us-ascii|koi8)", re.I)
# the labels that mean windows-1252 on the web (WHATWG Encoding Standard): a page labelled ISO-8859-1
# or ASCII is decoded as windows-1252 by every browser, so 0x80-0x9F are “ ” ’ – € ..., not C1 controls
_WINDOWS_1252_LABELS = frozenset({
    "ansi_x3.4-1968", "ascii", "cp1252", "cp819", "csisolatin1", "ibm819", "iso-8859-1", "iso-ir-100", "iso8859-1",
    "iso88591", "iso_8859-1", "iso_8859-1:1987", "l1", "latin1", "us-ascii", "windows-1252", "x-cp1252"})
# the five bytes windows-1252 leaves undefined are the C1 controls of the same value (WHATWG)
codecs.register_error("curate-c1", lambda e: (e.object[e.start:e.end].decode("latin-1"), e.end))


def decode_text(body: bytes, declared: str | None) -> tuple[str, str]:
    """Decode bytes to str; returns (text, how). Valid UTF-8 wins over a declaration (pages
    mislabelled as Latin-1 are common; UTF-8 that is valid by accident is not), then the
    declared charset, then detection, then UTF-8 with replacement characters. A declared
    single-byte charset is checked against the bytes first: when detection finds a multi-byte
    one (Shift_JIS labelled ISO-8859-1) that decodes them cleanly, it wins ("override"). ISO-8859-1
    and ASCII labels are read as windows-1252, as browsers read them."""
    try:
        return body.decode("utf-8").lstrip("\ufeff"), "utf-8"
    except UnicodeDecodeError:
        pass
    from resiliparse.parse.encoding import detect_encoding

    if declared and _ACCEPTS_ANY_BYTES.search(declared):
        detected = detect_encoding(body[:65536])
        if detected and not _ACCEPTS_ANY_BYTES.search(detected):
            try:
                return body.decode(detected), "override"
            except (UnicodeDecodeError, LookupError):
                pass
    if declared and declared.strip().lower() in _WINDOWS_1252_LABELS:
        return body.decode("cp1252", "curate-c1"), "declared"
    if declared:
        try:
            return body.decode(declared), "declared"
        except (UnicodeDecodeError, LookupError):
            pass
    detected = detect_encoding(body[:65536])
    try:
        return body.decode(detected), "detected"
    except (UnicodeDecodeError, LookupError):
        return body.decode("utf-8", "replace"), "replaced"
