"""Quality results and row accounting, stored per run in `_meta` (Delta, via delta-rs).

`_meta/quality`: one row per run, table, partition and rule: rows checked, rows failed,
kind (builtin | cleaning | rule), severity, action taken.
`_meta/accounting`: one row per run, silver table and partition: bronze rows, silver
rows, quarantined rows and whether ``bronze = silver + quarantine`` held (a run where
it does not hold fails before committing anything). There is no de-duplication
term: duplicate keys are quarantined by `unique_*` rules, not dropped.

Both tables hold every domain of the datamart: `domain` (after `run_id`) names the
domain whose table a row is about (``table`` stays ``<layer>/<name>``, as the ledger
names it). A table written before the column existed gains it on the next append
(its older rows read null).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from utils.lake import delta_io

QUALITY_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("domain", pa.string()),
    ("table", pa.string()),
    ("snapshot_date", pa.date32()),
    ("rule", pa.string()),
    ("kind", pa.string()),
    ("severity", pa.string()),
    ("action", pa.string()),
    ("rows_checked", pa.int64()),
    ("rows_failed", pa.int64()),
    ("checked_at", pa.timestamp("us", tz="UTC")),
])
ACCOUNTING_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("domain", pa.string()),
    ("table", pa.string()),
    ("snapshot_date", pa.date32()),
    ("bronze_rows", pa.int64()),
    ("silver_rows", pa.int64()),
    ("quarantined_rows", pa.int64()),
    ("balanced", pa.bool_()),
    ("checked_at", pa.timestamp("us", tz="UTC")),
])


class QualityError(RuntimeError):
    """A `fail` rule failed; nothing of the layer was written."""


class AccountingError(RuntimeError):
    """bronze != silver + quarantine for some partition; nothing of the layer was written."""


def append(path: Path, rows: list[dict], schema: pa.Schema) -> None:
    """Append rows of `schema` to a `_meta` table; an older table gains new columns."""
    delta_io.append_rows(path, rows, schema, merge_schema=True)


def read(path: Path, run_id: str | None = None) -> list[dict]:
    """Rows of a `_meta` table (all runs, or one)."""
    return [r for r in delta_io.read_rows(path) if run_id is None or r["run_id"] == run_id]


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
