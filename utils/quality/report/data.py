"""What the report shows, read from the datamart (small): the run and the previous
successful run, the run's `_meta` rows, the profile and its drift, a summary per table
(rows and quarantined rows at the run's versions, rule failures) and the quarantined
rows per silver table. Reads no Spark table."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from utils.lake import delta_io
from utils.lake.datamart import Datamart
from utils.lake.ledger import RunLedger
from utils.layers import leakage
from utils.quality import results as quality
from utils.quality.profile import profile_path, read_profile

from .drift import drift_table
from .rules import with_rule_labels

if TYPE_CHECKING:
    from .monitoring import MonitoringData

logger = logging.getLogger(__name__)

QUARANTINE = "silver/_quarantine"
MAX_HEATMAP_ROWS = 40
MAX_PSI_BARS = 40
TOP_REASONS = 5
SAMPLES_PER_REASON = 3
KEY_LIKE_SHARE = 0.9


class ReportError(RuntimeError):
    """The report cannot be built (message is one line and says what to do)."""


@dataclass
class TableSummary:
    """One line of the summary: a table as the run left it, and the previous run."""

    table: str
    version: int | None
    rows: int | None
    partitions: int
    prev_rows: int | None = None
    quarantined: int | None = None
    prev_quarantined: int | None = None
    rules: int = 0
    rules_failed: int = 0
    failed_checks: int | None = None
    prev_failed_checks: int | None = None


@dataclass
class ReportData:
    """Everything the report shows, read from the datamart (small)."""

    datamart: Path
    run: dict[str, Any]
    previous: dict[str, Any] | None
    tables: list[str]
    quality: pd.DataFrame
    accounting: pd.DataFrame
    leakage: pd.DataFrame
    profile: pd.DataFrame
    drift: pd.DataFrame
    summaries: list[TableSummary]
    quarantine: dict[str, pd.DataFrame] = field(default_factory=dict)
    monitoring: MonitoringData | None = None  # the domain's latest monitoring run


def successful_runs(datamart: Path) -> list[dict[str, Any]]:
    return RunLedger(Path(datamart) / "_meta" / "runs").successful_runs()


def resolve_run(datamart: str | Path, run_id: str | None = None, domain: str | None = None) -> dict[str, Any]:
    """The ledger row of `run_id`, or of the latest successful build (of `domain`)."""
    runs = RunLedger(Path(datamart) / "_meta" / "runs", domain=domain).builds()
    if not runs:
        raise ReportError(f"no run ledger at {Path(datamart) / '_meta' / 'runs'}; build the datamart first")
    if run_id is None:
        done = [r for r in runs if r["status"] == "success"]
        if not done:
            raise ReportError(f"{datamart}: no successful run in the ledger")
        return done[-1]
    for r in runs:
        if r["run_id"] == run_id:
            return r
    raise ReportError(f"{datamart}: no run {run_id} in the ledger")


def _meta_frame(path: Path, run_id: str, schema) -> pd.DataFrame:
    rows = quality.read(path, run_id)
    return pd.DataFrame(rows, columns=schema.names) if rows else pd.DataFrame(columns=schema.names)


def _versions(run: dict[str, Any] | None) -> dict[str, int]:
    """Table -> the Delta version `run` left it at (from its ledger row)."""
    if run is None:
        return {}
    return {o["table"]: o["version"] for o in run["outputs"] or [] if o["version"] is not None}


def _partition_rows(dm: Datamart, table: str, version: int | None) -> dict[tuple, int] | None:
    """Rows per partition of `table` (``<layer>/<name>``) at `version`, from its Delta log; None without it."""
    path = dm.path_of(table)
    if not delta_io.table_exists(path):
        return None
    try:
        return delta_io.view(path, version=version).partitions()
    except delta_io.TableMissingError:
        return None


def _quarantine_rows(dm: Datamart, version: int | None, tables: Iterable[str]) -> dict[str, pd.DataFrame]:
    """Quarantined rows per silver table (``silver/<name>``) at `version`."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    path = dm.path_of(QUARANTINE)
    if not delta_io.table_exists(path):
        return {}
    table = DeltaTable(str(path))
    if version is not None:
        table.load_as_version(int(version))
    names = [t.split("/", 1)[1] for t in tables if t.startswith("silver/")]
    columns = ["table", "rule", "reason", "failed_rules", "raw_values", "_malformed_record", "_source_file",
               "_source_line", "snapshot_date"]
    data = table.to_pyarrow_dataset().to_table(columns=columns, filter=pc.field("table").isin(names)).to_pandas()
    return {f"silver/{name}": rows.reset_index(drop=True) for name, rows in data.groupby("table")}


