"""Benchmark decontamination: word n-gram overlap with evaluation sets (block.py, index.py)."""

from curate.decontam.block import Decontaminate
from curate.decontam.index import NgramIndex

__all__ = ["Decontaminate", "NgramIndex"]
