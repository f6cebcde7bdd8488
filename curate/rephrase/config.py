"""LLMConfig: where the OpenAI-compatible endpoint is and how to call it.

The API key is never a field: the config holds only the NAME of the environment variable that
carries it, so the key cannot leak through a repr, a log line, datatrove's executor.json or a
pickled pipeline. It is read from the environment when a client is made.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass, fields
from typing import Any, Mapping

from curate.errors import CurateError
from curate.settings import convert, setting

ENV_PREFIX = "CURATE_LLM_"
NO_KEY = "sk-no-key-required"  # sent to local servers that take no key (the client insists on one)


@dataclass
class LLMConfig:
    base_url: str
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.7
    max_tokens: int = 512
    request_timeout: float = 60.0  # seconds, per request (the whole request, not one socket read)
    concurrency: int = 4  # requests in flight per task
    max_retries: int = 5  # retries after the first attempt, on 429 / 5xx / timeouts / connection errors
    context_tokens: int = 2048  # the model's context window: prompt + document chunk + max_tokens
    price_prompt_per_m: float | None = None  # USD per million prompt tokens, for the cost estimate
    price_completion_per_m: float | None = None
    seed: int | None = None  # sent per request, for servers that honour it
    backoff_base: float = 1.0  # first retry waits about this long (s), doubling per retry, with jitter
    backoff_max: float = 30.0

    def __post_init__(self) -> None:
        if not self.base_url or "://" not in self.base_url:
            raise CurateError(f"LLM base_url {self.base_url!r}: expected a URL such as http://127.0.0.1:8080/v1")
        if not self.model:
            raise CurateError("LLM model: give the model name the server expects")
        checks = [("max_tokens", self.max_tokens >= 1), ("concurrency", self.concurrency >= 1),
                  ("max_retries", self.max_retries >= 0), ("request_timeout", self.request_timeout > 0),
                  ("context_tokens", self.context_tokens > self.max_tokens),
                  ("temperature", self.temperature >= 0), ("backoff_base", self.backoff_base >= 0),
                  ("backoff_max", self.backoff_max >= 0)]
        for name, ok in checks:
            if not ok:
                hint = " (must exceed max_tokens)" if name == "context_tokens" else ""
                raise CurateError(f"LLM {name}={getattr(self, name)!r} is out of range{hint}")

    def api_key(self, env: Mapping[str, str] | None = None) -> str:
        """The key from the environment, or a placeholder for servers that need none."""
        return (env if env is not None else os.environ).get(self.api_key_env) or NO_KEY

    @classmethod
    def from_params(cls, params: Mapping[str, Any], env: Mapping[str, str] | None = None) -> "LLMConfig":
        """Build from a pipeline's settings (typed values, or strings as from `--set`; None or a
        missing key: not given), falling back to CURATE_LLM_<KEY> environment variables
        (CURATE_LLM_BASE_URL, CURATE_LLM_MODEL, ...). Keys that are not config fields are ignored
        (a pipeline's settings hold its own too)."""
        env = os.environ if env is None else env
        hints = typing.get_type_hints(cls)
        values: dict = {}
        missing = []
        for f in fields(cls):
            value = params.get(f.name)
            if value is None or value == "":
                value = env.get(ENV_PREFIX + f.name.upper()) or None
            if value is None:
                if f.name in ("base_url", "model"):
                    missing.append(f"--set {f.name}=... (or ${ENV_PREFIX}{f.name.upper()})")
                continue
            values[f.name] = convert(f.name, hints[f.name], value)
        if missing:
            raise CurateError("the LLM endpoint is not configured: give " + " and ".join(missing))
        return cls(**values)


HELP = {
    "base_url": "the OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1",
    "model": "the model name the server expects",
    "api_key_env": "the environment variable holding the API key (default OPENAI_API_KEY)",
    "temperature": "sampling temperature (default 0.7)",
    "max_tokens": "most tokens per answer (default 512)",
    "request_timeout": "seconds per request (default 60)",
    "concurrency": "requests in flight per task (default 4)",
    "max_retries": "retries after the first attempt on 429/5xx/timeouts (default 5)",
    "context_tokens": "the model's context window: prompt + chunk + max_tokens (default 2048)",
    "price_prompt_per_m": "USD per million prompt tokens, for the cost estimate",
    "price_completion_per_m": "USD per million completion tokens",
    "seed": "sampling seed sent with each request",
    "backoff_base": "first retry wait in seconds, doubling per retry (default 1)",
    "backoff_max": "longest retry wait in seconds (default 30)",
}

# how the endpoint is reached, not what it answers: a resumed run may change these
OPERATIONAL = {"base_url", "api_key_env", "request_timeout", "concurrency", "max_retries", "price_prompt_per_m",
               "price_completion_per_m", "backoff_base", "backoff_max"}

# A pipeline's Settings can inherit these: every LLMConfig field, optional (not given: the
# CURATE_LLM_<KEY> environment variable, else LLMConfig's default)
LLMSettings = dataclasses.make_dataclass("LLMSettings", [
    (f.name, typing.get_type_hints(LLMConfig)[f.name] | None,
     setting(None, HELP[f.name] + f" (or ${ENV_PREFIX}{f.name.upper()})", operational=f.name in OPERATIONAL))
    for f in fields(LLMConfig)])
LLMSettings.__module__ = __name__
