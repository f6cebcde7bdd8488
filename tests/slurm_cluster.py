"""A real single-node Slurm for the tests: munged, slurmctld and slurmd (Debian's slurm-wlm and
munge; .ci/run installs them), configured in a temporary folder, stopped by their pid files.
The configuration is the one ../shared/FACTS.md measured on this machine kind: no database, no
cgroups, accounting off (there is no sacct: jobs are watched with squeue/scontrol)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("slurmctld", "slurmd")


def missing() -> str | None:
    """Why a Slurm cannot be started here, or None."""
    for tool in ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} is not installed (apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "starting slurmctld/slurmd needs root"
    return None


class SlurmCluster:
    def __init__(self, folder: Path, cpus: int | None = None):
        self.folder = folder
        self.host = socket.gethostname().split(".")[0]
        self.cpus = cpus or os.cpu_count() or 2
        self.conf = folder / "slurm.conf"
        self.env = {"SLURM_CONF": str(self.conf)}

    def _write_conf(self) -> None:
        state = self.folder / "state"
        spool = self.folder / "spool"
        for d in (state, spool):
            d.mkdir(parents=True, exist_ok=True)
        # SlurmUser root: the controller must read this folder, and pytest's temp folders are root's alone
        self.conf.write_text("\n".join([
            "ClusterName=curate-test", f"SlurmctldHost={self.host}", "SlurmUser=root", "AuthType=auth/munge",
            "CredType=cred/munge", "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "MpiDefault=none",
            "ReturnToService=2", "SchedulerType=sched/backfill", "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory", "AccountingStorageType=accounting_storage/none",
            "JobAcctGatherType=jobacct_gather/none", f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}", "JobCompType=jobcomp/none", "MaxArraySize=1001",
            "MinJobAge=600", "SlurmctldTimeout=30", "SlurmdTimeout=30", "InactiveLimit=0", "KillWait=5",
            f"StateSaveLocation={state}", f"SlurmdSpoolDir={spool}",
            f"SlurmctldPidFile={self.folder / 'slurmctld.pid'}", f"SlurmdPidFile={self.folder / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.folder / 'slurmctld.log'}", f"SlurmdLogFile={self.folder / 'slurmd.log'}",
            f"NodeName={self.host} CPUs={self.cpus} RealMemory=8000 State=UNKNOWN",
            f"PartitionName=debug Nodes={self.host} Default=YES MaxTime=INFINITE State=UP", ""]))

    def start(self) -> "SlurmCluster":
        self._write_conf()
        run = Path("/run/munge")
        run.mkdir(parents=True, exist_ok=True)
        shutil.chown(run, "munge", "munge")
        self.started_munge = not _alive(_pid(run / "munged.pid"))
        if self.started_munge:
            subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True, capture_output=True)
        env = {**os.environ, **self.env}
        subprocess.run(["/usr/sbin/slurmctld", "-f", str(self.conf)], check=True, capture_output=True, env=env)
        subprocess.run(["/usr/sbin/slurmd", "-f", str(self.conf)], check=True, capture_output=True, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if time.monotonic() > deadline - 55 and not all(_alive(_pid(self.folder / f"{d}.pid")) for d in DAEMONS):
                break  # a daemon died: its log says why
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, env=env).stdout
            if "idle" in out or "mixed" in out:
                return self
            time.sleep(0.5)
        logs = "\n".join(f"{d}.log: ...{(self.folder / f'{d}.log').read_text()[-1500:]}" for d in DAEMONS
                         if (self.folder / f"{d}.log").exists())
        raise RuntimeError(f"slurm did not come up:\n{logs}")

    def stop(self) -> None:
        env = {**os.environ, **self.env}
        subprocess.run(["scancel", "--user", "root"], capture_output=True, env=env)
        pids = [self.folder / f"{daemon}.pid" for daemon in reversed(DAEMONS)]
        if getattr(self, "started_munge", False):
            pids.append(Path("/run/munge/munged.pid"))
        for pid_file in pids:
            pid = _pid(pid_file)
            if pid and _alive(pid):
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    if not _alive(pid):
                        break
                    time.sleep(0.1)
                else:
                    os.kill(pid, signal.SIGKILL)

    def queue(self) -> list[str]:
        """squeue's lines for the jobs still known to the controller (pending or running)."""
        out = subprocess.run(["squeue", "-h", "-o", "%i %T %r"], capture_output=True, text=True,
                             env={**os.environ, **self.env}).stdout
        return [line for line in out.splitlines() if line.strip()]


def _free_port() -> int:
    """Ports of this cluster's own: daemons a killed test session left behind cannot take its node."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
