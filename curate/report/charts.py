"""Charts as inline SVG, drawn from query results in Python: no charting library, no script and no
network needed to see them, a few kilobytes each (docs/report.md says why).

Each chart takes rows (dicts) and names the columns it draws; a `run` column, when the report
compares several outputs, becomes the series (one colour per run).
"""

from __future__ import annotations

import html
import math

COLOURS = ["#3b6ea5", "#d1793b", "#4f9a5d", "#b2455b", "#7c5fa8", "#8a7a3c"]
WIDTH = 720


def _fmt(value: float) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{int(value):,}"


def _svg(height: int, body: list[str], label: str) -> str:
    return (f'<svg class="chart" role="img" aria-label="{html.escape(label)}" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">' + "".join(body) + "</svg>")


def _series(rows: list[dict]) -> list[str]:
    return list(dict.fromkeys(str(row.get("run", "")) for row in rows))


def legend(runs: list[str]) -> str:
    if len(runs) < 2:
        return ""
    return '<p class="legend">' + " ".join(
        f'<span style="color:{COLOURS[i % len(COLOURS)]}">&#9632;</span> {html.escape(run)}'
        for i, run in enumerate(runs)) + "</p>"


def bars(rows: list[dict], label: str, value: str, title: str, limit: int = 30) -> str:
    """Horizontal bars: one group per label, one bar per run."""
    runs = _series(rows)
    labels = list(dict.fromkeys(str(row[label]) for row in rows))[:limit]
    values = {(str(row[label]), str(row.get("run", ""))): row[value] or 0 for row in rows}
    top = max([v for v in values.values() if isinstance(v, (int, float))] + [1])
    bar_h, gap, left = 14, 6, 190
    group = bar_h * len(runs) + gap
    body = []
    for i, name in enumerate(labels):
        y = 8 + i * group
        body.append(f'<text x="{left - 6}" y="{y + bar_h * len(runs) / 2 + 4}" text-anchor="end" '
                    f'class="tick">{html.escape(name[:34])}</text>')
        for j, run in enumerate(runs):
            v = values.get((name, run), 0) or 0
            w = (WIDTH - left - 90) * v / top
            colour = COLOURS[j % len(COLOURS)]
            body.append(f'<rect x="{left}" y="{y + j * bar_h}" width="{max(w, 0.5):.1f}" height="{bar_h - 2}" '
                        f'fill="{colour}"><title>{html.escape(run)} {html.escape(name)}: {_fmt(v)}</title></rect>'
                        f'<text x="{left + w + 4:.1f}" y="{y + j * bar_h + bar_h - 4}" class="tick">{_fmt(v)}</text>')
    return legend(runs) + _svg(16 + len(labels) * group, body, title)


def histogram(rows: list[dict], title: str, marks: list[tuple[float, str]] = (), log_x: bool = False) -> str:
    """Bins (bin_lo, bin_hi, documents) per run, as steps; `marks`: vertical lines (x, label)."""
    runs = _series(rows)
    if not rows:
        return ""
    lo = min(row["bin_lo"] for row in rows)
    hi = max(row["bin_hi"] for row in rows)
    for x, _ in marks:
        lo, hi = min(lo, x), max(hi, x)
    hi = hi if hi > lo else lo + 1
    top = max(row["documents"] for row in rows) or 1
    left, right, height, bottom = 50, 20, 190, 30
    plot_w, plot_h = WIDTH - left - right, height - bottom - 10

    def sx(x: float) -> float:
        return left + plot_w * (x - lo) / (hi - lo)

    def sy(y: float) -> float:
        return 10 + plot_h * (1 - y / top)

    body = [f'<line x1="{left}" y1="{10 + plot_h}" x2="{WIDTH - right}" y2="{10 + plot_h}" class="axis"/>']
    for j, run in enumerate(runs):
        colour = COLOURS[j % len(COLOURS)]
        for row in (r for r in rows if str(r.get("run", "")) == run):
            x0, x1 = sx(row["bin_lo"]), sx(row["bin_hi"])
            y = sy(row["documents"])
            body.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x1 - x0, 0.8):.1f}" height="{10 + plot_h - y:.1f}" '
                        f'fill="{colour}" fill-opacity="{0.75 if len(runs) == 1 else 0.45}"><title>{html.escape(run)} '
                        f'[{_fmt(_unlog(row["bin_lo"], log_x))}, {_fmt(_unlog(row["bin_hi"], log_x))}): '
                        f'{_fmt(row["documents"])}</title></rect>')
    for x, text in marks:
        body.append(f'<line x1="{sx(x):.1f}" y1="6" x2="{sx(x):.1f}" y2="{10 + plot_h}" class="mark"/>'
                    f'<text x="{sx(x) + 3:.1f}" y="16" class="mark-label">{html.escape(text)}</text>')
    for k in range(5):
        x = lo + (hi - lo) * k / 4
        body.append(f'<text x="{sx(x):.1f}" y="{height - 12}" text-anchor="middle" class="tick">'
                    f'{_fmt(_unlog(x, log_x))}</text>')
    body.append(f'<text x="{left - 4}" y="16" text-anchor="end" class="tick">{_fmt(top)}</text>')
    return legend(runs) + _svg(height, body, title)


def _unlog(x: float, log_x: bool) -> float:
    return round(10 ** x) if log_x else x


def lines(rows: list[dict], x: str, y: str, series: str, title: str) -> str:
    """One polyline per series (x ascending)."""
    names = list(dict.fromkeys(str(row.get(series, "")) for row in rows))
    if not rows:
        return ""
    xs, ys = [row[x] for row in rows], [row[y] for row in rows]
    x_lo, x_hi = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    y_lo, y_hi = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
    left, right, height, bottom = 60, 150, 240, 30
    plot_w, plot_h = WIDTH - left - right, height - bottom - 10

    def point(row) -> str:
        return f"{left + plot_w * (row[x] - x_lo) / (x_hi - x_lo):.1f},{10 + plot_h * (1 - (row[y] - y_lo) / (y_hi - y_lo)):.1f}"

    body = [f'<line x1="{left}" y1="{10 + plot_h}" x2="{left + plot_w}" y2="{10 + plot_h}" class="axis"/>']
    for j, name in enumerate(names):
        points = sorted((row for row in rows if str(row.get(series, "")) == name), key=lambda r: r[x])
        colour = COLOURS[j % len(COLOURS)]
        body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" '
                    f'points="{" ".join(point(p) for p in points)}"><title>{html.escape(name)}</title></polyline>')
        body.append(f'<text x="{left + plot_w + 6}" y="{18 + 14 * j}" class="tick" fill="{colour}">'
                    f'{html.escape(name[:22])}</text>')
    for k in range(5):
        vx, vy = x_lo + (x_hi - x_lo) * k / 4, y_lo + (y_hi - y_lo) * k / 4
        body.append(f'<text x="{left + plot_w * k / 4:.1f}" y="{height - 12}" text-anchor="middle" class="tick">'
                    f'{vx:.3g}</text><text x="{left - 4}" y="{10 + plot_h * (1 - k / 4) + 4:.1f}" text-anchor="end" '
                    f'class="tick">{vy:.3g}</text>')
    return _svg(height, body, title)


def log_bin(value: float) -> float:
    return math.log10(max(value, 1))
