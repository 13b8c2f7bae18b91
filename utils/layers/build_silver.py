"""The silver layer of a run: clean and check every silver table whose inputs changed,
split its rows into silver and quarantine, account for every bronze row."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from utils.lake import delta_io
from utils.lake.config import DomainConfig, SilverTable
from utils.lake.ledger import OutputRecord
from utils.layers.run import (
    Build,
    Change,
    PendingWrite,
    PipelineError,
    RunOptions,
    committed_identity,
    fingerprint,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

logger = logging.getLogger(__name__)


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


@dataclass
class _SilverPlan:
    """What a silver run redoes: the tables to build (in reference order), the
    fingerprint of every selected table, bronze as this run leaves it by source, the
    sources this run re-ingests, and (``--replay-quarantine``) the quarantined
    snapshot dates by table."""

    todo: list[SilverTable] = field(default_factory=list)
    fps: dict[str, str] = field(default_factory=dict)
    bronze_views: dict[str, delta_io.TableView] = field(default_factory=dict)
    rebuilt_bronze: set[str] = field(default_factory=set)
    replay_scopes: dict[str, set] = field(default_factory=dict)


@dataclass
class _CheckedTable:
    """One silver table checked and staged: the snapshot dates it processed (None =
    all), bronze rows per partition, its quarantined rows (persisted), its
    `_meta/quality` rows and the seconds it took."""

    scope: set[str | None] | None
    bronze_counts: dict[tuple, int]
    rejected: DataFrame
    quality_rows: list[dict]
    seconds: float


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
    quarantine_path = build.datamart.table("silver", "_quarantine")
    plan = _plan_silver(build, pii_key, bronze_views, bronze_fingerprints, quarantine_path)
    if not plan.todo:
        if delta_io.table_exists(quarantine_path):  # recorded like the tables it holds rows of
            build.record.outputs.append(OutputRecord(
                "silver", "silver/_quarantine", str(quarantine_path), delta_io.table_version(quarantine_path),
                0, 0, 0, 0, 0, 0.0, "unchanged", "",
            ))
        return []

    spark = build.get_spark()
    build.progress.start(len(plan.todo) + 1, "silver")
    staged: dict[str, delta_io.StagedWrite] = {}
    q_staged: delta_io.StagedWrite | None = None
    persisted: list[DataFrame] = []
    try:
        checked: dict[str, _CheckedTable] = {}
        for t in plan.todo:
            checked[t.name] = _check_table(build, t, plan, spark, pii_key, staged, persisted)
            build.progress.advance(t.name)

        began = time.perf_counter()
        q_staged = _stage_quarantine(build, quarantine_path, checked, staged)
        build.progress.advance("_quarantine")
        accounting_rows = _account_rows(build, plan.todo, checked, staged, q_staged)
        q_elapsed = time.perf_counter() - began
        pending = _pending_writes(build, plan, checked, staged, q_staged, accounting_rows, q_elapsed, quarantine_path)
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
        build.progress.stop()


def _plan_silver(
    build: Build,
    pii_key: bytes,
    bronze_views: dict[str, delta_io.TableView] | None,
    bronze_fingerprints: dict[str, str] | None,
    quarantine_path: Path,
) -> _SilverPlan:
    """Which selected silver tables this run redoes, and every selected table's
    fingerprint. A table skipped as unchanged is recorded in the run record here; a
    table whose bronze changed in some partitions only is registered in
    `build.changes`. Raises when a table's bronze does not exist."""
    config, options, datamart, ledger = build.config, build.options, build.datamart, build.ledger
    tables = [t for t in silver_order(config) if not options.sources or t.source in options.sources]
    plan = _SilverPlan(bronze_views=dict(bronze_views or {}), rebuilt_bronze=set(bronze_views or {}))
    if options.replay_quarantine:
        q = delta_io.list_partitions(quarantine_path) if delta_io.table_exists(quarantine_path) else {}
        for table_name, date in q:
            plan.replay_scopes.setdefault(table_name, set()).add(date)
    for t in tables:
        bronze_path = datamart.table("bronze", t.source)
        if t.source not in plan.bronze_views:
            if not delta_io.table_exists(bronze_path):
                raise PipelineError(
                    f"silver/{t.name}: bronze/{t.source} does not exist yet; build --layers bronze first")
            plan.bronze_views[t.source] = delta_io.view(bronze_path)
        bronze_identity = (bronze_fingerprints or {}).get(f"bronze/{t.source}") or committed_identity(
            ledger, f"bronze/{t.source}", bronze_path)
        plan.fps[t.name] = _silver_fingerprint(build, t, bronze_identity, pii_key, plan.fps)
        silver_path = datamart.table("silver", t.name)
        if _silver_skipped(build, t, plan, pii_key):
            logger.info("silver/%s: inputs unchanged since version %s, skipped", t.name, delta_io.table_version(silver_path))
            build.record.outputs.append(OutputRecord(
                "silver", f"silver/{t.name}", str(silver_path), delta_io.table_version(silver_path),
                0, 0, 0, 0, 0, 0.0, "unchanged", plan.fps[t.name],
            ))
        else:
            plan.todo.append(t)
    return plan


