"""The build: which layers run, in which order, and what every run records.

`run_pipeline` checks every selected source before anything is written, runs the
requested layers, and appends the run to the ledger (`_meta/runs`) at start and end,
failed runs included. Spark starts only when a layer has work to do, so a rerun on
unchanged inputs finishes in about a second.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from utils.ingest import collect, landing
from utils.lake import delta_io
from utils.lake.config import DomainConfig
from utils.lake.datamart import Datamart
from utils.lake.ledger import RunLedger, RunRecord
from utils.layers import bronze
from utils.layers.build_bronze import build_bronze
from utils.layers.build_gold import LeakageError, build_gold
from utils.layers.build_silver import build_silver, silver_order
from utils.layers.run import (
    IMPLEMENTED_LAYERS,
    LAYERS,
    Build,
    Change,
    PendingWrite,
    PipelineError,
    Progress,
    RunOptions,
    fingerprint,
    new_run_id,
    validate_options,
)

logger = logging.getLogger(__name__)

__all__ = [
    "IMPLEMENTED_LAYERS", "LAYERS", "Build", "Change", "Datamart", "LeakageError", "PendingWrite", "PipelineError",
    "Progress", "RunOptions", "build_bronze", "build_gold", "build_silver", "fingerprint", "new_run_id",
    "run_pipeline", "silver_order", "validate_options",
]


def run_pipeline(
    config: DomainConfig,
    options: RunOptions,
    get_spark: Callable[[], object],
    progress: Progress | None = None,
    *,
    collect_first: bool = True,
) -> RunRecord:
    """Build the requested layers and record the run. Raises on failure (after
    recording it as failed in the ledger). `collect_first=False` builds bronze from
    what landing holds already, without collecting (the Dagster landing assets collect
    in their own steps, utils.orchestrate)."""
    progress = progress or Progress()
    validate_options(config, options)
    datamart = Datamart(Path(options.datamart), config.domain)
    datamart.check_layout()
    ledger = RunLedger(datamart.runs, domain=config.domain)
    record = RunRecord(
        run_id=options.run_id,
        domain=config.domain,
        layers=list(options.layers),
        options={
            "data_root": str(options.data_root), "datamart": str(options.datamart),
            "start": options.start, "end": options.end, "full_refresh": options.full_refresh,
            "sources": options.sources, "config_file": str(config.file), "overrides": list(options.overrides),
        },
        config_hash=config.config_hash,
        started_at=dt.datetime.now(dt.timezone.utc),
    )
    # collect and check every input before anything is written or recorded: a run that
    # cannot start changes no table, the ledger included (the ingestion audit records
    # a failed collection)
    if "bronze" not in options.layers:
        files = {}
    else:
        files = land_inputs(config, options, datamart) if collect_first else landed_inputs(config, options, datamart)
    ledger.append(record)
    build = Build(config, options, datamart, ledger, record, get_spark, progress)
    pending: list[PendingWrite] = []
    try:
        if "bronze" in options.layers:
            pending += build_bronze(build, files)
        if "silver" in options.layers:
            from utils.lake.pii import load_key

            key = options.pii_key or load_key(datamart.root, None)
            pending += build_silver(build, key, *_upstream(record, pending, "bronze"))
        if "gold" in options.layers:
            pending += build_gold(build, *_upstream(record, pending, "silver"))
        # every layer passed its checks: make the new versions visible, upstream first
        while pending:
            pending[0].commit()
            record.outputs.append(pending.pop(0).output)
    except BaseException as exc:
        for write in pending:
            write.staged.abort()
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


def land_inputs(config: DomainConfig, options: RunOptions, datamart: Datamart) -> dict[str, list[bronze.SourceFile]]:
    """Collect the selected sources into landing and check every file their bronze tables
    are made of; publish the new deliveries only when all passed. Returns the checked
    landed files per source. Raises with one line naming the source and file or URL."""
    selected = list(options.sources or config.sources)
    landing_root = datamart.landing()
    try:
        collected = collect.stage_domain(config, data_root=Path(options.data_root), landing_root=landing_root,
                                         run_id=options.run_id, sources=selected)
    except collect.CollectError as exc:
        collect.write_audit(datamart.meta("ingestion"),
                            [row for c in getattr(exc, "collected", []) for row in c.rows])
        raise
    try:
        staged = {c.source: c.staged for c in collected if c.staged is not None}
        files = {name: _checked_files(config.sources[name], landing_root, staged.get(name), datamart.root)
                 for name in selected}
    except BaseException:
        collect.discard(collected)
        raise
    published = {d.source: d for d in collect.publish(collected, datamart.root)}
    collect.write_audit(datamart.meta("ingestion"), [row for c in collected for row in c.rows])
    # the files now live in their published folders
    for name, sfs in files.items():
        if name in published:
            old, new = staged[name].tmp, published[name].path
            files[name] = [_moved(sf, old, new, datamart.root) for sf in sfs]
    return files


def landed_inputs(config: DomainConfig, options: RunOptions, datamart: Datamart) -> dict[str, list[bronze.SourceFile]]:
    """The checked landed files of the selected sources as landing holds them now, per
    source, collecting nothing. Raises when a source has nothing landed yet."""
    selected = list(options.sources or config.sources)
    return {name: _checked_files(config.sources[name], datamart.landing(), None, datamart.root) for name in selected}


def _checked_files(source, landing_root: Path, staged, root: Path) -> list[bronze.SourceFile]:
    """The landed files of a source's bronze table (published ones, with this run's
    staged delivery replacing the versions it holds), each checked."""
    kind = "api" if getattr(source, "api", None) is not None else "file"
    incremental = kind == "api" and bool(source.api.incremental_param)
    current = landing.current_files(landing_root, source.name, kind=kind, incremental=incremental)
    if staged is not None:
        new = [(staged.tmp / f.name, f) for f in staged.delivery.files]
        if kind == "file":
            replaced = {f.origin for _, f in new}
            current = [(p, f) for p, f in current if f.origin not in replaced] + new
        else:
            current = (current if incremental else []) + new
    if not current:
        raise PipelineError(f"source {source.name}: nothing landed yet; run `python main.py collect`")
    return [_inspect(source, path, root) for path, _ in current]


def _inspect(source, path: Path, root: Path) -> bronze.SourceFile:
    name = _relative(path, root)
    if hasattr(bronze, "inspect_file"):
        return bronze.inspect_file(source, path, name=name)
    import dataclasses

    return bronze.inspect_source(dataclasses.replace(source, path=str(path)), root)


def _relative(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _moved(sf: bronze.SourceFile, old: Path, new: Path, root: Path) -> bronze.SourceFile:
    import dataclasses

    try:
        path = new / Path(sf.path).relative_to(old)
    except ValueError:
        return sf
    changes = {"path": path}
    if hasattr(sf, "name"):
        changes["name"] = _relative(path, root)
    return dataclasses.replace(sf, **changes)


def _upstream(
    record: RunRecord, pending: list[PendingWrite], layer: str
) -> tuple[dict[str, delta_io.TableView], dict[str, str]]:
    """What this run leaves in `layer` for the next one: views of its staged tables (by
    name without the layer) and the fingerprints of all its tables, staged or skipped."""
    staged = [p for p in pending if p.output.layer == layer]
    views = {p.output.table.split("/", 1)[1]: p.staged.view() for p in staged}
    fingerprints = {o.table: o.fingerprint for o in record.outputs if o.layer == layer}
    fingerprints |= {p.output.table: p.output.fingerprint for p in staged}
    return views, fingerprints
