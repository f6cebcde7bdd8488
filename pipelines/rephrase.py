"""Rephrase the web (Maini et al. 2024): Parquet documents -> an LLM rewrite of each -> Parquet with
the original `text` and the `rephrased_text` beside it (docs/rephrase.md).

    curate run pipelines/rephrase.py --input out/ --output out-rephrased \
        --set base_url=http://127.0.0.1:8080/v1 --set model=smollm2 [--set style=qa] [--set concurrency=4]

The endpoint: --set base_url/model/... or $CURATE_LLM_BASE_URL, $CURATE_LLM_MODEL, ...; the API key
from $OPENAI_API_KEY (or the variable named by --set api_key_env=...). Every LLMConfig field can be
set this way (temperature, max_tokens, request_timeout, concurrency, max_retries, context_tokens,
price_prompt_per_m, price_completion_per_m, seed). Settings of this recipe:

    style=wikipedia|easy|hard|qa   prompt_file=PATH (a template with one {text}: overrides the style's prompt)
    form=column|documents          cache_dir=DIR (default OUTPUT/_rephrase)
    on_failure=abort|flag          mix=REAL:SYNTHETIC (e.g. 1:1: write a mixed training set instead)
                                   mix_method=exact|hash, mix_seed=N (for method hash)
"""

import os

from curate.errors import CurateError
from curate.io import ReadDocuments, WriteParquet
from curate.pipeline import RunConfig
from curate.rephrase import LLMConfig, MixSynthetic, Rephrase


def build(run: RunConfig) -> list:
    params = run.params
    if not run.inputs:
        raise CurateError("pipelines/rephrase.py needs --input (Parquet or JSONL documents, e.g. datacomp.py's output)")
    llm = LLMConfig.from_params(params)
    style = params.get("style", "wikipedia")
    prompts = None
    if params.get("prompt_file"):
        try:
            with open(params["prompt_file"], encoding="utf-8") as f:
                prompts = {style: f.read()}
        except OSError as e:
            raise CurateError(f"--set prompt_file={params['prompt_file']}: {e.strerror}") from None
    steps = [
        ReadDocuments(run.inputs, limit=run.limit, progress=run.progress, keep_columns=True),  # scores ride along
        Rephrase(llm, style=style, prompts=prompts, output=params.get("form", "column"),
                 cache_dir=params.get("cache_dir") or os.path.join(run.output, "_rephrase"),
                 on_failure=params.get("on_failure", "abort")),
    ]
    if params.get("mix"):
        seed = params.get("mix_seed", "0")
        if not str(seed).lstrip("-").isdigit():
            raise CurateError(f"--set mix_seed={seed}: expected an integer")
        steps.append(MixSynthetic(ratio=params["mix"], method=params.get("mix_method", "exact"), seed=int(seed)))
    return steps + [WriteParquet(run.output)]
