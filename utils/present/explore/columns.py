"""The columns of a silver table: missing and invalid values (one Spark aggregation), a
bounded random sample for histograms and box plots, and pairwise correlations."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .charts import (
    BAR_COLOR,
    INVALID_COLOR,
    MISSING_COLOR,
    SNAPSHOT,
    axes_grid,
    empty_chart,
    figure,
    tidy,
)

logger = logging.getLogger(__name__)

SAMPLE_LIMIT = 50_000
FLAG_SUFFIX = "_invalid"


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
        return empty_chart(title, "no missing or invalid values")
    data["total_pct"] = data["missing_pct"] + data["invalid_pct"]
    data = data.sort_values(["total_pct", "table", "column"], ascending=[False, True, True]).head(top)
    labels = [f"{t}.{c}" if t else c for t, c in zip(data["table"], data["column"])]
    fig = figure(10, 0.3 * len(data) + 1.5)
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
    tidy(ax, grid_axis="x")
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
        return empty_chart(title, "no columns")
    fig = figure(4 * ncols, 2.8 * math.ceil(len(columns) / ncols) + 0.6)
    for ax, column in zip(axes_grid(fig, len(columns), ncols), columns):
        values = pd.to_numeric(sample[column], errors="coerce").dropna()
        if values.empty:
            ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        else:
            ax.hist(values, bins=bins, color=BAR_COLOR, edgecolor="white", linewidth=0.5)
        ax.set_title(f"{column} (n={len(values):,})", fontsize=10)
        ax.set_xlabel(column)
        ax.set_ylabel("rows")
        tidy(ax)
    fig.suptitle(title)
    return fig


def plot_boxplots(sample: pd.DataFrame, columns: Sequence[str], by: str, title: str, *,
                  order: Sequence[str] | None = None, ncols: int = 3) -> Figure:
    """One panel per column: a box per value of `by` (in `order`, then any other
    value; nulls as "unknown"). Boxes: quartiles, whiskers 1.5 IQR, dots beyond."""
    if not len(columns):
        return empty_chart(title, "no columns")
    groups = sample[by].astype(object).where(sample[by].notna(), "unknown").astype(str)
    present = list(dict.fromkeys(groups))
    labels = [g for g in (order or []) if g in present] + sorted(g for g in present if g not in (order or []))
    fig = figure(4 * ncols, 3 * math.ceil(len(columns) / ncols) + 0.6)
    for ax, column in zip(axes_grid(fig, len(columns), ncols), columns):
        values = pd.to_numeric(sample[column], errors="coerce")
        data = [values[(groups == g) & values.notna()].to_numpy() for g in labels]
        ax.boxplot(data, tick_labels=labels, widths=0.6, patch_artist=True,
                   boxprops={"facecolor": "#CFE3F3", "edgecolor": BAR_COLOR},
                   medianprops={"color": "black"},
                   flierprops={"marker": ".", "markersize": 3, "alpha": 0.4})
        ax.set_title(column, fontsize=10)
        ax.set_xlabel(by)
        ax.set_ylabel(column)
        tidy(ax)
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
        return empty_chart(title, "no columns")
    size = max(5.0, 0.5 * n + 3)
    fig = figure(size + 1, size)
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