def load_report_data(datamart: str | Path, run_id: str | None = None) -> ReportData:
    """Read what the report of `run_id` (default: latest successful run) shows."""
    root = Path(datamart)
    run = resolve_run(root, run_id)
    dm = Datamart(root, run["domain"])  # the run's tables: <layer>/<domain>/<table>
    earlier = [r for r in successful_runs(root)
               if r["started_at"] < run["started_at"] and r["domain"] == run["domain"]]
    previous = earlier[-1] if earlier else None
    meta = root / "_meta"
    q = _meta_frame(meta / "quality", run["run_id"], quality.QUALITY_SCHEMA)
    prev_q = _meta_frame(meta / "quality", previous["run_id"], quality.QUALITY_SCHEMA) if previous else None
    acc = _meta_frame(meta / "accounting", run["run_id"], quality.ACCOUNTING_SCHEMA)
    leak = _meta_frame(meta / "leakage", run["run_id"], leakage.SCHEMA)
    profile = read_profile(profile_path(root), run["run_id"])
    if profile.empty:
        logger.warning("run %s has no profile in %s; distributions, missing values and drift are left out "
                       "(python -m utils.quality.report profiles it)", run["run_id"], profile_path(root))

    versions, prev_versions = _versions(run), _versions(previous)
    outputs = {o["table"] for o in run["outputs"] or [] if o["layer"] in ("silver", "gold") and o["table"] != QUARANTINE}
    tables = sorted(outputs | set(profile["table"]), key=lambda t: (not t.startswith("silver/"), t))
    q_parts = _partition_rows(dm, QUARANTINE, versions.get(QUARANTINE)) or {}
    prev_q_parts = _partition_rows(dm, QUARANTINE, prev_versions.get(QUARANTINE)) if previous else None

    summaries = []
    for t in tables:
        parts = _partition_rows(dm, t, versions.get(t))
        prev_parts = _partition_rows(dm, t, prev_versions.get(t)) if previous and t in prev_versions else None
        s = TableSummary(t, versions.get(t), sum(parts.values()) if parts is not None else None,
                         len(parts or {}), sum(prev_parts.values()) if prev_parts is not None else None)
        if t.startswith("silver/"):
            name = t.split("/", 1)[1]
            s.quarantined = sum(n for k, n in q_parts.items() if k[0] == name)
            if prev_q_parts is not None:
                s.prev_quarantined = sum(n for k, n in prev_q_parts.items() if k[0] == name)
            rules = q[q["table"] == t]
            if not rules.empty:
                per_rule = with_rule_labels(rules).groupby("label")["rows_failed"].sum()
                s.rules, s.rules_failed, s.failed_checks = len(per_rule), int((per_rule > 0).sum()), int(per_rule.sum())
            if prev_q is not None and not prev_q[prev_q["table"] == t].empty:
                s.prev_failed_checks = int(prev_q[prev_q["table"] == t]["rows_failed"].sum())
        summaries.append(s)
    from .monitoring import load_monitoring

    return ReportData(root, run, previous, tables, q, acc, leak, profile, drift_table(profile), summaries,
                      _quarantine_rows(dm, versions.get(QUARANTINE), tables), load_monitoring(root, run["domain"]))


def profile_of(data: ReportData, table: str) -> pd.DataFrame:
    """The profile rows of `table`."""
    return data.profile[data.profile["table"] == table]
