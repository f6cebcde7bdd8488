from curate.extract.extract import ExtractText, resiliparse_extract, trafilatura_extract

__all__ = ["ExtractText", "resiliparse_extract", "trafilatura_extract"]
