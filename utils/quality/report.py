"""Data-quality report of one run: ``quality.html``, ``quality.pdf`` and ``rules.csv``.

    python -m utils.quality.report [--datamart DIR] [--run-id ID] [--out-dir DIR]

writes ``<datamart>/_reports/<run_id>/`` (or ``--out-dir``) for the latest successful
run of the ledger (or ``--run-id``), profiling the run first when `_meta/profile` has
no rows of it (that needs Spark; the report itself does not), and prints the paths.

What it reads, and only that: the run ledger (`_meta/runs`), `_meta/quality`,
`_meta/accounting`, `_meta/leakage`, `_meta/profile`, the Delta logs of the silver and
gold tables (row counts per partition at the versions the run recorded) and
`silver/_quarantine` at the run's version (whose raw values were masked when written).
Nothing from bronze.

Content:
  - ``rules.csv``: the run's rows of `_meta/quality` unchanged (one row per table,
    partition and rule: rows checked and failed, kind, severity, action), sorted by
    table, snapshot_date and rule;
  - summary: per table rows, partitions, quarantined rows, rules failed and failed
    checks, with their change since the previous successful run; row accounting and
    leakage guards;
  - per table: rule results per partition (heatmap of the failing rules), missing and
    invalid values per column and partition, distributions (histograms from the
    stored bins: all partitions, first and latest), drift of every numeric column
    between the first and the latest partition (PSI from the stored histograms, bands
    0.1 and 0.25), and for silver the top quarantine reasons with sample rows.

The HTML is one self-contained file (inline CSS, figures as base64 PNG); the PDF has
A4 landscape pages drawn with matplotlib (no pyplot, so no global backend is set).
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import html
import io
import logging
import math
import sys
import textwrap
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from utils.lake import delta_io
from utils.layers import leakage
from utils.quality import results as quality
from utils.lake.ledger import RunLedger
from utils.quality.profile import profile_path, read_profile

logger = logging.getLogger(__name__)

from utils.lake.paths import PROJECT_ROOT  # noqa: E402  (resolved once, in utils.lake.paths)
QUARANTINE = "silver/_quarantine"
PSI_BANDS = (0.1, 0.25)
PSI_EPSILON = 1e-4
A4_LANDSCAPE = (11.69, 8.27)
PNG_DPI = 80
MAX_HEATMAP_ROWS = 40
MAX_PSI_BARS = 40
TOP_REASONS = 5
SAMPLES_PER_REASON = 3
KEY_LIKE_SHARE = 0.9
COLORS = {"all": "#9db4d0", "first": "#555555", "latest": "#d62728", "stable": "#2ca02c",
          "moderate": "#ff7f0e", "significant": "#d62728", "na": "#bbbbbb"}


class ReportError(RuntimeError):
    """The report cannot be built (message is one line and says what to do)."""


# --------------------------------------------------------------------------- drift


def psi(expected: Sequence[float], actual: Sequence[float], epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of `actual` against `expected`, two histograms over
    the same bins: sum over bins of (a - e) * ln(a / e) on bin shares, empty bins
    counted as `epsilon`. NaN when either histogram is empty."""
    e = np.asarray(expected, dtype=float)
    a = np.asarray(actual, dtype=float)
    if e.shape != a.shape:
        raise ValueError(f"histograms differ in bins: {e.shape} vs {a.shape}")
    if e.sum() <= 0 or a.sum() <= 0:
        return float("nan")
    e = np.maximum(e / e.sum(), epsilon)
    a = np.maximum(a / a.sum(), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_band(value: float) -> str:
    """stable (< 0.1), moderate (0.1 to 0.25), significant (>= 0.25), or n/a."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value < PSI_BANDS[0]:
        return "stable"
    return "moderate" if value < PSI_BANDS[1] else "significant"


def drift_table(profile: pd.DataFrame) -> pd.DataFrame:
    """Per table and numeric or date column: PSI between the first and the latest
    partition where the column has values (the table's first and latest partition
    unless the column is empty there), from the stored histograms. One row each:
    table, column, kind, first, latest, psi (NaN for dates and for columns with values
    in fewer than two partitions), band."""
    out = []
    hist = profile[profile["hist_counts"].notna()]
    for (table, column), rows in hist.groupby(["table", "column"], sort=False):
        rows = rows[rows["snapshot_date"].notna()].sort_values("snapshot_date")
        filled = rows[[sum(c) > 0 for c in rows["hist_counts"]]]
        kind = rows.iloc[0]["kind"] if len(rows) else None
        first = filled.iloc[0] if len(filled) else None
        latest = filled.iloc[-1] if len(filled) else None
        value = float("nan")
        if kind == "numeric" and len(filled) >= 2:
            value = psi(first["hist_counts"], latest["hist_counts"])
        out.append({"table": table, "column": column, "kind": kind,
                    "first": None if first is None else first["snapshot_date"],
                    "latest": None if latest is None else latest["snapshot_date"],
                    "psi": value, "band": psi_band(value) if kind == "numeric" else "n/a (date)"})
    return pd.DataFrame(out, columns=["table", "column", "kind", "first", "latest", "psi", "band"])


# --------------------------------------------------------------------------- data


@dataclass
class TableSummary:
    """One line of the summary: a table as the run left it, and the previous run."""

    table: str
    version: int | None
    rows: int | None
    partitions: int
    prev_rows: int | None = None
    quarantined: int | None = None
    prev_quarantined: int | None = None
    rules: int = 0
    rules_failed: int = 0
    failed_checks: int | None = None
    prev_failed_checks: int | None = None


@dataclass
class ReportData:
    """Everything the report shows, read from the datamart (small)."""

    datamart: Path
    run: dict[str, Any]
    previous: dict[str, Any] | None
    tables: list[str]
    quality: pd.DataFrame
    accounting: pd.DataFrame
    leakage: pd.DataFrame
    profile: pd.DataFrame
    drift: pd.DataFrame
    summaries: list[TableSummary]
    quarantine: dict[str, pd.DataFrame] = field(default_factory=dict)


def successful_runs(datamart: Path) -> list[dict[str, Any]]:
    return RunLedger(Path(datamart) / "_meta" / "runs").successful_runs()


def resolve_run(datamart: str | Path, run_id: str | None = None) -> dict[str, Any]:
    """The ledger row of `run_id`, or of the latest successful run."""
    runs = RunLedger(Path(datamart) / "_meta" / "runs").latest_runs()
    if not runs:
        raise ReportError(f"no run ledger at {Path(datamart) / '_meta' / 'runs'}; build the datamart first")
    if run_id is None:
        done = [r for r in runs if r["status"] == "success"]
        if not done:
            raise ReportError(f"{datamart}: no successful run in the ledger")
        return done[-1]
    for r in runs:
        if r["run_id"] == run_id:
            return r
    raise ReportError(f"{datamart}: no run {run_id} in the ledger")


def _meta_frame(path: Path, run_id: str, schema) -> pd.DataFrame:
    rows = quality.read(path, run_id)
    return pd.DataFrame(rows, columns=schema.names) if rows else pd.DataFrame(columns=schema.names)


def _versions(run: dict[str, Any] | None) -> dict[str, int]:
    if run is None:
        return {}
    return {o["table"]: o["version"] for o in run["outputs"] or [] if o["version"] is not None}


def _partition_rows(datamart: Path, table: str, version: int | None) -> dict[tuple, int] | None:
    path = datamart / table
    if not delta_io.table_exists(path):
        return None
    try:
        return delta_io.view(path, version=version).partitions()
    except delta_io.TableMissingError:
        return None


def _quarantine_rows(datamart: Path, version: int | None, tables: Iterable[str]) -> dict[str, pd.DataFrame]:
    """Quarantined rows per silver table (``silver/<name>``) at `version`."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    path = datamart / QUARANTINE
    if not delta_io.table_exists(path):
        return {}
    table = DeltaTable(str(path))
    if version is not None:
        table.load_as_version(int(version))
    names = [t.split("/", 1)[1] for t in tables if t.startswith("silver/")]
    columns = ["table", "rule", "reason", "failed_rules", "raw_values", "_malformed_line", "_source_file",
               "_source_line", "snapshot_date"]
    data = table.to_pyarrow_dataset().to_table(columns=columns, filter=pc.field("table").isin(names)).to_pandas()
    return {f"silver/{name}": rows.reset_index(drop=True) for name, rows in data.groupby("table")}


def load_report_data(datamart: str | Path, run_id: str | None = None) -> ReportData:
    """Read what the report of `run_id` (default: latest successful run) shows."""
    root = Path(datamart)
    run = resolve_run(root, run_id)
    earlier = [r for r in successful_runs(root) if r["started_at"] < run["started_at"]]
    previous = earlier[-1] if earlier else None
    meta = root / "_meta"
    q = _meta_frame(meta / "quality", run["run_id"], quality.QUALITY_SCHEMA)
    prev_q = _meta_frame(meta / "quality", previous["run_id"], quality.QUALITY_SCHEMA) if previous else None
    acc = _meta_frame(meta / "accounting", run["run_id"], quality.ACCOUNTING_SCHEMA)
    leak = _meta_frame(meta / "leakage", run["run_id"], leakage.SCHEMA)
    profile = read_profile(profile_path(root), run["run_id"])
    if profile.empty:
        logger.warning("run %s has no profile in %s; distributions, missing values and drift are left out "
                       "(python -m utils.quality.report profiles it)", run["run_id"], profile_path(root))

    versions, prev_versions = _versions(run), _versions(previous)
    outputs = {o["table"] for o in run["outputs"] or [] if o["layer"] in ("silver", "gold") and o["table"] != QUARANTINE}
    tables = sorted(outputs | set(profile["table"]), key=lambda t: (not t.startswith("silver/"), t))
    q_parts = _partition_rows(root, QUARANTINE, versions.get(QUARANTINE)) or {}
    prev_q_parts = _partition_rows(root, QUARANTINE, prev_versions.get(QUARANTINE)) if previous else None

    summaries = []
    for t in tables:
        parts = _partition_rows(root, t, versions.get(t))
        prev_parts = _partition_rows(root, t, prev_versions.get(t)) if previous and t in prev_versions else None
        s = TableSummary(t, versions.get(t), sum(parts.values()) if parts is not None else None,
                         len(parts or {}), sum(prev_parts.values()) if prev_parts is not None else None)
        if t.startswith("silver/"):
            name = t.split("/", 1)[1]
            s.quarantined = sum(n for k, n in q_parts.items() if k[0] == name)
            if prev_q_parts is not None:
                s.prev_quarantined = sum(n for k, n in prev_q_parts.items() if k[0] == name)
            rules = q[q["table"] == t]
            if not rules.empty:
                per_rule = with_rule_labels(rules).groupby("label")["rows_failed"].sum()
                s.rules, s.rules_failed, s.failed_checks = len(per_rule), int((per_rule > 0).sum()), int(per_rule.sum())
            if prev_q is not None and not prev_q[prev_q["table"] == t].empty:
                s.prev_failed_checks = int(prev_q[prev_q["table"] == t]["rows_failed"].sum())
        summaries.append(s)
    return ReportData(root, run, previous, tables, q, acc, leak, profile, drift_table(profile), summaries,
                      _quarantine_rows(root, versions.get(QUARANTINE), tables))


# --------------------------------------------------------------------------- rules.csv


def write_rules_csv(path: Path, rules: pd.DataFrame) -> None:
    """The run's `_meta/quality` rows, every column as stored, sorted by table,
    snapshot_date and rule; dates ISO, timestamps ISO with offset."""
    names = list(quality.QUALITY_SCHEMA.names)
    ordered = rules.sort_values(["table", "snapshot_date", "rule", "kind"], na_position="first")
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(names)
        for row in ordered[names].itertuples(index=False):
            writer.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v)) else
                             v.isoformat() if hasattr(v, "isoformat") else v for v in row])


