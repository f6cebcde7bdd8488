"""Replay docker/Dockerfile's build steps in a fresh virtual environment, then use the result as the
image would be used. Docker has no engine on the machines CI runs on, so this is how CI keeps the
worker image honest (.ci/run runs it after the tests).

What is replayed: the COPY instructions (into a temporary folder standing in for the WORKDIR) and
every RUN instruction, with the fresh venv first on the PATH, except those that change the system
(apt-get, useradd): those are listed as skipped. pip's cache is used (the image's PIP_NO_CACHE_DIR
only keeps layers small).

What is checked afterwards, as the image's users run it: the entrypoint (`curate --help`), the main
job on its embedded sample (`curate run pipelines/datacomp.py`), `curate status` of that output,
and the modules a Slurm job and a Ray worker load (curate.executor.slurm_job, curate.executor.ray).

    python tools/replay_dockerfile.py [--dockerfile docker/Dockerfile] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SYSTEM = ("apt-get", "useradd", "groupadd", "chown")


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    result, pending = [], ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # a comment inside a continued instruction
        pending += " " + line.removesuffix("\\").strip()
        if not line.endswith("\\"):
            keyword, _, rest = pending.strip().partition(" ")
            result.append((keyword.upper(), rest.strip()))
            pending = ""
    return result


def run(cmd: str | list[str], cwd: Path, env: dict, what: str) -> None:
    print(f"+ {what}: {cmd if isinstance(cmd, str) else shlex.join(cmd)}", flush=True)
    started = time.monotonic()
    done = subprocess.run(cmd, shell=isinstance(cmd, str), cwd=cwd, env=env, executable="/bin/bash"
                          if isinstance(cmd, str) else None)
    if done.returncode != 0:
        sys.exit(f"replay_dockerfile: {what} failed (exit {done.returncode})")
    print(f"  ({time.monotonic() - started:.0f} s)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dockerfile", default=str(REPO / "docker" / "Dockerfile"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    dockerfile = Path(args.dockerfile)
    root = Path(tempfile.mkdtemp(prefix="curate-image-"))
    try:
        venv, workdir = root / "venv", root / "opt-curate"
        workdir.mkdir()
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv),
               "PYTHONDONTWRITEBYTECODE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        env.pop("PYTHONPATH", None)
        for keyword, rest in instructions(dockerfile):
            if keyword == "COPY":
                *sources, target = shlex.split(rest)
                for source in sources:
                    src, dst = REPO / source, workdir / target
                    if src.is_dir():
                        shutil.copytree(src, dst / src.name if target.endswith("/") and target != "./" else dst,
                                        dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
                    else:
                        shutil.copy2(src, dst / src.name if target.endswith("/") else dst)
                print(f"+ COPY {rest}", flush=True)
            elif keyword == "RUN":
                if rest.split()[0] in SYSTEM:
                    print(f"- skipped (changes the system): RUN {rest[:100]}", flush=True)
                else:
                    run(rest, workdir, env, "RUN")
        sample_out = root / "out"
        run(["curate", "--help"], root, env, "entrypoint")
        run(["curate", "run", str(workdir / "pipelines" / "datacomp.py"), "--output", str(sample_out)], root, env,
            "the main job")
        run(["curate", "status", str(sample_out)], root, env, "its status")
        run(["python", "-c", "import curate.executor.slurm_job, curate.executor.ray, s3fs, ray"], root, env,
            "what Slurm jobs and Ray workers load")
        print("replay_dockerfile: the image's steps and its uses work in a fresh venv")
        return 0
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
