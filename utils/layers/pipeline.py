"""The build: which layers run, in which order, and what every run records.

`run_pipeline` checks every selected source before anything is written, runs the
requested layers, and appends the run to the ledger (`_meta/runs`) at start and end,
failed runs included. Spark starts only when a layer has work to do, so a rerun on
unchanged inputs finishes in about a second.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from utils.layers import bronze
from utils.lake import delta_io
from utils.lake.config import DomainConfig, SilverTable
from utils.lake.ledger import InputRecord, OutputRecord, RunLedger, RunRecord

logger = logging.getLogger(__name__)

LAYERS = ("bronze", "silver", "gold")
IMPLEMENTED_LAYERS = ("bronze", "silver", "gold")


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
            "sources": options.sources, "config_file": str(config.file), "overrides": list(options.overrides),
        },
        config_hash=config.config_hash,
        started_at=dt.datetime.now(dt.timezone.utc),
    )
    # check every input before anything is written or recorded: a run that cannot
    # start changes no table, the ledger included
    selected = [config.sources[s] for s in (options.sources or config.sources)]
    files = [bronze.inspect_source(source, Path(options.data_root)) for source in selected]
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


def build_bronze(build: Build, files: Iterable[bronze.SourceFile]) -> list[PendingWrite]:
    """Stage every source file for `bronze/<source>` (committed by the caller once all
    layers passed); skip a file when the table was last written from the same content
    hash, reading options and date range and nobody has written it since, unless
    `options.full_refresh`. A file that changed in some months only rewrites those
    partitions (see `_bronze_changes`)."""
    files, progress = list(files), build.progress
    pending: list[PendingWrite] = []
    progress.start(len(files), "bronze")
    digester = ThreadPoolExecutor(max_workers=1, thread_name_prefix="digest")
    try:
        _stage_bronze(build, files, pending, digester)
    except BaseException:
        for write in pending:
            write.staged.abort()
        raise
    finally:
        digester.shutdown(wait=False, cancel_futures=True)
        progress.stop()
    return pending


def _stage_bronze(build: Build, files: list[bronze.SourceFile], pending: list[PendingWrite],
                  digester: ThreadPoolExecutor) -> None:
    options, datamart, ledger, record = build.options, build.datamart, build.ledger, build.record
    get_spark, progress = build.get_spark, build.progress
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
                0, 0, 0, 0, 0, time.perf_counter() - began, "unchanged", fp,
            ))
            progress.advance(sf.source.name)
            continue

        ranged = options.start is not None or options.end is not None
        # the file's date digests (pure Python) are computed while Spark starts and works
        digests = None if ranged else digester.submit(bronze.date_digests, sf)
        spark = get_spark()
        ingested_at = record.started_at
        df = bronze.parse_bronze(
            bronze.read_numbered_lines(spark, sf.path), sf, run_id=record.run_id, ingested_at=ingested_at
        )
        changed = None
        if not ranged and not options.full_refresh:
            changed = _bronze_changes(build, sf, digests.result(), table_path)
        if ranged:
            df = bronze.restrict_to_range(df, options.start, options.end)
            mode, partitions = "overwrite_partitions", [None, *partitions_in_range(table_path, options.start, options.end)]
        elif changed is not None:
            # only the months whose rows differ are rewritten; the others keep their rows
            # (and the lineage of the run that ingested them)
            build.changes[name] = Change(_committed_identity(ledger, name, table_path), frozenset(changed))
            dates = [None if p is None else dt.date.fromisoformat(p) for p in changed]
            df = df.where(bronze.in_partitions(changed))
            mode, partitions = "overwrite_partitions", dates
        else:
            mode, partitions = "overwrite", None
        staged = delta_io.stage_table(
            df, table_path, mode=mode, partitions=partitions,
            metadata={"run_id": record.run_id, "source_sha256": sf.sha256},
        )
        if digests is not None and digests.result() is not None:
            # kept with the commit, for the next run to find which months the file changed
            staged.metadata[bronze.DIGEST_KEY] = json.dumps(digests.result(), separators=(",", ":"))
        null_rows = staged.partitions.get(f"{bronze.PARTITION_COLUMN}={delta_io.NULL_PARTITION}", 0)
        if null_rows:
            logger.warning(
                "bronze/%s: %d row(s) have a %s that none of the formats %s parses; "
                "they are kept with a null snapshot_date",
                sf.source.name, null_rows, sf.source.date_column, list(sf.source.date_formats),
            )
        seconds = time.perf_counter() - began
        output = OutputRecord(
            "bronze", name, str(table_path), None, staged.rows, null_rows, 0,
            len(staged.partitions), 0, seconds, "staged", fp,
        )

        kept = "" if changed is None else \
            f" ({len({k[0] for k in delta_io.list_partitions(table_path)} - changed)} unchanged kept)"

        def report(out: OutputRecord, source: str = sf.source.name, kept: str = kept) -> None:
            logger.info("bronze/%s: %d rows in %d partitions%s -> version %s (%.1fs)",
                        source, out.rows_written, out.partitions_written, kept, out.version, out.seconds)

        pending.append(PendingWrite(staged, output, report))
        progress.advance(sf.source.name)


def _bronze_changes(
    build: Build, sf: bronze.SourceFile, digests: dict | None, table_path: Path
) -> set[str | None] | None:
    """The partitions of `bronze/<source>` whose rows the file now changes, when only
    some do (else None: the table is rewritten whole). It needs the committed table to
    come from a whole-file ingest with the same source settings and header, its commit
    to carry that file's date digests, and no malformed line to have changed."""
    name = f"bronze/{sf.source.name}"
    version = delta_io.table_version(table_path)
    last = build.ledger.last_write_record(name)
    if digests is None or version is None or last is None or last[1]["version"] != version:
        return None
    previous = next((i for i in last[0]["inputs"] or [] if i["source"] == sf.source.name), None)
    if (previous is None or previous["source_config_hash"] != sf.source.fingerprint()
            or previous["range_start"] is not None or previous["range_end"] is not None):
        return None
    commit = delta_io.history(table_path, 1)[0]
    if commit.get("version") != version or bronze.DIGEST_KEY not in commit:
        return None
    committed = delta_io.view(table_path)
    if set(committed.schema.names) != {*sf.columns, *bronze.RESERVED}:
        return None  # the header changed
    texts = bronze.changed_date_texts(digests, json.loads(commit[bronze.DIGEST_KEY]))
    if not texts or bronze.MALFORMED in texts or len(texts) > 1000:
        return None  # lines only moved, a malformed line changed, or too much changed
    changed = bronze.partitions_of(build.get_spark(), sf.source, texts)
    total = {k[0] for k in committed.partitions()} | changed
    if changed == total:
        return None
    logger.info("bronze/%s: %d of %d partitions changed (%s)", sf.source.name, len(changed), len(total),
                ", ".join(sorted(p or "null" for p in changed)[:6]) + (" ..." if len(changed) > 6 else ""))
    return changed


