"""ExtractText: main-text extraction from HTML documents.

Three extractors (docs/extract.md has their speed and gold-set scores): "blocks", the default,
curate's own (curate/extract/blocks.py: trafilatura's precision at ~10x its speed); "trafilatura";
"resiliparse" (its main-content mode: fastest, keeps more boilerplate). Each page gets a CPU-time
limit (`timeout`), after which it is dropped as `timeout`. Documents that
are already text (WET, JSONL, Parquet) pass unchanged: curate's reader says which is which in
`metadata["content_kind"]`; for documents without it (datatrove's readers), the text itself
decides (markup at its start means HTML).
"""

from __future__ import annotations

from datatrove.data import Document

from curate.errors import CurateError
from curate.extract.blocks import blocks_extract
from curate.extract.timelimit import TimeLimitExceeded, time_limit
from curate.io.payload import looks_like_html
from curate.step import CurateStep

EXTRACTORS = ("blocks", "trafilatura", "resiliparse")


def trafilatura_extract(html: str) -> str:
    import trafilatura
    from trafilatura.deduplication import LRU_SIZE, LRUCache

    # the same options as datatrove's Trafilatura block, so results are comparable, except that
    # repeated segments are counted per page: trafilatura's default cache is process-global, so
    # a page's text would depend on the pages the same worker extracted before it
    return trafilatura.extract(html, favor_precision=True, include_comments=False,
                               deduplicate=LRUCache(maxsize=LRU_SIZE)) or ""


def resiliparse_extract(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    return extract_plain_text(tree, main_content=True, alt_texts=False, links=False, noscript=False) or ""


def is_html(text: str) -> bool:
    """Whether a document of unknown kind is a web page: it starts with markup."""
    return looks_like_html(text[:2048].encode("utf-8", "replace"))


class ExtractText(CurateStep):
    """Replace each HTML document's text by its extracted main text.

    Args:
        extractor: "blocks" (curate's own, the default), "trafilatura" or "resiliparse".
        timeout: CPU seconds per document; slower pages are dropped (`timeout`). CPU time, not
            wall-clock: a loaded or paused machine drops the same pages (curate/extract/timelimit.py).
        max_html_chars: larger pages are dropped unparsed (`too_large`).
        min_chars: documents whose extracted text is shorter are dropped (`no_text`).
    """

    name = "extract"

    def __init__(self, extractor: str = "blocks", timeout: float = 5.0, max_html_chars: int = 10_000_000,
                 min_chars: int = 1, name: str | None = None):
        super().__init__(name)
        if extractor not in EXTRACTORS:
            raise CurateError(f"unknown extractor {extractor!r}: choose one of {', '.join(EXTRACTORS)}")
        self.extractor = extractor
        self.timeout = timeout
        self.max_html_chars = max_html_chars
        self.min_chars = min_chars
        self._extract = {"blocks": blocks_extract, "trafilatura": trafilatura_extract,
                         "resiliparse": resiliparse_extract}[extractor]

    def process(self, doc: Document) -> str | None:
        kind = doc.metadata.get("content_kind")
        if kind != "html" and (kind is not None or not is_html(doc.text)):
            return None
        if len(doc.text) > self.max_html_chars:
            return "too_large"
        try:
            with time_limit(self.timeout):
                text = self._extract(doc.text)
        except TimeLimitExceeded:
            return "timeout"
        except Exception:  # noqa: BLE001 - a parser error on one page must not stop the run
            return "extractor_error"
        text = text.strip()
        if len(text) < self.min_chars:
            return "no_text"
        doc.text = text
        doc.metadata["content_kind"] = "text"
        return None
