from curate.io.inputs import expand_inputs, open_binary
from curate.io.parquet import CORE_COLUMNS, WriteParquet, output_schema
from curate.io.reader import ReadDocuments

__all__ = ["CORE_COLUMNS", "ReadDocuments", "WriteParquet", "expand_inputs", "open_binary", "output_schema"]
