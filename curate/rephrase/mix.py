"""MixSynthetic: keep real and rephrased documents in a chosen real:synthetic ratio.

Works on either form the Rephrase block writes: the column form (one document carrying
`rephrased_text` with `rephrase_status`) and the documents form (each original followed by its
rewrite, `synthetic` true and `source_id` naming the original). Each source document offers at
most one real and one synthetic document (only rewrites with status ok count); the step keeps as
many as it can in the ratio:

    method="exact" (default): a running count keeps real:synthetic at the ratio after every
        source document (to within one document), given enough ok rewrites; the choice depends
        on the input order, which is deterministic for a given input and --tasks;
    method="hash": each document is kept by a hash of (seed, its id, real|synthetic) against the
        ratio's keep probabilities: a document's fate does not depend on order or sharding, and
        the ratio is met in expectation (within a few sqrt(n)).

Output documents carry `synthetic` (bool) and `source_id` (the original's id for rewrites, null
for real documents); the rewrite is the synthetic document's text, never a column of a real one.
"""

from __future__ import annotations

import hashlib
from fractions import Fraction
from typing import Iterator

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline

from curate.errors import CurateError
from curate.rephrase.checks import OK
from curate.step import BYTES_IN, BYTES_OUT, DOCS_IN, DOCS_OUT, DROPPED, CurateStep, Funnel, utf8_len

METHODS = ("exact", "hash")


def parse_ratio(ratio) -> tuple[int, int]:
    """'1:1', '3:1', (1, 2) -> (real, synthetic) parts, neither negative, not both zero."""
    if isinstance(ratio, str):
        real, sep, synthetic = ratio.partition(":")
        try:
            parts = (Fraction(real.strip()), Fraction(synthetic.strip())) if sep else None
        except ValueError:
            parts = None
    else:
        try:
            parts = tuple(Fraction(x) for x in ratio)
        except (TypeError, ValueError):
            parts = None
    if not parts or len(parts) != 2 or min(parts) < 0 or max(parts) == 0:
        raise CurateError(f"mix ratio {ratio!r}: expected REAL:SYNTHETIC such as 1:1 or 3:1")
    scale = parts[0].denominator * parts[1].denominator
    return int(parts[0] * scale), int(parts[1] * scale)


def unit_hash(seed: int, doc_id: str, kind: str) -> float:
    digest = hashlib.blake2b(f"{seed}\x00{kind}\x00{doc_id}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2 ** 64


class MixSynthetic(CurateStep):
    """Keep real and synthetic documents at `ratio` (REAL:SYNTHETIC, e.g. "1:1" as in Maini et al.)."""

    name = "mix"

    def __init__(self, ratio="1:1", method: str = "exact", seed: int = 0, column: str = "rephrased_text",
                 style: str | None = None, name: str | None = None):
        super().__init__(name)
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise CurateError(f"MixSynthetic seed={seed!r}: expected an integer")
        if method not in METHODS:
            raise CurateError(f"MixSynthetic method={method!r}: choose one of {', '.join(METHODS)}")
        self.real, self.synthetic = parse_ratio(ratio)
        self.method, self.seed, self.column, self.style = method, seed, column, style
        self.columns = {"synthetic": pa.bool_(), "source_id": pa.string()}
        # keep probabilities for method="hash", as if every document had an ok rewrite
        if self.synthetic == 0 or self.real >= self.synthetic:
            self.p_real, self.p_synthetic = 1.0, self.synthetic / self.real
        else:
            self.p_real, self.p_synthetic = self.real / self.synthetic, 1.0

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        funnel = Funnel()
        counts = funnel.counts
        kept_real = kept_synthetic = 0
        try:
            for real, synthetic in self._pairs(data or (), counts):
                keep_real, keep_synthetic = self._decide(real, synthetic, kept_real, kept_synthetic)
                for doc, keep, kind in ((real, keep_real, "real"), (synthetic, keep_synthetic, "synthetic")):
                    if doc is None:
                        continue
                    if keep:
                        counts[DOCS_OUT] += 1
                        counts[BYTES_OUT] += utf8_len(doc.text)
                        counts[f"kept.{kind}"] += 1
                        yield doc
                    else:
                        counts[DROPPED + f"mix_{kind}"] += 1
                kept_real += bool(real is not None and keep_real)
                kept_synthetic += bool(synthetic is not None and keep_synthetic)
        finally:
            funnel.flush(self)

    def _decide(self, real, synthetic, kept_real: int, kept_synthetic: int) -> tuple[bool, bool]:
        a, b = self.real, self.synthetic
        if self.method == "hash":
            keep_real = real is not None and unit_hash(self.seed, real.id, "real") < self.p_real
            source = synthetic.metadata.get("source_id") or synthetic.id if synthetic is not None else None
            keep_synthetic = synthetic is not None and unit_hash(self.seed, source, "synthetic") < self.p_synthetic
            return keep_real, keep_synthetic
        # exact: the side that the ratio favours is always kept; the other is kept whenever that
        # does not push its count past the ratio
        if a >= b:
            real_after = kept_real + (real is not None)
            return real is not None, synthetic is not None and (kept_synthetic + 1) * a <= real_after * b
        synthetic_after = kept_synthetic + (synthetic is not None)
        return real is not None and (kept_real + 1) * b <= synthetic_after * a, synthetic is not None

    def _pairs(self, data, counts) -> Iterator[tuple[Document | None, Document | None]]:
        """(real, synthetic-or-None) per source document, from either form. In the documents form
        a rewrite directly after its original is paired with it (as Rephrase writes them)."""
        held: Document | None = None
        for doc in data:
            counts[DOCS_IN] += 1
            counts[BYTES_IN] += utf8_len(doc.text)
            meta = doc.metadata
            if meta.get("synthetic"):
                if held is not None and meta.get("source_id") == held.id:
                    yield held, doc
                    held = None
                    continue
                if held is not None:
                    yield held, None
                    held = None
                yield None, doc
                continue
            if held is not None:
                yield held, None
                held = None
            if meta.get(self.column) is not None or meta.get("synthetic") is None:
                yield self._split_column(doc)  # the column form (or plain real data)
            else:
                held = doc  # an original of the documents form: its rewrite may come next
        if held is not None:
            yield held, None

    def _split_column(self, doc: Document) -> tuple[Document, Document | None]:
        meta = doc.metadata
        text = meta.get(self.column)
        meta[self.column] = None  # the rewrite becomes its own document, not a column of the real one
        meta["synthetic"], meta["source_id"] = False, None
        if meta.get("rephrase_status") != OK or not text:
            return doc, None
        style = meta.get("rephrase_style") or self.style or "rephrase"
        synthetic = Document(text=text, id=f"{doc.id}/rephrase/{style}",
                             metadata={**meta, "synthetic": True, "source_id": doc.id})
        return doc, synthetic
