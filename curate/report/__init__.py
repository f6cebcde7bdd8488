from curate.report.funnel import collect_stage, format_funnel, run_funnel, write_funnel

__all__ = ["collect_stage", "format_funnel", "run_funnel", "write_funnel"]
