from curate.filters.heuristics import (C4Quality, FineWebQuality, GopherQuality, GopherRepetition, RefinedWebQuality,
                                       heuristic_filters)
from curate.filters.language import LanguageFilter, find_lid_model

__all__ = ["C4Quality", "FineWebQuality", "GopherQuality", "GopherRepetition", "LanguageFilter", "RefinedWebQuality",
           "find_lid_model", "heuristic_filters"]
