"""Training sets from the gold stores, point-in-time by construction, reproducible by version.

    from utils.ml.feature_store import training_set
    df = training_set(spark, "datamart", label_def="30dpd_6mob",
                      features=["age", "debt_to_income"], start="2023-01-01", end="2024-06-01")

joins every label of `label_def` to the feature row of its customer at the label's
`feature_snapshot_date` (the label month minus the label's MOB: the offset belongs to
the label definition, not to the notebook). `start`/`end` filter on that feature date.
`versions={"feature_store": 3, "label_store": 2}` or `as_of="2026-11-23T10:00:00Z"`
read older versions of the tables (Delta time travel), so a training set can be
rebuilt exactly as it was.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from utils.lake import delta_io
from utils.lake.datamart import Datamart

#: The domain whose stores are read when none is named (the course domain).
DEFAULT_DOMAIN = "loan_default"

KEY_COLUMNS = ("loan_id", "customer_id", "feature_snapshot_date", "label_date", "label_def", "label")


def _date(value: Any) -> dt.date | None:
    """A date from a date, 'YYYY-MM-DD' or 'YYYY-MM' (the first of that month)."""
    if value is None or isinstance(value, dt.date):
        return value
    text = str(value)
    return dt.date.fromisoformat(text if len(text) > 7 else f"{text}-01")


def store_versions(datamart: str | Path, versions: dict[str, int] | None = None, as_of: Any = None,
                   *, domain: str = DEFAULT_DOMAIN) -> dict[str, int]:
    """The Delta versions a training set reads (for the record of a model)."""
    out = {}
    for name in ("feature_store", "label_store"):
        path = Datamart(Path(datamart), domain).table("gold", name)
        if versions and name in versions:
            out[name] = int(versions[name])
        elif as_of is not None:
            out[name] = delta_io.version_at(path, as_of)
        else:
            out[name] = delta_io.table_version(path)
    return out


def training_set(
    spark,
    datamart: str | Path,
    *,
    label_def: str = "30dpd_6mob",
    features: list[str] | None = None,
    start: Any = None,
    end: Any = None,
    versions: dict[str, int] | None = None,
    as_of: Any = None,
    entity: str = "customer_id",
    domain: str = DEFAULT_DOMAIN,
):
    """One row per labelled loan: keys, label and the features known at application.

    Columns: loan_id, customer_id, feature_snapshot_date, label_date, label_def,
    label, then `features` (default: every feature column of the store, without the
    lineage columns has_<source> and _asof_<source>).
    """
    from pyspark.sql import functions as F

    gold = Datamart(Path(datamart), domain)
    chosen = store_versions(datamart, versions, as_of, domain=domain)
    labels = delta_io.read_table(spark, gold.table("gold", "label_store"), version=chosen["label_store"])
    store = delta_io.read_table(spark, gold.table("gold", "feature_store"), version=chosen["feature_store"])
    sources = {c[len("_asof_"):] for c in store.columns if c.startswith("_asof_")}
    lineage = {f"has_{s}" for s in sources} | {f"_asof_{s}" for s in sources}
    known = [c for c in store.columns if c not in (entity, "snapshot_date") and c not in lineage]
    wanted = features if features is not None else known
    missing = [f for f in wanted if f not in store.columns]
    if missing:
        raise KeyError(f"feature(s) {missing} not in gold/feature_store version {chosen['feature_store']}")
    labels = labels.where(F.col("label_def") == label_def)
    if _date(start) is not None:
        labels = labels.where(F.col("feature_snapshot_date") >= F.lit(_date(start)))
    if _date(end) is not None:
        labels = labels.where(F.col("feature_snapshot_date") <= F.lit(_date(end)))
    rows = labels.select(
        "loan_id", F.col("customer_id").alias(entity), "feature_snapshot_date",
        F.col("snapshot_date").alias("label_date"), "label_def", "label",
    )
    feats = store.select(F.col(entity), F.col("snapshot_date").alias("feature_snapshot_date"), *wanted)
    return rows.join(feats, on=[entity, "feature_snapshot_date"], how="left").select(
        "loan_id", entity, "feature_snapshot_date", "label_date", "label_def", "label", *wanted
    )
