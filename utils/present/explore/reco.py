"""User x item interactions of a recommendation domain, its graded label store and the
out-of-time evaluation of its recommenders: small summaries and their charts, for
``notebooks/recommendation/``.

Summaries take Spark DataFrames (e.g. silver clickstream, gold label_store) and return
small pandas frames: counts per value of a column, a count of counts (how many users
have exactly n events), one row per item with its events (the catalogue, not the
events), the counts of the most active users x the most popular items, the label store
per month. The evaluation is ``<datamart>/_models/<domain>/evaluation.json`` as
:mod:`utils.ml.recommend` writes it, flattened into one row per model x segment x K.
Charts take those frames and return a :class:`matplotlib.figure.Figure` (see
:mod:`.charts`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, StrMethodFormatter

from utils.lake.datamart import Datamart

from .charts import BAR_COLOR, SEVERITY_COLORS, axes_grid, empty_chart, figure, tidy

logger = logging.getLogger(__name__)

RECO_DOMAIN = "recommendation"
SEGMENTS = ("all", "warm", "cold")
METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")
SEGMENT_COLORS = {"all": "#999999", "warm": "#0072B2", "cold": "#56B4E9"}
GRADE_COLORS = ("#CFE3F3", "#56B4E9", "#0072B2", "#003F6B")


def _keys(key: str | Sequence[str]) -> list[str]:
    return [key] if isinstance(key, str) else list(key)


# --------------------------------------------------------------------------- interactions


def value_counts(events, columns: Sequence[str], *, user: str = "user_id") -> pd.DataFrame:
    """Events per value of each column (nulls as "unknown"), one row per (column,
    value): column, value, events, share (of the column's events), users (distinct
    `user`); most events first within a column."""
    from pyspark.sql import functions as F

    frames = []
    for column in columns:
        frame = events.groupBy(F.coalesce(F.col(column).cast("string"), F.lit("unknown")).alias("value")).agg(
            F.count(F.lit(1)).alias("events"), F.countDistinct(user).alias("users")).toPandas()
        frame.insert(0, "column", column)
        total = frame["events"].sum()
        frame["share"] = frame["events"] / total if total else 0.0
        frames.append(frame.sort_values(["events", "value"], ascending=[False, True]))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return out.reindex(columns=["column", "value", "events", "share", "users"])


def plot_value_counts(counts: pd.DataFrame, title: str, *, ncols: int = 2) -> Figure:
    """One panel per column of :func:`value_counts`: horizontal bars of events per value,
    labelled with their share."""
    if counts.empty:
        return empty_chart(title, "no events")
    columns = list(dict.fromkeys(counts["column"]))
    tallest = counts.groupby("column").size().max()
    fig = figure(5 * min(ncols, len(columns)), (0.32 * tallest + 1.3) * math.ceil(len(columns) / ncols) + 0.5)
    for ax, column in zip(axes_grid(fig, len(columns), min(ncols, len(columns))), columns):
        part = counts[counts["column"] == column]
        y = np.arange(len(part))
        ax.barh(y, part["events"], color=BAR_COLOR)
        for yi, n, share in zip(y, part["events"], part["share"]):
            ax.annotate(f"{share:.1%}", (n, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
        ax.set_yticks(y, part["value"])
        ax.invert_yaxis()
        ax.set_xlabel("events")
        ax.set_ylabel(column)
        ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
        ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        ax.margins(x=0.18)
        ax.set_title(f"by {column}", fontsize=10)
        tidy(ax, grid_axis="x")
    fig.suptitle(title)
    return fig


def activity_distribution(events, key: str | Sequence[str] = "user_id", *, by: str | None = None) -> pd.DataFrame:
    """A count of counts: how many entities (`key`, e.g. user_id, or user_id and a
    month) have exactly n rows; with `by` (e.g. event_type) per value of it, counting
    only the entities with at least one row of that value. Columns: [by], events (n),
    entities; small (one row per distinct n), exact."""
    from pyspark.sql import functions as F

    keys = _keys(key) + ([by] if by else [])
    per_entity = events.groupBy(*keys).agg(F.count(F.lit(1)).alias("events"))
    group = ([by] if by else []) + ["events"]
    frame = per_entity.groupBy(*group).agg(F.count(F.lit(1)).alias("entities")).toPandas()
    return frame.sort_values(group).reset_index(drop=True)


def activity_stats(distribution: pd.DataFrame, *, by: str | None = None) -> pd.DataFrame:
    """Per group of :func:`activity_distribution` (or overall): entities, events,
    mean, median, p90, p99 and max events per entity."""
    groups = distribution.groupby(by, sort=True) if by else [("all", distribution)]
    rows = []
    for name, part in groups:
        part = part.sort_values("events")
        n, weights = part["events"].to_numpy(), part["entities"].to_numpy()
        cumulative = np.cumsum(weights) / weights.sum()
        p50, p90, p99 = (float(n[min(np.searchsorted(cumulative, q), len(n) - 1)]) for q in (0.5, 0.9, 0.99))
        rows.append({by or "group": name, "entities": int(weights.sum()), "events": int((n * weights).sum()),
                     "mean": float((n * weights).sum() / weights.sum()), "median": p50, "p90": p90, "p99": p99,
                     "max": int(n.max())})
    return pd.DataFrame(rows)


def plot_activity_histogram(distribution: pd.DataFrame, title: str, *, by: str | None = None,
                            unit: str = "users", what: str = "events", bins: int = 30) -> Figure:
    """Histogram of rows per entity from :func:`activity_distribution` on a log x axis:
    log-spaced bins (each covers about the same ratio) with edges between whole counts,
    so no bin falls between two counts; one outline per value of `by` when given, else
    filled bars, with the median marked. `unit` names the entities (plural), `what`
    the rows."""
    if distribution.empty:
        return empty_chart(title, f"no {what}")
    edges = np.unique(np.ceil(np.logspace(0, np.log10(distribution["events"].max() + 1), bins + 1))) - 0.5
    fig = figure(9, 4)
    ax = fig.subplots()
    if by:
        for value, part in distribution.groupby(by, sort=True):
            ax.hist(part["events"], bins=edges, weights=part["entities"], histtype="step", linewidth=1.8,
                    label=f"{value} ({part['entities'].sum():,} {unit})")
        ax.legend(frameon=False, fontsize=9)
    else:
        ax.hist(distribution["events"], bins=edges, weights=distribution["entities"], color=BAR_COLOR,
                edgecolor="white", linewidth=0.5)
        median = activity_stats(distribution).loc[0, "median"]
        ax.axvline(median, color="black", linestyle="--", linewidth=1)
        ax.annotate(f"median {median:,.0f}", (median, 1), xycoords=("data", "axes fraction"), xytext=(4, -12),
                    textcoords="offset points", fontsize=9)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.set_xlabel(f"{what} per {unit.removesuffix('s')} (log scale)")
    ax.set_ylabel(unit)
    tidy(ax)
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- popularity and the long tail


def top_entities(events, key: str = "user_id", n: int = 10) -> pd.DataFrame:
    """The `n` values of `key` with the most rows (ties by key): key, events."""
    from pyspark.sql import functions as F

    return (events.where(F.col(key).isNotNull()).groupBy(key).agg(F.count(F.lit(1)).alias("events"))
            .orderBy(F.desc("events"), key).limit(n).toPandas())


def item_popularity(events, item: str = "product_id", *, catalogue=None) -> pd.DataFrame:
    """One row per item, most events first (ties by item): item, events, rank (1 =
    most popular), share of all events, cumulative_share, item_share (rank / items).
    With `catalogue` (a DataFrame holding the `item` column), its items without an
    event are included with 0 events, so the tail counts the never-seen items too."""
    from pyspark.sql import functions as F

    counts = events.where(F.col(item).isNotNull()).groupBy(item).agg(F.count(F.lit(1)).alias("events"))
    if catalogue is not None:
        listed = catalogue.select(item).where(F.col(item).isNotNull()).distinct()
        counts = listed.join(counts, item, "full").fillna(0, subset=["events"])
    frame = counts.toPandas().sort_values(["events", item], ascending=[False, True]).reset_index(drop=True)
    total = frame["events"].sum()
    frame["events"] = frame["events"].astype("int64")
    frame["rank"] = np.arange(1, len(frame) + 1)
    frame["share"] = frame["events"] / total if total else 0.0
    frame["cumulative_share"] = frame["share"].cumsum()
    frame["item_share"] = frame["rank"] / max(len(frame), 1)
    return frame


def top_share(popularity: pd.DataFrame, fraction: float = 0.1) -> float:
    """Share of the events taken by the top `fraction` of the items of
    :func:`item_popularity` (at least one item)."""
    if popularity.empty:
        return 0.0
    top = max(1, math.ceil(fraction * len(popularity)))
    return float(popularity["share"].iloc[:top].sum())


def plot_long_tail(popularity: pd.DataFrame, title: str, *, fraction: float = 0.1, what: str = "events") -> Figure:
    """Two panels from :func:`item_popularity`: events per item by popularity rank (log
    y; items without events left out), and the cumulative share of the events against
    the share of the items, with the share taken by the top `fraction` marked."""
    if popularity.empty or popularity["events"].sum() == 0:
        return empty_chart(title, f"no {what}")
    fig = figure(12, 4.2)
    left, right = fig.subplots(1, 2)
    seen = popularity[popularity["events"] > 0]
    left.plot(seen["rank"], seen["events"], color=BAR_COLOR, linewidth=1.8)
    left.set_yscale("log")
    left.set_xlabel("item rank (1 = most popular)")
    left.set_ylabel(f"{what} per item (log scale)")
    unseen = len(popularity) - len(seen)
    left.set_title(f"{len(popularity):,} items, {unseen:,} without {what}", fontsize=10)
    tidy(left)
    x = np.concatenate([[0.0], popularity["item_share"].to_numpy()])
    y = np.concatenate([[0.0], popularity["cumulative_share"].to_numpy()])
    right.plot(100 * x, 100 * y, color=BAR_COLOR, linewidth=1.8, label="observed")
    right.plot([0, 100], [0, 100], color="grey", linestyle=":", linewidth=1, label="every item equally popular")
    share = top_share(popularity, fraction)
    right.axvline(100 * fraction, color=SEVERITY_COLORS["drop"], linestyle="--", linewidth=1)
    right.axhline(100 * share, color=SEVERITY_COLORS["drop"], linestyle="--", linewidth=1)
    right.annotate(f"top {fraction:.0%} of items: {share:.0%} of {what}", (100 * fraction, 100 * share),
                   xytext=(8, -16), textcoords="offset points", fontsize=9, color=SEVERITY_COLORS["drop"])
    right.set_xlim(0, 100)
    right.set_ylim(0, 101)
    right.set_xlabel("% of items (most popular first)")
    right.set_ylabel(f"cumulative % of {what}")
    right.legend(loc="lower right", frameon=False, fontsize=9)
    right.set_title("cumulative share", fontsize=10)
    tidy(right, grid_axis="both")
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- sparsity


def interaction_density(events, user: str = "user_id", item: str = "product_id", *,
                        users: int | None = None, items: int | None = None) -> pd.DataFrame:
    """One row: users, items, pairs (distinct user x item with at least one event),
    cells (users x items) and density (pairs / cells). Users and items default to
    those with an event; pass the population and catalogue sizes to count the silent
    ones too."""
    from pyspark.sql import functions as F

    row = events.where(F.col(user).isNotNull() & F.col(item).isNotNull()).agg(
        F.countDistinct(user).alias("users"), F.countDistinct(item).alias("items"),
        F.countDistinct(user, item).alias("pairs")).first()
    n_users, n_items = users or int(row["users"]), items or int(row["items"])
    cells = n_users * n_items
    return pd.DataFrame([{"users": n_users, "items": n_items, "pairs": int(row["pairs"]), "cells": cells,
                          "density": row["pairs"] / cells if cells else 0.0}])


def top_matrix(events, user: str = "user_id", item: str = "product_id", *, n_users: int = 40,
               n_items: int = 60) -> pd.DataFrame:
    """Events of the `n_users` most active users (rows, most active first) on the
    `n_items` most popular items (columns, most popular first); 0 where none."""
    from pyspark.sql import functions as F

    top_users = top_entities(events, user, n_users)[user].tolist()
    top_items = top_entities(events, item, n_items)[item].tolist()
    cells = (events.where(F.col(user).isin(top_users) & F.col(item).isin(top_items))
             .groupBy(user, item).agg(F.count(F.lit(1)).alias("events")).toPandas())
    matrix = cells.pivot_table(index=user, columns=item, values="events", aggfunc="sum", fill_value=0)
    return matrix.reindex(index=top_users, columns=top_items, fill_value=0).astype("int64")


def plot_interaction_heatmap(matrix: pd.DataFrame, title: str) -> Figure:
    """Heatmap of :func:`top_matrix`: events per user x item on a log colour scale,
    the empty cells white, with the share of filled cells in the title."""
    if matrix.empty:
        return empty_chart(title, "no events")
    values = matrix.to_numpy(dtype=float)
    filled = float((values > 0).mean())
    fig = figure(11, 0.12 * len(matrix) + 2.2)
    ax = fig.subplots()
    shown = np.ma.masked_where(values <= 0, values)
    image = ax.imshow(shown, aspect="auto", cmap="viridis", interpolation="nearest",
                      norm=LogNorm(vmin=1, vmax=max(values.max(), 2)))
    ax.set_facecolor("white")
    fig.colorbar(image, ax=ax, label="events (log scale)", shrink=0.9)
    ax.set_xlabel(f"the {matrix.shape[1]} most popular items (most popular left)")
    ax.set_ylabel(f"the {matrix.shape[0]} most active users")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"{title}\n{filled:.0%} of these cells hold an event")
    return fig


# --------------------------------------------------------------------------- quarantine


def plot_quarantined_by_rule(summary: pd.DataFrame, title: str) -> Figure:
    """Horizontal bars: quarantined rows per table and first failed rule (from
    :func:`utils.present.explore.quarantine_summary`), with their counts."""
    if summary.empty:
        return empty_chart(title, "the quarantine is empty: no row failed a drop rule")
    data = summary.sort_values("rows", ascending=False)
    fig = figure(9, 0.35 * len(data) + 1.5)
    ax = fig.subplots()
    y = np.arange(len(data))
    ax.barh(y, data["rows"], color=SEVERITY_COLORS["drop"])
    for yi, n in zip(y, data["rows"]):
        ax.annotate(f"{int(n):,}", (n, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(y, [f"{t}: {r}" for t, r in zip(data["table"], data["rule"])])
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("quarantined rows (log scale)")
    ax.set_ylabel("table: rule")
    ax.margins(x=0.15)
    tidy(ax, grid_axis="x")
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- label store


def label_summary(labels, user: str = "user_id", month: str = "feature_snapshot_date",
                  label: str = "label") -> pd.DataFrame:
    """One row per month end of a graded label store: users (with at least one item),
    items (label rows), items_per_user, and rows per grade (``grade_<g>``)."""
    from pyspark.sql import functions as F

    frame = labels.groupBy(month, label).agg(F.count(F.lit(1)).alias("rows"),
                                             F.countDistinct(user).alias("users")).toPandas()
    per_month = labels.groupBy(month).agg(F.countDistinct(user).alias("users"),
                                          F.count(F.lit(1)).alias("items")).toPandas()
    grades = frame.pivot_table(index=month, columns=label, values="rows", aggfunc="sum", fill_value=0)
    grades.columns = [f"grade_{g}" for g in grades.columns]
    out = per_month.set_index(month).join(grades).reset_index().sort_values(month)
    out["items_per_user"] = out["items"] / out["users"]
    out[month] = pd.to_datetime(out[month])
    return out[[month, "users", "items", "items_per_user", *grades.columns]].reset_index(drop=True)


def plot_label_grades(summary: pd.DataFrame, title: str, *, month: str = "feature_snapshot_date",
                      grade_names: Mapping[Any, str] | None = None) -> Figure:
    """Stacked bars of :func:`label_summary`: label rows per month end by grade, with
    the mean items per user on the right axis."""
    grades = [c for c in summary.columns if c.startswith("grade_")]
    if summary.empty or not grades:
        return empty_chart(title, "no label rows")
    fig = figure(10, 4)
    ax = fig.subplots()
    x = np.arange(len(summary))
    bottom = np.zeros(len(summary))
    for i, column in enumerate(grades):
        grade = column.removeprefix("grade_")
        name = (grade_names or {}).get(int(grade) if grade.isdigit() else grade, "")
        ax.bar(x, summary[column], width=0.7, bottom=bottom,
               color=GRADE_COLORS[i % len(GRADE_COLORS)], label=f"grade {grade}" + (f": {name}" if name else ""))
        bottom += summary[column].to_numpy()
    ax.set_xticks(x, pd.to_datetime(summary[month]).dt.strftime("%Y-%m-%d"))
    ax.set_xlabel("month end D (feature snapshot)")
    ax.set_ylabel("label rows (user x item)")
    tidy(ax)
    twin = ax.twinx()
    twin.plot(x, summary["items_per_user"], color="black", marker="o", linewidth=1.5,
              label="items per user (right)")
    twin.set_ylabel("items per user")
    twin.set_ylim(bottom=0)
    twin.spines[["top"]].set_visible(False)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.08, 1), frameon=False, fontsize=9)
    ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- evaluation


def read_evaluation(datamart: str | Path, domain: str = RECO_DOMAIN) -> dict:
    """The latest ``<datamart>/_models/<domain>/evaluation.json`` as a dict; raises
    FileNotFoundError naming the command that writes it."""
    path = Datamart(Path(datamart), domain).models / "evaluation.json"
    if not path.is_file():
        raise FileNotFoundError(f"no {path}; run `python main.py train --domain {domain} --datamart {datamart}`")
    return json.loads(path.read_text(encoding="utf-8"))


def evaluation_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """One row per model x segment (all, warm, cold) x K of an evaluation: model,
    segment, k, users and the metrics (precision, recall, ndcg, map, hit_rate,
    coverage); segments all, warm, cold, models in the report's order, K ascending."""
    rows = []
    for segment in SEGMENTS:
        for model, result in report["models"].items():
            by_k = result["metrics"].get(segment, {})
            for k in sorted(by_k, key=int):
                metrics = by_k[k]
                rows.append({"model": model, "segment": segment, "k": int(k), "users": metrics.get("users"),
                             **{m: metrics.get(m) for m in METRICS}})
    return pd.DataFrame(rows, columns=["model", "segment", "k", "users", *METRICS])