# --------------------------------------------------------------------------- silver


def silver_order(config: DomainConfig) -> list[SilverTable]:
    """Silver tables with every referenced table before the tables that reference it."""
    done: list[str] = []
    pending = dict(config.silver)
    while pending:
        ready = [
            name for name, t in pending.items()
            if all(r.references[0] in done or r.references[0] == name for r in t.rules if r.references)
        ]
        if not ready:
            raise PipelineError(f"silver references form a cycle among {sorted(pending)}")
        for name in ready:
            done.append(name)
            del pending[name]
    return [config.silver[n] for n in done]


def _scope(
    bronze_parts: dict[tuple, int], silver_path: Path, options: RunOptions, replay: set | None
) -> set[str | None] | None:
    """The snapshot dates (ISO text, None = unparsed) a silver run processes; None = all."""
    if replay is not None:
        return replay
    if options.start is None and options.end is None:
        return None
    existing = set(bronze_parts)
    if delta_io.table_exists(silver_path):
        existing |= set(delta_io.list_partitions(silver_path))

    def inside(value: str | None) -> bool:
        if value is None:
            return True
        d = dt.date.fromisoformat(value)
        return (options.start is None or d >= options.start) and (options.end is None or d <= options.end)

    return {k[0] for k in existing if inside(k[0])} | {None}


