"""Rephrase: rewrite each document with an LLM behind any OpenAI-compatible endpoint."""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import tempfile
import random
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections import Counter, deque
from dataclasses import dataclass
from typing import Callable

import pyarrow as pa
from datatrove.data import Document, DocumentsPipeline
from datatrove.utils.logging import logger

from curate import storage
from curate.errors import CurateError
from curate.rephrase.cache import AnswerCache, cache_key
from curate.rephrase.checks import FAILED, OK, SKIPPED, classify, document_status
from curate.rephrase.chunking import chunk_budget, estimate_tokens, join_chunks, split_document
from curate.rephrase.client import CONFIGURATION, TRANSIENT, ChatClient, RequestFailed
from curate.rephrase.config import LLMConfig
from curate.rephrase.prompts import prompt_id, render, resolve_prompt
from curate.rephrase.stats import RephraseStats, format_summary
from curate.step import BYTES_IN, BYTES_OUT, DOCS_IN, DOCS_OUT, CurateStep, Funnel, RunContext, utf8_len

OUTPUTS = ("column", "documents")
ON_FAILURE = ("abort", "flag")
STATS_FILE = "rephrase_stats.json"


def sampling_key(llm: LLMConfig) -> dict:
    """The sampling settings that are part of every cache key."""
    return {"temperature": llm.temperature, "max_tokens": llm.max_tokens, "seed": llm.seed}


class RephraseError(CurateError):
    """The task stopped: the endpoint kept failing (or refused the configuration). Everything
    answered so far is in the cache, so rerunning the same command resumes for free."""


@dataclass
class DocResult:
    status: str
    text: str | None
    chunks: int
    cached: int


