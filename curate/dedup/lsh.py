"""LSH banding: bands x rows chosen for a Jaccard threshold, and one 64-bit key per band.

Two documents are candidates when any band's key matches, that is when all `rows` signature
values of that band agree (up to a 2^-64 chance of a key collision).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from curate.dedup.signatures import MinHasher, odd_multipliers
from curate.errors import CurateError


def optimal_bands(threshold: float, num_perm: int, false_positive_weight: float = 0.5,
                  false_negative_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive and negative areas, the criterion
    datasketch's MinHashLSH uses (tests/test_dedup.py holds the two equal). The probability of
    becoming a candidate, 1 - (1 - s^rows)^bands, is a polynomial of degree <= num_perm in s, so
    Gauss-Legendre quadrature with num_perm points integrates it exactly (datasketch calls scipy,
    whose import alone is ~50 MB in every worker)."""
    points, weights = np.polynomial.legendre.leggauss(max(num_perm, 2))

    def area(f, lo: float, hi: float) -> float:
        s = (hi - lo) / 2 * points + (hi + lo) / 2
        return float((hi - lo) / 2 * np.dot(weights, f(s)))

    best, choice = float("inf"), (0, 0)
    for bands in range(1, num_perm + 1):
        for rows in range(1, num_perm // bands + 1):
            false_positive = area(lambda s: 1 - (1 - s ** rows) ** bands, 0.0, threshold)
            false_negative = area(lambda s: (1 - s ** rows) ** bands, threshold, 1.0)
            error = false_positive * false_positive_weight + false_negative * false_negative_weight
            if error < best:
                best, choice = error, (bands, rows)
    return choice


@dataclass(frozen=True)
class MinHashConfig:
    """Fuzzy dedup settings. bands/rows default to the optimum for `threshold`. `verify=False`
    clusters on band matches alone (faster, less precise: docs/dedup.md)."""

    threshold: float = 0.8
    num_perm: int = 128
    n_grams: int = 5
    bands: int | None = None
    rows: int | None = None
    seed: int = 1
    verify: bool = True  # band matches join a cluster only when the signatures agree (verify.py)

    def __post_init__(self):
        if not 0 < self.threshold <= 1:
            raise CurateError(f"MinHashConfig: threshold must be in (0, 1], got {self.threshold!r}")
        if self.bands is None or self.rows is None:
            # verified candidates can afford false positives: weigh missed pairs more
            bands, rows = optimal_bands(self.threshold, self.num_perm, *((0.05, 0.95) if self.verify else (0.5, 0.5)))
            object.__setattr__(self, "bands", self.bands or bands)
            object.__setattr__(self, "rows", self.rows or rows)
        if self.bands * self.rows > self.num_perm:
            raise CurateError(f"MinHashConfig: bands x rows ({self.bands} x {self.rows}) exceeds num_perm "
                              f"({self.num_perm})")

    def hasher(self) -> MinHasher:
        return MinHasher(num_perm=self.num_perm, n_grams=self.n_grams, seed=self.seed)


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(documents, bands) uint64 keys: each band's `rows` uint32 values, combined and mixed."""
    sig = signatures[:, : bands * rows].astype(np.uint64).reshape(len(signatures), bands, rows)
    from curate.dedup import kernels

    with np.errstate(over="ignore"):
        keys = (sig * odd_multipliers(rows)).sum(axis=2, dtype=np.uint64) + (sig[:, :, 0] << np.uint64(32))
    return kernels.mix_all(keys.ravel()).reshape(keys.shape)
