"""The sanity classifier and the leakage guards: the out-of-time split, metrics per model,
confusion matrix, feature importance, and the guard results and single-feature AUCs of
`_meta/leakage`; with their charts."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .charts import ALARM_COLOR, BAR_COLOR, empty_chart, figure, tidy
from .quality import latest_run_id

logger = logging.getLogger(__name__)


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
    fig = figure(5.5, 4.8)
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
        return empty_chart(title, "no features")
    names = [t["feature"] for t in top]
    means = [t["importance_mean"] for t in top]
    stds = [t["importance_std"] for t in top]
    fig = figure(9, 0.32 * len(top) + 1.5)
    ax = fig.subplots()
    y = np.arange(len(top))
    ax.barh(y, means, xerr=stds, color=BAR_COLOR, ecolor="#555555", capsize=2)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("drop of test ROC AUC when the feature is shuffled")
    ax.set_ylabel("feature")
    tidy(ax, grid_axis="x")
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
        return empty_chart(title, "no single-feature AUC recorded")
    threshold = float(aucs["threshold"].iloc[0])
    fig = figure(9, 0.32 * len(aucs) + 1.6)
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
    tidy(ax, grid_axis="x")
    ax.set_title(title)
    return fig