class Rephrase(CurateStep):
    """Rewrite every document in a chosen style (docs/rephrase.md).

    Args:
        llm: the endpoint (LLMConfig); the API key comes from the environment variable it names.
        style: wikipedia (default), easy, hard or qa; or a style named in `prompts`.
        prompts: {style: template with one {text}} overriding or adding prompt styles.
        cache_dir: folder of the SQLite answer cache. Default: OUTPUT.curate/rephrase-cache when run by
            `curate run`, else no cache.
        output: "column" adds `column` beside the original text; "documents" yields each original
            followed by its rewrite as a separate document (`synthetic` true, `source_id` = the
            original's id) when the rewrite is ok.
        on_failure: "abort" (default) stops the task when a request still fails after its
            retries, so the rerun redoes it (from the cache: nothing is paid twice); "flag" marks
            the document failed:<cause> and goes on. Wrong key / URL / model always abort.
        echo_threshold: share of an answer's word 4-grams found in the prompt that makes it an echo.
        readahead: documents in flight at once (default 4 x concurrency + 8); output order is input order.
        stats_dir: where each task saves its rephrase stats. Default: OUTPUT.curate/rephrase-stats under `curate run`.
        count_tokens: a token counter for chunking (text -> int); default a conservative estimate.
    """

    name = "rephrase"

    def __init__(self, llm: LLMConfig, style: str = "wikipedia", prompts: dict[str, str] | None = None,
                 cache_dir: str | None = None, output: str = "column", column: str = "rephrased_text",
                 on_failure: str = "abort", echo_threshold: float = 0.8, readahead: int | None = None,
                 stats_dir: str | None = None, count_tokens: Callable[[str], int] | None = None,
                 name: str | None = None):
        super().__init__(name)
        if output not in OUTPUTS:
            raise CurateError(f"Rephrase output={output!r}: choose one of {', '.join(OUTPUTS)}")
        if on_failure not in ON_FAILURE:
            raise CurateError(f"Rephrase on_failure={on_failure!r}: choose one of {', '.join(ON_FAILURE)}")
        self.llm, self.style, self.output, self.column = llm, style, output, column
        self.template = resolve_prompt(style, prompts)
        self.prompt_id = prompt_id(self.template)
        self.on_failure, self.echo_threshold = on_failure, echo_threshold
        self.readahead = readahead or 4 * llm.concurrency + 8
        self.count_tokens = count_tokens or estimate_tokens
        self.budget = chunk_budget(llm.context_tokens, llm.max_tokens, self.count_tokens(render(self.template, "")))
        if self.budget < 16:
            raise CurateError(f"Rephrase: context_tokens={llm.context_tokens} leaves {self.budget} tokens per chunk "
                              f"after the prompt and max_tokens={llm.max_tokens}: raise it or lower max_tokens")
        self.cache_dir, self.stats_dir = cache_dir, stats_dir
        meta = {"rephrase_status": pa.string(), "rephrase_style": pa.string(), "rephrase_model": pa.string(),
                "rephrase_chunks": pa.int32(), "rephrase_cached": pa.int32()}
        self.columns = ({column: pa.string(), **meta} if output == "column"
                        else {**meta, "synthetic": pa.bool_(), "source_id": pa.string()})

    # --- the run: curate's runner calls these in the driver -----------------------------------
    def prepare(self, ctx: RunContext) -> None:
        """Default the cache to OUTPUT.curate/rephrase-cache and the stats to
        OUTPUT.curate/rephrase-stats, and fail before any task starts when the endpoint cannot be
        reached or rejects the key."""
        super().prepare(ctx)
        # the cache is SQLite, on a local disk: for a remote output, in this machine's temp folder
        self.cache_dir = self.cache_dir or (ctx.folder("rephrase-cache") if not storage.is_remote(ctx.run_dir) else
                                            os.path.join(tempfile.gettempdir(), "curate-rephrase-cache",
                                                         hashlib.sha256(ctx.run_dir.encode()).hexdigest()[:16]))
        self.stats_dir = self.stats_dir or ctx.folder("rephrase-stats")
        self.preflight()

    def preflight(self) -> None:
        url = self.llm.base_url.rstrip("/") + "/models"
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.llm.api_key()}"})
        try:
            with urllib.request.urlopen(request, timeout=min(10.0, self.llm.request_timeout)):
                pass
        except urllib.error.HTTPError as e:
            if e.code in (401, 403):
                raise CurateError(f"rephrase: {self.llm.base_url} refused the API key (HTTP {e.code}); "
                                  f"set ${self.llm.api_key_env}") from None
            # any other answer means a server is there (some have no /models)
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise CurateError(f"rephrase: cannot reach the LLM server at {self.llm.base_url} ({reason})") from None

    def report(self, ctx: RunContext) -> str | None:
        """Merge the tasks' stats into OUTPUT.curate/rephrase_stats.json and return the printable summary."""
        folder = self.stats_dir
        if not folder or not storage.isdir(folder):
            return None
        summary = RephraseStats.load_folder(folder).summary(self.llm.price_prompt_per_m, self.llm.price_completion_per_m)
        summary = {"model": self.llm.model, "style": self.style, **summary}
        path = storage.join(ctx.run_dir, STATS_FILE)
        storage.write_json(path, summary)
        return format_summary(summary) + f"\n  (rephrase stats: {path})"

    # --- the task ----------------------------------------------------------------------------
    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        funnel, stats, doc_counts = Funnel(), RephraseStats(), Counter()
        counts = funnel.counts
        worker = _Worker(self, stats)
        pending: deque = deque()
        upstream = iter(data or ())
        exhausted = False
        cpu = time.thread_time
        try:
            while True:
                while not exhausted and len(pending) < self.readahead:
                    try:
                        doc = next(upstream)
                    except StopIteration:
                        exhausted = True
                        break
                    start = cpu()
                    counts[DOCS_IN] += 1
                    counts[BYTES_IN] += utf8_len(doc.text)
                    pending.append((doc, worker.submit(doc.text)))
                    funnel.cpu_s += cpu() - start
                if not pending:
                    break
                doc, future = pending.popleft()
                result = worker.wait(future)
                start = cpu()
                out = self._emit(doc, result)
                doc_counts["documents"] += 1
                doc_counts[f"status.{result.status}"] += 1
                for d in out:
                    counts[DOCS_OUT] += 1
                    counts[BYTES_OUT] += utf8_len(d.text)
                funnel.cpu_s += cpu() - start
                yield from out
        finally:
            worker.close()
            funnel.cpu_s += worker.cpu_s
            stats.counts.update(doc_counts)
            if self.stats_dir:
                stats.save(self.stats_dir, rank)
            for key, value in sorted(stats.counts.items()):
                if value:
                    self.stat_update(key, value=value)
            funnel.flush(self)

    def _emit(self, doc: Document, result: DocResult) -> list[Document]:
        meta = doc.metadata
        meta["rephrase_status"], meta["rephrase_style"], meta["rephrase_model"] = result.status, self.style, self.llm.model
        meta["rephrase_chunks"], meta["rephrase_cached"] = result.chunks, result.cached
        if self.output == "column":
            meta[self.column] = result.text
            return [doc]
        meta["synthetic"], meta["source_id"] = False, None
        if result.status != OK:
            return [doc]
        synthetic = Document(text=result.text, id=f"{doc.id}/rephrase/{self.style}",
                             metadata={**meta, "synthetic": True, "source_id": doc.id})
        return [doc, synthetic]


