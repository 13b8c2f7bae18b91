"""The `_meta` tables of data quality: the latest check per partition, runs, rule
summaries and failure rates, the quarantine, and bronze = silver + quarantine per
partition; with their charts."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .charts import (
    BAR_COLOR,
    SEVERITY_COLORS,
    SNAPSHOT,
    empty_chart,
    figure,
    month_axis,
    short_table,
    tidy,
)

logger = logging.getLogger(__name__)


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
    frame["table"] = frame["table"].map(short_table)
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
    frame["rule"] = frame["table"].map(short_table) + ": " + frame["rule"]
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
    frame["rule"] = frame["table"].map(short_table) + ": " + frame["rule"]
    frame[SNAPSHOT] = pd.to_datetime(frame[SNAPSHOT])
    frame["fail_rate"] = frame["rows_failed"] / frame["rows_checked"].where(frame["rows_checked"] > 0)
    return frame[columns].sort_values(["rule", SNAPSHOT]).reset_index(drop=True)


def plot_rule_failures(summary: pd.DataFrame, title: str, top: int = 25) -> Figure:
    """Horizontal bars: percent of checked rows failing, per rule with failures
    (from :func:`rule_summary`), coloured by severity, with the failed row count."""
    data = summary[summary["rows_failed"] > 0].copy()
    if data.empty:
        return empty_chart(title, "no rule failed on any row")
    data = data.sort_values(["fail_rate", "rows_failed"], ascending=False).head(top)
    fig = figure(10, 0.32 * len(data) + 1.6)
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
    tidy(ax, grid_axis="x")
    ax.set_title(title)
    return fig


def plot_failure_rates(rates: pd.DataFrame, title: str) -> Figure:
    """One line per rule: percent of rows failing per snapshot month (from
    :func:`failure_rates`)."""
    if rates.empty:
        return empty_chart(title, "no rule failed on any row")
    fig = figure(10, 4.5)
    ax = fig.subplots()
    for rule, part in rates.groupby("rule", sort=True):
        ax.plot(part[SNAPSHOT], 100.0 * part["fail_rate"], marker="o", markersize=3, linewidth=1.5, label=rule)
    ax.set_xlabel("snapshot month")
    ax.set_ylabel("% of checked rows failing")
    ax.set_ylim(bottom=0)
    month_axis(ax)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False, fontsize=9)
    tidy(ax)
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
                     F.col("_malformed_record").alias("malformed_line"))
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
    frame["table"] = frame["table"].map(short_table)
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
        return empty_chart(title, "no row was quarantined: every bronze row reached silver")
    pivot = data.pivot_table(index=SNAPSHOT, columns="table", values="quarantined_rows", aggfunc="sum", fill_value=0)
    fig = figure(10, 4)
    ax = fig.subplots()
    bottom = np.zeros(len(pivot))
    for table in pivot.columns:
        ax.bar(pivot.index, pivot[table], width=20, bottom=bottom, label=table)
        bottom += pivot[table].to_numpy()
    ax.set_xlabel("snapshot month")
    ax.set_ylabel("quarantined rows")
    month_axis(ax)
    ax.legend(title="silver table", frameon=False)
    tidy(ax)
    ax.set_title(title)
    return fig
