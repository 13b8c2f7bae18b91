"""Small summaries and charts of the datamart, for the notebooks in ``notebooks/``.

Two kinds of functions, so a notebook only calls and shows:

- **Summaries** run as one Spark aggregation (or read the Delta log, which already
  counts the rows of every file) and return a *small* pandas DataFrame: at most one
  row per table x snapshot month x column or rule. Nothing collects a whole table;
  :func:`sample_rows` brings at most ``limit`` random rows for histograms.
- **Charts** take such a frame and return a :class:`matplotlib.figure.Figure` that is
  not registered with pyplot (so a notebook shows it exactly once, where it is the
  value of a cell, and it is freed when dropped). Every chart has a title and axis
  labels; an empty frame gives a chart that says so instead of an empty axis.

Functions receive the Spark session, DataFrames and paths as arguments; they read no
environment variables and keep no state.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from utils.lake import delta_io

logger = logging.getLogger(__name__)

GOLD_TABLES = ("feature_store", "label_store")
SNAPSHOT = "snapshot_date"
SAMPLE_LIMIT = 50_000
FLAG_SUFFIX = "_invalid"
SEVERITY_COLORS = {"warn": "#E69F00", "drop": "#D55E00", "fail": "#7B0000"}
MISSING_COLOR, INVALID_COLOR = "#56B4E9", "#D55E00"
BAR_COLOR, ALARM_COLOR = "#0072B2", "#D55E00"


# --------------------------------------------------------------------------- setup


def has_gold(datamart: str | Path) -> bool:
    """True when gold/feature_store and gold/label_store both exist in `datamart`."""
    return all(delta_io.table_exists(Path(datamart) / "gold" / name) for name in GOLD_TABLES)


def ensure_datamart(datamart: str | Path, data_root: str | Path, *, master: str = "local[2]") -> bool:
    """Build `datamart` from the files in `data_root` when it has no gold tables yet.

    Runs the pipeline exactly like ``python main.py --data-root ... --datamart ...``
    (:func:`utils.cli.main`, all layers). Returns True when it built, False when the
    gold tables were already there; raises RuntimeError when the build failed.
    """
    datamart, data_root = Path(datamart), Path(data_root)
    if has_gold(datamart):
        logger.info("datamart %s has its gold tables; not rebuilding", datamart)
        return False
    from utils import cli

    logger.info("datamart %s has no gold tables yet: building it from %s", datamart, data_root)
    with warnings.catch_warnings():  # rich's progress bar asks for ipywidgets in Jupyter; text is fine
        warnings.filterwarnings("ignore", message='install "ipywidgets"')
        code = cli.main(["--data-root", str(data_root), "--datamart", str(datamart), "--master", master])
    if code != 0:
        raise RuntimeError(
            f"building {datamart} from {data_root} failed (exit status {code}); "
            f"the run log is under {datamart / '_meta' / 'logs'}"
        )
    return True


# --------------------------------------------------------------------------- chart helpers


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _tidy(ax, grid_axis: str = "y") -> None:
    """No top/right frame, a light grid on the value axis only."""
    ax.spines[["top", "right"]].set_visible(False)
    if grid_axis:
        ax.grid(axis=grid_axis, alpha=0.3, linewidth=0.8)
        ax.set_axisbelow(True)


def _empty(title: str, message: str, width: float = 8, height: float = 2.5) -> Figure:
    """A chart that states there is nothing to draw."""
    fig = _figure(width, height)
    ax = fig.subplots()
    ax.set_axis_off()
    ax.set_title(title)
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=12, transform=ax.transAxes)
    return fig


def _grid(fig: Figure, n: int, ncols: int, **kwargs) -> list:
    """n axes in a grid of `ncols` columns; the unused cells are switched off."""
    nrows = max(1, math.ceil(n / ncols))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False, **kwargs)).ravel()
    for ax in axes[n:]:
        ax.set_axis_off()
    return list(axes[:n])


def _month_axis(ax) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))


def _short(table: str) -> str:
    """'silver/financials' -> 'financials'."""
    return table.split("/", 1)[-1]


# --------------------------------------------------------------------------- rows per snapshot


def rows_per_snapshot(datamart: str | Path, layer: str) -> pd.DataFrame:
    """Rows per snapshot month of every table of a layer, from the Delta log alone.

    One row per (table, snapshot_date): ``table`` (folder name, e.g. lms_loan_daily),
    ``snapshot_date`` (Timestamp; NaT for rows whose date did not parse), ``rows``.
    Tables whose name starts with ``_`` (quarantine) or that are not partitioned by
    snapshot_date alone are left out. The counts are the ``numRecords`` the writer
    stored per file, so no data file is read.
    """
    folder = Path(datamart) / layer
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
        return _empty(title, "no dated rows")
    fig = _figure(10, 1.9 * len(tables) + 0.8)
    axes = fig.subplots(len(tables), 1, sharex=True, squeeze=False)[:, 0]
    for ax, table in zip(axes, tables):
        part = dated[dated["table"] == table]
        ax.bar(part[SNAPSHOT], part["rows"], width=20, color=BAR_COLOR)
        ax.set_title(f"{table}: {int(part['rows'].sum()):,} rows in {len(part)} snapshots", loc="left", fontsize=10)
        ax.set_ylabel("rows")
        _tidy(ax)
    axes[-1].set_xlabel("snapshot month")
    _month_axis(axes[-1])
    fig.suptitle(title)
    return fig


def plot_time_coverage(counts: pd.DataFrame, title: str) -> Figure:
    """A timeline per table: a bar from its first to its last snapshot month and a tick
    for every month that has rows (a gap shows as a missing tick)."""
    dated = counts[counts[SNAPSHOT].notna()]
    tables = sorted(dated["table"].unique())
    if not tables:
        return _empty(title, "no dated rows")
    fig = _figure(10, 0.6 * len(tables) + 1.6)
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
    _month_axis(ax)
    _tidy(ax, grid_axis="x")
    ax.margins(x=0.12)
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- missing and invalid


def flag_columns(table_spec) -> dict[str, str]:
    """{silver column: its flag column} for the validated columns of a silver table
    declared in the YAML (:class:`utils.lake.config.SilverTable`), e.g. ssn_hash -> ssn_invalid."""
    return {c.name: c.flag_column for c in table_spec.columns if c.validated}


def value_columns(df, flags: Mapping[str, str] | None = None) -> list[str]:
    """The data columns of a silver DataFrame: not lineage (``_*``), not snapshot_date,
    not a flag column (the values of `flags`, or any boolean ``*_invalid``)."""
    from pyspark.sql import types as T

    flag_set = set((flags or {}).values()) | {
        f.name for f in df.schema if f.name.endswith(FLAG_SUFFIX) and isinstance(f.dataType, T.BooleanType)
    }
    return [c for c in df.columns if not c.startswith("_") and c != SNAPSHOT and c not in flag_set]


def numeric_columns(df, flags: Mapping[str, str] | None = None) -> list[str]:
    """The numeric data columns (:func:`value_columns`) of a Spark DataFrame."""
    from pyspark.sql import types as T

    numeric = {f.name for f in df.schema if isinstance(f.dataType, T.NumericType)}
    return [c for c in value_columns(df, flags) if c in numeric]


def missing_and_invalid(df, flags: Mapping[str, str] | None = None, *, table: str = "") -> pd.DataFrame:
    """Missing and invalid values per column of a silver table, in one Spark aggregation.

    ``invalid``: the column's flag is true (a raw value was present but unusable, so
    silver holds null). ``missing``: null without the flag (absent or a placeholder in
    the raw data). `flags` maps a column to its flag column (:func:`flag_columns`);
    without it, ``<column>_invalid`` is used where present.

    One row per data column: table, column, rows, missing, invalid, missing_pct,
    invalid_pct (percent of rows), has_flag.
    """
    from pyspark.sql import functions as F

    columns = value_columns(df, flags)
    if flags is None:
        flags = {c: f"{c}{FLAG_SUFFIX}" for c in columns if f"{c}{FLAG_SUFFIX}" in df.columns}
    aggs = [F.count(F.lit(1)).alias("__rows")]
    for i, c in enumerate(columns):
        flag = flags.get(c)
        invalid = F.coalesce(F.col(flag), F.lit(False)) if flag else F.lit(False)
        aggs.append(F.sum(F.when(F.col(c).isNull() & ~invalid, 1).otherwise(0)).alias(f"__m{i}"))
        aggs.append(F.sum(F.when(invalid, 1).otherwise(0)).alias(f"__i{i}"))
    result = df.agg(*aggs).first()
    rows = int(result["__rows"])
    out = pd.DataFrame({
        "table": table,
        "column": columns,
        "rows": rows,
        "missing": [int(result[f"__m{i}"] or 0) for i in range(len(columns))],
        "invalid": [int(result[f"__i{i}"] or 0) for i in range(len(columns))],
        "has_flag": [c in flags for c in columns],
    })
    denominator = rows if rows else np.nan
    out["missing_pct"] = 100.0 * out["missing"] / denominator
    out["invalid_pct"] = 100.0 * out["invalid"] / denominator
    return out[["table", "column", "rows", "missing", "invalid", "missing_pct", "invalid_pct", "has_flag"]]


def plot_missing_invalid(frame: pd.DataFrame, title: str, top: int = 30) -> Figure:
    """Horizontal stacked bars, percent of rows missing and invalid, for the `top`
    columns (``table.column``) of :func:`missing_and_invalid` frames that have any."""
    data = frame[(frame["missing"] + frame["invalid"]) > 0].copy()
    if data.empty:
        return _empty(title, "no missing or invalid values")
    data["total_pct"] = data["missing_pct"] + data["invalid_pct"]
    data = data.sort_values(["total_pct", "table", "column"], ascending=[False, True, True]).head(top)
    labels = [f"{t}.{c}" if t else c for t, c in zip(data["table"], data["column"])]
    fig = _figure(10, 0.3 * len(data) + 1.5)
    ax = fig.subplots()
    y = np.arange(len(data))
    ax.barh(y, data["missing_pct"], color=MISSING_COLOR, label="missing (absent or a placeholder in the raw data)")
    ax.barh(y, data["invalid_pct"], left=data["missing_pct"], color=INVALID_COLOR,
            label="invalid (present but unusable: flag set)")
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlabel("% of rows")
    ax.set_ylabel("silver table.column")
    ax.margins(x=0.03)
    ax.legend(loc="lower right", frameon=False)
    _tidy(ax, grid_axis="x")
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- distributions


def sample_rows(df, columns: Sequence[str], *, limit: int = SAMPLE_LIMIT, seed: int = 7) -> pd.DataFrame:
    """At most `limit` random rows of `columns` as pandas (for histograms and box
    plots). Spark keeps the `limit` rows with the smallest random key per partition
    and merges them; the whole table never reaches the driver."""
    from pyspark.sql import functions as F

    sample = df.select(*columns).orderBy(F.rand(seed)).limit(limit).toPandas()
    logger.info("sampled %d rows of %d column(s)", len(sample), len(columns))
    return sample


def plot_histograms(sample: pd.DataFrame, columns: Sequence[str], title: str, *, bins: int = 40,
                    ncols: int = 3) -> Figure:
    """One histogram per column of a sample (non-null values), in a grid."""
    if not len(columns):
        return _empty(title, "no columns")
    fig = _figure(4 * ncols, 2.8 * math.ceil(len(columns) / ncols) + 0.6)
    for ax, column in zip(_grid(fig, len(columns), ncols), columns):
        values = pd.to_numeric(sample[column], errors="coerce").dropna()
        if values.empty:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.hist(values, bins=bins, color=BAR_COLOR, edgecolor="white", linewidth=0.5)
        ax.set_title(f"{column} (n={len(values):,})", fontsize=10)
        ax.set_xlabel(column)
        ax.set_ylabel("rows")
        _tidy(ax)
    fig.suptitle(title)
    return fig


def plot_boxplots(sample: pd.DataFrame, columns: Sequence[str], by: str, title: str, *,
                  order: Sequence[str] | None = None, ncols: int = 3) -> Figure:
    """One panel per column: a box per value of `by` (in `order`, then any other
    value; nulls as "unknown"). Boxes: quartiles, whiskers 1.5 IQR, dots beyond."""
    if not len(columns):
        return _empty(title, "no columns")
    groups = sample[by].astype(object).where(sample[by].notna(), "unknown").astype(str)
    present = list(dict.fromkeys(groups))
    labels = [g for g in (order or []) if g in present] + sorted(g for g in present if g not in (order or []))
    fig = _figure(4 * ncols, 3 * math.ceil(len(columns) / ncols) + 0.6)
    for ax, column in zip(_grid(fig, len(columns), ncols), columns):
        values = pd.to_numeric(sample[column], errors="coerce")
        data = [values[(groups == g) & values.notna()].to_numpy() for g in labels]
        ax.boxplot(data, tick_labels=labels, widths=0.6, patch_artist=True,
                   boxprops={"facecolor": "#CFE3F3", "edgecolor": BAR_COLOR},
                   medianprops={"color": "black"},
                   flierprops={"marker": ".", "markersize": 3, "alpha": 0.4})
        ax.set_title(column, fontsize=10)
        ax.set_xlabel(by)
        ax.set_ylabel(column)
        _tidy(ax)
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- correlation


def correlation_matrix(df, columns: Sequence[str]) -> pd.DataFrame:
    """Pearson correlation of every pair of `columns`, in one Spark aggregation.

    Each pair uses the rows where both values are present (pairwise, like pandas);
    a constant column gives NaN. Returns a symmetric DataFrame indexed and columned
    by `columns`, 1.0 on the diagonal.
    """
    from pyspark.sql import functions as F

    columns = list(columns)
    pairs = [(a, b) for i, a in enumerate(columns) for b in columns[i + 1:]]
    matrix = pd.DataFrame(np.eye(len(columns)), index=columns, columns=columns)
    if not pairs:
        return matrix
    row = df.agg(*[
        F.corr(F.col(a).cast("double"), F.col(b).cast("double")).alias(f"__c{k}") for k, (a, b) in enumerate(pairs)
    ]).first()
    for k, (a, b) in enumerate(pairs):
        value = row[f"__c{k}"]
        matrix.loc[a, b] = matrix.loc[b, a] = np.nan if value is None else float(value)
    return matrix


def plot_correlation_heatmap(corr: pd.DataFrame, title: str) -> Figure:
    """Heatmap of a correlation matrix on a diverging scale from -1 to 1; the values
    are written in the cells when there are at most 20 columns."""
    n = len(corr)
    if n == 0:
        return _empty(title, "no columns")
    size = max(5.0, 0.5 * n + 3)
    fig = _figure(size + 1, size)
    ax = fig.subplots()
    image = ax.imshow(corr.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(n), corr.columns, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), corr.index)
    if n <= 20:
        for i in range(n):
            for j in range(n):
                value = corr.iat[i, j]
                if not np.isnan(value):
                    ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if abs(value) > 0.6 else "black")
    fig.colorbar(image, ax=ax, shrink=0.8, label="Pearson correlation")
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- _meta tables


def latest_checks(df, keys: Sequence[str] = ("table", SNAPSHOT), order: str = "checked_at"):
    """Spark: only the rows of the most recent check of each `keys` (e.g. each silver
    partition), so a partition re-processed by a later run (``--start/--end``,
    ``--replay-quarantine``) shows its newest result and the others keep theirs."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    last = F.max(order).over(Window.partitionBy(*keys))
    return df.withColumn("__last", last).where(F.col(order) == F.col("__last")).drop("__last")


