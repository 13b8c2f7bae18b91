"""Drift between two partitions of a column: the population stability index (PSI) of
two stored histograms, its bands, and the drift table of a profile (first against
latest partition with values, per table and column)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

PSI_BANDS = (0.1, 0.25)
PSI_EPSILON = 1e-4


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
