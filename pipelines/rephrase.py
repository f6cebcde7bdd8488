"""Rephrase the web (Maini et al. 2024): Parquet documents -> an LLM rewrite of each -> Parquet with
the original `text` and the `rephrased_text` beside it (docs/rephrase.md).

    curate run pipelines/rephrase.py --input out/ --output out-rephrased \
        --set base_url=http://127.0.0.1:8080/v1 --set model=smollm2 [--set style=qa] [--set concurrency=4]
    curate run pipelines/rephrase.py --list-settings

The endpoint: --set base_url/model/... or $CURATE_LLM_BASE_URL, $CURATE_LLM_MODEL, ...; the API key
from $OPENAI_API_KEY (or the variable named by --set api_key_env=...).
"""

from dataclasses import dataclass
from typing import Literal

from curate.errors import CurateError
from curate.io import ReadDocuments, WriteParquet
from curate.rephrase import LLMConfig, LLMSettings, MixSynthetic, Rephrase
from curate.settings import setting
from curate.step import RunContext


@dataclass
class Settings(LLMSettings):
    style: str = setting("wikipedia", "prompt style: wikipedia, easy, hard or qa")
    prompt_file: str | None = setting(None, "a prompt template with one {text}, overriding the style's prompt")
    form: Literal["column", "documents"] = setting("column", "the rewrite as a rephrased_text column, or as "
                                                             "documents of their own")
    cache_dir: str | None = setting(None, "the answer cache (default OUTPUT.curate/rephrase-cache)", operational=True)
    on_failure: Literal["abort", "flag"] = setting("abort", "a request failing after its retries stops the task "
                                                            "(rerun resumes) or flags the document")
    mix: str | None = setting(None, "REAL:SYNTHETIC, e.g. 1:1: write a mixed training set instead")
    mix_method: Literal["exact", "hash"] = setting("exact", "how the mix picks documents")
    mix_seed: int = setting(0, "the mix's seed (method hash)")


def build(run: RunContext) -> list:
    s: Settings = run.settings
    llm = LLMConfig.from_params(vars(s))
    prompts = None
    if s.prompt_file:
        try:
            with open(s.prompt_file, encoding="utf-8") as f:
                prompts = {s.style: f.read()}
        except OSError as e:
            raise CurateError(f"--set prompt_file={s.prompt_file}: {e.strerror}") from None
    steps = [
        # no input of its own: --input names the documents (e.g. datacomp.py's output); their
        # other columns (scores) ride along
        ReadDocuments(keep_columns=True),
        Rephrase(llm, style=s.style, prompts=prompts, output=s.form, cache_dir=s.cache_dir, on_failure=s.on_failure),
    ]
    if s.mix:
        steps.append(MixSynthetic(ratio=s.mix, method=s.mix_method, seed=s.mix_seed))
    return steps + [WriteParquet(run.output)]