def read_rules_csv(path: str | Path) -> pd.DataFrame:
    """rules.csv back as typed columns (for checks against `_meta/quality`)."""
    frame = pd.read_csv(path, dtype={"run_id": str, "table": str, "rule": str, "kind": str, "severity": str,
                                     "action": str}, keep_default_na=False, na_values={"snapshot_date": [""]})
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"]).dt.date
    frame["checked_at"] = pd.to_datetime(frame["checked_at"], utc=True)
    return frame


# --------------------------------------------------------------------------- formatting


def _n(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{int(value):,}"


def _delta(now: int | None, before: int | None) -> str:
    if now is None or before is None:
        return "–"
    d = now - before
    return "0" if d == 0 else f"{d:+,}".replace("-", "−")


def _date(value) -> str:
    return "none" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)[:10]


def _month(value) -> str:
    return "null" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)[:7]


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _raw_text(raw) -> str:
    """raw_values (a map, as pairs) as ``key=value; ...``; personal data is already
    masked in the quarantine."""
    if raw is None:
        return ""
    pairs = raw.items() if isinstance(raw, dict) else raw
    return "; ".join(f"{k}={'' if v is None else v}" for k, v in pairs)


def summary_rows(data: ReportData) -> list[list[str]]:
    rows = []
    for s in data.summaries:
        rows.append([
            s.table, "–" if s.version is None else str(s.version), str(s.partitions), _n(s.rows),
            _delta(s.rows, s.prev_rows), _n(s.quarantined), _delta(s.quarantined, s.prev_quarantined),
            f"{s.rules_failed} of {s.rules}" if s.rules else "–", _n(s.failed_checks),
            _delta(s.failed_checks, s.prev_failed_checks),
        ])
    return rows


