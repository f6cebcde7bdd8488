"""datatrove's LocalPipelineExecutor with curate's task loop."""

from datatrove.executor import LocalPipelineExecutor

from curate.executor.task import CurateTasks


class LocalExecutor(CurateTasks, LocalPipelineExecutor):
    """Forked workers (start_method="fork"): they inherit the imported pipeline file, whatever
    classes it defines, and the progress counters."""
