from curate.extract.blocks import blocks_extract
from curate.extract.extract import EXTRACTORS, ExtractText, resiliparse_extract, trafilatura_extract

__all__ = ["EXTRACTORS", "ExtractText", "blocks_extract", "resiliparse_extract", "trafilatura_extract"]