SUMMARY_NOTES = [
    "rows: rows of the table at the version this run left; quarantined: rows of silver/_quarantine for the table;",
    ("rules failed: rules with at least one failing row, of the rules checked in this run; failed checks: rows "
     "failed summed over rules and partitions (a row failing two rules counts twice);"),
    "Δ: change since the previous successful run (– when that run has no value to compare).",
]
SUMMARY_HEADER = ["table", "version", "partitions", "rows", "Δ rows", "quarantined", "Δ quar.",
                  "rules failed", "failed checks", "Δ failed"]


def run_lines(data: ReportData) -> list[str]:
    run, prev = data.run, data.previous
    seconds = run.get("seconds")
    lines = [
        f"run {run['run_id']}  ·  status {run['status']}  ·  started {run['started_at']:%Y-%m-%d %H:%M:%S} UTC"
        + (f"  ·  {seconds:.0f} s" if seconds else "") + f"  ·  code {run.get('code_version') or 'unknown'}",
        (f"compared with the previous successful run {prev['run_id']} ({prev['started_at']:%Y-%m-%d %H:%M} UTC)"
         if prev else "no earlier successful run: no trend"),
    ]
    acc = data.accounting
    if not acc.empty:
        bad = acc[~acc["balanced"].astype(bool)]
        lines.append(f"row accounting: {len(acc)} silver partitions checked, bronze = silver + quarantine in "
                     + ("all" if bad.empty else f"all but {len(bad)}"))
    else:
        lines.append("row accounting: no silver table was rebuilt in this run")
    leak = data.leakage
    if not leak.empty:
        failed = leak[~leak["passed"].astype(bool)]
        guards = ", ".join(sorted(leak["guard"].unique()))
        lines.append(f"leakage guards ({guards}): {len(leak)} results, "
                     + ("all passed" if failed.empty else f"{len(failed)} alarm(s): "
                        + ", ".join(_short(str(x), 40) for x in failed["subject"].head(5))))
    unchecked = [t for t in data.tables if t.startswith("silver/") and t not in set(data.quality["table"])]
    if unchecked:
        lines.append(f"rules not re-checked in this run (inputs unchanged, table not rebuilt): {', '.join(unchecked)}")
    return lines


# --------------------------------------------------------------------------- figures


CONTENT_TOP = 0.85  # below the title and a subtitle of up to three lines
SUBTITLE_CHARS = 175


class Pages:
    """Figures of the report, each an A4 landscape page with a title, a subtitle of up
    to three lines and a footer; `section` groups them for the HTML."""

    def __init__(self, run_id: str):
        self.run_id = run_id
        self.figures: list[tuple[str, Any]] = []  # (section, figure)

    def new(self, section: str, title: str, subtitle: str = ""):
        from matplotlib.figure import Figure

        fig = Figure(figsize=A4_LANDSCAPE)
        fig.text(0.04, 0.955, title, fontsize=14, fontweight="bold", va="top")
        if subtitle:
            lines = textwrap.wrap(subtitle, SUBTITLE_CHARS)
            if len(lines) > 3:
                lines = lines[:2] + [_short(" ".join(lines[2:]), SUBTITLE_CHARS)]
            fig.text(0.04, 0.915, "\n".join(lines), fontsize=8.5, color="#444444", va="top", linespacing=1.3)
        fig.text(0.04, 0.02, f"data-quality report · run {self.run_id}", fontsize=7, color="#888888")
        fig.text(0.96, 0.02, f"page {len(self.figures) + 1}", fontsize=7, color="#888888", ha="right")
        self.figures.append((section, fig))
        return fig


def _text_width(chars: int, fontsize: float) -> float:
    """Approximate width in inches of `chars` characters of DejaVu Sans."""
    return chars * fontsize * 0.6 / 72


def _compact_number(x: float, _pos=None) -> str:
    """Tick label: 1.5M, 12k, 1500, 0.15."""
    size = abs(x)
    if size >= 1e6:
        return f"{x / 1e6:.3g}M"
    if size >= 1e4:
        return f"{x / 1e3:.3g}k"
    return f"{x:.4g}"


def _month_of_day(x: float, _pos=None) -> str:
    """Tick label of a date profiled as days since 1970-01-01."""
    try:
        return (dt.date(1970, 1, 1) + dt.timedelta(days=float(x))).strftime("%Y-%m")
    except (OverflowError, ValueError):
        return ""


def draw_table(fig, top: float, header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float],
               *, fontsize: float = 7.5, left: float = 0.04, bottom: float = 0.06,
               aligns: Sequence[str] | None = None) -> tuple[float, int]:
    """Draw a table on `fig` from figure height `top` down, wrapping each cell to its
    column width (inches). Returns (the height where it ended, rows drawn): rows that
    do not fit above `bottom` are left for the caller to put on the next page."""
    from matplotlib.patches import Rectangle

    fig_w, fig_h = fig.get_size_inches()
    line = fontsize * 1.3 / 72 / fig_h  # one text line as a figure fraction
    pad = 0.4 * line
    chars = [max(4, int(w / _text_width(1, fontsize))) for w in widths]
    aligns = aligns or ["left"] * len(header)
    xs = [left]
    for w in widths[:-1]:
        xs.append(xs[-1] + w / fig_w)
    total_w = sum(widths) / fig_w

    def wrap(cells) -> list[list[str]]:
        out = []
        for c, n in zip(cells, chars):
            lines = []
            for part in str(c).split("\n"):
                lines += textwrap.wrap(part, width=n, break_long_words=True, break_on_hyphens=False) or [""]
            out.append(lines)
        return out

    def put(y, cells, bold=False, shade=None):
        lines = wrap(cells)
        height = max(len(x) for x in lines) * line + 2 * pad
        if shade:
            fig.patches.append(Rectangle((left, y - height), total_w, height, transform=fig.transFigure,
                                         facecolor=shade, edgecolor="none", zorder=0))
        ascent = 0.8 * fontsize / 72 / fig_h
        for x, w, cell, align in zip(xs, widths, lines, aligns):
            tx = x + (w / fig_w - 0.006 if align == "right" else 0.004)
            for i, text in enumerate(cell):  # one baseline per line: cells of a row line up
                fig.text(tx, y - pad - ascent - i * line, text, fontsize=fontsize, va="baseline", ha=align,
                         fontweight="bold" if bold else "normal")
        return y - height

    y = put(top, header, bold=True, shade="#dde4ee")
    drawn = 0
    for i, row in enumerate(rows):
        need = max(len(x) for x in wrap(row)) * line + 2 * pad
        if y - need < bottom:
            break
        y = put(y, row, shade="#f4f6f9" if i % 2 else None)
        drawn += 1
    return y, drawn