def model_runs(report: Mapping[str, Any]) -> pd.DataFrame:
    """One row per model of an evaluation: fit and recommend seconds, the users served
    from the popularity fallback, and the model's parameters."""
    return pd.DataFrame([{"model": name, "fit_seconds": r.get("fit_seconds"),
                          "recommend_seconds": r.get("recommend_seconds"), "fallback_users": r.get("fallback_users"),
                          "params": json.dumps(r.get("params", {}), sort_keys=True)}
                         for name, r in report["models"].items()])


def metrics_at_k(table: pd.DataFrame, metrics: Sequence[str] = ("ndcg", "precision", "recall"),
                 segments: Sequence[str] = ("warm", "cold")) -> pd.DataFrame:
    """:func:`evaluation_table` wide: one row per segment x model, one column per
    metric and K (``ndcg@10``), K ascending within a metric."""
    data = table[table["segment"].isin(segments)]
    wide = data.pivot_table(index=["segment", "model"], columns="k", values=list(metrics), aggfunc="first")
    wide = wide.reindex(columns=[(m, k) for m in metrics for k in sorted(data["k"].unique())])
    wide.columns = [f"{m}@{k}" for m, k in wide.columns]
    order = [(s, m) for s in segments for m in dict.fromkeys(table["model"]) if (s, m) in wide.index]
    return wide.reindex(pd.MultiIndex.from_tuples(order, names=["segment", "model"]))


