"""The report as one self-contained HTML page: inline CSS, summary and tables as HTML,
each table's figures as embedded PNG images. Every value is escaped."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

from .data import ReportData
from .format import month, num, portable_path
from .rules import rule_totals
from .summary import SUMMARY_HEADER, SUMMARY_NOTES, reason_rows, run_lines, summary_rows

PNG_DPI = 80

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;color:#222;
line-height:1.4;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;border-bottom:2px solid #dde4ee;padding-bottom:4px;
margin-top:36px}h3{font-size:15px;margin-top:22px}
.meta{color:#555;font-size:13px}.note{color:#555;font-size:12px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}th,td{padding:3px 8px;border-bottom:1px solid #e4e8ee;
vertical-align:top;text-align:left}th{background:#dde4ee}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#f7f9fb}img{max-width:100%;border:1px solid #e4e8ee;margin:6px 0}
.stable{color:#2ca02c}td.fail{color:#b22;font-weight:600}.moderate{color:#d97000;font-weight:600}.significant{color:#d62728;font-weight:700}
td.raw{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11px;word-break:break-all;max-width:640px}
nav a{margin-right:12px}
"""


def png(fig) -> str:
    """`fig` as PNG, base64 text."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=PNG_DPI)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _html_table(header: Sequence[str], rows: Iterable[Sequence[Any]], numeric: Iterable[int] = (),
                classes: dict[int, str] | None = None) -> str:
    """An HTML table, every value escaped; `numeric` columns right-aligned; a cell
    given as (value, css_class) gets that class, `classes` gives one per column."""
    numeric = set(numeric)
    classes = classes or {}
    out = ["<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr>"]
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            extra = classes.get(i, "")
            if isinstance(v, tuple):
                v, extra = v
            cls = " ".join(x for x in ("n" if i in numeric else "", extra) if x)
            attr = f' class="{cls}"' if cls else ""
            cells.append(f"<td{attr}>{html.escape(str(v))}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def render_html(data: ReportData, images: dict[str, list[str]]) -> str:
    """The report as one self-contained HTML page: summary and tables as HTML, the
    figures of each table as embedded PNG images."""
    run_id = data.run["run_id"]
    anchor = {t: t.replace("/", "-") for t in data.tables}
    parts = [(f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Data quality · "
              f"{html.escape(run_id)}</title><style>{CSS}</style></head><body>"),
             "<h1>Data-quality report</h1>",
             f"<p class='meta'>datamart {html.escape(portable_path(data.datamart))}</p>",
             "<nav>" + "".join(f"<a href='#{html.escape(anchor[t])}'>{html.escape(t)}</a>" for t in data.tables)
             + ("<a href='#monitoring'>monitoring</a>" if data.monitoring is not None else "") + "</nav>",
             "<h2 id='summary'>Summary</h2>"]
    parts += [f"<p class='meta'>{html.escape(line)}</p>" for line in run_lines(data)]
    parts.append(_html_table(SUMMARY_HEADER, summary_rows(data), numeric=range(1, 10)))
    parts += [f"<p class='note'>{html.escape(note)}</p>" for note in SUMMARY_NOTES]
    for table in data.tables:
        parts.append(f"<h2 id='{html.escape(anchor[table])}'>{html.escape(table)}</h2>")
        parts += table_section(data, table, images.get(table, []))
    if data.monitoring is not None:
        from .monitoring import monitoring_html

        parts.append("<h2 id='monitoring'>Monitoring of the champion model</h2>")
        parts += monitoring_html(data.monitoring, images.get("monitoring", []))
    parts.append(f"<p class='note'>Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by utils.quality.report "
                 "from the _meta tables, the Delta logs and the quarantine; nothing from bronze.</p></body></html>")
    return "\n".join(parts)


def table_section(data: ReportData, table: str, images: Sequence[str]) -> list[str]:
    """The HTML of one table below its heading: rule totals, its figures (base64 PNG),
    the drift of every numeric column and the top quarantine reasons with samples."""
    parts = []
    rules = data.quality[data.quality["table"] == table]
    if not rules.empty:
        parts.append("<h3>Rule results (all partitions)</h3>")
        parts.append(_html_table(
            ["rule", "kind", "severity", "action", "rows checked", "rows failed", "partitions failing"],
            [[r, t.kind, t.severity, t.action, num(t.checked), (num(t.failed), "fail" if t.failed else ""),
              t.partitions] for r, t in rule_totals(rules).iterrows()], numeric=(4, 5, 6)))
    for b64 in images:
        parts.append(f"<img alt='{html.escape(table)} figure' src='data:image/png;base64,{b64}'>")
    drift = data.drift[(data.drift["table"] == table) & (data.drift["kind"] == "numeric")]
    if not drift.empty:
        drift = drift.sort_values("psi", ascending=False, na_position="last")
        parts.append("<h3>Drift: PSI of every numeric column, first → latest partition with values</h3>")
        parts.append(_html_table(
            ["column", "first", "latest", "PSI", "band"],
            [[r.column, month(r.first), month(r.latest), "n/a" if not math.isfinite(r.psi) else f"{r.psi:.4f}",
              (r.band, r.band if r.band in ("stable", "moderate", "significant") else "")]
             for r in drift.itertuples()], numeric=(3,)))
    q = data.quarantine.get(table)
    if q is not None and not q.empty:
        parts.append(f"<h3>Top quarantine reasons ({num(len(q))} rows quarantined)</h3>")
        rows = []
        for r in reason_rows(q):
            for i, s in enumerate(r["samples"]):
                rows.append([r["reason"] if i == 0 else "", num(r["rows"]) if i == 0 else "",
                             f"{r['share']:.1%}" if i == 0 else "", s["snapshot_date"], s["source"],
                             s["raw_values"] + (f" | malformed line: {s['malformed_line']}"
                                                if s["malformed_line"] else "")])
        parts.append(_html_table(["reason", "rows", "share", "partition", "file:line",
                                  "raw values (personal data masked)"], rows, numeric=(1, 2), classes={5: "raw"}))
    elif table.startswith("silver/"):
        parts.append("<p class='note'>No row of this table is in quarantine.</p>")
    return parts
