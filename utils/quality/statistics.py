"""Statistics fitted once: range bounds learned from a declared window, versioned.

`_meta/statistics` (Delta) holds one row per fitted statistic: domain, table, column,
method, its parameters, the fit window, `fit_version` and the result. A statistic is
identified by all of these (the domain too: two domains with a table of the same
name never share a fit); once stored it is reused by every later run and month, so
bounds never drift as new data arrives. Refit by changing `fit_version` (or the
window or k) in the YAML; the old rows stay for reproducibility.

Method `tukey`: lower = Q1 - k x IQR, upper = Q3 + k x IQR, quartiles from Spark's
approxQuantile (relative error 0.001) over the window's typed values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path

import pyarrow as pa

from utils.lake import delta_io

logger = logging.getLogger(__name__)

SCHEMA = pa.schema([
    ("stat_id", pa.string()),
    ("table", pa.string()),
    ("column", pa.string()),
    ("method", pa.string()),
    ("params", pa.string()),
    ("window_start", pa.date32()),
    ("window_end", pa.date32()),
    ("fit_version", pa.int64()),
    ("rows", pa.int64()),
    ("q1", pa.float64()),
    ("q3", pa.float64()),
    ("lower", pa.float64()),
    ("upper", pa.float64()),
    ("fitted_at", pa.timestamp("us", tz="UTC")),
    ("run_id", pa.string()),
    ("domain", pa.string()),
])


class StatisticsError(RuntimeError):
    """A statistic cannot be fitted (e.g. the window holds no data)."""


def stat_id(
    domain: str, table: str, column: str, method: str, params: dict, window: tuple[str, str], version: int,
) -> str:
    """The id of a statistic: a hash of everything that identifies it, its domain first."""
    body = json.dumps([domain, table, column, method, params, list(window), version], sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def load(path: Path, domain: str) -> dict[str, dict]:
    """The stored statistics of `domain`, by stat_id."""
    return {r["stat_id"]: r for r in delta_io.read_rows(path) if r.get("domain") == domain}


def fit_tukey_bounds(
    typed_df, columns: dict[str, float], *, domain: str, table: str, window: tuple[str, str], version: int,
    path: Path, run_id: str,
) -> dict[str, tuple[float | None, float | None]]:
    """Bounds per column of `domain`'s silver `table`: stored ones reused, missing ones
    fitted on `typed_df` rows whose snapshot_date lies in `window` and stored. `columns`
    maps column -> k."""
    from pyspark.sql import functions as F

    stored = load(path, domain)
    ids = {c: stat_id(domain, table, c, "tukey", {"k": k}, window, version) for c, k in columns.items()}
    missing = [c for c in columns if ids[c] not in stored]
    if missing:
        start, end = (dt.date.fromisoformat(w) for w in window)
        sample = typed_df.where(F.col("snapshot_date").between(F.lit(start), F.lit(end))).select(
            *[F.col(c).cast("double").alias(c) for c in missing]
        )
        counts = sample.agg(*[F.count(c).alias(c) for c in missing]).first().asDict()
        empty = [c for c in missing if counts[c] == 0]
        if empty:
            raise StatisticsError(
                f"silver/{table}: no values of {empty} in the fit window {window[0]}..{window[1]}; "
                "set fit_window to months that hold data"
            )
        quartiles = sample.approxQuantile(missing, [0.25, 0.75], 0.001)
        now = dt.datetime.now(dt.timezone.utc)
        rows = []
        for c, (q1, q3) in zip(missing, quartiles):
            k = columns[c]
            iqr = q3 - q1
            rows.append({
                "stat_id": ids[c], "table": table, "column": c, "method": "tukey",
                "params": json.dumps({"k": k}), "window_start": start, "window_end": end,
                "fit_version": version, "rows": counts[c], "q1": q1, "q3": q3,
                "lower": q1 - k * iqr, "upper": q3 + k * iqr, "fitted_at": now, "run_id": run_id,
                "domain": domain,
            })
            logger.info("silver/%s: fitted %s bounds [%.4g, %.4g] on %d values (%s..%s)",
                        table, c, q1 - k * iqr, q3 + k * iqr, counts[c], window[0], window[1])
        delta_io.append_rows(path, rows, SCHEMA, merge_schema=True)  # an older table gains `domain`
        stored = load(path, domain)
    return {c: (stored[ids[c]]["lower"], stored[ids[c]]["upper"]) for c in columns}
