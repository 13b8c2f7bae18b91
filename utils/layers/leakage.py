"""Leakage guards and their record, `_meta/leakage` (Delta, one row per guard result).

- ``cutoff``: feature rows that read a source row dated beyond its cutoff (must be 0).
- ``replay``: gold rows dated <= D that change when gold is rebuilt from data cut at D
  (must be 0): the build at D did not look at anything after D.
- ``single_feature_auc``: AUC of each numeric feature alone against the label (as
  max(AUC, 1 - AUC)); above the threshold is an alarm, because one feature that
  almost separates the classes usually carries the label from the future.

A row's `domain` (after `run_id`) names the domain whose gold the guard checked; a
table written before the column existed gains it on the next append.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pyarrow as pa

from utils.lake import delta_io
from utils.lake.config import GoldSpec

logger = logging.getLogger(__name__)

SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("domain", pa.string()),
    ("guard", pa.string()),
    ("subject", pa.string()),
    ("value", pa.float64()),
    ("threshold", pa.float64()),
    ("passed", pa.bool_()),
    ("detail", pa.string()),
    ("checked_at", pa.timestamp("us", tz="UTC")),
])
MAX_AUC_ROWS = 200_000


def result(
    run_id: str, guard: str, subject: str, value: float, threshold: float, passed: bool, detail: str, *, domain: str,
) -> dict:
    """One row of `_meta/leakage` (SCHEMA), checked now."""
    return {"run_id": run_id, "domain": domain, "guard": guard, "subject": subject, "value": float(value),
            "threshold": float(threshold), "passed": bool(passed), "detail": detail,
            "checked_at": dt.datetime.now(dt.timezone.utc)}


def append(path: Path, rows: list[dict]) -> None:
    """Append guard rows to `_meta/leakage`; an older table gains new columns."""
    delta_io.append_rows(path, rows, SCHEMA, merge_schema=True)


def replay_mismatch(full, replay, cut: dt.date) -> int:
    """Rows dated <= cut present in one build and not the other (multiset difference)."""
    from pyspark.sql import functions as F

    # one pass over both builds (each computed once): +1 per full row, -1 per replayed
    # row, summed per distinct row; what does not cancel is in one build only
    columns = full.columns
    mine = full.where(F.col("snapshot_date") <= F.lit(cut)).select(*columns, F.lit(1).alias("_side"))
    theirs = replay.where(F.col("snapshot_date") <= F.lit(cut)).select(*columns, F.lit(-1).alias("_side"))
    net = mine.unionByName(theirs).groupBy(*columns).agg(F.sum("_side").alias("_net"))
    return int(net.agg(F.sum(F.abs("_net"))).first()[0] or 0)


def auc(labels, scores) -> float:
    """Area under the ROC curve of `scores` for binary `labels` (1 = positive): the
    Mann-Whitney U statistic from average ranks, so ties count one half, as in
    sklearn.metrics.roc_auc_score (without importing scikit-learn into every build)."""
    import numpy as np
    import pandas as pd

    y = np.asarray(labels) == 1
    ranks = pd.Series(np.asarray(scores, dtype=float)).rank(method="average").to_numpy()
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        raise ValueError("AUC needs both classes")
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def single_feature_auc(features, labels, spec: GoldSpec, seed: int = 7) -> dict[str, float]:
    """max(AUC, 1 - AUC) of every numeric feature alone, on (a sample of at most
    200,000) labelled rows; features with one class or under 50 values are skipped."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    numeric = [
        f.name for f in spec.features
        if isinstance(features.schema[f.name].dataType, T.NumericType)
    ]
    labelled = labels.select(F.col(spec.entity), F.col("feature_snapshot_date").alias("snapshot_date"), "label")
    total = labelled.count()  # at least the joined rows (one label per loan and definition)
    if total == 0:
        return {}
    if total > MAX_AUC_ROWS:
        labelled = labelled.sample(fraction=MAX_AUC_ROWS / total, seed=seed)
    joined = labelled.join(features.select(spec.entity, "snapshot_date", *numeric), on=[spec.entity, "snapshot_date"])
    # numbers only: doubles move through Arrow in one batch instead of row by row
    spark, arrow_key = joined.sparkSession, "spark.sql.execution.arrow.pyspark.enabled"
    before = spark.conf.get(arrow_key, "false")
    spark.conf.set(arrow_key, "true")
    try:
        frame = joined.select(F.col("label").cast("int"), *[F.col(n).cast("double") for n in numeric]).toPandas()
    finally:
        spark.conf.set(arrow_key, before)
    aucs: dict[str, float] = {}
    for name in numeric:
        pair = frame[["label", name]].dropna()
        if len(pair) < 50 or pair["label"].nunique() < 2 or pair[name].nunique() < 2:
            continue
        value = auc(pair["label"], pair[name])
        aucs[name] = max(value, 1.0 - value)
    return aucs
