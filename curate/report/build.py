"""`curate report`: the panels of one or more outputs, every number from a DuckDB query
(curate/report/queries/*.sql over the views of curate/report/views.py), rendered as one HTML file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import duckdb

from curate.errors import CurateError
from curate.report import charts
from curate.report.queries import Query, built_in, quote, user_queries
from curate.report.views import BYTES_PER_TOKEN_ESTIMATE, Output, columns_of, connect, find_output, \
    measured_tokens_per_byte

MAX_TABLE_ROWS = 200
TEXT_CHARS = 1200  # characters of a sample document shown (the rest is cut, the page stays small)
WHATIF_STEPS = 40
NUMERIC = ("DOUBLE", "FLOAT", "REAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER",
           "USMALLINT", "UTINYINT", "DECIMAL")
MAIN_SCORES = ("quality_score", "language_score")  # sampled at quantiles and either side of their thresholds


@dataclass
class Panel:
    section: str
    title: str
    note: str = ""
    sql: str = ""
    rows: list[dict] = field(default_factory=list)
    chart: str = ""  # inline SVG (or the documents / matrix / what-if HTML)
    kind: str = "table"
    missing: str = ""  # why the panel is empty: the data it needs is not in these outputs
    whatif: dict | None = None


@dataclass
class Report:
    outputs: list[Output]
    panels: list[Panel]
    tokens_note: str
    overview: list[dict]


def build(paths: list[str], sql: list[str] = (), tokenizer: str | None = None) -> Report:
    _HAS_VALUES.clear()
    labels = _labels(paths)
    outputs = [find_output(path, label) for path, label in zip(paths, labels)]
    documents = [o for o in outputs if o.shards]
    ratio, tokens_note = 1 / BYTES_PER_TOKEN_ESTIMATE, "tokens estimated as UTF-8 bytes / 4"
    if tokenizer and documents:
        ratio = measured_tokens_per_byte(connect(documents, lengths=False), tokenizer)
        tokens_note = (f"tokens: UTF-8 bytes x {ratio:.4f}, the tokens per byte of {os.path.basename(tokenizer)} "
                       "on a sample of 2,000 documents")
    con = connect(documents, tokens_per_byte=ratio)
    panels = []
    if documents:
        panels += _run_panels(con, documents)
    for output in outputs:
        if output.ablation:
            panels += _ablation_panels(con, output)
    for query in user_queries(list(sql)):
        panels.append(_panel(con, query, "Your panels"))
    _add_texts(con, [p for p in panels if p.kind == "documents" and p.rows and "text" not in p.rows[0]])
    overview = _rows(con, "SELECT run, count(*) AS documents, sum(bytes) AS bytes, round(sum(tokens)) AS tokens "
                          "FROM lengths WHERE kept GROUP BY run ORDER BY run") if documents else []
    return Report(outputs, panels, tokens_note, overview)


def _labels(paths: list[str]) -> list[str]:
    names = [os.path.basename(os.path.normpath(p)) or p for p in paths]
    return [n if names.count(n) == 1 else f"{n} ({i + 1})" for i, n in enumerate(names)]


def _rows(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


_HAS_VALUES: dict = {}


def _has_values(con, view: str, column: str) -> bool:
    """A column that exists and holds a value (curate's core columns exist even when empty)."""
    key = (id(con), view, column)
    if key not in _HAS_VALUES:
        _HAS_VALUES[key] = con.execute(f"SELECT count({quote(column)}) > 0 FROM {view}").fetchall()[0][0]
    return _HAS_VALUES[key]


def _missing(con, needs: list[str]) -> str:
    absent = []
    for need in needs:
        view, _, column = need.partition(".")
        columns = columns_of(con, view)
        if not columns or (column and (column not in columns or not _has_values(con, view, column))):
            absent.append(need)
    if not absent:
        return ""
    return "not in these outputs: " + ", ".join(absent) + _why(absent)


def _why(absent: list[str]) -> str:
    if any(a.startswith("removed") for a in absent):
        return " (the run kept no removed documents: run it with --removed DIR)"
    if any(a.startswith("errors") for a in absent):
        return ""
    return ""


def _panel(con, query: Query, section: str) -> Panel:
    panel = Panel(section=section, title=query.title, note=query.note, sql=query.sql)
    panel.missing = _missing(con, query.needs)
    if panel.missing:
        return panel
    try:
        panel.rows = _rows(con, query.sql)
    except duckdb.Error as e:
        if section == "Your panels":
            raise CurateError(f"--sql {query.name}: {str(e).splitlines()[0]}") from None
        raise
    panel.kind = query.chart or _chart_for(panel.rows)
    panel.chart = _draw(panel, query.options)
    if not panel.rows:
        panel.missing = "no rows"
    return panel


def _chart_for(rows: list[dict]) -> str:
    """The chart a user's query gets from its columns (docs/report.md)."""
    if not rows:
        return "table"
    names = [n for n in rows[0] if n != "run"]
    numeric = [n for n in names if isinstance(rows[0][n], (int, float)) and not isinstance(rows[0][n], bool)]
    if {"bin_lo", "bin_hi", "documents"} <= set(names):
        return "histogram"
    if len(names) >= 2 and names[0] not in numeric and names[1] in numeric:
        return "bars"
    if len(names) >= 2 and names[0] in numeric and names[1] in numeric:
        return "lines"
    return "table"


def _draw(panel: Panel, options: dict) -> str:
    rows = panel.rows
    if not rows or panel.kind in ("table", "documents", "matrix"):
        return ""
    names = [n for n in rows[0] if n != "run"]
    if panel.kind == "bars":
        label, value = options.get("label", names[0]), options.get("value", names[1] if len(names) > 1 else names[0])
        return charts.bars(rows, label, value, panel.title)
    if panel.kind == "histogram":
        return charts.histogram(rows, panel.title, log_x=bool(options.get("log")))
    if panel.kind == "lines":
        x, y = options.get("x", names[0]), options.get("y", names[1])
        series = options.get("series", names[2] if len(names) > 2 else "run")
        return charts.lines(rows, x, y, series if series in rows[0] else "run", panel.title)
    return ""


# -- the panels of a curate run ------------------------------------------------------------------


def _run_panels(con, outputs: list[Output]) -> list[Panel]:
    docs = columns_of(con, "docs")
    removed = columns_of(con, "removed")
    thresholds = _thresholds(outputs)
    panels = [_panel(con, built_in(name), "Funnel") for name in ("funnel", "rule_drop_rates", "reasons")]
    if len(outputs) > 1:
        panels.insert(0, _panel(con, built_in("run_overlap"), "Funnel"))
    panels.append(_overlap_panel(con, docs, removed))
    scores = [c for c, kind in docs.items() if kind.split("(")[0] in NUMERIC and c not in ("dup_cluster_size",)]
    for column in sorted(scores, key=lambda c: (c not in MAIN_SCORES, c)):
        panels.append(_histogram_panel(con, column, thresholds.get(column, [])))
    for column in MAIN_SCORES:
        if column in docs:
            panels.append(_panel(con, built_in("quantile_samples").format(column=quote(column), label=column),
                                 "Samples"))
            for op, value in thresholds.get(column, [])[:1]:
                if column in removed:
                    panels.append(_panel(con, built_in("threshold_neighbours").format(
                        column=quote(column), label=column, op=op, threshold=repr(float(value))), "Samples"))
    panels.append(_panel(con, built_in("removed_samples").format(chars=TEXT_CHARS), "Samples"))
    removed_pages = "UNION ALL SELECT run, false, tokens, domain FROM removed_measures" if removed else ""
    panels += [_panel(con, built_in("languages"), "Languages and domains"),
               _panel(con, built_in("language_scores"), "Languages and domains"),
               _panel(con, built_in("domains").format(removed_pages=removed_pages), "Languages and domains"),
               _panel(con, built_in("tlds"), "Languages and domains")]
    panels += [_panel(con, built_in("lengths").format(measure=m), "Lengths") for m in ("chars", "words", "lines")]
    twins = ("UNION ALL SELECT r.run, 'removed' AS role, t.dup_cluster_size, t.id, r.id FROM top t JOIN "
             "(SELECT run, id, dup_cluster_id FROM removed QUALIFY row_number() OVER (PARTITION BY run, dup_cluster_id "
             "ORDER BY hash(id)) <= 2) r ON r.run = t.run AND r.dup_cluster_id = t.id"
             if "dup_cluster_id" in removed else "")
    panels += [_panel(con, built_in("duplicate_sizes"), "Duplicates"),
               _panel(con, built_in("largest_clusters").format(removed_twins=twins), "Duplicates"),
               _panel(con, built_in("errors"), "Funnel")]
    return panels


def _add_texts(con, panels: list[Panel]) -> None:
    """The url and text of every document the document panels show, in one pass over the kept and
    one over the removed documents (the panels' own queries read no text: a text column is most
    of the data)."""
    wanted = sorted({(str(row["run"]), str(row["id"])) for panel in panels for row in panel.rows})
    if not wanted:
        return
    con.register("_wanted", __import__("pyarrow").table({"run": [w[0] for w in wanted], "id": [w[1] for w in wanted]}))
    sources = ["docs"] + (["removed"] if columns_of(con, "removed") else [])
    url = {view: "url" if "url" in columns_of(con, view) else "NULL" for view in sources}
    found = {}
    for view in sources:
        for run, doc_id, link, text in con.execute(
                f"SELECT run, id, {url[view]}, left(text, {TEXT_CHARS}) FROM {view} "
                "WHERE (run, id) IN (SELECT (run, id) FROM _wanted)").fetchall():
            found.setdefault((run, doc_id), (link, text))
    for panel in panels:
        for row in panel.rows:
            row["url"], row["text"] = found.get((str(row["run"]), str(row["id"])), (None, None))


def _thresholds(outputs: list[Output]) -> dict[str, list[tuple[str, float]]]:
    found: dict[str, list] = {}
    for output in outputs:
        for block in output.blocks:
            for column, op, value in block.get("thresholds", []):
                if (op, value) not in found.setdefault(column, []):
                    found[column].append((op, value))
    return found


def _histogram_panel(con, column: str, marks: list[tuple[str, float]]) -> Panel:
    q = quote(column)
    low, high = con.execute(f"SELECT quantile_cont({q}, 0.005), quantile_cont({q}, 0.995) FROM docs "
                            f"WHERE {q} IS NOT NULL AND isfinite({q}::DOUBLE)").fetchone()
    if low is None:
        return Panel(section="Scores", title=column, missing="no values")
    for _, value in marks:
        low, high = min(low, value), max(high, value)
    if high <= low:  # one value only
        high = low + 1
    width = (high - low) / 40
    panel = _panel(con, built_in("score_histogram").format(column=q, label=column, low=repr(low),
                                                           top=repr(high - width / 2), width=repr(width)), "Scores")
    panel.chart = charts.histogram(panel.rows, column, [(v, f"{op} {v:g}") for op, v in marks])
    op, value = marks[0] if marks else (">=", None)
    grid = sorted({round(low + (high - low) * k / WHATIF_STEPS, 12) for k in range(WHATIF_STEPS + 1)}
                  | ({float(value)} if value is not None else set()))
    runs = {}
    for (run,) in con.execute("SELECT DISTINCT run FROM measures ORDER BY run").fetchall():
        rows = _rows(con, built_in("whatif").format(column=q, label=column, op=op, thresholds=repr(grid),
                                                    run=_literal(run)).sql)
        runs[run] = {"docs": [r["docs_kept"] for r in rows], "tokens": [r["tokens_kept"] for r in rows]}
    panel.whatif = {"column": column, "op": op, "grid": grid, "start": grid.index(float(value)) if value is not None
                    else 0, "runs": runs}
    if not marks:
        panel.note = "no block of the run filters on this column: the what-if shows what a threshold would keep"
    return panel


def _overlap_panel(con, docs: dict, removed: dict) -> Panel:
    rules = sorted({c[: -len("_failed")] for c in list(docs) + list(removed) if c.endswith("_failed")})
    query = built_in("rule_overlap")
    if not rules:
        return Panel(section="Funnel", title=query.title, missing="not in these outputs: <name>_failed columns "
                     "(no heuristic rule set ran)")
    failures = " UNION ALL ".join(
        f"SELECT run, id, {_literal(rule)} AS rule FROM {view} WHERE {quote(rule + '_failed')} IS NOT NULL"
        for rule in rules for view, columns in (("docs", docs), ("removed", removed)) if f"{rule}_failed" in columns)
    panel = _panel(con, query.format(failures=failures), "Funnel")
    panel.kind = "matrix"
    return panel


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# -- curate ablate -------------------------------------------------------------------------------


def _ablation_panels(con, output: Output) -> list[Panel]:
    import pyarrow as pa

    results = os.path.join(output.path, "results.parquet").replace("'", "''")
    # results of curate versions before cloze tasks have no metric column: all their rows are bpb
    has_metric = "metric" in con.sql(f"SELECT * FROM read_parquet('{results}') LIMIT 0").columns
    panels = []
    for metric, title in (("bpb", "held-out bits per byte"), ("cloze_prob", "cloze: probability of the true ending")):
        where = f"metric = '{metric}'" if has_metric else ("TRUE" if metric == "bpb" else "FALSE")
        if metric != "bpb" and not con.sql(f"SELECT 1 FROM read_parquet('{results}') WHERE {where} LIMIT 1").fetchall():
            continue
        column = "value" if has_metric else "eval_bpb"
        panels.append(_panel(con, Query(
            f"ablation_curves_{metric}", title=f"{output.label}: {title} against training FLOPs", chart="lines",
            options={"x": "flops", "y": metric, "series": "series"},
            sql=f"SELECT variant || ' / ' || eval_set AS series, flops, avg({column}) AS {metric} "
                f"FROM read_parquet('{results}') WHERE {where} GROUP BY ALL ORDER BY series, flops",
            note="mean over seeds (and data subsamples) at each evaluation"), "Ablation"))
    with open(os.path.join(output.path, "summary.json")) as f:
        summary = json.load(f)
    rows = [{"variant": name, "eval_set": eval_name, "metric": e.get("metric", "bpb"), "mean": e["mean"],
             "spread": e["spread"], "diff_vs_baseline": e.get("diff_vs_baseline"),
             "verdict": e.get("verdict", "baseline"), "epochs": info.get("epochs"),
             "documents": info.get("data", {}).get("documents")}
            for name, info in summary["variants"].items() for eval_name, e in info["eval"].items()]
    con.register("_verdicts", pa.Table.from_pylist(rows))
    panels.append(_panel(con, Query("ablation_verdicts", title=f"{output.label}: verdicts against the baseline",
                                    chart="table", sql="SELECT * FROM _verdicts",
                                    note=summary.get("verdict_rule", "")), "Ablation"))
    for key, title in (("stages", "each stage on top of the variant before it"),
                       ("leave_one_out", "the full recipe against it without each stage")):
        effects = [{"stage": s["stage"], "against": s["vs"], "eval_set": eval_name, "metric": e["metric"],
                    "diff": e["diff"], "noise": e["noise"], "verdict": e["verdict"],
                    "documents_removed_pct": s["removed"]["documents_pct"],
                    "tokens_removed_pct": s["removed"]["tokens_pct"]}
                   for s in summary.get(key, []) for eval_name, e in s["eval"].items()]
        if effects:
            con.register(f"_{key}", pa.Table.from_pylist(effects))
            panels.append(_panel(con, Query(f"ablation_{key}", title=f"{output.label}: {title}", chart="table",
                                            sql=f"SELECT * FROM _{key}"), "Ablation"))
    return panels
