"""One chat completion per call, through the openai async client, with curate's own retry loop.

The client's built-in retries are off (max_retries=0): curate owns the loop so that every failed
attempt is counted by cause, the backoff is exponential with jitter, a Retry-After header is
honoured, and a run that must stop can stop retrying at once. Causes:

    rate_limit (429), server_error (5xx), timeout, connection, malformed   retried
    bad_request (other 4xx)                                                not retried: the request is at fault
    auth (401/403), not_found (404)                                        not retried: the configuration is at fault
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time

from curate.errors import need
from curate.rephrase.cache import Answer
from curate.rephrase.config import LLMConfig
from curate.rephrase.stats import RephraseStats

TRANSIENT = frozenset({"rate_limit", "server_error", "timeout", "connection", "malformed"})
CONFIGURATION = frozenset({"auth", "not_found"})
openai = need("openai", "rephrase", "rephrasing (curate.rephrase)")
RETRY_AFTER_MAX = 300.0  # seconds: a longer Retry-After is capped (the server will say so again)


class RequestFailed(Exception):
    """A request that failed for good: retries exhausted, not retryable, or the run is stopping."""

    def __init__(self, cause: str, detail: str):
        super().__init__(f"{cause}: {detail}")
        self.cause, self.detail = cause, detail


class Malformed(Exception):
    pass


def classify_error(error: BaseException) -> tuple[str, float | None, str]:
    """(cause, retry_after seconds or None, one-line detail) of a failed attempt."""
    if isinstance(error, (asyncio.TimeoutError, TimeoutError, openai.APITimeoutError)):
        return "timeout", None, "no answer within the request timeout"
    if isinstance(error, openai.APIConnectionError):
        cause = error.__cause__ or error.__context__
        return "connection", None, f"{error.message}" + (f" ({type(cause).__name__})" if cause else "")
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        retry_after = parse_retry_after(error.response.headers)
        detail = f"HTTP {status}"
        if status == 429:
            return "rate_limit", retry_after, detail
        if status >= 500:
            return "server_error", retry_after, detail
        if status in (401, 403):
            return "auth", None, detail + " (is the API key right?)"
        if status == 404:
            return "not_found", None, detail + " (wrong base_url or model?)"
        return "bad_request", None, detail
    if isinstance(error, (Malformed, openai.APIResponseValidationError, json.JSONDecodeError, ValueError,
                          AttributeError, TypeError, IndexError, KeyError)):
        return "malformed", None, f"unreadable response ({type(error).__name__})"
    return "connection", None, f"{type(error).__name__}"


def parse_retry_after(headers) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return max(0.0, email.utils.mktime_tz(parsed) - time.time()) if parsed else None


def retry_delay(retry: int, base: float, cap: float, retry_after: float | None, rng: random.Random) -> float:
    """Seconds before retry number `retry` (0 = the first retry): the server's Retry-After when it
    gave one, else exponential backoff with "equal jitter" (half fixed, half random), so clients
    that failed together do not retry together."""
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_MAX)
    delay = min(cap, base * 2 ** retry)
    return delay / 2 + rng.uniform(0, delay / 2)


class ChatClient:
    """Chat completions for one task. Create and use it inside one event loop."""

    def __init__(self, llm: LLMConfig, stats: RephraseStats, rng: random.Random | None = None):
        self.llm, self.stats = llm, stats
        self.rng = rng or random.Random()
        self.stopping = False  # set when the task gives up: no more attempts
        self._client = openai.AsyncOpenAI(base_url=llm.base_url, api_key=llm.api_key(), max_retries=0,
                                          timeout=llm.request_timeout)
        self._slots = asyncio.Semaphore(llm.concurrency)
        extra = {"seed": llm.seed} if llm.seed is not None else {}
        self._request = dict(model=llm.model, temperature=llm.temperature, max_tokens=llm.max_tokens, **extra)

    async def complete(self, prompt: str) -> Answer:
        llm, stats = self.llm, self.stats
        for attempt in range(llm.max_retries + 1):
            if self.stopping:
                raise RequestFailed("stopped", "the task is stopping")
            async with self._slots:
                if self.stopping:
                    raise RequestFailed("stopped", "the task is stopping")
                stats.start(time.time())
                start = time.monotonic()
                try:
                    response = await asyncio.wait_for(
                        self._client.chat.completions.create(messages=[{"role": "user", "content": prompt}],
                                                             **self._request),
                        timeout=llm.request_timeout)
                    answer = _read(response)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # noqa: BLE001 - every failure is classified and counted
                    cause, retry_after, detail = classify_error(error)
                    stats.attempt_failed(cause, time.time())
                else:
                    stats.request(time.monotonic() - start, answer.prompt_tokens, answer.completion_tokens, time.time())
                    return answer
            if cause not in TRANSIENT or attempt == llm.max_retries:
                tries = f" after {attempt + 1} attempts" if cause in TRANSIENT else ""
                raise RequestFailed(cause, detail + tries)
            stats.counts["retries"] += 1
            await asyncio.sleep(retry_delay(attempt, llm.backoff_base, llm.backoff_max, retry_after, self.rng))
        raise AssertionError("unreachable")

    async def close(self) -> None:
        await self._client.close()


def _read(response) -> Answer:
    """The answer text, finish reason and token usage; anything else is a malformed response."""
    choices = getattr(response, "choices", None)
    if not choices:
        raise Malformed("no choices")
    choice = choices[0]
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None)
    if text is not None and not isinstance(text, str):
        raise Malformed("content is not text")
    usage = getattr(response, "usage", None)
    prompt_tokens = getattr(usage, "prompt_tokens", None) or 0
    completion_tokens = getattr(usage, "completion_tokens", None) or 0
    if not isinstance(prompt_tokens, int) or not isinstance(completion_tokens, int):
        raise Malformed("usage is not integers")
    return Answer(text or "", getattr(choice, "finish_reason", None), prompt_tokens, completion_tokens)
