"""Exact and MinHash-LSH fuzzy deduplication as multi-stage pipelines (see steps.py)."""

from curate.dedup.components import (DedupEdges, DedupIndex, DedupKeepers, DedupLabels, DedupMembers,
                                     cluster_in_process)
from curate.dedup.lsh import MinHashConfig, band_keys, optimal_bands
from curate.dedup.normalise import exact_hash, normalise
from curate.dedup.signatures import MinHasher, jaccard, shingle_hashes
from curate.dedup.steps import (CLUSTER_COLUMNS, DedupFilter, DedupSignatures, ExactDedupFilter,
                                FuzzyDedupFilter, ReadStaged, dedup_in_process, dedup_steps)

__all__ = ["CLUSTER_COLUMNS", "DedupEdges", "DedupFilter", "DedupIndex", "DedupKeepers", "DedupLabels",
           "DedupMembers", "DedupSignatures", "ExactDedupFilter", "FuzzyDedupFilter", "MinHashConfig", "MinHasher",
           "ReadStaged", "band_keys", "cluster_in_process", "dedup_in_process", "dedup_steps", "exact_hash",
           "jaccard", "normalise", "optimal_bands", "shingle_hashes"]
