"""What a Slurm job runs: `python -m curate.executor.slurm_job PIPELINE_FILE EXECUTOR.pik`. The
pipeline file is imported first, so the classes it defines resolve when the stage is unpickled."""

from __future__ import annotations

import sys

import dill
import fsspec


def main(argv: list[str]) -> None:
    from curate.log import configure_logging
    from curate.run import load_pipeline_file

    pipeline_file, pickled = argv
    configure_logging()  # the job's own output (its Slurm log): warnings; the task log has everything
    load_pipeline_file(pipeline_file)
    with fsspec.open(pickled, "rb") as f:
        executor = dill.load(f)
    executor.run()


if __name__ == "__main__":
    main(sys.argv[1:])