def plot_model_comparison(table: pd.DataFrame, title: str, *, k: int = 10,
                          metrics: Sequence[str] = ("ndcg", "precision"),
                          segments: Sequence[str] = ("warm", "cold")) -> Figure:
    """One panel per metric at K from :func:`evaluation_table`: a group of bars per
    model, one bar per segment, labelled with its value."""
    data = table[(table["k"] == k) & table["segment"].isin(segments)]
    if data.empty:
        return empty_chart(title, f"no metrics at K = {k}")
    models = list(dict.fromkeys(data["model"]))
    fig = figure(5.5 * len(metrics), 4.2)
    width = 0.8 / len(segments)
    x = np.arange(len(models))
    for ax, metric in zip(axes_grid(fig, len(metrics), len(metrics)), metrics):
        for i, segment in enumerate(segments):
            part = data[data["segment"] == segment].set_index("model").reindex(models)
            users = part["users"].dropna()
            label = f"{segment} ({int(users.iloc[0]):,} users)" if len(users) else segment
            bars = ax.bar(x + (i - (len(segments) - 1) / 2) * width, part[metric].fillna(0), width,
                          color=SEGMENT_COLORS.get(segment, BAR_COLOR), label=label)
            ax.bar_label(bars, fmt="%.3f", fontsize=8, padding=2)
        ax.set_xticks(x, models)
        ax.set_xlabel("model")
        ax.set_ylabel(f"{metric}@{k}")
        ax.set_title(f"{metric}@{k}", fontsize=10)
        ax.set_ylim(0, 1.3 * max(float(data[metric].max()), 1e-9))  # room for the legend above the bars
        ax.legend(loc="upper left", ncols=len(segments), frameon=False, fontsize=9)
        tidy(ax)
    fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- retrieval


