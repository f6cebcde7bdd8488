"""The report as one self-contained HTML page: inline style, inline SVG charts, one small inline
script (the what-if sliders), no request to anything. Tables, charts and documents read without
JavaScript; every text from the data is escaped."""

from __future__ import annotations

import html
import json

from curate.report.build import MAX_TABLE_ROWS, Panel, Report

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d232a;background:#f7f7f5}
header{background:#22313f;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:22px}
header p{margin:2px 0;color:#cdd6de}nav{padding:8px 28px;background:#e9ecef;position:sticky;top:0}
nav a{margin-right:14px;color:#22313f}main{padding:10px 28px 40px;max-width:1200px}
h2{margin:28px 0 8px;border-bottom:2px solid #22313f;padding-bottom:4px}
.panel{background:#fff;border:1px solid #dde1e5;border-radius:6px;padding:12px 16px;margin:14px 0}
.panel h3{margin:0 0 6px;font-size:16px}.note{color:#5a6570;margin:0 0 8px;font-size:13px}
.missing{color:#8a6d3b;font-style:italic}table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
td,th{border:1px solid #dde1e5;padding:3px 7px;text-align:left;vertical-align:top}th{background:#f0f2f4}
td.num{text-align:right;font-variant-numeric:tabular-nums}.chart{display:block;max-width:100%;height:auto;margin:6px 0}
.chart .tick,.chart .mark-label{font-size:11px;fill:#333}.chart .axis{stroke:#888}.chart .mark{stroke:#c0392b;stroke-width:1.5;stroke-dasharray:4 3}
.chart .mark-label{fill:#c0392b}.legend{font-size:12px;margin:2px 0}
details.doc{border-top:1px solid #eee;padding:3px 0}details.doc pre{white-space:pre-wrap;background:#fafafa;padding:8px;max-height:320px;overflow:auto;font-size:12px}
details.sql pre{background:#f4f4f0;padding:8px;font-size:12px;overflow:auto}summary{cursor:pointer}
.whatif{background:#f4f8fb;border:1px solid #cfe0ee;padding:8px 12px;border-radius:5px;margin:6px 0}
.whatif input{width:60%;vertical-align:middle}.whatif b{font-variant-numeric:tabular-nums}
.cell{min-width:46px;text-align:right}
"""

SCRIPT = """
document.querySelectorAll('.whatif').forEach(function (box) {
  var data = JSON.parse(box.querySelector('script.whatif-data').textContent);
  var slider = box.querySelector('input');
  function pct(x) { return x === null ? '-' : (100 * x).toFixed(2) + '%'; }
  function show() {
    var i = Number(slider.value);
    box.querySelector('.threshold').textContent = data.grid[i].toPrecision(4);
    box.querySelectorAll('.kept').forEach(function (row) {
      var run = data.runs[row.dataset.run];
      var docs = row.querySelector('.kept-docs'), tokens = row.querySelector('.kept-tokens');
      docs.textContent = pct(run.docs[i]); docs.dataset.value = run.docs[i];
      tokens.textContent = pct(run.tokens[i]); tokens.dataset.value = run.tokens[i];
    });
  }
  slider.addEventListener('input', show);
  show();
});
"""


def render(report: Report) -> str:
    sections = list(dict.fromkeys(p.section for p in report.panels))
    parts = [_head(report), "<nav>" + "".join(f'<a href="#{_anchor(s)}">{html.escape(s)}</a>' for s in sections)
             + "</nav><main>", _overview(report)]
    for number, section in enumerate(sections):
        parts.append(f'<h2 id="{_anchor(section)}">{html.escape(section)}</h2>')
        for index, panel in enumerate(p for p in report.panels if p.section == section):
            parts.append(_panel(panel, f"p{number}-{index}"))
    parts.append(f"</main><script>{SCRIPT}</script></body></html>")
    return "".join(parts)


def _anchor(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower())


def _head(report: Report) -> str:
    runs = "".join(f"<p>{html.escape(o.label)}: {html.escape(o.path)}</p>" for o in report.outputs)
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "script-src 'unsafe-inline'; img-src data:\">"
            f"<title>curate report: {html.escape(', '.join(o.label for o in report.outputs))}</title>"
            f"<style>{STYLE}</style></head><body><header><h1>curate report</h1>{runs}"
            f"<p>{html.escape(report.tokens_note)}</p></header>")


def _overview(report: Report) -> str:
    if not report.overview:
        return ""
    return '<section class="panel"><h3>Overview</h3>' + _table(report.overview) + "</section>"


def _panel(panel: Panel, key: str) -> str:
    out = [f'<section class="panel" id="{key}" data-kind="{panel.kind}"><h3>{html.escape(panel.title)}</h3>']
    if panel.note:
        out.append(f'<p class="note">{html.escape(panel.note)}</p>')
    if panel.missing and not panel.rows:
        out.append(f'<p class="missing">{html.escape(panel.missing)}</p>')
    else:
        out.append(panel.chart)
        if panel.whatif:
            out.append(_whatif(panel.whatif))
        if panel.kind == "documents":
            out.append(_documents(panel.rows))
        elif panel.kind == "matrix":
            out.append(_matrix(panel.rows))
        else:
            out.append(_table(panel.rows))
    if panel.sql:
        out.append(f'<details class="sql"><summary>query</summary><pre>{html.escape(panel.sql)}</pre></details>')
    out.append("</section>")
    return "".join(out)


def _cell(value) -> str:
    if isinstance(value, bool) or value is None:
        return f"<td>{'-' if value is None else value}</td>"
    if isinstance(value, int):
        return f'<td class="num">{value:,}</td>'
    if isinstance(value, float):
        return f'<td class="num">{value:,.4g}</td>' if abs(value) < 1e6 else f'<td class="num">{value:,.0f}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def _table(rows: list[dict]) -> str:
    if not rows:
        return ""
    names = list(rows[0])
    body = "".join("<tr>" + "".join(_cell(row.get(n)) for n in names) + "</tr>" for row in rows[:MAX_TABLE_ROWS])
    more = f'<p class="note">the first {MAX_TABLE_ROWS} of {len(rows)} rows</p>' if len(rows) > MAX_TABLE_ROWS else ""
    return ("<table><thead><tr>" + "".join(f"<th>{html.escape(n)}</th>" for n in names) + "</tr></thead><tbody>"
            + body + "</tbody></table>" + more)


def _documents(rows: list[dict]) -> str:
    out = []
    for row in rows[:MAX_TABLE_ROWS]:
        facts = [f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}" for k, v in row.items()
                 if k not in ("text", "url", "id")]
        summary = " · ".join(facts + [str(row.get("id")), str(row.get("url") or "")])
        out.append(f'<details class="doc"><summary>{html.escape(summary)}</summary>'
                   f'<pre>{html.escape(str(row.get("text") or ""))}</pre></details>')
    return "".join(out)


def _matrix(rows: list[dict]) -> str:
    out = []
    for run in dict.fromkeys(r["run"] for r in rows):
        mine = [r for r in rows if r["run"] == run]
        rules = sorted({r["rule_a"] for r in mine} | {r["rule_b"] for r in mine})
        counts = {(r["rule_a"], r["rule_b"]): r["documents"] for r in mine}
        top = max(counts.values() or [1])
        head = "<tr><th>" + html.escape(run) + "</th>" + "".join(f"<th>{html.escape(r)}</th>" for r in rules) + "</tr>"
        body = "".join(
            f"<tr><th>{html.escape(a)}</th>" + "".join(
                f'<td class="cell num" style="background:rgba(59,110,165,{0.08 + 0.6 * counts.get((a, b), 0) / top:.2f})">'
                f"{counts.get((a, b), 0):,}</td>" for b in rules) + "</tr>" for a in rules)
        out.append(f"<table>{head}{body}</table>")
    return "".join(out)


def _whatif(whatif: dict) -> str:
    start = whatif["start"]
    data = json.dumps(whatif).replace("<", "\\u003c")
    rows = "".join(
        f'<p class="kept" data-run="{html.escape(run)}">{html.escape(run)}: keeps '
        f'<b class="kept-docs" data-value="{values["docs"][start]}">{_pct(values["docs"][start])}</b> of documents and '
        f'<b class="kept-tokens" data-value="{values["tokens"][start]}">{_pct(values["tokens"][start])}</b> of tokens</p>'
        for run, values in whatif["runs"].items())
    return (f'<div class="whatif" data-column="{html.escape(whatif["column"])}">'
            f'<label>keep {html.escape(whatif["column"])} {html.escape(whatif["op"])} '
            f'<output class="threshold">{whatif["grid"][start]:.4g}</output> '
            f'<input type="range" min="0" max="{len(whatif["grid"]) - 1}" step="1" value="{start}" '
            f'aria-label="threshold for {html.escape(whatif["column"])}"></label>{rows}'
            f'<script type="application/json" class="whatif-data">{data}</script></div>')


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"