def table_pages(pages: Pages, section: str, title: str, subtitle: str, header, rows, widths, **kw) -> None:
    """As many pages as the rows need."""
    rows = list(rows)
    first = True
    while first or rows:
        fig = pages.new(section, title if first else f"{title} (continued)", subtitle if first else "")
        _, drawn = draw_table(fig, CONTENT_TOP, header, rows, widths, **kw)
        if drawn == 0 and rows:
            raise ReportError(f"{title}: a table row does not fit on a page")
        rows = rows[drawn:]
        first = False


def summary_page(pages: Pages, data: ReportData) -> None:
    fig = pages.new("summary", "Data-quality report", f"datamart {data.datamart}")
    y = CONTENT_TOP
    for text in run_lines(data):
        fig.text(0.04, y, _short(text, 175), fontsize=9, va="top")
        y -= 0.032
    widths = [2.2, 0.65, 0.8, 1.0, 0.85, 0.95, 0.75, 0.95, 1.05, 0.85]
    aligns = ["left"] + ["right"] * 9
    y, _ = draw_table(fig, y - 0.02, SUMMARY_HEADER, summary_rows(data), widths, fontsize=9, aligns=aligns)
    for text in SUMMARY_NOTES:
        fig.text(0.04, y - 0.03, text, fontsize=7.5, color="#555555", va="top")
        y -= 0.025


