"""`curate tokenize OUT --tokenizer T --format F --out TOKENS`: a curated output folder (or any
documents curate reads) -> token shards. The same as `curate run` of this file with --input OUT
--output TOKENS, so every executor and run option applies.
"""

from dataclasses import dataclass
from typing import Literal

from curate.io import ReadDocuments
from curate.settings import setting
from curate.step import RunContext
from curate.tokens import tokenize_steps


@dataclass
class Settings:
    tokenizer: str = setting("", "a tokenizers tokenizer.json, by path")
    format: Literal["megatron", "datatrove", "numpy"] = setting("megatron", "token shard layout (docs/handoff.md)")
    shards: int = setting(1, "token shards to write (documents are never split across them)", min=1, max=4096)
    seed: int = setting(0, "the seed of the global shuffle of documents")


def build(run: RunContext) -> list:
    s: Settings = run.settings
    return [ReadDocuments(run.inputs), *tokenize_steps(s.tokenizer, s.format, s.shards, s.seed)]
