from curate.filters.language import LanguageFilter, find_lid_model

__all__ = ["LanguageFilter", "find_lid_model"]
