from curate.report.funnel import collect_errors, collect_stage, format_funnel, run_funnel, write_funnel

__all__ = ["collect_errors", "collect_stage", "format_funnel", "run_funnel", "write_funnel"]
