"""Report panels as SQL files: the package's own (curate/report/queries/) and a user's (--sql).

A panel file is one SQL query with a few header comments, all optional:

    -- title: Top domains
    -- chart: bars label=domain value=documents      (or: histogram [log] | lines x=.. y=.. series=..
    --                                                     | documents | matrix | table)
    -- needs: docs.url, removed                       (views and columns; missing ones hide the panel
    --                                                  and say so)
    -- note: one line shown under the title
    SELECT ...

Without a `chart` line the columns decide: (bin_lo, bin_hi, documents) is a histogram, a text column
followed by a number is a bar chart, (x, y[, series]) numbers are lines, anything else is a table.
The views a query can use are in curate/report/views.py.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from curate.errors import CurateError

BUILT_IN = Path(__file__).with_name("queries")
CHARTS = ("bars", "histogram", "lines", "documents", "matrix", "table")


@dataclass
class Query:
    name: str
    sql: str
    title: str = ""
    chart: str = ""  # "" : decided by the columns
    options: dict = field(default_factory=dict)
    needs: list[str] = field(default_factory=list)
    note: str = ""

    def format(self, **values) -> "Query":
        """The query with {placeholders} filled (column names are quoted by the caller)."""
        fill = lambda text: text.format(**values) if values else text  # noqa: E731
        return Query(self.name, fill(self.sql), fill(self.title), self.chart, dict(self.options),
                     [fill(n) for n in self.needs], fill(self.note))


def parse(text: str, name: str) -> Query:
    query = Query(name=name, sql="", title=name.replace("_", " "))
    body = []
    for line in text.splitlines():
        header = re.match(r"\s*--\s*(title|chart|needs|note)\s*:\s*(.*)$", line)
        if header and not body:
            key, value = header.group(1), header.group(2).strip()
            if key == "title":
                query.title = value
            elif key == "note":
                query.note = value
            elif key == "needs":
                query.needs = [n.strip() for n in value.split(",") if n.strip()]
            else:
                words = value.split()
                query.chart = words[0] if words else ""
                query.options = dict(w.split("=", 1) if "=" in w else (w, True) for w in words[1:])
                if query.chart not in CHARTS:
                    raise CurateError(f"{name}: chart {query.chart!r}: choose one of {', '.join(CHARTS)}")
        else:
            body.append(line)
    query.sql = "\n".join(body).strip().rstrip(";")
    if not query.sql:
        raise CurateError(f"{name}: no query in it")
    return query


def built_in(name: str) -> Query:
    return parse((BUILT_IN / f"{name}.sql").read_text(encoding="utf-8"), name)


def user_queries(paths: list[str]) -> list[Query]:
    """--sql FILE or FOLDER (its *.sql files, sorted)."""
    files = []
    for path in paths:
        if os.path.isdir(path):
            files += sorted(str(p) for p in Path(path).glob("*.sql"))
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise CurateError(f"--sql {path}: no such file or folder")
    if paths and not files:
        raise CurateError(f"--sql {', '.join(paths)}: no .sql files there")
    queries = []
    for file in files:
        try:
            text = Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise CurateError(f"--sql {file}: cannot read it ({e})") from None
        queries.append(parse(text, Path(file).stem))
    return queries


def quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'
