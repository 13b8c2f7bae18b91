"""The run's rule results: ``rules.csv`` (the `_meta/quality` rows, unchanged) written
and read back, and the rule totals the pages and the HTML show."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pandas as pd

from utils.quality import results as quality


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