def _heatmap(fig, rect, matrix: np.ndarray, ylabels, xlabels, *, cmap, norm, annotate: np.ndarray | None = None,
             fontsize: float = 7):
    """A cells-and-labels heatmap in `rect` (figure fraction); NaN cells blank; cell
    texts white on dark cells. Returns the image (for a colorbar)."""
    ax = fig.add_axes(rect)
    masked = np.ma.masked_invalid(matrix)
    image = ax.imshow(masked, aspect="auto", cmap=cmap, norm=norm, interpolation="nearest")
    ax.set_yticks(range(len(ylabels)), ylabels, fontsize=fontsize)
    ax.set_xticks(range(len(xlabels)), xlabels, fontsize=fontsize, rotation=90)
    ax.set_xticks(np.arange(-0.5, len(xlabels), 1), minor=True)
    ax.set_yticks(np.arange(-0.5, len(ylabels), 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=0.6)
    ax.tick_params(which="minor", length=0)
    ax.tick_params(which="major", length=2)
    if annotate is not None:
        size = 4.5 if len(xlabels) > 30 else 5.5
        for (i, j), text in np.ndenumerate(annotate):
            if text:
                dark = np.isfinite(matrix[i, j]) and norm(matrix[i, j]) > 0.55
                ax.text(j, i, text, ha="center", va="center", fontsize=size, color="white" if dark else "black")
    return ax, image


def _left_margin(labels: Sequence[str], fontsize: float) -> float:
    """Left margin (figure fraction) for y labels of that length."""
    longest = max((len(x) for x in labels), default=10)
    return min(0.45, 0.05 + _text_width(longest, fontsize) / A4_LANDSCAPE[0])


def _rows_height(n: int, top: float, bottom: float, per_row: float = 0.3) -> float:
    """Axes height (figure fraction) for n heatmap rows: at most `per_row` inches each."""
    return min(top - bottom, n * per_row / A4_LANDSCAPE[1])


def _compact(n: int) -> str:
    if n < 1000:
        return str(n)
    if n < 100_000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return f"{n / 1000:.0f}k" if n < 1_000_000 else f"{n / 1e6:.1f}M"


def _chunks(items: list, size: int) -> list[list]:
    """`items` in balanced chunks of at most `size`."""
    if not items:
        return []
    n = math.ceil(len(items) / size)
    step = math.ceil(len(items) / n)
    return [items[i:i + step] for i in range(0, len(items), step)]


def with_rule_labels(rules: pd.DataFrame) -> pd.DataFrame:
    """`rules` plus a column ``label`` that tells rules apart: the rule name, with its
    kind in brackets where two rules of a table share a name (a cleaning check and a
    declared rule can, e.g. valid_installment_num of silver/loan_daily)."""
    kinds = rules.groupby(["table", "rule"])["kind"].transform("nunique")
    out = rules.copy()
    out["label"] = np.where(kinds > 1, out["rule"] + " [" + out["kind"] + "]", out["rule"])
    return out


def rule_totals(rules: pd.DataFrame) -> pd.DataFrame:
    """Per rule (see :func:`with_rule_labels`) over the partitions: kind, severity,
    action, rows checked and failed, partitions with failures; most failures first."""
    totals = with_rule_labels(rules).groupby("label", sort=True).agg(
        kind=("kind", "first"), severity=("severity", "first"), action=("action", "first"),
        checked=("rows_checked", "sum"), failed=("rows_failed", "sum"),
        partitions=("rows_failed", lambda s: int((s > 0).sum())))
    return totals.sort_values("failed", ascending=False, kind="stable")


def rules_page(pages: Pages, data: ReportData, table: str) -> str | None:
    """The rule heatmap page (or a table of the rules when all passed); returns a note
    instead of a page when the run did not check the table."""
    from matplotlib import colors, ticker

    rules = data.quality[data.quality["table"] == table]
    quarantined = next((s.quarantined for s in data.summaries if s.table == table), None)
    if rules.empty:
        return "rules not re-checked in this run (inputs unchanged, table not rebuilt)"
    totals = rule_totals(rules)
    failing, passing = totals[totals["failed"] > 0], totals[totals["failed"] == 0]
    rows_checked = rules.groupby("snapshot_date")["rows_checked"].max().sum()
    subtitle = (f"{len(totals)} rules checked on {_n(rows_checked)} rows in {rules['snapshot_date'].nunique()} "
                f"partitions; {len(failing)} failed somewhere; {_n(quarantined)} rows quarantined")
    if failing.empty:
        header = ["rule", "kind", "severity", "action", "rows checked", "rows failed"]
        rows = [[r, t.kind, t.severity, t.action, _n(t.checked), "0"] for r, t in totals.sort_index().iterrows()]
        table_pages(pages, table, f"{table}: rule results — every rule passed in every partition", subtitle,
                    header, rows, [3.6, 1.0, 1.0, 1.2, 1.3, 1.2], fontsize=8,
                    aligns=["left", "left", "left", "left", "right", "right"])
        return None
    dates = sorted(rules["snapshot_date"].dropna().unique())
    shown = failing.head(MAX_HEATMAP_ROWS)
    labelled = with_rule_labels(rules)
    failed = labelled.pivot_table(index="label", columns="snapshot_date", values="rows_failed", aggfunc="sum")
    checked = labelled.pivot_table(index="label", columns="snapshot_date", values="rows_checked", aggfunc="sum")
    failed = failed.reindex(index=shown.index, columns=dates)
    share = (failed / checked.reindex(index=shown.index, columns=dates)).to_numpy(dtype=float)
    share[failed.to_numpy() == 0] = np.nan
    labels = [f"{r} ({t.severity}) · {_n(t.failed)}" for r, t in shown.iterrows()]
    fig = pages.new(table, f"{table}: rule results per partition",
                    subtitle + ". Cells: failing rows; colour: share of the partition's rows; blank: none. "
                    "Rules sorted by failures (total after the name).")
    left, bottom = _left_margin(labels, 7), 0.2
    height = _rows_height(len(labels), CONTENT_TOP, bottom, per_row=0.32)
    norm = colors.Normalize(vmin=0, vmax=max(float(np.nanmax(share)), 1e-3))
    counts = np.nan_to_num(failed.to_numpy(dtype=float))
    annotate = np.where(np.isfinite(share), np.vectorize(lambda v: _compact(int(v)))(counts), "")
    _, image = _heatmap(fig, [left, CONTENT_TOP - height, 0.9 - left, height], share, labels,
                        [_month(d) for d in dates], cmap="OrRd", norm=norm, annotate=annotate)
    cax = fig.add_axes([0.92, CONTENT_TOP - height, 0.012, height])
    bar = fig.colorbar(image, cax=cax)
    bar.ax.yaxis.set_major_formatter(ticker.PercentFormatter(xmax=1, decimals=None))
    bar.ax.tick_params(labelsize=6.5)
    notes = []
    if len(failing) > len(shown):
        notes.append(f"{len(failing) - len(shown)} more failing rules are listed in the HTML report.")
    if len(passing):
        notes.append(f"Passed in every partition ({len(passing)}): " + ", ".join(passing.index) + ".")
    if notes:
        text = "\n".join(line for note in notes for line in textwrap.wrap(note, 185))
        fig.text(0.04, 0.115, text, fontsize=7, color="#555555", va="top", linespacing=1.3)
    return None


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _profile_of(data: ReportData, table: str) -> pd.DataFrame:
    return data.profile[data.profile["table"] == table]


def missing_summary(profile: pd.DataFrame) -> tuple[list[str], list[str], pd.DataFrame, pd.DataFrame | None]:
    """(columns with a null or invalid value somewhere, columns complete everywhere,
    null share and invalid share per column x partition)."""
    dates = sorted(profile["snapshot_date"].dropna().unique())
    order = list(dict.fromkeys(profile["column"]))
    rows = profile.pivot_table(index="column", columns="snapshot_date", values="row_count", aggfunc="sum")
    nulls = profile.pivot_table(index="column", columns="snapshot_date", values="null_count", aggfunc="sum")
    share = (nulls / rows).reindex(index=order, columns=dates)
    invalid = None
    if profile["invalid_count"].notna().any():
        inv = profile.pivot_table(index="column", columns="snapshot_date", values="invalid_count", aggfunc="sum")
        invalid = (inv / rows).reindex(index=order, columns=dates)
    missing = share.fillna(0).max(axis=1) > 0
    if invalid is not None:
        missing |= invalid.fillna(0).max(axis=1) > 0
    return [c for c in order if missing[c]], [c for c in order if not missing[c]], share, invalid


def missing_pages(pages: Pages, data: ReportData, table: str) -> str | None:
    """Heatmap pages of missing values; returns a one-line note instead when no column
    has a missing value (so the caller can put it elsewhere)."""
    from matplotlib import colors

    profile = _profile_of(data, table)
    if profile.empty:
        return None
    columns, complete, share, invalid = missing_summary(profile)
    if not columns:
        return f"no missing or invalid value in any of the {len(complete)} columns and partitions"
    dates = list(share.columns)
    note = f"{len(complete)} of {len(share)} columns have no missing value in any partition" + (
        ": " + ", ".join(complete) if complete else "")
    chunks = _chunks(columns, MAX_HEATMAP_ROWS)
    for n, chunk in enumerate(chunks):
        part = f" ({n + 1} of {len(chunks)})" if len(chunks) > 1 else ""
        fig = pages.new(table, f"{table}: missing values{part}",
                        "share of null values per column and partition" + (
                            "; right: share flagged invalid (present but unusable, so nulled)" if invalid is not None
                            else "") + ". Cells show the percentage when at least 0.5 %.")
        left, bottom = _left_margin(chunk, 7), 0.2
        height = _rows_height(len(chunk), CONTENT_TOP - 0.03, bottom)
        top = CONTENT_TOP - 0.03
        panels = [("null", share, "Blues")] + ([("invalid", invalid, "Purples")] if invalid is not None else [])
        width = (0.9 - left - 0.03 * (len(panels) - 1)) / len(panels)
        norm = colors.Normalize(vmin=0, vmax=1)
        for i, (label, frame, cmap) in enumerate(panels):
            matrix = frame.reindex(index=chunk).to_numpy(dtype=float)
            annotate = np.vectorize(lambda v: f"{v * 100:.0f}" if v >= 0.005 else "")(np.nan_to_num(matrix))
            ax, image = _heatmap(fig, [left + i * (width + 0.03), top - height, width, height], matrix,
                                 chunk, [_month(d) for d in dates], cmap=cmap, norm=norm,
                                 annotate=annotate if len(dates) <= 40 else None)
            if i:
                ax.set_yticks([])
            ax.set_title(f"{label} share", fontsize=8)
        cax = fig.add_axes([0.92, top - height, 0.012, height])
        fig.colorbar(image, cax=cax, format=lambda x, _: f"{x:.0%}").ax.tick_params(labelsize=6.5)
        fig.text(0.04, 0.105, "\n".join(textwrap.wrap(note, 200)[:3]), fontsize=7, color="#555555", va="top",
                 linespacing=1.3)
    return None


def _histogram(ax, rows: pd.DataFrame, drift: dict[str, Any] | None, column: str) -> None:
    """Small multiple: bars = share of rows per bin over all partitions, lines = the
    first (grey) and latest (red) partition with values."""
    from matplotlib import ticker

    rows = rows.sort_values("snapshot_date")
    edges = np.asarray(rows.iloc[0]["hist_edges"], dtype=float)
    counts = np.sum(np.stack([np.asarray(c, dtype=float) for c in rows["hist_counts"]]), axis=0)
    total = counts.sum()
    kind = rows.iloc[0]["kind"]
    value = drift["psi"] if drift else float("nan")
    band = psi_band(value) if kind == "numeric" else "n/a"
    title = _short(column, 40)
    if band != "n/a":
        title += ("\n" if len(column) > 24 else "  ") + f"PSI {value:.3f}"
    ax.set_title(title, fontsize=7, color=COLORS[band] if band in ("moderate", "significant") else "black",
                 linespacing=1.1)
    ax.tick_params(labelsize=5.5, length=2, pad=1)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.set_yticks([])
    if total <= 0:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", fontsize=7, transform=ax.transAxes)
        ax.set_xticks([])
        return
    ax.bar(edges[:-1], counts / total, width=np.diff(edges), align="edge", color=COLORS["all"], linewidth=0)
    by_date = {r.snapshot_date: r for r in rows.itertuples()}
    for which in ("first", "latest"):
        row = by_date.get(drift[which]) if drift else None
        if row is not None and sum(row.hist_counts) > 0:
            c = np.asarray(row.hist_counts, dtype=float)
            ax.stairs(c / c.sum(), edges, color=COLORS[which], linewidth=0.9 if which == "latest" else 1.1)
    lows, highs = rows["min"].dropna().tolist(), rows["max"].dropna().tolist()
    if lows and highs and min(lows) == max(highs):  # one value: say so, one tick
        shown = _month_of_day(min(lows)) if kind == "date" else _compact_number(min(lows))
        ax.text(0.5, 0.5, f"constant {shown}", ha="center", va="center", fontsize=6.5, transform=ax.transAxes,
                bbox={"boxstyle": "round", "fc": "white", "ec": "#cccccc"})
        ax.set_xticks([min(lows)], [shown])
    elif kind == "date":
        ax.xaxis.set_major_locator(ticker.MaxNLocator(3))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(_month_of_day))
    else:
        unit_bins = len(edges) > 1 and np.allclose(np.diff(edges), 1) and float(edges[0] + 0.5).is_integer()
        ax.xaxis.set_major_locator(ticker.MaxNLocator(4, integer=unit_bins))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(_compact_number))