def _references_of(t: SilverTable) -> list[str]:
    """The other silver tables `t`'s rules reference, sorted (a rule may reference `t` itself)."""
    return sorted({r.references[0] for r in t.rules if r.references and r.references[0] != t.name})


def _silver_fingerprint(build: Build, t: SilverTable, bronze_identity: str, pii_key: bytes, fps: dict[str, str]) -> str:
    """The fingerprint of silver table `t` built from bronze `bronze_identity` (and the
    fingerprints `fps` of the tables it references)."""
    from utils.lake.pii import key_id

    config, options = build.config, build.options
    return fingerprint(
        "silver", t.fingerprint(), config.sources[t.source].fingerprint(), bronze_identity,
        options.start, options.end, key_id(pii_key), [fps[r] for r in _references_of(t)],
    )


def _silver_skipped(build: Build, t: SilverTable, plan: _SilverPlan, pii_key: bytes) -> bool:
    """True when this run leaves silver table `t` as it is: replay touches only tables
    with quarantined rows; otherwise its fingerprint is the one it was last built with.
    A table to redo whose bronze changed in some partitions only, with everything else
    equal, is registered in `build.changes` with those partitions."""
    options, ledger = build.options, build.ledger
    silver_path = build.datamart.table("silver", t.name)
    if options.replay_quarantine:
        return t.name not in plan.replay_scopes  # replay touches only tables with quarantined rows
    if options.full_refresh:
        return False
    skip = ledger.unchanged(f"silver/{t.name}", plan.fps[t.name], delta_io.table_version(silver_path))
    change = build.changes.get(f"bronze/{t.source}")
    refs = _references_of(t)
    if not skip and change is not None and not any(r in {x.name for x in plan.todo} for r in refs):
        # bronze changed in some partitions only, and this table was built from the
        # bronze before it with everything else equal: redo just those partitions
        before = _silver_fingerprint(build, t, change.previous, pii_key, plan.fps)
        if ledger.unchanged(f"silver/{t.name}", before, delta_io.table_version(silver_path)):
            build.changes[f"silver/{t.name}"] = Change(before, change.partitions)
    return skip


def _table_scope(
    build: Build, t: SilverTable, plan: _SilverPlan, bronze_counts: dict[tuple, int], silver_path: Path
) -> set[str | None] | None:
    """The snapshot dates (ISO text, None = unparsed) this run processes of silver table
    `t`; None = all (see `_scope`)."""
    options = build.options
    replay = plan.replay_scopes.get(t.name) if options.replay_quarantine else None
    if replay is not None and t.source in plan.rebuilt_bronze:
        # bronze changed in this run (e.g. a date format was fixed): quarantined rows
        # may now sit in other partitions, so the whole table is processed
        logger.info("silver/%s: bronze/%s was re-ingested in this run; replaying the whole table",
                    t.name, t.source)
        replay = None
    if f"silver/{t.name}" in build.changes:
        replay = set(build.changes[f"silver/{t.name}"].partitions)
        logger.info("silver/%s: redoing %d partition(s) whose bronze rows changed", t.name, len(replay))
    return _scope(bronze_counts, silver_path, options, replay)