class _Worker:
    """The task's event loop, on its own thread: the openai client, the cache and every in-flight
    document live there; the block's generator submits documents and waits for them in order."""

    def __init__(self, block: Rephrase, stats: RephraseStats):
        self.block, self.stats, self.cpu_s = block, stats, 0.0
        self.failure: concurrent.futures.Future = concurrent.futures.Future()  # set once, when the task must stop
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run_loop, name="rephrase-loop", daemon=True)
        self.thread.start()
        self.client: ChatClient | None = None
        self.cache: AnswerCache | None = None
        try:
            asyncio.run_coroutine_threadsafe(self._open(), self.loop).result()
        except BaseException:
            self.close()
            raise

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.cpu_s = time.thread_time()

    async def _open(self) -> None:
        block = self.block
        self.client = ChatClient(block.llm, self.stats, random.Random())
        self.sampling = sampling_key(block.llm)
        try:
            self.cache = AnswerCache(block.cache_dir) if block.cache_dir else None
        except (OSError, sqlite3.Error) as e:
            raise CurateError(f"rephrase: cannot open the cache in {block.cache_dir}: {e}") from None

    def submit(self, text: str) -> concurrent.futures.Future:
        return asyncio.run_coroutine_threadsafe(self._document(text), self.loop)

    def wait(self, future: concurrent.futures.Future) -> DocResult:
        """The document's result, or RephraseError as soon as any document stopped the task."""
        concurrent.futures.wait([future, self.failure], return_when=concurrent.futures.FIRST_COMPLETED)
        if self.failure.done():
            raise self.failure.result()
        return future.result()

    async def _document(self, text: str) -> DocResult:
        block = self.block
        if not text or not text.strip():
            return DocResult(SKIPPED, None, 0, 0)
        chunks = split_document(text, block.budget, block.count_tokens)
        self.stats.counts["chunks"] += len(chunks)
        results = await asyncio.gather(*(self._chunk(chunk.text) for chunk in chunks))
        statuses = [status for status, _, _ in results]
        status = document_status(statuses)
        cached = sum(hit for _, _, hit in results)
        if status.startswith(FAILED):
            return DocResult(status, None, len(chunks), cached)
        return DocResult(status, join_chunks(chunks, [answer for _, answer, _ in results]), len(chunks), cached)

    async def _chunk(self, text: str) -> tuple[str, str | None, bool]:
        block, stats = self.block, self.stats
        prompt = render(block.template, text)
        key = cache_key(block.llm.model, block.style, block.prompt_id, text, self.sampling)
        answer = self.cache.get(key) if self.cache is not None else None
        hit = answer is not None
        if hit:
            stats.counts["cache_hits"] += 1
        else:
            try:
                answer = await self.client.complete(prompt)
            except RequestFailed as failed:
                if failed.cause == "stopped":
                    raise
                stats.counts[f"failed.{failed.cause}"] += 1
                if failed.cause in CONFIGURATION or (block.on_failure == "abort" and failed.cause in TRANSIENT):
                    self._stop(failed)
                    raise
                logger.warning(f"rephrase: a chunk failed ({failed})")
                return f"{FAILED}:{failed.cause}", None, False
            if self.cache is not None:
                self.cache.put(key, answer)
        status = classify(answer.text, answer.finish_reason, text, prompt, block.echo_threshold)
        stats.counts[f"chunk_status.{status}"] += 1
        return status, answer.text, hit

    def _stop(self, failed: RequestFailed) -> None:
        self.client.stopping = True
        if not self.failure.done():
            self.failure.set_result(RephraseError(
                f"rephrase: {self.block.llm.base_url} failed: {failed}; answers so far are cached, "
                "rerun the same command to resume"))

    async def _close(self) -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        if self.client:
            self.client.stopping = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.client:
            await self.client.close()
        if self.cache is not None:
            self.cache.close()

    def close(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._close(), self.loop).result(timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=30)
            self.loop.close()