def _committed_identity(ledger: RunLedger, table: str, path: Path) -> str:
    """What a committed table was built from: its ledger fingerprint while nobody wrote
    it since, else its Delta version."""
    version = delta_io.table_version(path)
    last = ledger.last_write(table)
    return last[0] if last is not None and last[1] == version else f"version:{version}"


def build_silver(
    build: Build,
    pii_key: bytes,
    bronze_views: dict[str, delta_io.TableView] | None = None,
    bronze_fingerprints: dict[str, str] | None = None,
) -> list[PendingWrite]:
    """Stage every silver table whose inputs changed: each table is cleaned and checked
    in one pass over bronze as this run will leave it (`bronze_views`: staged bronze
    writes by source); a `fail` rule or a partition where ``bronze != silver +
    quarantine`` raises before anything is committed. Returns the staged silver tables
    and quarantine for the caller to commit after the bronze writes."""
    config, options, datamart, ledger = build.config, build.options, build.datamart, build.ledger
    record, get_spark, progress = build.record, build.get_spark, build.progress
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from utils.quality import results as quality
    from utils.layers import silver
    from utils.quality import statistics
    from utils.lake.pii import key_id

    tables = [t for t in silver_order(config) if not options.sources or t.source in options.sources]
    quarantine_path = datamart.table("silver", "_quarantine")
    replay_scopes: dict[str, set] = {}
    if options.replay_quarantine:
        q = delta_io.list_partitions(quarantine_path) if delta_io.table_exists(quarantine_path) else {}
        for table_name, date in q:
            replay_scopes.setdefault(table_name, set()).add(date)
    rebuilt_bronze = set(bronze_views or {})  # sources this run re-ingests
    bronze_views = dict(bronze_views or {})
    fps: dict[str, str] = {}
    todo: list[SilverTable] = []
    for t in tables:
        bronze_path = datamart.table("bronze", t.source)
        if t.source not in bronze_views:
            if not delta_io.table_exists(bronze_path):
                raise PipelineError(
                    f"silver/{t.name}: bronze/{t.source} does not exist yet; build --layers bronze first")
            bronze_views[t.source] = delta_io.view(bronze_path)
        bronze_identity = (bronze_fingerprints or {}).get(f"bronze/{t.source}") or _committed_identity(
            ledger, f"bronze/{t.source}", bronze_path)
        refs = sorted({r.references[0] for r in t.rules if r.references})
        fps[t.name] = fingerprint(
            "silver", t.fingerprint(), config.sources[t.source].fingerprint(), bronze_identity,
            options.start, options.end, key_id(pii_key), [fps[r] for r in refs],
        )
        silver_path = datamart.table("silver", t.name)
        if options.replay_quarantine:
            skip = t.name not in replay_scopes  # replay touches only tables with quarantined rows
        elif options.full_refresh:
            skip = False
        else:
            skip = ledger.unchanged(f"silver/{t.name}", fps[t.name], delta_io.table_version(silver_path))
            change = build.changes.get(f"bronze/{t.source}")
            if not skip and change is not None and not any(r in {x.name for x in todo} for r in refs):
                # bronze changed in some partitions only, and this table was built from the
                # bronze before it with everything else equal: redo just those partitions
                before = fingerprint(
                    "silver", t.fingerprint(), config.sources[t.source].fingerprint(), change.previous,
                    options.start, options.end, key_id(pii_key), [fps[r] for r in refs],
                )
                if ledger.unchanged(f"silver/{t.name}", before, delta_io.table_version(silver_path)):
                    build.changes[f"silver/{t.name}"] = Change(before, change.partitions)
        if skip:
            logger.info("silver/%s: inputs unchanged since version %s, skipped", t.name, delta_io.table_version(silver_path))
            record.outputs.append(OutputRecord(
                "silver", f"silver/{t.name}", str(silver_path), delta_io.table_version(silver_path),
                0, 0, 0, 0, 0, 0.0, "unchanged", fps[t.name],
            ))
        else:
            todo.append(t)
    if not todo:
        if delta_io.table_exists(quarantine_path):  # recorded like the tables it holds rows of
            record.outputs.append(OutputRecord(
                "silver", "silver/_quarantine", str(quarantine_path), delta_io.table_version(quarantine_path),
                0, 0, 0, 0, 0, 0.0, "unchanged", "",
            ))
        return []

    spark = get_spark()
    progress.start(len(todo) + 1, "silver")
    staged: dict[str, delta_io.StagedWrite] = {}
    q_staged: delta_io.StagedWrite | None = None
    persisted = []
    quality_rows: list[dict] = []
    timings: dict[str, float] = {}
    scopes: dict[str, set | None] = {}
    bronze_counts: dict[str, dict[tuple, int]] = {}
    try:
        quarantine_frames = []
        for t in todo:
            began = time.perf_counter()
            source = config.sources[t.source]
            silver_path = datamart.table("silver", t.name)
            bronze_counts[t.name] = bronze_views[t.source].partitions()
            replay = replay_scopes.get(t.name) if options.replay_quarantine else None
            if replay is not None and t.source in rebuilt_bronze:
                # bronze changed in this run (e.g. a date format was fixed): quarantined rows
                # may now sit in other partitions, so the whole table is processed
                logger.info("silver/%s: bronze/%s was re-ingested in this run; replaying the whole table",
                            t.name, t.source)
                replay = None
            if f"silver/{t.name}" in build.changes:
                replay = set(build.changes[f"silver/{t.name}"].partitions)
                logger.info("silver/%s: redoing %d partition(s) whose bronze rows changed", t.name, len(replay))
            scope = _scope(bronze_counts[t.name], silver_path, options, replay)
            scopes[t.name] = scope
            bronze_df = bronze_views[t.source].read(spark, partitions=None if scope is None else list(scope))

            fitted = {c.name: c.fit_k for c in t.columns if c.fit_k is not None}
            bounds = {}
            if fitted:
                bounds = statistics.fit_tukey_bounds(
                    silver.parse_columns(bronze_df, t, source), fitted, table=t.name,
                    window=t.fit_window, version=t.fit_version, path=datamart.root / "_meta" / "statistics",
                    run_id=record.run_id,
                )
            cleaned = silver.clean_table(bronze_df, t, source, bounds=bounds, pii_key=pii_key)
            references = {}
            for ref in {r.references[0] for r in t.rules if r.references}:
                if ref not in staged and not delta_io.table_exists(datamart.table("silver", ref)):
                    raise PipelineError(f"silver/{t.name}: references silver/{ref}, which does not exist yet; "
                                        f"build it first (its source is {config.silver[ref].source})")
                # the referenced table as this run will leave it (its staged files), else as committed
                references[ref] = staged[ref].view().read(spark) if ref in staged else delta_io.read_table(
                    spark, datamart.table("silver", ref))
            # a partial build checks uniqueness against the rows silver already holds outside it
            accepted = None
            if scope is not None and delta_io.table_exists(silver_path):
                kept = [k[0] for k in delta_io.list_partitions(silver_path) if k[0] not in scope]
                accepted = delta_io.read_table(spark, silver_path, partitions=kept)
            checked = silver.check_rules(cleaned, t, references, accepted=accepted).persist(
                StorageLevel.MEMORY_AND_DISK)
            persisted.append(checked)
            rules = silver.table_rules(t, source)
            aggregates = [row.asDict() for row in silver.metric_aggregates(checked, rules).collect()]

            for rule in rules:
                failed = sum(a[rule.name] or 0 for a in aggregates)
                if rule.severity == "fail" and failed:
                    keys = [c.name for c in t.columns][:1] + list(silver.LINEAGE_KEPT)
                    samples = checked.where(F.col(f"{silver.RULE_PREFIX}{rule.name}")).select(*keys).limit(5).collect()
                    shown = ", ".join(f"{r[0]} ({r[1]}:{r[2]})" for r in samples)
                    raise quality.QualityError(
                        f"silver/{t.name}: rule {rule.name} (fail) failed on {failed} row(s), e.g. {shown}; "
                        "nothing of the silver layer was written"
                    )
            checked_at = quality.now()
            for a in aggregates:
                for rule in rules:
                    quality_rows.append({
                        "run_id": record.run_id, "table": f"silver/{t.name}", "snapshot_date": a["snapshot_date"],
                        "rule": rule.name, "kind": rule.kind, "severity": rule.severity, "action": rule.action,
                        "rows_checked": a["_rows"], "rows_failed": int(a[rule.name] or 0), "checked_at": checked_at,
                    })
            rows = silver.silver_rows(checked, t, rules)
            staged[t.name] = delta_io.stage_table(
                rows, silver_path, mode="overwrite" if scope is None else "overwrite_partitions",
                partitions=None if scope is None else sorted(
                    (dt.date.fromisoformat(p) for p in scope if p is not None)) + [None],
                metadata={"run_id": record.run_id},
            )
            # the quarantined rows (few) are kept; the wide checked rows are let go before
            # the next table, so memory holds one table's rows at a time
            rejected = silver.quarantine_rows(checked, t, rules, source).persist(StorageLevel.MEMORY_AND_DISK)
            persisted.append(rejected)
            rejected.count()
            checked.unpersist()
            quarantine_frames.append(rejected)
            timings[t.name] = time.perf_counter() - began
            progress.advance(t.name)

        # one quarantine write for all tables, replacing exactly their partitions in scope
        began = time.perf_counter()
        union = quarantine_frames[0]
        for frame in quarantine_frames[1:]:
            union = union.unionByName(frame)
        existing_q = delta_io.list_partitions(quarantine_path) if delta_io.table_exists(quarantine_path) else {}
        replace = [
            (table_name, None if date is None else dt.date.fromisoformat(date))
            for table_name, date in existing_q
            if table_name in staged and (scopes[table_name] is None or date in scopes[table_name])
        ]
        q_staged = delta_io.stage_table(
            union, quarantine_path, partition_by=("table", "snapshot_date"), mode="overwrite_partitions",
            partitions=replace, metadata={"run_id": record.run_id},
        )
        progress.advance("_quarantine")

        # row accounting per partition, before anything becomes visible
        accounting_rows = []
        checked_at = quality.now()
        for t in todo:
            scope = scopes[t.name]
            silver_parts = {k.split("=", 1)[1]: n for k, n in staged[t.name].partitions.items()}
            q_parts = {
                k.split("/", 1)[1].split("=", 1)[1]: n
                for k, n in q_staged.partitions.items() if k.split("/", 1)[0] == f"table={t.name}"
            }
            for (date,), bronze_n in sorted(bronze_counts[t.name].items(), key=lambda kv: str(kv[0])):
                if scope is not None and date not in scope:
                    continue
                label = delta_io.NULL_PARTITION if date is None else date
                s_n, q_n = silver_parts.get(label, 0), q_parts.get(label, 0)
                accounting_rows.append({
                    "run_id": record.run_id, "table": f"silver/{t.name}",
                    "snapshot_date": None if date is None else dt.date.fromisoformat(date),
                    "bronze_rows": bronze_n, "silver_rows": s_n, "quarantined_rows": q_n,
                    "balanced": bronze_n == s_n + q_n, "checked_at": checked_at,
                })
            unbalanced = [r for r in accounting_rows if r["table"] == f"silver/{t.name}" and not r["balanced"]]
            if unbalanced:
                r = unbalanced[0]
                raise quality.AccountingError(
                    f"silver/{t.name}: partition {r['snapshot_date']}: bronze {r['bronze_rows']} != silver "
                    f"{r['silver_rows']} + quarantine {r['quarantined_rows']}; nothing of the silver layer was written"
                )

        # hand over to the caller, who commits every silver table, then the quarantine
        q_elapsed = time.perf_counter() - began
        pending: list[PendingWrite] = []
        for t in todo:
            quarantined = sum(r["quarantined_rows"] for r in accounting_rows if r["table"] == f"silver/{t.name}")
            output = OutputRecord(
                "silver", f"silver/{t.name}", str(datamart.table("silver", t.name)), None, staged[t.name].rows,
                0, quarantined, len(staged[t.name].partitions), 0, timings[t.name], "staged", fps[t.name],
            )

            def report(out: OutputRecord) -> None:
                logger.info("%s: %d rows, %d quarantined -> version %s (%.1fs)",
                            out.table, out.rows_written, out.rows_quarantined, out.version, out.seconds)

            pending.append(PendingWrite(staged[t.name], output, report))

        def record_quality(out: OutputRecord) -> None:
            quality.append(datamart.root / "_meta" / "quality", quality_rows, quality.QUALITY_SCHEMA)
            quality.append(datamart.root / "_meta" / "accounting", accounting_rows, quality.ACCOUNTING_SCHEMA)

        q_output = OutputRecord(
            "silver", "silver/_quarantine", str(quarantine_path), None, q_staged.rows, 0, 0,
            len(q_staged.partitions), 0, q_elapsed, "staged", "",
        )
        pending.append(PendingWrite(q_staged, q_output, record_quality))
        staged, q_staged = {}, None
        return pending
    except BaseException:
        for staged_write in staged.values():
            staged_write.abort()
        if q_staged is not None:
            q_staged.abort()
        raise
    finally:
        for df in persisted:
            df.unpersist()
        progress.stop()



