"""`curate run pipelines/rephrase.py` end to end, in a subprocess, against the fault-injecting server:
the Parquet it writes, the stats, the API key kept out of every output and log, a clear one-line
error for an unreachable server, and a server killed mid-run followed by a rerun that completes
with nothing lost and nothing duplicated."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rephrase_fault_server import FaultServer, reverse_words

REPO = Path(__file__).resolve().parent.parent
SECRET = "sk-curate-test-7f3a9c1e-do-not-leak"
pytestmark = pytest.mark.timeout(120)


def write_input(folder: Path, texts: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "docs.parquet"
    pq.write_table(pa.table({"id": [f"doc-{i:03d}" for i in range(len(texts))], "text": texts,
                             "url": [f"https://example.org/{i}" for i in range(len(texts))],
                             # as an earlier curate run wrote them: these must reach the output
                             "language": ["en"] * len(texts),
                             "quality_score": [i / 100 for i in range(len(texts))]}), path)
    return path


def curate_run(input_path: Path, output: Path, *sets: str, key: str | None = SECRET,
               flags: list[str] = ()) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CURATE_LLM_") and k != "OPENAI_API_KEY"}
    if key:
        env["OPENAI_API_KEY"] = key
    args = [sys.executable, "-m", "curate.cli", "run", "pipelines/rephrase.py", "--input", str(input_path),
            "--output", str(output), *flags]
    for s in sets:
        args += ["--set", s]
    return subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=100)


def texts(n: int) -> list[str]:
    return [f"Item {i}: the harbour of town {i} was rebuilt in {1900 + i} after a long winter storm." for i in range(n)]


def read_output(output: Path) -> pa.Table:
    return pa.concat_tables([pq.read_table(p) for p in sorted(output.glob("*.parquet"))])


def test_end_to_end_writes_both_columns_and_keeps_the_key_secret(tmp_path):
    docs = texts(9) + ["[[429x1]] " + texts(1)[0], "[[refuse]] please"]
    source = write_input(tmp_path / "in", docs)
    output = tmp_path / "out"
    with FaultServer(api_key=SECRET) as server:
        result = curate_run(source, output, f"base_url={server.base_url}", f"model={server.model}",
                            "backoff_base=0.01", "style=hard", "price_prompt_per_m=1", "price_completion_per_m=3")
    assert result.returncode == 0, result.stderr[-3000:]
    assert server.auth_headers == {f"Bearer {SECRET}"}  # the key was sent, from the environment
    table = read_output(output)
    assert table.column("id").to_pylist() == [f"doc-{i:03d}" for i in range(len(docs))]
    assert table.column("text").to_pylist() == docs
    assert table.column("rephrased_text").to_pylist()[:10] == [reverse_words(t) for t in docs[:10]]
    assert table.column("rephrase_status").to_pylist() == ["ok"] * 10 + ["refusal"]
    assert set(table.column("rephrase_style").to_pylist()) == {"hard"}
    assert table.column("quality_score").to_pylist() == [i / 100 for i in range(len(docs))]
    assert table.column("language").to_pylist() == ["en"] * len(docs)
    stats = json.loads((Path(f"{output}.curate") / "rephrase_stats.json").read_text())
    assert (stats["documents"], stats["requests"], stats["retries"], stats["errors"]) == (11, 12, 1, {"rate_limit": 1})
    assert stats["statuses"] == {"ok": 10, "refusal": 1}
    assert stats["cost_usd"] == pytest.approx(stats["prompt_tokens"] * 1e-6 + stats["completion_tokens"] * 3e-6)
    assert "rephrase: 11 documents" in result.stdout
    # the key is nowhere: not in the Parquet, the stats, the cache, datatrove's logs and executor.json
    for path in output.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in result.stdout + result.stderr


def test_unreachable_server_is_one_line_error(tmp_path, capsys, monkeypatch):
    from curate.cli import main

    for name in [k for k in os.environ if k.startswith("CURATE_LLM_")]:
        monkeypatch.delenv(name)
    source = write_input(tmp_path / "in", texts(2))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    base = ["run", "pipelines/rephrase.py", "--input", str(source), "--output", str(tmp_path / "out")]
    monkeypatch.chdir(REPO)
    assert main(base + ["--set", f"base_url=http://127.0.0.1:{port}/v1", "--set", "model=m"]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("curate: error: rephrase: cannot reach the LLM server"), captured.err
    assert main(base + ["--set", "model=m"]) == 2
    assert capsys.readouterr().err.strip().startswith("curate: error: the LLM endpoint is not configured")


@pytest.mark.parametrize("tasks", [1, 2], ids=["1 worker", "2 workers sharing the cache"])
def test_server_killed_mid_run_then_rerun_completes(tmp_path, tasks):
    docs = texts(30)
    # one input file per task; the ids stay in order across the files
    for part in range(tasks):
        ids = range(part * 30 // tasks, (part + 1) * 30 // tasks)
        (tmp_path / "in").mkdir(exist_ok=True)
        pq.write_table(pa.table({"id": [f"doc-{i:03d}" for i in ids], "text": [docs[i] for i in ids]}),
                       tmp_path / "in" / f"part-{part}.parquet")
    output = tmp_path / "out"
    settings = ["backoff_base=0.01", "max_retries=1", "concurrency=2"]
    flags = ["--tasks", str(tasks), "--workers", str(tasks)]
    with FaultServer(die_after=10) as first:
        result = curate_run(tmp_path / "in", output, f"base_url={first.base_url}", f"model={first.model}", *settings,
                            flags=flags)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip().splitlines()[-1].startswith("curate: error: rephrase:"), result.stderr[-3000:]
    assert "rerun the same command" in result.stderr and "Traceback" not in result.stderr
    answered_before = set(first.answered_docs)
    assert 0 < len(answered_before) <= 10
    with FaultServer() as second:
        result = curate_run(tmp_path / "in", output, f"base_url={second.base_url}", f"model={second.model}",
                            *settings, flags=flags)
    assert result.returncode == 0, result.stderr[-3000:]
    table = read_output(output)
    assert table.column("id").to_pylist() == [f"doc-{i:03d}" for i in range(30)]  # nothing lost or duplicated
    assert table.column("rephrased_text").to_pylist() == [reverse_words(t) for t in docs]
    cached = {t for t, hit in zip(docs, table.column("rephrase_cached").to_pylist()) if hit}
    # the rerun asked only for what the killed run had not got, each once; what came from the cache
    # is what the killed run was answered (less at most the answers in flight when it stopped:
    # `concurrency` per task)
    assert set(second.seen) == set(docs) - cached
    assert all(count == 1 for count in second.seen.values())
    assert cached <= answered_before and len(answered_before - cached) <= 2 * tasks
    assert len(cached) >= len(answered_before) - 2 * tasks > 0
    funnel = json.loads((Path(f"{output}.curate") / "funnel.json").read_text())
    assert funnel["tasks_reported"] == tasks


def test_documents_form_with_mixing(tmp_path):
    docs = texts(12) + ["[[echo]] " + texts(1)[0]]
    source = write_input(tmp_path / "in", docs)
    output = tmp_path / "out"
    with FaultServer() as server:
        result = curate_run(source, output, f"base_url={server.base_url}", f"model={server.model}",
                            "form=documents", "mix=1:2", "style=qa")
    assert result.returncode == 0, result.stderr[-3000:]
    table = read_output(output)
    rows = table.select(["id", "synthetic", "source_id"]).to_pylist()
    real = [r for r in rows if not r["synthetic"]]
    synthetic = [r for r in rows if r["synthetic"]]
    assert (len(real), len(synthetic)) == (6, 12)  # 12 ok rewrites (the echo is not one): 1:2 exactly
    assert all(r["source_id"] == r["id"].removesuffix("/rephrase/qa") for r in synthetic)
    assert "rephrased_text" not in table.column_names