def _check_table(
    build: Build,
    t: SilverTable,
    plan: _SilverPlan,
    spark,
    pii_key: bytes,
    staged: dict[str, delta_io.StagedWrite],
    persisted: list[DataFrame],
) -> _CheckedTable:
    """Clean and check silver table `t` in one pass over its bronze rows in scope (fitted
    bounds fitted or reused, rules checked against referenced tables as this run leaves
    them), raise on a failed `fail` rule, stage its silver rows into `staged[t.name]`
    and keep its quarantined rows (persisted, listed in `persisted` for the caller to
    let go). Returns what the quarantine write and the row accounting need."""
    from pyspark import StorageLevel

    from utils.layers import silver

    began = time.perf_counter()
    source = build.config.sources[t.source]
    silver_path = build.datamart.table("silver", t.name)
    bronze_counts = plan.bronze_views[t.source].partitions()
    scope = _table_scope(build, t, plan, bronze_counts, silver_path)
    bronze_df = plan.bronze_views[t.source].read(spark, partitions=None if scope is None else list(scope))

    bounds = _fitted_bounds(build, t, bronze_df)
    cleaned = silver.clean_table(bronze_df, t, source, bounds=bounds, pii_key=pii_key)
    references = _referenced_tables(build, t, spark, staged)
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
    _raise_on_failed_rule(t, checked, rules, aggregates)
    quality_rows = _quality_rows(build, t, rules, aggregates)

    rows = silver.silver_rows(checked, t, rules)
    staged[t.name] = delta_io.stage_table(
        rows, silver_path, mode="overwrite" if scope is None else "overwrite_partitions",
        partitions=None if scope is None else sorted(
            (dt.date.fromisoformat(p) for p in scope if p is not None)) + [None],
        metadata={"run_id": build.record.run_id},
    )
    # the quarantined rows (few) are kept; the wide checked rows are let go before
    # the next table, so memory holds one table's rows at a time
    rejected = silver.quarantine_rows(checked, t, rules, source).persist(StorageLevel.MEMORY_AND_DISK)
    persisted.append(rejected)
    rejected.count()
    checked.unpersist()
    return _CheckedTable(scope, bronze_counts, rejected, quality_rows, time.perf_counter() - began)


def _fitted_bounds(build: Build, t: SilverTable, bronze_df) -> dict[str, tuple[float | None, float | None]]:
    """The fitted range of every `fit_range` column of `t` (column -> (lower, upper)):
    stored in `_meta/statistics` for this domain, else fitted on its fit window now;
    {} when `t` fits none."""
    from utils.layers import silver
    from utils.quality import statistics

    fitted = {c.name: c.fit_k for c in t.columns if c.fit_k is not None}
    if not fitted:
        return {}
    return statistics.fit_tukey_bounds(
        silver.parse_columns(bronze_df, t, build.config.sources[t.source]), fitted, domain=build.config.domain,
        table=t.name, window=t.fit_window, version=t.fit_version, path=build.datamart.meta("statistics"),
        run_id=build.record.run_id,
    )


def _referenced_tables(build: Build, t: SilverTable, spark, staged: dict[str, delta_io.StagedWrite]) -> dict:
    """The silver tables `t`'s rules reference, by name, as this run will leave them
    (their staged files), else as committed. Raises when one does not exist yet."""
    datamart = build.datamart
    references = {}
    for ref in _references_of(t):
        if ref not in staged and not delta_io.table_exists(datamart.table("silver", ref)):
            raise PipelineError(f"silver/{t.name}: references silver/{ref}, which does not exist yet; "
                                f"build it first (its source is {build.config.silver[ref].source})")
        # the referenced table as this run will leave it (its staged files), else as committed
        references[ref] = staged[ref].view().read(spark) if ref in staged else delta_io.read_table(
            spark, datamart.table("silver", ref))
    return references


def _raise_on_failed_rule(t: SilverTable, checked, rules, aggregates: list[dict]) -> None:
    """Raise QualityError, with up to five failing rows, for the first `fail` rule that
    failed on some row of `checked`."""
    from pyspark.sql import functions as F

    from utils.layers import silver
    from utils.quality import results as quality

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


def _quality_rows(build: Build, t: SilverTable, rules, aggregates: list[dict]) -> list[dict]:
    """`_meta/quality` rows of silver table `t`: one per partition and rule."""
    from utils.quality import results as quality

    checked_at = quality.now()
    return [
        {
            "run_id": build.record.run_id, "domain": build.config.domain, "table": f"silver/{t.name}",
            "snapshot_date": a["snapshot_date"], "rule": rule.name, "kind": rule.kind, "severity": rule.severity,
            "action": rule.action, "rows_checked": a["_rows"], "rows_failed": int(a[rule.name] or 0),
            "checked_at": checked_at,
        }
        for a in aggregates for rule in rules
    ]