# --------------------------------------------------------------------------- gold


def _gold_rows_from(spark, loans, since: dt.date, spec) -> int:
    """How many population and label rows the population table yields from `since` on
    (feature rows follow the population; every label comes from a loan row)."""
    from pyspark.sql import functions as F

    from utils.layers import gold

    recent = loans.where(F.col("snapshot_date") >= F.lit(since))
    frames = [gold.build_population(recent, spec).select("snapshot_date")]
    frames += [gold.build_label_store(recent, label).select("snapshot_date") for label in spec.labels]
    return functools.reduce(lambda a, b: a.unionByName(b), frames).count()


def _gold_since(build: Build, identities: dict[str, str], paths: dict[str, Path]) -> dt.date | None:
    """The first month gold must rebuild when its silver inputs changed only in some
    partitions since gold was last built (else None: gold is rebuilt whole). A feature
    or label row dated D reads silver rows dated <= D only (the cutoff guard checks
    it), so the rows dated before the first changed month stay as they are."""
    options, ledger, spec = build.options, build.ledger, build.config.gold
    if options.full_refresh or options.start is not None or options.end is not None:
        return None
    partial = {t: build.changes[f"silver/{t}"] for t in identities if f"silver/{t}" in build.changes}
    if not partial:
        return None
    before = {t: partial[t].previous if t in partial else identity for t, identity in identities.items()}
    fp_before = fingerprint("gold", spec.fingerprint(), before, options.start, options.end)
    if not all(ledger.unchanged(f"gold/{n}", fp_before, delta_io.table_version(p)) for n, p in paths.items()):
        return None
    dates = [dt.date.fromisoformat(p) for change in partial.values() for p in change.partitions if p is not None]
    return min(dates) if dates else None