def latest_run_id(df) -> str | None:
    """The run_id of the most recent row (by checked_at) of a _meta table, or None."""
    from pyspark.sql import functions as F

    row = df.orderBy(F.col("checked_at").desc(), F.col("run_id").desc()).select("run_id").first()
    return None if row is None else row["run_id"]


def quality_runs(quality) -> pd.DataFrame:
    """One row per run recorded in _meta/quality, newest first: run_id, checked_at
    (last), tables, partitions (table x month), rule results and how many of them
    had failures."""
    from pyspark.sql import functions as F

    frame = quality.groupBy("run_id").agg(
        F.max("checked_at").alias("checked_at"),
        F.countDistinct("table").alias("tables"),
        F.countDistinct("table", SNAPSHOT).alias("partitions"),
        F.count(F.lit(1)).alias("rule_results"),
        F.sum(F.when(F.col("rows_failed") > 0, 1).otherwise(0)).alias("results_with_failures"),
    ).orderBy(F.col("checked_at").desc()).toPandas()
    return frame


def rule_summary(quality, *, failures_only: bool = False) -> pd.DataFrame:
    """Per table and rule of a _meta/quality DataFrame (e.g. :func:`latest_checks`):
    kind, severity, action, partitions checked, partitions with failures, rows
    checked, rows failed and fail_rate (rows failed / rows checked). Most rows
    failed first; `failures_only` keeps rules that failed at least once."""
    from pyspark.sql import functions as F

    grouped = quality.groupBy("table", "rule", "kind", "severity", "action").agg(
        F.count(F.lit(1)).alias("partitions"),
        F.sum(F.when(F.col("rows_failed") > 0, 1).otherwise(0)).alias("partitions_failing"),
        F.sum("rows_checked").alias("rows_checked"),
        F.sum("rows_failed").alias("rows_failed"),
    )
    if failures_only:
        grouped = grouped.where(F.col("rows_failed") > 0)
    frame = grouped.toPandas()
    frame["table"] = frame["table"].map(_short)
    frame["fail_rate"] = frame["rows_failed"] / frame["rows_checked"].where(frame["rows_checked"] > 0)
    return frame.sort_values(["rows_failed", "table", "rule"], ascending=[False, True, True]).reset_index(drop=True)


