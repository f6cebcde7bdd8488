"""A real Ray cluster on loopback for the tests: a head node and, if asked, worker nodes that join
it with `ray start --address` (on one machine, as Ray's own multi-node tests do: each node is its
own raylet with its own ports and resources).

Each node is `ray start --block` in its own process group, so stopping it (and only it) needs no
`ray stop`, which would stop every Ray cluster on the machine. Token auth with a token of the
cluster's own: independent of any ~/.ray/auth_token (Ray turns token auth on when that file
exists, and a driver without the token is refused)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayCluster:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        self.env = {**self.auth, "RAY_ADDRESS": self.address, "RAY_USAGE_STATS_ENABLED": "0"}
        self.nodes: list[subprocess.Popen] = []
        self.ray = shutil.which("ray") or str(Path(sys.executable).parent / "ray")

    def start_head(self, cpus: int, resources: dict | None = None) -> "RayCluster":
        self._start("head", ["--head", f"--port={self.port}", f"--ray-client-server-port={free_port()}",
                             "--include-dashboard=false"], cpus, resources, "Ray runtime started")
        return self

    def add_node(self, name: str, cpus: int, resources: dict | None = None) -> None:
        """A worker node joining the head with `ray start --address`."""
        self._start(name, [f"--address={self.address}"], cpus, resources, "Ray runtime started")

    def _start(self, name: str, role: list[str], cpus: int, resources: dict | None, ready: str) -> None:
        # every port a node opens is its own (two raylets on one machine must not collide)
        ports = [f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}",
                 f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
                 f"--metrics-export-port={free_port()}", f"--runtime-env-agent-port={free_port()}"]
        cmd = [self.ray, "start", "--block", *role, *ports, f"--num-cpus={cpus}", "--disable-usage-stats",
               "--object-store-memory=200000000", "--node-ip-address=127.0.0.1",
               *([f"--resources={json.dumps(resources)}"] if resources else [])]
        log = self.folder / f"ray-{name}.log"
        env = {**os.environ, **self.auth, "RAY_USAGE_STATS_ENABLED": "0"}
        env.pop("RAY_ADDRESS", None)
        with open(log, "wb") as f:
            proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        self.nodes.append(proc)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if ready.encode() in log.read_bytes():
                return
            time.sleep(0.5)
        raise RuntimeError(f"ray start ({name}) did not come up:\n{log.read_text()[-3000:]}")

    def node_ids(self) -> dict[str, dict]:
        """Alive nodes: id -> resources, as the cluster sees them."""
        code = ("import json, ray; ray.init(log_to_driver=False); "
                "print(json.dumps({n['NodeID']: n['Resources'] for n in ray.nodes() if n['Alive']}))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                             env={**os.environ, **self.env})
        return json.loads(out.stdout.strip().splitlines()[-1])

    def stop(self) -> None:
        for proc in reversed(self.nodes):  # workers first, the head last
            with contextlib.suppress(subprocess.TimeoutExpired, ProcessLookupError):
                proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its processes on SIGTERM
                proc.wait(30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # whatever of its group is left
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        # `ray start` recorded this cluster as the machine's default one; `ray stop` would forget it
        current = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"
        with contextlib.suppress(OSError):
            if current.read_text().strip().endswith(f":{self.port}"):
                current.unlink()
