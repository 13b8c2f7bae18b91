"""Run ledger `_meta/runs`: one Delta table that says what every run did.

Append-only. A run appends a ``running`` row when it starts and a final row (``success``
or ``failed``) when it ends; :func:`latest_runs` keeps the last row per run, so a run
killed mid-way stays visible as ``running``. Each row holds the run id, start and end
times, status, error, code version (git sha when available), config hash, the command
line options, the input files with their content hashes, and the output tables with
their Delta versions and row counts. The ledger is tiny, so delta-rs writes it directly
from Arrow; a JSON copy of each final record lands in `_meta/run_records/<run_id>.json`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from utils.lake import delta_io

logger = logging.getLogger(__name__)

from utils.lake.paths import PROJECT_ROOT  # noqa: E402  (resolved once, in utils.lake.paths)

INPUT_TYPE = pa.struct(
    [
        ("source", pa.string()),
        ("path", pa.string()),
        ("sha256", pa.string()),
        ("bytes", pa.int64()),
        ("source_config_hash", pa.string()),
        ("range_start", pa.date32()),
        ("range_end", pa.date32()),
        ("skipped", pa.bool_()),
    ]
)
OUTPUT_TYPE = pa.struct(
    [
        ("layer", pa.string()),
        ("table", pa.string()),
        ("path", pa.string()),
        ("version", pa.int64()),
        ("rows_written", pa.int64()),
        ("rows_null_date", pa.int64()),
        ("rows_quarantined", pa.int64()),
        ("partitions_written", pa.int64()),
        ("files_removed", pa.int64()),
        ("seconds", pa.float64()),
        ("status", pa.string()),
        ("fingerprint", pa.string()),
    ]
)
SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("status", pa.string()),
        ("started_at", pa.timestamp("us", tz="UTC")),
        ("ended_at", pa.timestamp("us", tz="UTC")),
        ("seconds", pa.float64()),
        ("domain", pa.string()),
        ("layers", pa.list_(pa.string())),
        ("options", pa.string()),
        ("code_version", pa.string()),
        ("config_hash", pa.string()),
        ("error", pa.string()),
        ("inputs", pa.list_(INPUT_TYPE)),
        ("outputs", pa.list_(OUTPUT_TYPE)),
    ]
)


@dataclass
class InputRecord:
    source: str
    path: str
    sha256: str
    bytes: int
    source_config_hash: str
    range_start: dt.date | None
    range_end: dt.date | None
    skipped: bool = False


@dataclass
class OutputRecord:
    layer: str
    table: str
    path: str
    version: int | None
    rows_written: int
    rows_null_date: int
    rows_quarantined: int
    partitions_written: int
    files_removed: int
    seconds: float
    status: str  # written | unchanged
    fingerprint: str = ""  # hash of everything the table was built from


@dataclass
class RunRecord:
    run_id: str
    domain: str
    layers: list[str]
    options: dict[str, Any]
    config_hash: str
    started_at: dt.datetime
    status: str = "running"
    ended_at: dt.datetime | None = None
    code_version: str = field(default_factory=lambda: code_version())
    error: str | None = None
    inputs: list[InputRecord] = field(default_factory=list)
    outputs: list[OutputRecord] = field(default_factory=list)

    @property
    def seconds(self) -> float | None:
        return (self.ended_at - self.started_at).total_seconds() if self.ended_at else None

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["options"] = json.dumps(self.options, sort_keys=True, default=str)
        row["seconds"] = self.seconds
        return row


def code_version() -> str:
    """The git commit of the project (with ``-dirty`` for local changes), else 'unknown'."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=PROJECT_ROOT,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT,
            capture_output=True, text=True, timeout=10, check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        logger.debug("no git version: %s", exc)
        return "unknown"
    return f"{sha}-dirty" if dirty else sha


class RunLedger:
    """Append and query run records in the Delta table at `path`."""

    def __init__(self, path: Path, domain: str | None = None):
        """`domain`: look only at that domain's runs (the ledger of a datamart holds the
        runs of every domain; appending is unaffected)."""
        self.path = Path(path)
        self.domain = domain
        self.records_dir = self.path.parent / "run_records"

    def append(self, record: RunRecord) -> None:
        # merge: ledgers written by older versions gain the new fields
        delta_io.append_rows(self.path, [record.to_row()], SCHEMA, merge_schema=True)
        if record.status != "running":
            self.records_dir.mkdir(parents=True, exist_ok=True)
            self.record_path(record.run_id).write_text(
                json.dumps(record.to_row(), indent=2, default=str) + "\n", encoding="utf-8"
            )

    def record_path(self, run_id: str) -> Path:
        return self.records_dir / f"{run_id}.json"

    def latest_runs(self) -> list[dict[str, Any]]:
        """The last row of every run, oldest run first."""
        rows = [r for r in delta_io.read_rows(self.path) if self.domain is None or r["domain"] == self.domain]
        last: dict[str, dict[str, Any]] = {}
        for row in sorted(rows, key=lambda r: (r["started_at"], r["ended_at"] is not None, r["ended_at"] or r["started_at"])):
            last[row["run_id"]] = row
        return sorted(last.values(), key=lambda r: r["started_at"])

    def builds(self) -> list[dict[str, Any]]:
        """The last row of every run that built tables (collection rounds, whose layers
        are ["landing"], left out), oldest first."""
        return [r for r in self.latest_runs() if list(r["layers"] or []) != ["landing"]]

    def successful_runs(self) -> list[dict[str, Any]]:
        """The last row of every run that succeeded, oldest run first."""
        return [r for r in self.latest_runs() if r["status"] == "success"]

    def last_write_record(self, table: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """(run, output) of the newest successful run that wrote `table` (a name such as
        ``bronze/<source>``, so a datamart can be moved) or found it already as its
        inputs make it, or None."""
        for run in reversed(self.successful_runs()):
            for o in run["outputs"] or []:
                if o["table"] == table and o["version"] is not None and o["fingerprint"] and (
                        o["status"] in ("written", "unchanged")):
                    return run, o
        return None

    def last_write(self, table: str) -> tuple[str, int] | None:
        """(fingerprint, version) of the newest successful write of `table`, or None."""
        found = self.last_write_record(table)
        return None if found is None else (found[1]["fingerprint"], found[1]["version"])

    def unchanged(self, table: str, fingerprint: str, current_version: int | None) -> bool:
        """True when `table` was last written from the same fingerprint and nobody has
        written it since (its current version is the one recorded)."""
        last = self.last_write(table)
        return last is not None and current_version is not None and last == (fingerprint, current_version)