def failure_table(quality) -> pd.DataFrame:
    """Rows failed per snapshot month (index) and rule (columns ``table: rule``), for
    the rules of a _meta/quality DataFrame that failed in some partition; 0 where a
    rule passed that month."""
    from pyspark.sql import functions as F

    failing = quality.groupBy("table", "rule").agg(F.sum("rows_failed").alias("n")).where(F.col("n") > 0)
    frame = quality.join(failing.select("table", "rule"), on=["table", "rule"]).select(
        "table", "rule", SNAPSHOT, "rows_failed").toPandas()
    if frame.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], name=SNAPSHOT))
    frame["rule"] = frame["table"].map(_short) + ": " + frame["rule"]
    frame[SNAPSHOT] = pd.to_datetime(frame[SNAPSHOT])
    table = frame.pivot_table(index=SNAPSHOT, columns="rule", values="rows_failed", aggfunc="sum", fill_value=0)
    table.columns.name = None
    return table.astype(int)


def failure_rates(quality, *, top: int = 6) -> pd.DataFrame:
    """Fail rate per snapshot month of the `top` rules with the most failed rows.

    Long format, one row per (rule, snapshot_date): rule (``table: rule``),
    snapshot_date, rows_checked, rows_failed, fail_rate (rows failed / rows checked,
    0 in months where the rule passed).
    """
    from pyspark.sql import functions as F

    totals = (quality.groupBy("table", "rule").agg(F.sum("rows_failed").alias("n"))
              .where(F.col("n") > 0).orderBy(F.col("n").desc(), "table", "rule").limit(top))
    frame = quality.join(totals.select("table", "rule"), on=["table", "rule"]).groupBy("table", "rule", SNAPSHOT).agg(
        F.sum("rows_checked").alias("rows_checked"), F.sum("rows_failed").alias("rows_failed"),
    ).toPandas()
    columns = ["rule", SNAPSHOT, "rows_checked", "rows_failed", "fail_rate"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    frame["rule"] = frame["table"].map(_short) + ": " + frame["rule"]
    frame[SNAPSHOT] = pd.to_datetime(frame[SNAPSHOT])
    frame["fail_rate"] = frame["rows_failed"] / frame["rows_checked"].where(frame["rows_checked"] > 0)
    return frame[columns].sort_values(["rule", SNAPSHOT]).reset_index(drop=True)


def plot_rule_failures(summary: pd.DataFrame, title: str, top: int = 25) -> Figure:
    """Horizontal bars: percent of checked rows failing, per rule with failures
    (from :func:`rule_summary`), coloured by severity, with the failed row count."""
    data = summary[summary["rows_failed"] > 0].copy()
    if data.empty:
        return _empty(title, "no rule failed on any row")
    data = data.sort_values(["fail_rate", "rows_failed"], ascending=False).head(top)
    fig = _figure(10, 0.32 * len(data) + 1.6)
    ax = fig.subplots()
    y = np.arange(len(data))
    pct = 100.0 * data["fail_rate"].to_numpy()
    ax.barh(y, pct, color=[SEVERITY_COLORS.get(s, BAR_COLOR) for s in data["severity"]])
    for yi, p, n in zip(y, pct, data["rows_failed"]):
        ax.annotate(f"{int(n):,} row{'s' if n != 1 else ''}", (p, yi), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8)
    ax.set_yticks(y, [f"{t}: {r}" for t, r in zip(data["table"], data["rule"])])
    ax.invert_yaxis()
    ax.set_xlabel("% of checked rows failing")
    ax.set_ylabel("table: rule")
    ax.margins(x=0.15)
    present = [s for s in SEVERITY_COLORS if s in set(data["severity"])]
    ax.legend(handles=[Patch(color=SEVERITY_COLORS[s], label=f"severity {s}") for s in present],
              loc="lower right", frameon=False)
    _tidy(ax, grid_axis="x")
    ax.set_title(title)
    return fig


def plot_failure_rates(rates: pd.DataFrame, title: str) -> Figure:
    """One line per rule: percent of rows failing per snapshot month (from
    :func:`failure_rates`)."""
    if rates.empty:
        return _empty(title, "no rule failed on any row")
    fig = _figure(10, 4.5)
    ax = fig.subplots()
    for rule, part in rates.groupby("rule", sort=True):
        ax.plot(part[SNAPSHOT], 100.0 * part["fail_rate"], marker="o", markersize=3, linewidth=1.5, label=rule)
    ax.set_xlabel("snapshot month")
    ax.set_ylabel("% of checked rows failing")
    ax.set_ylim(bottom=0)
    _month_axis(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9)
    _tidy(ax)
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- quarantine and accounting


def quarantine_summary(quarantine) -> pd.DataFrame:
    """Per table and first failed rule of silver/_quarantine: rows, snapshot months
    and the first and last month. Empty (with these columns) when nothing is
    quarantined."""
    from pyspark.sql import functions as F

    frame = quarantine.groupBy("table", "rule").agg(
        F.count(F.lit(1)).alias("rows"),
        F.countDistinct(SNAPSHOT).alias("months"),
        F.min(SNAPSHOT).alias("first_month"),
        F.max(SNAPSHOT).alias("last_month"),
    ).orderBy(F.col("rows").desc(), "table", "rule").toPandas()
    return frame[["table", "rule", "rows", "months", "first_month", "last_month"]]


def quarantine_sample(quarantine, *, per_rule: int = 3) -> pd.DataFrame:
    """Up to `per_rule` quarantined rows per table and rule (earliest month and source
    line first): table, rule, reason (every rule failed, in words), snapshot_date,
    source file name and line, the raw bronze values as JSON (personal data masked)
    and the malformed raw line, if any."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy("table", "rule").orderBy(SNAPSHOT, "_source_line")
    frame = (quarantine.withColumn("__n", F.row_number().over(order)).where(F.col("__n") <= per_rule)
             .select("table", "rule", "reason", SNAPSHOT,
                     F.regexp_extract("_source_file", r"([^/\\]+)$", 1).alias("source_file"),
                     F.col("_source_line").alias("source_line"),
                     F.to_json("raw_values").alias("raw_values"),
                     F.col("_malformed_line").alias("malformed_line"))
             .orderBy("table", "rule", SNAPSHOT, "source_line").toPandas())
    return frame


def reconciliation(accounting) -> pd.DataFrame:
    """Bronze vs silver + quarantine per silver table and snapshot month, from the
    latest check of each partition in _meta/accounting: table, snapshot_date,
    bronze_rows, silver_rows, quarantined_rows, difference (bronze - silver -
    quarantined, 0 when balanced), balanced, run_id."""
    from pyspark.sql import functions as F

    frame = latest_checks(accounting).select(
        "table", SNAPSHOT, "bronze_rows", "silver_rows", "quarantined_rows",
        (F.col("bronze_rows") - F.col("silver_rows") - F.col("quarantined_rows")).alias("difference"),
        "balanced", "run_id",
    ).orderBy("table", SNAPSHOT).toPandas()
    frame["table"] = frame["table"].map(_short)
    frame[SNAPSHOT] = pd.to_datetime(frame[SNAPSHOT])
    return frame


def reconciliation_totals(recon: pd.DataFrame) -> pd.DataFrame:
    """Per table totals of :func:`reconciliation`: partitions, bronze, silver and
    quarantined rows, difference, and whether every partition balanced."""
    grouped = recon.groupby("table", sort=True)
    return pd.DataFrame({
        "partitions": grouped.size(),
        "bronze_rows": grouped["bronze_rows"].sum(),
        "silver_rows": grouped["silver_rows"].sum(),
        "quarantined_rows": grouped["quarantined_rows"].sum(),
        "difference": grouped["difference"].sum(),
        "all_balanced": grouped["balanced"].all(),
    }).reset_index()


def plot_quarantine(recon: pd.DataFrame, title: str) -> Figure:
    """Quarantined rows per snapshot month, stacked by silver table (from
    :func:`reconciliation`); says so when no row was quarantined."""
    data = recon[recon["quarantined_rows"] > 0]
    if data.empty:
        return _empty(title, "no row was quarantined: every bronze row reached silver")
    pivot = data.pivot_table(index=SNAPSHOT, columns="table", values="quarantined_rows", aggfunc="sum", fill_value=0)
    fig = _figure(10, 4)
    ax = fig.subplots()
    bottom = np.zeros(len(pivot))
    for table in pivot.columns:
        ax.bar(pivot.index, pivot[table], width=20, bottom=bottom, label=table)
        bottom += pivot[table].to_numpy()
    ax.set_xlabel("snapshot month")
    ax.set_ylabel("quarantined rows")
    _month_axis(ax)
    ax.legend(title="silver table", frameon=False)
    _tidy(ax)
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- sanity classifier


def split_table(info: Mapping[str, Any]) -> pd.DataFrame:
    """The two sides of :func:`utils.ml.train.split_out_of_time` (its ``info``), one row
    each: first and last application month, months, loans and positive rate."""
    rows = []
    for side in ("train", "test"):
        months = info[f"{side}_months"]
        rows.append({"side": side, "first_month": months[0], "last_month": months[-1], "months": len(months),
                     "loans": info[f"{side}_rows"], "positive_rate": info[f"{side}_positive_rate"]})
    return pd.DataFrame(rows)


def metrics_table(results: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per model of :func:`utils.ml.train.fit_and_score` results: train and test
    ROC AUC, test precision, recall and F1 at the model's threshold, test rows and
    positive rate."""
    from utils.ml.train import MODEL_NAMES

    rows = []
    for name, m in results.items():
        t = m["test"]
        rows.append({"model": MODEL_NAMES.get(name, name), "train_auc": m["train_auc"], "test_auc": t["auc"],
                     "precision": t["precision"], "recall": t["recall"], "f1": t["f1"],
                     "threshold": m["threshold"], "test_rows": t["rows"], "test_positive_rate": t["positive_rate"]})
    return pd.DataFrame(rows)


def best_model(results: Mapping[str, Mapping[str, Any]]) -> str:
    """The name of the model with the highest test ROC AUC (as :func:`utils.ml.train.train`
    picks it)."""
    return max(results, key=lambda name: results[name]["test"]["auc"])


def confusion(y_true, scores, threshold: float) -> pd.DataFrame:
    """2 x 2 counts of actual label (rows 0, 1) against ``score >= threshold``
    (columns 0, 1)."""
    actual = np.asarray(y_true).astype(int)
    predicted = (np.asarray(scores) >= threshold).astype(int)
    counts = [[int(np.sum((actual == a) & (predicted == p))) for p in (0, 1)] for a in (0, 1)]
    return pd.DataFrame(counts, index=pd.Index([0, 1], name="actual"), columns=pd.Index([0, 1], name="predicted"))


def plot_confusion_matrix(cm: pd.DataFrame, title: str, labels: Sequence[str] = ("no default", "default")) -> Figure:
    """A 2 x 2 confusion matrix (from :func:`confusion`): counts and percent of the
    actual class in each cell, darker = more rows."""
    counts = cm.to_numpy()
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig = _figure(5.5, 4.8)
    ax = fig.subplots()
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(2):
        for j in range(2):
            ax.text(j, i, f"{counts[i, j]:,}\n({100 * share[i, j]:.0f}% of actual)", ha="center", va="center",
                    fontsize=11, color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks([0, 1], [f"{labels[0]} (0)", f"{labels[1]} (1)"])
    ax.set_yticks([0, 1], [f"{labels[0]} (0)", f"{labels[1]} (1)"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    return fig


def plot_feature_importance(top: Sequence[Mapping[str, Any]], title: str) -> Figure:
    """Horizontal bars of permutation importance (mean drop of test ROC AUC, with its
    standard deviation) from :func:`utils.ml.train.top_features`, largest first."""
    if not top:
        return _empty(title, "no features")
    names = [t["feature"] for t in top]
    means = [t["importance_mean"] for t in top]
    stds = [t["importance_std"] for t in top]
    fig = _figure(9, 0.32 * len(top) + 1.5)
    ax = fig.subplots()
    y = np.arange(len(top))
    ax.barh(y, means, xerr=stds, color=BAR_COLOR, ecolor="#555555", capsize=2)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("drop of test ROC AUC when the feature is shuffled")
    ax.set_ylabel("feature")
    _tidy(ax, grid_axis="x")
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- leakage guards


def guard_results(leakage, run_id: str | None = None) -> pd.DataFrame:
    """The cutoff and replay guards of one run of _meta/leakage (default: the latest):
    guard, subject, value (violating rows), threshold, passed, detail, run_id."""
    from pyspark.sql import functions as F

    run_id = run_id or latest_run_id(leakage)
    return (leakage.where((F.col("run_id") == F.lit(run_id)) & (F.col("guard") != "single_feature_auc"))
            .select("guard", "subject", "value", "threshold", "passed", "detail", "run_id")
            .orderBy("guard", "subject").toPandas())


def single_feature_aucs(leakage, run_id: str | None = None, *, top: int = 15) -> pd.DataFrame:
    """The `top` single-feature AUCs (max(AUC, 1 - AUC) of one feature alone against
    the label) of one run of _meta/leakage (default: the latest), highest first:
    label_def, feature, auc, threshold, passed."""
    from pyspark.sql import functions as F

    run_id = run_id or latest_run_id(leakage)
    frame = (leakage.where((F.col("run_id") == F.lit(run_id)) & (F.col("guard") == "single_feature_auc"))
             .select(F.split("subject", ":").getItem(0).alias("label_def"),
                     F.split("subject", ":").getItem(1).alias("feature"),
                     F.col("value").alias("auc"), "threshold", "passed")
             .orderBy(F.col("auc").desc(), "feature").limit(top).toPandas())
    return frame


def plot_single_feature_auc(aucs: pd.DataFrame, title: str) -> Figure:
    """Horizontal bars of single-feature AUCs (from :func:`single_feature_aucs`),
    starting at 0.5 (no signal), against the alarm threshold (dashed line); bars
    above it are drawn in red."""
    if aucs.empty:
        return _empty(title, "no single-feature AUC recorded")
    threshold = float(aucs["threshold"].iloc[0])
    fig = _figure(9, 0.32 * len(aucs) + 1.6)
    ax = fig.subplots()
    y = np.arange(len(aucs))
    colors = [ALARM_COLOR if a > threshold else BAR_COLOR for a in aucs["auc"]]
    ax.barh(y, aucs["auc"] - 0.5, left=0.5, color=colors)
    ax.axvline(threshold, color=ALARM_COLOR, linestyle="--", linewidth=1.5, label=f"alarm threshold {threshold:.2f}")
    ax.set_xlim(0.5, 1.0)
    ax.set_yticks(y, aucs["feature"])
    ax.invert_yaxis()
    ax.set_xlabel("AUC of the feature alone, max(AUC, 1 - AUC)")
    ax.set_ylabel("feature")
    ax.legend(loc="lower right", frameon=False)
    _tidy(ax, grid_axis="x")
    ax.set_title(title)
    return fig
