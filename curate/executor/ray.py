"""datatrove's RayPipelineExecutor with curate's task loop (needs the `ray` extra)."""

import os

from curate.errors import need
from curate.executor.task import CurateTasks

need("ray", "ray", "--executor ray")

from datatrove.executor.ray import RayPipelineExecutor  # noqa: E402
from ray import cloudpickle  # noqa: E402 - Ray's own pickler (the standalone cloudpickle is not a Ray dependency)


class RayExecutor(CurateTasks, RayPipelineExecutor):
    pass


def connect(workers: int, pipeline_module=None) -> None:
    """Join the cluster $RAY_ADDRESS names ("auto": the one `ray start` started on this machine),
    else start a local one with `workers` CPUs. Not address=None: that would join a cluster found
    in /tmp/ray, and ray.init refuses num_cpus when joining one."""
    import ray

    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        ray.init(address=address or "local", include_dashboard=False, log_to_driver=False,
                 **({} if address else {"num_cpus": workers}))
    if pipeline_module is not None:
        cloudpickle.register_pickle_by_value(pipeline_module)  # Ray workers cannot import the file
