"""pipelines/rephrase.py against a REAL llama.cpp llama-server serving SmolLM2-135M-Instruct.

Mechanics, not prose quality: the column and statuses are written, a long document becomes several
requests rejoined in order, a rerun is answered from the cache alone, and a server killed with
SIGKILL mid-run leaves a clean failure whose rerun (after a restart) completes from the cache with
every document exactly once. The fault-injecting server tests (test_rephrase_*.py) cover the
retry and status paths this real server will not produce on demand.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.llm.serve import LlamaServer
from curate.rephrase.cache import AnswerCache, cache_key
from curate.rephrase.chunking import join_chunks, split_document
from curate.rephrase.prompts import STYLES, prompt_id

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.timeout(300)

MAX_TOKENS = 64  # small answers: the box has 2 cores; a chunk gets at most this many (estimated) tokens too
STYLE = "qa"  # SmolLM2-135M copies its input when asked to rewrite prose (flagged "echo"); Q&A it rewrites
SHORT = [  # project-written, one chunk each
    "The old mill by the river was built in 1820 and ground wheat for three villages.",
    "Bees visit thousands of flowers a day and carry pollen from one plant to the next.",
    "The train from the coast reaches the capital in four hours, stopping at six towns.",
    "Copper conducts heat well, which is why many cooking pans have a copper base.",
    "In winter the lake freezes so thick that people walk across it to the island.",
]
LONG = "\n\n".join([  # five paragraphs of ~120 characters (~40 estimated tokens): each its own chunk
    "The lighthouse on the northern cape was first lit in the year 1858, after two ships were lost on the rocks.",
    "Its keeper climbed one hundred and twelve steps twice a night to wind the clockwork that turned the lamp.",
    "Ships carrying timber, salt and coal passed the cape every week, and each one signalled to the keeper.",
    "An electric lamp replaced the oil lamp after the second world war, and the last keeper left in 1961.",
    "Today the tower is a small museum about the coast and its wrecks, open to visitors in the summer only.",
])


def write_input(folder: Path, texts: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "docs.parquet"
    pq.write_table(pa.table({"id": [f"doc-{i:02d}" for i in range(len(texts))], "text": texts}), path)
    return path


def command(source: Path, output: Path, server: LlamaServer, cache: Path, concurrency: int = 4) -> list[str]:
    settings = [f"base_url={server.base_url}", f"model={server.model}", f"max_tokens={MAX_TOKENS}",
                f"context_tokens={server.ctx}", "temperature=0", "seed=7", f"style={STYLE}", f"concurrency={concurrency}",
                "max_retries=1", "backoff_base=0.05", "request_timeout=120", f"cache_dir={cache}"]
    return [sys.executable, "-m", "curate.cli", "run", "pipelines/rephrase.py", "--input", str(source),
            "--output", str(output)] + [arg for s in settings for arg in ("--set", s)]


def environment() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("CURATE_LLM_")}


def curate_run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=REPO, env=environment(), capture_output=True, text=True, timeout=240)


def read_output(output: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in sorted(output.glob("*.parquet"))])


def run_stats(output: Path) -> dict:
    return json.loads((Path(f"{output}.curate") / "rephrase_stats.json").read_text())


def cached_rows(cache: Path) -> int:
    path = cache / AnswerCache.FILENAME
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT count(*) FROM answers").fetchone()[0]
    except sqlite3.OperationalError:  # the writer is creating the table
        return 0


def test_rephrase_end_to_end_long_document_chunked_and_rerun_from_cache(llama_server, tmp_path):
    texts = SHORT + [LONG]
    source, cache = write_input(tmp_path / "in", texts), tmp_path / "cache"

    first = curate_run(command(source, tmp_path / "out1", llama_server, cache))
    assert first.returncode == 0, first.stderr[-3000:]
    table = read_output(tmp_path / "out1")
    assert table.column("id").to_pylist() == [f"doc-{i:02d}" for i in range(len(texts))]
    assert table.column("text").to_pylist() == texts  # the original stays beside the rewrite
    statuses = table.column("rephrase_status").to_pylist()
    rewrites = table.column("rephrased_text").to_pylist()
    assert not [s for s in statuses if s.startswith("failed")]
    assert statuses.count("ok") >= 2  # rewritten; a weak model's echo or cut-off answer is flagged, not failed
    assert set(statuses) <= {"ok", "echo", "truncated", "refusal", "empty"}
    assert all(isinstance(r, str) and r.strip() for r in rewrites)
    chunks = table.column("rephrase_chunks").to_pylist()
    assert chunks == [1] * len(SHORT) + [5]
    stats = run_stats(tmp_path / "out1")
    assert (stats["documents"], stats["chunks"], stats["requests"], stats["cache_hits"]) == (6, 10, 10, 0)
    assert stats["completion_tokens"] > 0 and stats["errors"] == {}

    # the long document: five requests, their answers (as the server gave them, kept in the
    # cache) joined in paragraph order
    block_prompt = prompt_id(STYLES[STYLE])
    sampling = {"temperature": 0.0, "max_tokens": MAX_TOKENS, "seed": 7}
    pieces = split_document(LONG, MAX_TOKENS)  # the block's chunk budget here: min(context left, max_tokens)
    assert [p.text for p in pieces] == LONG.split("\n\n")
    store = AnswerCache(str(cache))
    try:
        answers = [store.get(cache_key(llama_server.model, STYLE, block_prompt, p.text, sampling)) for p in pieces]
    finally:
        store.close()
    assert all(a is not None for a in answers)
    assert len({a.text for a in answers}) == 5  # five different answers, so their order is visible
    assert rewrites[-1] == join_chunks(pieces, [a.text for a in answers])

    # the same input again, into a new output folder, sharing the cache: no request at all
    second = curate_run(command(source, tmp_path / "out2", llama_server, cache))
    assert second.returncode == 0, second.stderr[-3000:]
    stats = run_stats(tmp_path / "out2")
    assert (stats["requests"], stats["cache_hits"], stats["completion_tokens"]) == (0, 10, 0)
    again = read_output(tmp_path / "out2")
    assert again.column("rephrased_text").to_pylist() == rewrites
    assert again.column("rephrase_status").to_pylist() == statuses
    assert again.column("rephrase_cached").to_pylist() == chunks


def test_server_killed_mid_run_then_restarted_rerun_completes_from_cache(llama_model, tmp_path):
    texts = [f"{sentence} (Note {i}.)" for i in range(4) for sentence in SHORT][:16]
    source, cache, output = write_input(tmp_path / "in", texts), tmp_path / "cache", tmp_path / "out"
    server = LlamaServer(llama_model, slots=2, ctx=1024, threads=1)
    port = server.port
    with server:
        args = command(source, output, server, cache, concurrency=2)
        process = subprocess.Popen(args, cwd=REPO, env=environment(), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 180
            while cached_rows(cache) < 3 and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            server.kill()  # SIGKILL: no goodbye to the clients
            stdout, stderr = process.communicate(timeout=180)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    answered = cached_rows(cache)
    assert 3 <= answered < len(texts), "the server must die after some answers and before the last"
    # a clean failure: non-zero exit, one error line naming the cause, no traceback
    assert process.returncode == 2
    assert stderr.strip().splitlines()[-1].startswith("curate: error: rephrase:"), stderr[-3000:]

    with LlamaServer(llama_model, port=port, slots=2, ctx=1024, threads=1) as restarted:
        rerun = curate_run(args)  # the very same command
    assert restarted.base_url == server.base_url
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    table = read_output(output)
    assert table.column("id").to_pylist() == [f"doc-{i:02d}" for i in range(len(texts))]  # each once, in order
    assert table.column("text").to_pylist() == texts
    assert not [s for s in table.column("rephrase_status").to_pylist() if s.startswith("failed")]
    assert sum(table.column("rephrase_cached").to_pylist()) == answered  # what the killed run had paid for
    stats = run_stats(output)
    assert (stats["cache_hits"], stats["requests"]) == (answered, len(texts) - answered)
    assert cached_rows(cache) == len(texts)
    # last, so the resume mechanics above are checked either way: the failed task's exception must
    # not reach the terminal as a traceback (datatrove's task logger prints one unless curate stops it)
    assert "Traceback" not in stderr, stderr[-2000:]
