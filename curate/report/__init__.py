from curate.report.funnel import collect_funnel, format_funnel, write_funnel

__all__ = ["collect_funnel", "format_funnel", "write_funnel"]
