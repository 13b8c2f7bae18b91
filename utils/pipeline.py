"""The build: which layers run, in which order, and what every run records.

`run_pipeline` checks every selected source before anything is written, runs the
requested layers, and appends the run to the ledger (`_meta/runs`) at start and end,
failed runs included. Spark starts only when a layer has work to do, so a rerun on
unchanged inputs finishes in about a second.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from utils import bronze, delta_io
from utils.config import DomainConfig
from utils.ledger import InputRecord, OutputRecord, RunLedger, RunRecord

logger = logging.getLogger(__name__)

LAYERS = ("bronze", "silver", "gold")
IMPLEMENTED_LAYERS = ("bronze",)


class PipelineError(RuntimeError):
    """The run cannot go on; the message says why in one line."""


@dataclass(frozen=True)
class Datamart:
    """The folder layout of a datamart: one root, every table under it."""

    root: Path

    def table(self, layer: str, name: str) -> Path:
        return self.root / layer / name

    @property
    def runs(self) -> Path:
        return self.root / "_meta" / "runs"

    @property
    def logs(self) -> Path:
        return self.root / "_meta" / "logs"


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
    run_id: str = field(default_factory=lambda: new_run_id())


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
    if options.start and options.end and options.start > options.end:
        raise PipelineError(f"--start {options.start} is after --end {options.end}")


def run_pipeline(
    config: DomainConfig,
    options: RunOptions,
    get_spark: Callable[[], object],
    progress: Progress | None = None,
) -> RunRecord:
    """Build the requested layers and record the run. Raises on failure (after
    recording it as failed in the ledger)."""
    progress = progress or Progress()
    validate_options(config, options)
    datamart = Datamart(Path(options.datamart))
    ledger = RunLedger(datamart.runs)
    record = RunRecord(
        run_id=options.run_id,
        domain=config.domain,
        layers=list(options.layers),
        options={
            "data_root": str(options.data_root), "datamart": str(options.datamart),
            "start": options.start, "end": options.end, "full_refresh": options.full_refresh,
            "sources": options.sources, "config_file": str(config.file),
        },
        config_hash=config.config_hash,
        started_at=dt.datetime.now(dt.timezone.utc),
    )
    # check every input before anything is written or recorded: a run that cannot
    # start changes no table, the ledger included
    selected = [config.sources[s] for s in (options.sources or config.sources)]
    files = [bronze.inspect_source(source, Path(options.data_root)) for source in selected]
    ledger.append(record)
    try:
        if "bronze" in options.layers:
            build_bronze(files, options, datamart, ledger, record, get_spark, progress)
    except BaseException as exc:
        progress.stop()
        record.status = "failed"
        record.error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        record.ended_at = dt.datetime.now(dt.timezone.utc)
        ledger.append(record)
        raise
    progress.stop()
    record.status = "success"
    record.ended_at = dt.datetime.now(dt.timezone.utc)
    ledger.append(record)
    return record


def fingerprint(*parts) -> str:
    """Hash of everything an output table is built from."""
    body = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def build_bronze(
    files: Iterable[bronze.SourceFile],
    options: RunOptions,
    datamart: Datamart,
    ledger: RunLedger,
    record: RunRecord,
    get_spark: Callable[[], object],
    progress: Progress,
) -> None:
    """Land every source file in `bronze/<source>`; skip a file when the table was last
    written from the same content hash, reading options and date range and nobody has
    written it since, unless `options.full_refresh`."""
    files = list(files)
    progress.start(len(files), "bronze")
    for sf in files:
        began = time.perf_counter()
        table_path = datamart.table("bronze", sf.source.name)
        inp = InputRecord(
            source=sf.source.name, path=str(sf.path), sha256=sf.sha256, bytes=sf.size,
            source_config_hash=sf.source.fingerprint(), range_start=options.start, range_end=options.end,
        )
        record.inputs.append(inp)
        name = f"bronze/{sf.source.name}"
        fp = fingerprint(sf.sha256, inp.source_config_hash, options.start, options.end)
        current_version = delta_io.table_version(table_path)
        if not options.full_refresh and ledger.unchanged(name, fp, current_version):
            inp.skipped = True
            logger.info("bronze/%s: %s unchanged since version %s, skipped", sf.source.name, sf.path.name, current_version)
            record.outputs.append(OutputRecord(
                "bronze", name, str(table_path), current_version,
                0, 0, 0, 0, time.perf_counter() - began, "unchanged", fp,
            ))
            progress.advance(sf.source.name)
            continue

        spark = get_spark()
        ingested_at = record.started_at
        df = bronze.parse_bronze(
            bronze.read_numbered_lines(spark, sf.path), sf, run_id=record.run_id, ingested_at=ingested_at
        )
        ranged = options.start is not None or options.end is not None
        if ranged:
            df = bronze.restrict_to_range(df, options.start, options.end)
            existing = delta_io.list_partitions(table_path) if current_version is not None else {}
            replace = [None] + [
                dt.date.fromisoformat(k[0]) for k in existing
                if k[0] is not None
                and (options.start is None or dt.date.fromisoformat(k[0]) >= options.start)
                and (options.end is None or dt.date.fromisoformat(k[0]) <= options.end)
            ]
            result = delta_io.write_table(
                df, table_path, mode="overwrite_partitions", partitions=replace,
                metadata={"run_id": record.run_id, "source_sha256": sf.sha256},
            )
        else:
            result = delta_io.write_table(
                df, table_path, mode="overwrite",
                metadata={"run_id": record.run_id, "source_sha256": sf.sha256},
            )
        null_rows = result.partitions.get(f"{bronze.PARTITION_COLUMN}={delta_io.NULL_PARTITION}", 0)
        if null_rows:
            logger.warning(
                "bronze/%s: %d row(s) have a %s that none of the formats %s parses; "
                "they are kept with a null snapshot_date",
                sf.source.name, null_rows, sf.source.date_column, list(sf.source.date_formats),
            )
        record.outputs.append(OutputRecord(
            "bronze", name, str(table_path), result.version, result.rows, null_rows,
            len(result.partitions), result.removed_files, time.perf_counter() - began,
            "written" if result.changed else "unchanged", fp,
        ))
        logger.info(
            "bronze/%s: %d rows in %d partitions -> version %s (%.1fs)",
            sf.source.name, result.rows, len(result.partitions), result.version, time.perf_counter() - began,
        )
        progress.advance(sf.source.name)