def latest_items(products, item: str = "product_id", *, order: str = "updated_at",
                 columns: Sequence[str] = ("title", "category", "price")) -> pd.DataFrame:
    """One row per item of a versioned catalogue (e.g. silver products): its latest
    version by `order`, with `columns`."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    latest = products.withColumn("__n", F.row_number().over(Window.partitionBy(item).orderBy(F.desc(order))))
    return latest.where(F.col("__n") == 1).select(item, *columns).orderBy(item).toPandas()


def retrieval_table(result: Mapping[str, Any], items: pd.DataFrame | None = None,
                    truth: pd.DataFrame | None = None, item: str = "product_id") -> pd.DataFrame:
    """The items of :func:`utils.ml.retrieve.top_k` as a frame (rank, item, score,
    source), with the item's descriptive columns from `items` and, from `truth` (item
    and label rows of what the user did next), the grade reached (0 = not touched)."""
    frame = pd.DataFrame(list(result["items"]), columns=["rank", "product_id", "score", "source"])
    frame = frame.rename(columns={"product_id": item})
    if items is not None:
        frame = frame.merge(items, on=item, how="left")
    if truth is not None:
        grades = truth.groupby(item)["label"].max()
        frame["next_grade"] = frame[item].map(grades).fillna(0).astype(int)
    return frame