def _top_values(ax, rows: pd.DataFrame, column: str) -> None:
    """Small multiple: the most frequent values over all partitions (sum of the
    per-partition top values), or a note for key-like and masked columns."""
    latest = rows.sort_values("snapshot_date").iloc[-1]
    nonnull = int(latest["row_count"] - latest["null_count"])
    totals: dict[str, int] = {}
    for entries in rows["top_values"]:
        for e in entries if entries is not None else []:
            totals[e["value"]] = totals.get(e["value"], 0) + int(e["count"])
    ax.set_title(_short(column, 40), fontsize=7)
    masked = any(v == "<masked>" for v in totals) or column.endswith("_hash")
    key_like = latest["kind"] != "list" and nonnull > 20 and latest["distinct_count"] >= KEY_LIKE_SHARE * nonnull
    if masked or key_like or not totals:
        ax.axis("off")
        if not totals and not key_like:
            text = "no values"
        else:
            counted = latest["top_values"] is not None and len(latest["top_values"]) > 0
            distinct = min(int(latest["distinct_count"]), nonnull)
            text = ("values masked (personal data)" if masked else "key-like column") + (
                f"\nlatest partition: {_n(distinct)} distinct\nof {_n(nonnull)} values")
            if counted:
                largest = max(e["count"] for e in latest["top_values"])
                text += f"; most\nfrequent value: {largest}×"
        ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=6.5, transform=ax.transAxes,
                bbox={"boxstyle": "round", "fc": "#f4f6f9", "ec": "#cccccc"})
        return
    items = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:6][::-1]
    biggest = max(v for _, v in items)
    ax.barh(range(len(items)), [v for _, v in items], color=COLORS["all"], height=0.8)
    for i, (label, v) in enumerate(items):  # labels inside the bars: no overlap with the neighbours
        ax.text(biggest * 0.02, i, _short(label, 28), va="center", ha="left", fontsize=5.5)
    ax.set_yticks([])
    ax.set_xlim(0, biggest * 1.05)
    ax.tick_params(labelsize=5.5, length=2, pad=1)
    ax.spines[["top", "right"]].set_visible(False)
    from matplotlib import ticker

    ax.xaxis.set_major_locator(ticker.MaxNLocator(3))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(_compact_number))


GRID_COLUMNS = 6
GRID_ROW = 0.195  # height of one row of small multiples, figure fraction
GRID_ROWS = 4


def distribution_pages(pages: Pages, data: ReportData, table: str, notes: Sequence[str] = ()):
    """Small multiples of every profiled column, 24 a page. Returns (last figure, the
    height where its grid ends) so a short drift chart can go below."""
    profile = _profile_of(data, table)
    if profile.empty:
        return None, None
    drift = {r.column: r._asdict() for r in data.drift[data.drift["table"] == table].itertuples()}
    columns = list(dict.fromkeys(profile["column"]))
    dates = sorted(profile["snapshot_date"].dropna().unique())
    span = f"{_month(dates[0])} to {_month(dates[-1])}" if dates else ""
    chunks = _chunks(columns, GRID_COLUMNS * GRID_ROWS)
    fig = bottom = None
    width = 0.92 / GRID_COLUMNS
    for n, chunk in enumerate(chunks):
        part = f" ({n + 1} of {len(chunks)})" if len(chunks) > 1 else ""
        fig = pages.new(table, f"{table}: distributions{part}",
                        f"Numbers and dates: share of rows per bin over all partitions ({span}; bars), first (grey) "
                        "and latest (red) partition with values; PSI first → latest in the title, orange ≥ 0.1, "
                        "red ≥ 0.25. Text: most frequent values." + "".join(f" {_capital(n)}." for n in notes))
        for i, column in enumerate(chunk):
            r, c = divmod(i, GRID_COLUMNS)
            rect = [0.045 + c * width, CONTENT_TOP - (r + 1) * GRID_ROW + 0.05, width - 0.03, GRID_ROW - 0.085]
            ax = fig.add_axes(rect)
            rows = profile[profile["column"] == column]
            if rows["hist_counts"].notna().any():
                _histogram(ax, rows[rows["hist_counts"].notna()], drift.get(column), column)
            else:
                _top_values(ax, rows, column)
        bottom = CONTENT_TOP - math.ceil(len(chunk) / GRID_COLUMNS) * GRID_ROW
    return fig, bottom


