"""Token shards for trainers (Megatron, datatrove/nanotron, numpy) from a run's documents."""

from curate.tokens.formats import FORMATS, read_shard, token_dtype, write_shard
from curate.tokens.steps import TokenizeDocuments, WriteTokenShards, tokenize_steps

__all__ = ["FORMATS", "TokenizeDocuments", "WriteTokenShards", "read_shard", "token_dtype", "tokenize_steps",
           "write_shard"]
