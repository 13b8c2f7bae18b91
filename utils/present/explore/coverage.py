"""Rows per snapshot month of every table of a layer (from the Delta log, no data read),
the time each table covers, and their charts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from utils.lake import delta_io
from utils.ml.feature_store import DEFAULT_DOMAIN

from .charts import BAR_COLOR, SNAPSHOT, empty_chart, figure, month_axis, tidy

logger = logging.getLogger(__name__)


def rows_per_snapshot(datamart: str | Path, layer: str, domain: str = DEFAULT_DOMAIN) -> pd.DataFrame:
    """Rows per snapshot month of every table of a layer of `domain`, from the Delta log alone.

    One row per (table, snapshot_date): ``table`` (folder name, e.g. lms_loan_daily),
    ``snapshot_date`` (Timestamp; NaT for rows whose date did not parse), ``rows``.
    Tables whose name starts with ``_`` (quarantine) or that are not partitioned by
    snapshot_date alone are left out. The counts are the ``numRecords`` the writer
    stored per file, so no data file is read.
    """
    folder = Path(datamart) / layer / domain  # <layer>/<domain>/<table>, as utils.lake.datamart lays it out
    if not folder.is_dir():
        raise FileNotFoundError(f"no {layer} layer at {folder}; build the datamart first")
    rows: list[dict[str, Any]] = []
    for path in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("_")):
        if not delta_io.table_exists(path):
            continue
        view = delta_io.view(path)
        if view.partition_by != (SNAPSHOT,):
            logger.info("%s: partitioned by %s, not by snapshot_date; left out", path, view.partition_by)
            continue
        for (date,), n in view.partitions().items():
            rows.append({"table": path.name, SNAPSHOT: pd.Timestamp(date) if date else pd.NaT, "rows": int(n)})
    frame = pd.DataFrame(rows, columns=["table", SNAPSHOT, "rows"])
    frame[SNAPSHOT] = pd.to_datetime(frame[SNAPSHOT])
    return frame.sort_values(["table", SNAPSHOT]).reset_index(drop=True)


def time_coverage(counts: pd.DataFrame) -> pd.DataFrame:
    """First and last month per table from :func:`rows_per_snapshot` counts.

    One row per table: ``first_month``, ``last_month`` (YYYY-MM), ``months`` with
    rows, ``missing_months`` (calendar months between first and last without rows,
    comma-separated), ``rows`` and ``undated_rows`` (rows with no snapshot_date).
    """
    out = []
    for table, part in counts.groupby("table", sort=True):
        dated = part[part[SNAPSHOT].notna()]
        months = sorted(set(dated[SNAPSHOT].dt.to_period("M")))
        missing = [] if not months else [
            str(p) for p in pd.period_range(months[0], months[-1], freq="M") if p not in set(months)
        ]
        out.append({
            "table": table,
            "first_month": str(months[0]) if months else None,
            "last_month": str(months[-1]) if months else None,
            "months": len(months),
            "missing_months": ", ".join(missing),
            "rows": int(part["rows"].sum()),
            "undated_rows": int(part.loc[part[SNAPSHOT].isna(), "rows"].sum()),
        })
    return pd.DataFrame(out, columns=["table", "first_month", "last_month", "months", "missing_months",
                                      "rows", "undated_rows"])


def plot_rows_per_snapshot(counts: pd.DataFrame, title: str) -> Figure:
    """One panel per table: rows per snapshot month as bars (own y scale per panel,
    shared month axis), from :func:`rows_per_snapshot`."""
    dated = counts[counts[SNAPSHOT].notna()]
    tables = sorted(dated["table"].unique())
    if not tables:
        return empty_chart(title, "no dated rows")
    fig = figure(10, 1.9 * len(tables) + 0.8)
    axes = fig.subplots(len(tables), 1, sharex=True, squeeze=False)[:, 0]
    for ax, table in zip(axes, tables):
        part = dated[dated["table"] == table]
        ax.bar(part[SNAPSHOT], part["rows"], width=20, color=BAR_COLOR)
        ax.set_title(f"{table}: {int(part['rows'].sum()):,} rows in {len(part)} snapshots", loc="left", fontsize=10)
        ax.set_ylabel("rows")
        tidy(ax)
    axes[-1].set_xlabel("snapshot month")
    month_axis(axes[-1])
    fig.suptitle(title)
    return fig


def plot_time_coverage(counts: pd.DataFrame, title: str) -> Figure:
    """A timeline per table: a bar from its first to its last snapshot month and a tick
    for every month that has rows (a gap shows as a missing tick)."""
    dated = counts[counts[SNAPSHOT].notna()]
    tables = sorted(dated["table"].unique())
    if not tables:
        return empty_chart(title, "no dated rows")
    fig = figure(10, 0.6 * len(tables) + 1.6)
    ax = fig.subplots()
    for i, table in enumerate(tables):
        months = dated.loc[dated["table"] == table, SNAPSHOT].sort_values()
        ax.hlines(i, months.iloc[0], months.iloc[-1], color="#BBBBBB", linewidth=10)
        ax.plot(months, [i] * len(months), linestyle="none", marker="|", markersize=14,
                markeredgewidth=2, color=BAR_COLOR)
        ax.annotate(f"{months.iloc[0]:%Y-%m} to {months.iloc[-1]:%Y-%m}", (months.iloc[-1], i),
                    xytext=(10, 0), textcoords="offset points", va="center", fontsize=9)
    ax.set_yticks(range(len(tables)), tables)
    ax.set_ylim(-0.7, len(tables) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel("snapshot month (tick = month with rows)")
    ax.set_ylabel("source")
    month_axis(ax)
    tidy(ax, grid_axis="x")
    ax.margins(x=0.12)
    ax.set_title(title)
    return fig