def _stage_quarantine(
    build: Build, quarantine_path: Path, checked: dict[str, _CheckedTable], staged: dict[str, delta_io.StagedWrite]
) -> delta_io.StagedWrite:
    """One quarantine write for all checked tables, replacing exactly their partitions
    in scope (partitioned by table and snapshot_date)."""
    frames = [c.rejected for c in checked.values()]
    union = frames[0]
    for frame in frames[1:]:
        union = union.unionByName(frame)
    existing_q = delta_io.list_partitions(quarantine_path) if delta_io.table_exists(quarantine_path) else {}
    replace = [
        (table_name, None if date is None else dt.date.fromisoformat(date))
        for table_name, date in existing_q
        if table_name in staged and (checked[table_name].scope is None or date in checked[table_name].scope)
    ]
    return delta_io.stage_table(
        union, quarantine_path, partition_by=("table", "snapshot_date"), mode="overwrite_partitions",
        partitions=replace, metadata={"run_id": build.record.run_id},
    )


def _account_rows(
    build: Build,
    todo: list[SilverTable],
    checked: dict[str, _CheckedTable],
    staged: dict[str, delta_io.StagedWrite],
    q_staged: delta_io.StagedWrite,
) -> list[dict]:
    """`_meta/accounting` rows, one per silver table and partition in scope, from the
    staged writes, before anything becomes visible. Raises AccountingError for the
    first table with a partition where ``bronze != silver + quarantine``."""
    from utils.quality import results as quality

    accounting_rows = []
    checked_at = quality.now()
    for t in todo:
        scope = checked[t.name].scope
        silver_parts = {k.split("=", 1)[1]: n for k, n in staged[t.name].partitions.items()}
        q_parts = {
            k.split("/", 1)[1].split("=", 1)[1]: n
            for k, n in q_staged.partitions.items() if k.split("/", 1)[0] == f"table={t.name}"
        }
        for (date,), bronze_n in sorted(checked[t.name].bronze_counts.items(), key=lambda kv: str(kv[0])):
            if scope is not None and date not in scope:
                continue
            label = delta_io.NULL_PARTITION if date is None else date
            s_n, q_n = silver_parts.get(label, 0), q_parts.get(label, 0)
            accounting_rows.append({
                "run_id": build.record.run_id, "domain": build.config.domain, "table": f"silver/{t.name}",
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
    return accounting_rows


def _report_silver(out: OutputRecord) -> None:
    logger.info("%s: %d rows, %d quarantined -> version %s (%.1fs)",
                out.table, out.rows_written, out.rows_quarantined, out.version, out.seconds)


def _pending_writes(
    build: Build,
    plan: _SilverPlan,
    checked: dict[str, _CheckedTable],
    staged: dict[str, delta_io.StagedWrite],
    q_staged: delta_io.StagedWrite,
    accounting_rows: list[dict],
    q_elapsed: float,
    quarantine_path: Path,
) -> list[PendingWrite]:
    """The writes handed to the caller, who commits every silver table, then the
    quarantine; committing the quarantine appends the run's `_meta/quality` and
    `_meta/accounting` rows."""
    from utils.quality import results as quality

    datamart = build.datamart
    pending: list[PendingWrite] = []
    for t in plan.todo:
        quarantined = sum(r["quarantined_rows"] for r in accounting_rows if r["table"] == f"silver/{t.name}")
        output = OutputRecord(
            "silver", f"silver/{t.name}", str(datamart.table("silver", t.name)), None, staged[t.name].rows,
            0, quarantined, len(staged[t.name].partitions), 0, checked[t.name].seconds, "staged", plan.fps[t.name],
        )
        pending.append(PendingWrite(staged[t.name], output, _report_silver))
    quality_rows = [row for t in plan.todo for row in checked[t.name].quality_rows]

    def record_quality(out: OutputRecord) -> None:
        quality.append(datamart.meta("quality"), quality_rows, quality.QUALITY_SCHEMA)
        quality.append(datamart.meta("accounting"), accounting_rows, quality.ACCOUNTING_SCHEMA)

    q_output = OutputRecord(
        "silver", "silver/_quarantine", str(quarantine_path), None, q_staged.rows, 0, 0,
        len(q_staged.partitions), 0, q_elapsed, "staged", "",
    )
    pending.append(PendingWrite(q_staged, q_output, record_quality))
    return pending
