"""Heuristic quality rules (Gopher, C4, FineWeb, RefinedWeb) over one shared feature pass.

Each rule set is one block; every block writes its statistics as `<name>_*` columns (its name:
gopher_rep, c4, ..., or one given with name=) and the first failing rule as `<name>_failed`, and
drops with reason `<name>:<rule>` unless annotate_only=True. See docs/heuristics.md for the rules, defaults and language behaviour.
"""

from curate.filters.heuristics.c4 import C4Quality
from curate.filters.heuristics.features import WORDLESS_LANGUAGES, Features, features_of
from curate.filters.heuristics.fineweb import FineWebQuality
from curate.filters.heuristics.gopher import STOP_WORDS, GopherQuality, GopherRepetition
from curate.filters.heuristics.refinedweb import RefinedWebQuality


def heuristic_filters(annotate_only: bool = False, **kwargs) -> list:
    """All five rule-set blocks in DataComp order, with default thresholds."""
    blocks = (GopherRepetition, GopherQuality, C4Quality, FineWebQuality, RefinedWebQuality)
    return [block(annotate_only=annotate_only, **kwargs) for block in blocks]


__all__ = ["C4Quality", "Features", "FineWebQuality", "GopherQuality", "GopherRepetition", "RefinedWebQuality",
           "STOP_WORDS", "WORDLESS_LANGUAGES", "features_of", "heuristic_filters"]
