"""What the layer builders of one run share: the options, the build context, staged
writes waiting for their commit, fingerprints of what a table is built from."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from utils.lake import delta_io
from utils.lake.config import DomainConfig
from utils.lake.datamart import Datamart
from utils.lake.ledger import OutputRecord, RunLedger, RunRecord

logger = logging.getLogger(__name__)

LAYERS = ("bronze", "silver", "gold")
IMPLEMENTED_LAYERS = ("bronze", "silver", "gold")


class PipelineError(RuntimeError):
    """The run cannot go on; the message says why in one line."""


@dataclass(frozen=True)
class RunOptions:
    """What to build; the command line fills it."""

    data_root: Path
    datamart: Path
    layers: tuple[str, ...] = IMPLEMENTED_LAYERS
    start: dt.date | None = None
    end: dt.date | None = None
    full_refresh: bool = False
    sources: tuple[str, ...] | None = None
    replay_quarantine: bool = False
    pii_key: bytes | None = None
    overrides: tuple[str, ...] = ()  # the --set KEY=VALUE the configuration was loaded with
    run_id: str = field(default_factory=lambda: new_run_id())


@dataclass(frozen=True)
class Change:
    """A table this run rewrites only in part: the identity the committed table had
    before this run (what a downstream table's fingerprint was computed from) and the
    snapshot_date partitions it replaces (ISO text; None = rows without a date)."""

    previous: str
    partitions: frozenset


@dataclass(frozen=True)
class Build:
    """What every layer builder of one run shares."""

    config: DomainConfig
    options: RunOptions
    datamart: Datamart
    ledger: RunLedger
    record: RunRecord
    get_spark: Callable[[], object]
    progress: Progress
    changes: dict[str, Change] = field(default_factory=dict)  # table name -> partial rewrite


@dataclass
class PendingWrite:
    """A staged table write, its ledger entry, and what to do once it is committed."""

    staged: delta_io.StagedWrite
    output: OutputRecord
    after_commit: Callable[[OutputRecord], None] | None = None

    def commit(self) -> None:
        result = self.staged.commit()
        # nothing to commit: the table as it stands is what this build makes
        self.output.version = result.version if result.changed else delta_io.table_version(self.staged.path)
        self.output.files_removed = result.removed_files
        self.output.status = "written" if result.changed else "unchanged"
        if self.after_commit is not None:
            self.after_commit(self.output)


def new_run_id() -> str:
    return f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


class Progress:
    """Hooks for a progress view; the default does nothing (library use, tests)."""

    def start(self, total: int, label: str) -> None: ...
    def advance(self, label: str) -> None: ...
    def stop(self) -> None: ...


def validate_options(config: DomainConfig, options: RunOptions) -> None:
    unknown = [layer for layer in options.layers if layer not in LAYERS]
    if unknown:
        raise PipelineError(f"unknown layer(s) {unknown}; choose from {', '.join(LAYERS)}")
    missing = [layer for layer in options.layers if layer not in IMPLEMENTED_LAYERS]
    if missing:
        raise PipelineError(
            f"layer(s) {missing} are not available in this version (available: {', '.join(IMPLEMENTED_LAYERS)})"
        )
    if options.sources:
        bad = [s for s in options.sources if s not in config.sources]
        if bad:
            raise PipelineError(f"unknown source(s) {bad}; {config.file} declares {', '.join(config.sources)}")
    if options.replay_quarantine and "silver" not in options.layers:
        raise PipelineError("--replay-quarantine re-processes silver; include silver in --layers")
    if options.start and options.end and options.start > options.end:
        raise PipelineError(f"--start {options.start} is after --end {options.end}")


def partitions_in_range(path: Path, start: dt.date | None, end: dt.date | None) -> list[dt.date]:
    """The existing snapshot_date partitions of a table within [start, end]."""
    if not delta_io.table_exists(path):
        return []
    dates = [dt.date.fromisoformat(k[0]) for k in delta_io.list_partitions(path) if k[0] is not None]
    return [d for d in dates if (start is None or d >= start) and (end is None or d <= end)]


def fingerprint(*parts) -> str:
    """Hash of everything an output table is built from."""
    body = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def committed_identity(ledger: RunLedger, table: str, path: Path) -> str:
    """What a committed table was built from: its ledger fingerprint while nobody wrote
    it since, else its Delta version."""
    version = delta_io.table_version(path)
    last = ledger.last_write(table)
    return last[0] if last is not None and last[1] == version else f"version:{version}"