class LeakageError(RuntimeError):
    """A leakage guard failed; nothing of the run was written."""


def build_gold(
    build: Build,
    silver_views: dict[str, delta_io.TableView],
    silver_fingerprints: dict[str, str],
) -> list[PendingWrite]:
    """Stage gold/feature_store and gold/label_store from silver as this run leaves it,
    after the leakage guards passed: (b) no feature row read a source row beyond its
    cutoff, (a) gold <= replay_cut rebuilt from silver cut at replay_cut equals the full
    build <= replay_cut, (c) no single feature separates the label with AUC above the
    threshold (an alarm: logged and recorded, not fatal)."""
    config, options, datamart, ledger = build.config, build.options, build.datamart, build.ledger
    record, get_spark, progress = build.record, build.get_spark, build.progress
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from utils.layers import gold
    from utils.layers import leakage

    spec = config.gold
    if spec is None:
        raise PipelineError(f"{config.file}: no gold section; nothing to build")
    tables = sorted({spec.population_table, *(t for t, _ in spec.sources.values())})
    identities = {}
    for t in tables:
        path = datamart.table("silver", t)
        if t not in silver_views and not delta_io.table_exists(path):
            raise PipelineError(f"gold: silver/{t} does not exist yet; build --layers silver first")
        identities[t] = silver_fingerprints.get(f"silver/{t}") or _committed_identity(ledger, f"silver/{t}", path)
    fp = fingerprint("gold", spec.fingerprint(), identities, options.start, options.end)
    names = ("feature_store", "label_store")
    paths = {n: datamart.table("gold", n) for n in names}
    if not options.full_refresh and all(
        ledger.unchanged(f"gold/{n}", fp, delta_io.table_version(paths[n])) for n in names
    ):
        for n in names:
            logger.info("gold/%s: inputs unchanged since version %s, skipped", n, delta_io.table_version(paths[n]))
            record.outputs.append(OutputRecord(
                "gold", f"gold/{n}", str(paths[n]), delta_io.table_version(paths[n]), 0, 0, 0, 0, 0, 0.0,
                "unchanged", fp,
            ))
        return []

    since = _gold_since(build, identities, paths)
    if since is not None:
        logger.info("gold: silver changed only from %s on; rebuilding the gold partitions from then", since)
    spark = get_spark()
    progress.start(4, "gold")
    began = time.perf_counter()

    def silver(table: str, cut=None):
        view = silver_views.get(table) or delta_io.view(datamart.table("silver", table))
        df = view.read(spark)
        last = min(d for d in (options.end, cut) if d is not None) if (options.end or cut) else None
        return df if last is None else df.where(F.col("snapshot_date") <= F.lit(last))

    def assemble(cut=None):
        """Feature and label rows from silver, as of `cut` (None: everything)."""
        loans = silver(spec.population_table, cut)
        population = gold.build_population(loans, spec)
        first = since or options.start
        if first is not None:
            population = population.where(F.col("snapshot_date") >= F.lit(first))
        sources = {name: silver(table, cut) for name, (table, _) in spec.sources.items()}
        features = gold.build_feature_store(population, sources, spec)
        labels = None
        for label in spec.labels:
            frame = gold.build_label_store(loans, label)
            labels = frame if labels is None else labels.unionByName(frame)
        if first is not None:
            labels = labels.where(F.col("snapshot_date") >= F.lit(first))
        return features, labels

    persisted = []
    staged: dict[str, delta_io.StagedWrite] = {}
    try:
        if since is not None and _gold_rows_from(spark, silver(spec.population_table), since, spec) == 0 and not any(
                partitions_in_range(p, since, None) for p in paths.values()):
            # the changed months hold no feature or label row, before or now: gold stays as it is
            logger.info("gold: no feature or label row dated %s or later; gold unchanged (guards not rerun)", since)
            for n in names:
                record.outputs.append(OutputRecord(
                    "gold", f"gold/{n}", str(paths[n]), delta_io.table_version(paths[n]), 0, 0, 0, 0, 0,
                    time.perf_counter() - began, "unchanged", fp,
                ))
            return []
        features, labels = assemble()
        features = features.persist(StorageLevel.MEMORY_AND_DISK)
        labels = labels.persist(StorageLevel.MEMORY_AND_DISK)
        persisted += [features, labels]
        results: list[dict] = []

        # (b) no feature row read beyond its cutoff
        violations = features.agg(gold.cutoff_violations(features, spec).alias("n")).first()["n"] or 0
        results.append(leakage.result(record.run_id, "cutoff", "gold/feature_store", float(violations), 0.0,
                                      violations == 0, "feature rows that read a source row beyond its cutoff"))
        if violations:
            raise LeakageError(f"gold/feature_store: {violations} feature row(s) read source rows dated after "
                               "their cutoff; nothing was written")
        progress.advance("cutoff guard")

        # (a) replay: gold <= cut from data <= cut equals the full build <= cut
        cut = dt.date.fromisoformat(spec.replay_cut) if spec.replay_cut else None
        if cut is not None and since is not None and cut < since:
            # no row <= cut is rebuilt: the rows kept passed this guard when they were built
            for name in ("gold/feature_store", "gold/label_store"):
                results.append(leakage.result(record.run_id, "replay", name, 0.0, 0.0, True,
                                              f"rows <= {cut} kept as built (this run rebuilds from {since})"))
        elif cut is not None:
            cut_features, cut_labels = assemble(cut)
            for name, full, replay in (("gold/feature_store", features, cut_features),
                                       ("gold/label_store", labels, cut_labels)):
                mismatch = leakage.replay_mismatch(full, replay, cut)
                results.append(leakage.result(record.run_id, "replay", name, float(mismatch), 0.0, mismatch == 0,
                                              f"rows <= {cut} that differ when built from data cut at {cut}"))
                if mismatch:
                    raise LeakageError(f"{name}: {mismatch} row(s) <= {cut} change when the data is cut at {cut}: "
                                       "a feature or label reads the future; nothing was written")
        progress.advance("replay guard")

        # (c) single-feature AUC alarm, over the whole tables as this run leaves them
        all_features, all_labels = features, labels
        if since is not None:
            older = {n: [k[0] for k in delta_io.list_partitions(paths[n]) if k[0] is not None and k[0] < since.isoformat()]
                     for n in names}
            all_features = delta_io.read_table(spark, paths["feature_store"], partitions=older["feature_store"]
                                               ).unionByName(features)
            all_labels = delta_io.read_table(spark, paths["label_store"], partitions=older["label_store"]
                                             ).unionByName(labels)
        for label in spec.labels:
            aucs = leakage.single_feature_auc(all_features, all_labels.where(F.col("label_def") == label.name), spec)
            for feature, auc in aucs.items():
                ok = auc <= spec.max_single_feature_auc
                results.append(leakage.result(record.run_id, "single_feature_auc", f"{label.name}:{feature}", auc,
                                              spec.max_single_feature_auc, ok, "AUC of the feature alone"))
                if not ok:
                    logger.warning("LEAKAGE ALARM: %s alone separates %s with AUC %.3f (> %.2f); check its "
                                   "point-in-time logic", feature, label.name, auc, spec.max_single_feature_auc)
        progress.advance("AUC alarm")

        ranged = options.start is not None or options.end is not None or since is not None
        for name, frame in (("feature_store", features), ("label_store", labels)):
            staged[name] = delta_io.stage_table(
                frame, paths[name], mode="overwrite_partitions" if ranged else "overwrite",
                partitions=partitions_in_range(paths[name], since or options.start, options.end) if ranged else None,
                metadata={"run_id": record.run_id},
            )
        progress.advance("write")
    except BaseException:
        for write in staged.values():
            write.abort()
        raise
    finally:
        for df in persisted:
            df.unpersist()
        progress.stop()

    seconds = time.perf_counter() - began
    def report(out: OutputRecord) -> None:
        logger.info("%s: %d rows in %d partitions -> version %s", out.table, out.rows_written,
                    out.partitions_written, out.version)
        if out.table == "gold/label_store":  # the last gold commit: record the guards that passed
            leakage.append(datamart.root / "_meta" / "leakage", results)

    return [
        PendingWrite(staged[name], OutputRecord("gold", f"gold/{name}", str(paths[name]), None, staged[name].rows,
                                                0, 0, len(staged[name].partitions), 0, seconds, "staged", fp), report)
        for name in names
    ]
