"""`curate report` and `curate sql`: the command lines (wired into curate.cli)."""

from __future__ import annotations

import argparse
import os


def add_parser(sub) -> None:
    report = sub.add_parser("report", help="one offline HTML page of DuckDB-queried views of one or more outputs")
    report.add_argument("outputs", nargs="+", metavar="OUT", help="output folders (several: side by side)")
    report.add_argument("--html", required=True, metavar="FILE", help="the page to write")
    report.add_argument("--sql", action="append", default=[], metavar="PATH",
                        help="a .sql file, or a folder of them, with panels of your own (docs/report.md); repeatable")
    report.add_argument("--tokenizer", metavar="PATH",
                        help="a tokenizers tokenizer.json: count tokens with it (on a sample) instead of bytes/4")
    report.set_defaults(func=_report)
    sql = sub.add_parser("sql", help="run a DuckDB query over outputs (views docs, removed, funnel, reasons, "
                                     "errors, lengths)")
    sql.add_argument("outputs", nargs="+", metavar="OUT", help="output folders")
    sql.add_argument("query", help='e.g. "SELECT language, count(*) FROM docs GROUP BY ALL"')
    sql.add_argument("--max-rows", type=int, default=40, help="rows to print (default 40)")
    sql.set_defaults(func=_sql)


def _report(args: argparse.Namespace) -> int:
    from curate.errors import CurateError
    from curate.report.build import build
    from curate.report.html import render

    report = build(args.outputs, args.sql, args.tokenizer)
    page = render(report)
    try:
        with open(args.html + ".tmp", "w", encoding="utf-8") as f:
            f.write(page)
        os.replace(args.html + ".tmp", args.html)
    except OSError as e:
        raise CurateError(f"--html {args.html}: {e.strerror}") from None
    shown = sum(1 for p in report.panels if not p.missing)
    print(f"report: {args.html} ({len(page.encode()) / 1e6:.2f} MB, {shown} panels with data, "
          f"{len(report.panels) - shown} without)")
    return 0


def _sql(args: argparse.Namespace) -> int:
    import duckdb

    from curate.errors import CurateError
    from curate.report.build import _labels
    from curate.report.views import connect, find_output

    outputs = [find_output(path, label) for path, label in zip(args.outputs, _labels(args.outputs))]
    con = connect([o for o in outputs if o.shards])
    try:
        relation = con.sql(args.query)
    except duckdb.Error as e:
        raise CurateError(f"query: {str(e).splitlines()[0]}") from None
    if relation is None:
        return 0
    relation.show(max_rows=args.max_rows, max_width=200)
    return 0
