"""Rephrase the web: rewrite documents with an LLM behind any OpenAI-compatible endpoint
(OpenAI, vLLM, llama.cpp's llama-server, ...), cached, resumable, measured. docs/rephrase.md.

API (the contract with curate/llm/, the benchmark and the real-server tests):

    LLMConfig(base_url, model, api_key_env="OPENAI_API_KEY", temperature=0.7, max_tokens=512,
              request_timeout=60.0, concurrency=4, max_retries=5, context_tokens=2048,
              price_prompt_per_m=None, price_completion_per_m=None, seed=None,
              backoff_base=1.0, backoff_max=30.0)
        LLMConfig.from_params(run.params, env=os.environ): --set KEY=VALUE, else $CURATE_LLM_<KEY>.
        The key is read from $<api_key_env> when a client is made; never stored.
    Rephrase(llm, style="wikipedia", prompts=None, cache_dir=None, output="column",
             column="rephrased_text", on_failure="abort", echo_threshold=0.8, readahead=None,
             stats_dir=None, count_tokens=None)
        Columns (output="column"): rephrased_text, rephrase_status, rephrase_style, rephrase_model,
        rephrase_chunks (int32), rephrase_cached (int32: chunks answered from the cache).
        output="documents": the original (synthetic=False) then, when ok, the rewrite as its own
        document (id "<id>/rephrase/<style>", synthetic=True, source_id=<id>); no rephrased_text.
        rephrase_status: ok | empty | truncated | echo | refusal | skipped (empty input) | failed:<cause>
        with cause rate_limit | server_error | timeout | connection | malformed | bad_request.
        on_failure="abort": a request still failing after its retries raises RephraseError (a
        CurateError) in the task: the task is not marked complete, and the rerun resumes from
        the cache. Stats: the block's datatrove stats (requests, cache_hits, retries, errors.<cause>,
        failed.<cause>, status.<status>, prompt_tokens, completion_tokens, ...) and, per task,
        STATS_DIR/<rank>.json; `curate run` merges them into OUTPUT/rephrase_stats.json.
        Without cache_dir/stats_dir and outside `curate run` (e.g. a benchmark calling
        block.run(docs) directly) nothing is cached or saved.
        block.preflight() raises CurateError when the server is unreachable or refuses the key;
        `curate run` calls it from block.prepare(ctx), and block.report(ctx) merges the stats.
        Cache key: cache.cache_key(model, style, prompts.prompt_id(template), chunk_text,
        block.sampling_key(llm)) with sampling = {temperature, max_tokens, seed}.
    MixSynthetic(ratio="1:1", method="exact"|"hash", seed=0): real:synthetic mixing, either form.
"""

from curate.rephrase.block import Rephrase, RephraseError
from curate.rephrase.config import LLMConfig, LLMSettings
from curate.rephrase.mix import MixSynthetic
from curate.rephrase.prompts import PROMPT_VERSION, STYLES
from curate.rephrase.stats import RephraseStats

__all__ = ["LLMConfig", "LLMSettings", "MixSynthetic", "PROMPT_VERSION", "Rephrase", "RephraseError", "RephraseStats", "STYLES"]