def _drift_chart(fig, drift: pd.DataFrame, top: float, bottom: float, table_first, table_latest) -> None:
    """PSI bars of the numeric columns in drift (sorted), between top and bottom."""
    labels, values = [], []
    for r in drift.itertuples():
        label = r.column
        if (r.first, r.latest) != (table_first, table_latest):
            label += f" ({_month(r.first)} → {_month(r.latest)})"
        labels.append(label)
        values.append(r.psi)
    labels, values = labels[::-1], values[::-1]
    left = _left_margin(labels, 7)
    ax = fig.add_axes([left, bottom, 0.9 - left, top - bottom])
    ax.barh(range(len(labels)), values, color=[COLORS[psi_band(v)] for v in values], height=0.7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    biggest = max(values)
    xmax = max(biggest * 1.15, 0.3) if biggest <= 1 else 1.0
    ax.set_xlim(0, xmax)
    for x in PSI_BANDS:
        ax.axvline(x, color="#444444", linestyle="--", linewidth=0.8)
        ax.text(x, 1.0, f" {x:g}", transform=ax.get_xaxis_transform(), fontsize=6.5, va="bottom", color="#444444")
    for i, v in enumerate(values):
        if v > xmax:
            ax.text(xmax * 0.995, i, f"{v:.2f} ▸", va="center", ha="right", fontsize=6, color="white",
                    fontweight="bold")
        else:
            ax.text(v + xmax * 0.005, i, f"{v:.3f}", va="center", fontsize=6)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_xlabel("PSI" + (" (axis cut at 1; longer bars carry their value)" if biggest > 1 else ""), fontsize=7.5)
    ax.spines[["top", "right"]].set_visible(False)


def drift_page(pages: Pages, data: ReportData, table: str, fig=None, space_top: float | None = None) -> None:
    """PSI of every numeric column, first → latest partition: below the distributions
    on `fig` when it fits under `space_top`, else on a page of its own."""
    drift = data.drift[(data.drift["table"] == table) & (data.drift["kind"] == "numeric")]
    if drift.empty:
        return
    profile = _profile_of(data, table)
    dates = sorted(profile["snapshot_date"].dropna().unique())
    first, latest = dates[0], dates[-1]
    valid = drift[np.isfinite(drift["psi"])].sort_values("psi", ascending=False)
    shown = valid.head(MAX_PSI_BARS)
    counts = valid["band"].value_counts()
    sizes = profile.groupby("snapshot_date")["row_count"].max()
    summary = (f"PSI of each numeric column between the first ({_month(first)}, {_n(sizes.get(first))} rows) and the "
               f"latest ({_month(latest)}, {_n(sizes.get(latest))} rows) partition with values, from the stored "
               f"histograms (small partitions give noisy PSI): {counts.get('stable', 0)} stable (< 0.1), "
               f"{counts.get('moderate', 0)} moderate (0.1–0.25), {counts.get('significant', 0)} significant (≥ 0.25)"
               + (f"; {len(drift) - len(valid)} with values in fewer than two partitions" if len(valid) < len(drift)
                  else "") + (f"; the {len(valid) - len(shown)} lowest are in the HTML report" if len(valid) > len(shown)
                              else ""))
    needed = 0.09 + len(shown) * 0.0185 + 0.06
    if fig is not None and space_top is not None and not shown.empty and space_top - needed >= 0.07:
        fig.text(0.04, space_top - 0.01, f"Drift {_month(first)} → {_month(latest)}", fontsize=10,
                 fontweight="bold", va="top")
        fig.text(0.04, space_top - 0.04, "\n".join(textwrap.wrap(summary, 175)), fontsize=7.5, color="#444444",
                 va="top")
        top = space_top - 0.09
        _drift_chart(fig, shown, top, top - len(shown) * 0.0185 - 0.01, first, latest)
        return
    fig = pages.new(table, f"{table}: drift {_month(first)} → {_month(latest)}", summary)
    if shown.empty:
        fig.text(0.04, CONTENT_TOP, "no numeric column has values in two partitions", fontsize=9, va="top")
        return
    height = min(0.74, 0.01 + 0.0185 * len(shown))
    _drift_chart(fig, shown, CONTENT_TOP - 0.02, CONTENT_TOP - 0.02 - height, first, latest)


def reason_rows(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Top quarantine reasons: reason text, rows, share, and sample rows (lineage and
    the masked raw values), most frequent first."""
    total = len(rows)
    out = []
    reasons = rows["reason"].fillna("")
    counts = reasons.value_counts()
    for reason, n in counts.head(TOP_REASONS).items():
        picked = rows[reasons == reason]
        samples = picked.sort_values(["snapshot_date", "_source_line"]).head(SAMPLES_PER_REASON)
        out.append({"reason": reason, "rows": int(n), "share": n / total, "samples": [
            {"snapshot_date": _date(s["snapshot_date"]),
             "source": f"{Path(str(s['_source_file'])).name}:{s['_source_line']}",
             "raw_values": _raw_text(s["raw_values"]), "malformed_line": s["_malformed_line"] or ""}
            for s in samples.to_dict("records")]})
    return out


def quarantine_pages(pages: Pages, data: ReportData, table: str) -> None:
    rows = data.quarantine.get(table)
    if rows is None or rows.empty:
        return
    reasons = reason_rows(rows)
    header = ["reason (every rule the row failed)", "rows", "share", "partition, file:line",
              "raw values (personal data masked)"]
    body = []
    for r in reasons:
        for i, s in enumerate(r["samples"]):
            raw = s["raw_values"] + (f" | malformed line: {s['malformed_line']}" if s["malformed_line"] else "")
            body.append([r["reason"] if i == 0 else "", _n(r["rows"]) if i == 0 else "",
                         f"{r['share']:.1%}" if i == 0 else "", f"{s['snapshot_date']}\n{s['source']}",
                         _short(raw, 420)])
    table_pages(pages, table, f"{table}: top quarantine reasons",
                f"{_n(len(rows))} rows quarantined; the {len(reasons)} most frequent reason"
                f"{'s' if len(reasons) > 1 else ''} with up to {SAMPLES_PER_REASON} sample rows each (oldest first; "
                "raw values cut at 420 characters, in full in the HTML report)", header, body,
                [2.9, 0.55, 0.55, 1.7, 4.9], fontsize=7, aligns=["left", "right", "right", "left", "left"])


# --------------------------------------------------------------------------- html


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


def _png(fig) -> str:
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
             f"<p class='meta'>datamart {html.escape(str(data.datamart))}</p>",
             "<nav>" + "".join(f"<a href='#{html.escape(anchor[t])}'>{html.escape(t)}</a>" for t in data.tables)
             + "</nav>",
             "<h2 id='summary'>Summary</h2>"]
    parts += [f"<p class='meta'>{html.escape(line)}</p>" for line in run_lines(data)]
    parts.append(_html_table(SUMMARY_HEADER, summary_rows(data), numeric=range(1, 10)))
    parts += [f"<p class='note'>{html.escape(note)}</p>" for note in SUMMARY_NOTES]
    for table in data.tables:
        parts.append(f"<h2 id='{html.escape(anchor[table])}'>{html.escape(table)}</h2>")
        rules = data.quality[data.quality["table"] == table]
        if not rules.empty:
            parts.append("<h3>Rule results (all partitions)</h3>")
            parts.append(_html_table(
                ["rule", "kind", "severity", "action", "rows checked", "rows failed", "partitions failing"],
                [[r, t.kind, t.severity, t.action, _n(t.checked), (_n(t.failed), "fail" if t.failed else ""),
                  t.partitions] for r, t in rule_totals(rules).iterrows()], numeric=(4, 5, 6)))
        for b64 in images.get(table, []):
            parts.append(f"<img alt='{html.escape(table)} figure' src='data:image/png;base64,{b64}'>")
        drift = data.drift[(data.drift["table"] == table) & (data.drift["kind"] == "numeric")]
        if not drift.empty:
            drift = drift.sort_values("psi", ascending=False, na_position="last")
            parts.append("<h3>Drift: PSI of every numeric column, first → latest partition with values</h3>")
            parts.append(_html_table(
                ["column", "first", "latest", "PSI", "band"],
                [[r.column, _month(r.first), _month(r.latest), "n/a" if not math.isfinite(r.psi) else f"{r.psi:.4f}",
                  (r.band, r.band if r.band in ("stable", "moderate", "significant") else "")]
                 for r in drift.itertuples()], numeric=(3,)))
        q = data.quarantine.get(table)
        if q is not None and not q.empty:
            parts.append(f"<h3>Top quarantine reasons ({_n(len(q))} rows quarantined)</h3>")
            rows = []
            for r in reason_rows(q):
                for i, s in enumerate(r["samples"]):
                    rows.append([r["reason"] if i == 0 else "", _n(r["rows"]) if i == 0 else "",
                                 f"{r['share']:.1%}" if i == 0 else "", s["snapshot_date"], s["source"],
                                 s["raw_values"] + (f" | malformed line: {s['malformed_line']}"
                                                    if s["malformed_line"] else "")])
            parts.append(_html_table(["reason", "rows", "share", "partition", "file:line",
                                      "raw values (personal data masked)"], rows, numeric=(1, 2), classes={5: "raw"}))
        elif table.startswith("silver/"):
            parts.append("<p class='note'>No row of this table is in quarantine.</p>")
    parts.append(f"<p class='note'>Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC by utils.quality.report "
                 "from the _meta tables, the Delta logs and the quarantine; nothing from bronze.</p></body></html>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- build


def default_out_dir(datamart: str | Path, run_id: str) -> Path:
    return Path(datamart) / "_reports" / run_id


def build_figures(data: ReportData) -> Pages:
    """Every page of the report, in order: summary, then per table its rule results,
    missing values, distributions (with the drift chart below when it fits, else on its
    own page) and top quarantine reasons."""
    pages = Pages(data.run["run_id"])
    summary_page(pages, data)
    for table in data.tables:
        notes = [rules_page(pages, data, table)] if table.startswith("silver/") else []
        notes.append(missing_pages(pages, data, table))
        fig, bottom = distribution_pages(pages, data, table, [n for n in notes if n])
        drift_page(pages, data, table, fig, bottom)
        if table.startswith("silver/"):
            quarantine_pages(pages, data, table)
    return pages


def build_report(datamart: str | Path, run_id: str | None = None, out_dir: str | Path | None = None) -> dict[str, Path]:
    """Write quality.html, quality.pdf and rules.csv of a run (default: the latest
    successful run) into `out_dir` (default ``<datamart>/_reports/<run_id>``) and return
    their paths as {"html", "pdf", "rules_csv"}. Reads no Spark table and starts no
    Spark: the profile must already be in `_meta/profile` (else those sections are
    left out, with a warning)."""
    from matplotlib.backends.backend_pdf import PdfPages

    began = time.perf_counter()
    data = load_report_data(datamart, run_id)
    run_id = data.run["run_id"]
    out = Path(out_dir) if out_dir is not None else default_out_dir(datamart, run_id)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"html": out / "quality.html", "pdf": out / "quality.pdf", "rules_csv": out / "rules.csv"}
    write_rules_csv(paths["rules_csv"], data.quality)

    pages = build_figures(data)
    images: dict[str, list[str]] = {}
    with PdfPages(paths["pdf"]) as pdf:
        info = pdf.infodict()
        info["Title"] = f"Data-quality report, run {run_id}"
        info["Subject"] = str(Path(datamart).resolve())
        for section, fig in pages.figures:
            pdf.savefig(fig)
            if section != "summary":  # the HTML has the summary as text
                images.setdefault(section, []).append(_png(fig))
    paths["html"].write_text(render_html(data, images), encoding="utf-8")
    logger.info("report of run %s: %d pages, %s (%.1fs)", run_id, len(pages.figures), out, time.perf_counter() - began)
    return paths


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m utils.quality.report", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--datamart", type=Path, default=PROJECT_ROOT / "datamart", help="folder of the Delta tables")
    p.add_argument("--run-id", help="run to report on (default: the latest successful run of the ledger)")
    p.add_argument("--out-dir", type=Path, help="output folder (default: <datamart>/_reports/<run_id>)")
    p.add_argument("--reprofile", action="store_true", help="profile the run again even when it has a profile")
    p.add_argument("--master", default="local[*]", help="Spark master URL, when the run needs profiling")
    return p


def main(argv: list[str] | None = None) -> int:
    """Profile the run when it has no profile yet, build the report, print the paths.
    0 on success, 1 with one line on stderr when the datamart cannot give a report."""
    from utils.quality.profile import profile_datamart, profiled_runs

    args = build_parser().parse_args(argv)
    datamart = args.datamart.resolve()
    try:
        run = resolve_run(datamart, args.run_id)
        if args.reprofile or run["run_id"] not in profiled_runs(profile_path(datamart)):
            from pyspark.sql import SparkSession

            from utils.lake.spark import SparkSettings, get_spark

            started_here = SparkSession.getActiveSession() is None
            spark = get_spark(SparkSettings(master=args.master, app_name="lakehouse-report"))
            try:
                profile_datamart(spark, datamart, run["run_id"])
            finally:
                if started_here:
                    spark.stop()
        paths = build_report(datamart, run["run_id"], args.out_dir)
    except (ReportError, delta_io.DeltaIOError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name in ("html", "pdf", "rules_csv"):
        print(f"{name}: {paths[name]}")
    return 0


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure()
    sys.exit(main())
