"""Delta table I/O: Spark writes the Parquet files, delta-rs keeps the log (DESIGN §5).

This is the only module that knows the table format, the folder layout and the
partitioning. Everything else asks it for a table by path.

Write path (one per call, whatever the mode):
  1. Spark writes the DataFrame as Parquet, partitioned, into a private staging folder
     ``<table>/_staging/<write_id>/`` (distributed, nothing is collected).
  2. The driver moves those few files into their partition folders under new names.
  3. The driver makes ONE Delta commit with delta-rs: add actions (with Parquet
     statistics read from the file footers) plus remove actions for exactly the
     partitions being replaced. Until that commit, no reader sees any of the files,
     so a write killed at any point leaves the previous version readable.

Read path: delta-rs lists the active files of the wanted version (or timestamp) and
partitions; Spark reads those files natively with ``basePath`` so partition columns come
back, using the table's schema (columns added later read as null in older files).

Concurrent writers: each write remembers the version it started from; delta-rs checks
the commit against everything committed since and a conflicting write (e.g. both
replacing the same partition) fails with :class:`ConcurrentWriteError`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import shutil
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import CommitProperties, DeltaTable
from deltalake import Schema as DeltaSchema
from deltalake.exceptions import CommitFailedError, TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

logger = logging.getLogger(__name__)

STAGING_DIR = "_staging"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
DEFAULT_PARTITION_BY = ("snapshot_date",)


class DeltaIOError(RuntimeError):
    """Base class of the errors this module raises on purpose."""


class ConcurrentWriteError(DeltaIOError):
    """Another writer committed a conflicting change while this write was running."""


class SchemaMismatchError(DeltaIOError):
    """The data's schema differs from the table's and evolution was not requested."""


class TableMissingError(DeltaIOError):
    """The table (or the requested version of it) does not exist."""


@dataclass(frozen=True)
class WriteResult:
    """What one write committed: the new version and the rows per partition added."""

    path: str
    version: int | None
    rows: int
    files: int
    partitions: dict[str, int] = field(default_factory=dict)
    removed_files: int = 0

    @property
    def changed(self) -> bool:
        return self.version is not None


# --------------------------------------------------------------------------- helpers


def table_exists(path: str | Path) -> bool:
    return DeltaTable.is_deltatable(str(path))


def _open(path: str | Path, version: int | None = None, timestamp: Any = None) -> DeltaTable:
    try:
        table = DeltaTable(str(path))
    except TableNotFoundError as exc:
        raise TableMissingError(f"no Delta table at {path}") from exc
    if version is not None and timestamp is not None:
        raise ValueError("give either version or timestamp, not both")
    try:
        if version is not None:
            table.load_as_version(int(version))
        elif timestamp is not None:
            table.load_as_version(_as_datetime(timestamp))
    except Exception as exc:  # delta-rs raises several types for a missing version
        raise TableMissingError(f"{path}: cannot load version {version or timestamp}: {exc}") from exc
    return table


def _as_datetime(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def version_at(path: str | Path, timestamp: Any) -> int:
    """The table version that was current at `timestamp` (time travel)."""
    return _open(path, timestamp=timestamp).version()


def table_version(path: str | Path) -> int | None:
    """Current version of the table, or None when there is no table."""
    return DeltaTable(str(path)).version() if table_exists(path) else None


def _arrow_schema(table: DeltaTable) -> pa.Schema:
    return pa.schema(table.schema().to_arrow())


def _partition_text(value: Any) -> str | None:
    """Partition value as Delta stores it in the log (ISO text for dates)."""
    if value is None:
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def _active_files(table: DeltaTable) -> list[dict[str, Any]]:
    """Active add actions as dicts: path, size_bytes, num_records, partition.<col>."""
    return pa.table(table.get_add_actions(flatten=True)).to_pylist()


def _partition_key(row: Mapping[str, Any], partition_by: Iterable[str]) -> tuple:
    return tuple(_partition_text(row.get(f"partition.{c}")) for c in partition_by)


def list_partitions(path: str | Path, version: int | None = None) -> dict[tuple, int]:
    """Rows per partition (tuple of partition values as text) from the Delta log alone."""
    return view(path, version=version).partitions()


def _stats_value(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _file_stats(path: Path, schema: pa.Schema) -> tuple[int, str]:
    """numRecords, nullCount and min/max (numbers and dates only) from a Parquet footer."""
    meta = pq.read_metadata(path)
    rows = meta.num_rows
    nulls: dict[str, int] = {}
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    ranged = {
        f.name
        for f in schema
        if pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_date(f.type)
    }
    top_level = {f.name for f in schema}
    for rg in range(meta.num_row_groups):
        group = meta.row_group(rg)
        for ci in range(group.num_columns):
            col = group.column(ci)
            name = col.path_in_schema
            if name not in top_level or col.statistics is None:
                continue
            st = col.statistics
            if st.has_null_count:
                nulls[name] = nulls.get(name, 0) + st.null_count
            if name in ranged and st.has_min_max:
                lo, hi = _stats_value(st.min), _stats_value(st.max)
                if lo is not None:
                    mins[name] = lo if name not in mins else min(mins[name], lo)
                if hi is not None:
                    maxs[name] = hi if name not in maxs else max(maxs[name], hi)
    stats = {"numRecords": rows, "nullCount": nulls, "minValues": mins, "maxValues": maxs}
    return rows, json.dumps(stats)


def _parse_partition_dirs(rel: Path, partition_by: tuple[str, ...]) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for part in rel.parts[:-1]:
        name, _, raw = part.partition("=")
        values[name] = None if raw == NULL_PARTITION else unquote(raw)
    missing = [c for c in partition_by if c not in values]
    if missing:
        raise DeltaIOError(f"staged file {rel} has no folder for partition column(s) {missing}")
    return {c: values[c] for c in partition_by}


def _delta_schema(schema: pa.Schema) -> DeltaSchema:
    nullable = pa.schema([f.with_nullable(True) for f in schema])
    return DeltaSchema.from_arrow(nullable)


def _spark_to_arrow(spark_schema) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(spark_schema)


def _check_schema(
    path: str, table_schema: pa.Schema, new_schema: pa.Schema, evolve: bool
) -> list[pa.Field]:
    """Columns to add to the table; raises SchemaMismatchError on any other difference."""
    old = {f.name: f.type for f in table_schema}
    new = {f.name: f.type for f in new_schema}
    changed = [f"{n} ({old[n]} -> {t})" for n, t in new.items() if n in old and old[n] != t]
    if changed:
        raise SchemaMismatchError(f"{path}: column types differ from the table: {', '.join(changed)}")
    added = [f for f in new_schema if f.name not in old]
    if added and not evolve:
        raise SchemaMismatchError(
            f"{path}: new column(s) {[f.name for f in added]} not in the table; "
            "pass schema_evolution=True to add them"
        )
    return added


# --------------------------------------------------------------------------- write


@dataclass
class StagedWrite:
    """Files of one write, in place but not yet committed (invisible to readers).

    `rows` and `partitions` tell what the commit would add, so a caller can check row
    accounting before anything becomes visible; then :meth:`commit` or :meth:`abort`.
    """

    path: Path
    table: DeltaTable | None
    mode: str
    partition_by: tuple[str, ...]
    replace: set[tuple] | None
    arrow_schema: pa.Schema
    adds: list[AddAction]
    partitions: dict[str, int]
    write_id: str
    metadata: dict[str, str]
    files: list[Path]

    @property
    def rows(self) -> int:
        return sum(self.partitions.values())

    def view(self) -> TableView:
        """What the table will hold once this write is committed (readable now)."""
        kept: list[tuple[str, tuple, int]] = []
        if self.table is not None and self.mode != "overwrite":
            base = [
                (r["path"], _partition_key(r, self.partition_by), int(r.get("num_records") or 0))
                for r in _active_files(self.table)
            ]
            kept = [f for f in base if self.replace is None or f[1] not in self.replace]
        added = [
            (a.path, tuple(a.partition_values[c] for c in self.partition_by), json.loads(a.stats)["numRecords"])
            for a in self.adds
        ]
        schema = self.arrow_schema if self.table is None else _arrow_schema(self.table)
        return TableView(self.path, schema, self.partition_by, tuple(kept + added))

    def abort(self) -> None:
        """Delete the staged files; the table is untouched."""
        _discard(self.files)
        self.files = []

    def commit(self) -> WriteResult:
        """Make the write visible in ONE Delta commit; raises ConcurrentWriteError when
        another writer committed a conflicting change since the write started."""
        root, table, partition_by = self.path, self.table, self.partition_by
        now_ms = int(time.time() * 1000)
        removes: list[RemoveAction] = []
        if table is not None and self.mode != "append":
            for row in _active_files(table):
                key = _partition_key(row, partition_by)
                if self.replace is None or key in self.replace:
                    removes.append(RemoveAction(
                        path=row["path"], data_change=True, deletion_timestamp=now_ms,
                        size=row["size_bytes"], partition_values=dict(zip(partition_by, key)),
                    ))
        if table is not None and not self.adds and not removes:
            logger.debug("%s: nothing to commit", root)
            return WriteResult(str(root), None, 0, 0, {}, 0)
        props = CommitProperties(custom_metadata={"lakehouse.write_id": self.write_id, **self.metadata})
        try:
            if table is None:
                create_table_with_add_actions(
                    str(root), _delta_schema(self.arrow_schema), self.adds, mode="error",
                    partition_by=list(partition_by) or None, commit_properties=props,
                )
                version = 0
            else:
                table.create_write_transaction(
                    removes + self.adds, mode="append", schema=_delta_schema(_arrow_schema(table)),
                    partition_by=list(partition_by) or None, commit_properties=props,
                )
                version = DeltaTable(str(root)).version()  # the handle itself does not advance
        except CommitFailedError as exc:
            self.abort()
            raise ConcurrentWriteError(
                f"{root}: another writer changed the table since version "
                f"{table.version() if table else 'none'}; nothing was written, rerun this step "
                f"({str(exc).splitlines()[0]})"
            ) from exc
        except BaseException:
            self.abort()
            raise
        logger.debug("%s: committed version %s (+%d rows in %d files, -%d files)",
                     root, version, self.rows, len(self.adds), len(removes))
        return WriteResult(str(root), version, self.rows, len(self.adds), dict(self.partitions), len(removes))


def write_table(df, path: str | Path, **options) -> WriteResult:
    """Write a Spark DataFrame to the Delta table at `path` in one atomic commit
    (:func:`stage_table` then :meth:`StagedWrite.commit`; same options)."""
    return stage_table(df, path, **options).commit()


def stage_table(
    df,
    path: str | Path,
    *,
    mode: str = "overwrite_partitions",
    partition_by: Iterable[str] | None = DEFAULT_PARTITION_BY,
    partitions: Iterable[Any] | None = None,
    schema_evolution: bool = False,
    metadata: Mapping[str, Any] | None = None,
) -> StagedWrite:
    """Have Spark write `df` as Parquet files of the table at `path`, not yet committed.

    Modes:
      - ``append``: add the rows.
      - ``overwrite``: replace the whole table.
      - ``overwrite_partitions``: replace exactly the partitions present in `df` plus
        those listed in `partitions` (values of a single partition column, or tuples for
        several); a listed partition with no new rows is emptied.
    A table that does not exist yet is created by the commit. Rows per partition come
    from the Parquet footers (no Spark action beyond the write itself).
    """
    if mode not in {"append", "overwrite", "overwrite_partitions"}:
        raise ValueError(f"unknown write mode {mode!r}")
    root = Path(path)
    partition_by = tuple(partition_by or ())
    if mode == "overwrite_partitions" and not partition_by:
        raise ValueError("overwrite_partitions needs a partitioned table")
    missing = [c for c in partition_by if c not in df.columns]
    if missing:
        raise ValueError(f"{root}: partition column(s) {missing} not in the data")

    arrow_schema = _spark_to_arrow(df.schema)
    data_schema = pa.schema([f for f in arrow_schema if f.name not in partition_by])

    # 1. remember the version we start from, check (and evolve) the schema first
    table = DeltaTable(str(root)) if table_exists(root) else None
    if table is not None:
        table_partitions = tuple(table.metadata().partition_columns)
        if table_partitions != partition_by:
            raise SchemaMismatchError(
                f"{root}: table is partitioned by {list(table_partitions)}, write asks for {list(partition_by)}"
            )
        to_add = _check_schema(str(root), _arrow_schema(table), arrow_schema, schema_evolution)
        if to_add:
            logger.info("%s: adding column(s) %s", root, [f.name for f in to_add])
            table.alter.add_columns(list(_delta_schema(pa.schema(to_add)).fields))
            table = DeltaTable(str(root))

    # 2. Spark writes Parquet into a private staging folder
    write_id = f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
    staging = root / STAGING_DIR / write_id
    # one file per partition value, written by as many tasks as there are shuffle
    # partitions (an explicit count, so adaptive execution does not fold them into one)
    if partition_by:
        tasks = int(df.sparkSession.conf.get("spark.sql.shuffle.partitions") or 8)
        out = df.repartition(tasks, *partition_by)
    else:
        out = df.coalesce(1)
    writer = out.write.mode("overwrite")
    if partition_by:
        writer = writer.partitionBy(*partition_by)

    # 3. move the files into their partition folders, collect add actions
    adds: list[AddAction] = []
    counts: dict[str, int] = {}
    moved: list[Path] = []
    try:
        writer.parquet(str(staging))
        _move_staged(staging, root, write_id, partition_by, data_schema, adds, counts, moved)
    except BaseException:
        _discard(moved)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_if_empty(root / STAGING_DIR)

    replace: set[tuple] | None = None
    if mode == "overwrite_partitions":  # the partitions written, plus any listed ones
        replace = {tuple(a.partition_values[c] for c in partition_by) for a in adds}
        replace |= {
            tuple(_partition_text(x) for x in (p if isinstance(p, tuple) else (p,))) for p in partitions or ()
        }
    return StagedWrite(
        path=root, table=table, mode=mode, partition_by=partition_by, replace=replace,
        arrow_schema=arrow_schema, adds=adds, partitions=counts, write_id=write_id,
        metadata={k: str(v) for k, v in (metadata or {}).items()}, files=moved,
    )


def _move_staged(staging: Path, root: Path, write_id: str, partition_by: tuple[str, ...], data_schema,
                 adds: list, counts: dict[str, int], moved: list[Path]) -> None:
    """Move Spark's staged Parquet files into their partition folders of the table under
    a write-unique name; append their add actions (with statistics), rows per partition
    and the moved paths (so a failure can delete them) to the given lists."""
    now_ms = int(time.time() * 1000)
    for staged in sorted(staging.rglob("*.parquet")):
        rel = staged.relative_to(staging)
        values = _parse_partition_dirs(rel, partition_by)
        target = root / rel.parent / f"{write_id}-{rel.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        staged.replace(target)
        moved.append(target)
        rows, stats = _file_stats(target, data_schema)
        adds.append(AddAction(target.relative_to(root).as_posix(), target.stat().st_size, values, now_ms, True, stats))
        key = "/".join(f"{c}={NULL_PARTITION if v is None else v}" for c, v in values.items())
        counts[key] = counts.get(key, 0) + rows


def _discard(files: list[Path]) -> None:
    """Delete files of a write that was not committed (they are invisible anyway)."""
    for f in files:
        f.unlink(missing_ok=True)


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (another write is staging) or already gone: both fine


# --------------------------------------------------------------------------- read


@dataclass(frozen=True)
class TableView:
    """A readable state of a table: its schema and the data files of one version, or of
    a staged write that is not committed yet (what the table WILL hold)."""

    root: Path
    schema: pa.Schema
    partition_by: tuple[str, ...]
    files: tuple[tuple[str, tuple, int], ...]  # (relative path, partition values as text, rows)

    def partitions(self) -> dict[tuple, int]:
        """Rows per partition (tuple of partition values as text; None = null)."""
        counts: dict[tuple, int] = {}
        for _, key, rows in self.files:
            counts[key] = counts.get(key, 0) + rows
        return counts

    def read(self, spark, *, partitions: Iterable[Any] | None = None, columns: Iterable[str] | None = None):
        """The rows as a Spark DataFrame; `partitions` prunes to those partition values."""
        from pyspark.sql.pandas.types import from_arrow_schema

        spark_schema = from_arrow_schema(self.schema)
        chosen = self.files
        if partitions is not None:
            wanted = {tuple(_partition_text(x) for x in (p if isinstance(p, tuple) else (p,))) for p in partitions}
            chosen = tuple(f for f in chosen if f[1] in wanted)
        root = self.root.resolve()
        paths = [str(root / rel) for rel, _, _ in chosen]
        if not paths:
            df = spark.createDataFrame([], spark_schema)
        else:
            df = spark.read.schema(spark_schema).option("basePath", str(root)).parquet(*paths)
            df = df.select(*[f.name for f in self.schema])  # table column order, partitions included
        return df.select(*columns) if columns is not None else df


def view(path: str | Path, *, version: int | None = None, timestamp: Any = None) -> TableView:
    """The committed state of the table at `path` (latest, or a version or timestamp)."""
    table = _open(path, version, timestamp)
    partition_by = tuple(table.metadata().partition_columns)
    files = tuple(
        (r["path"], _partition_key(r, partition_by), int(r.get("num_records") or 0)) for r in _active_files(table)
    )
    return TableView(Path(path), _arrow_schema(table), partition_by, files)


def read_table(
    spark,
    path: str | Path,
    *,
    version: int | None = None,
    timestamp: Any = None,
    partitions: Iterable[Any] | None = None,
    columns: Iterable[str] | None = None,
):
    """Read the Delta table at `path` as a Spark DataFrame.

    `version` or `timestamp` selects an older version (time travel); `partitions`
    restricts to those values of the (single) partition column, pruned from the log.
    """
    return view(path, version=version, timestamp=timestamp).read(spark, partitions=partitions, columns=columns)


def append_rows(path: str | Path, rows: list[dict], schema: pa.Schema, *, merge_schema: bool = False) -> None:
    """Append a few rows (metadata: ledger, quality, statistics, guards) straight from
    Arrow with delta-rs; no Spark. `merge_schema` lets an older table gain new fields."""
    from deltalake import write_deltalake

    if rows:
        table = pa.Table.from_pylist(rows, schema=schema)
        write_deltalake(str(path), table, mode="append", schema_mode="merge" if merge_schema else None)


def read_rows(path: str | Path) -> list[dict]:
    """All rows of a small table as dicts; [] when there is no table yet."""
    if not table_exists(path):
        return []
    return pa.table(DeltaTable(str(path)).to_pyarrow_table()).to_pylist()


def history(path: str | Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The table's commit history, newest first (delta-rs)."""
    return _open(path).history(limit)


def vacuum(path: str | Path, retention_hours: int = 168, dry_run: bool = False) -> list[str]:
    """Delete files no version within the retention references, and stale staging folders."""
    root = Path(path)
    cutoff = time.time() - retention_hours * 3600
    staging = root / STAGING_DIR
    if staging.is_dir():
        for folder in staging.iterdir():
            if folder.stat().st_mtime < cutoff and not dry_run:
                shutil.rmtree(folder, ignore_errors=True)
    return _open(root).vacuum(
        retention_hours=retention_hours, dry_run=dry_run, enforce_retention_duration=False
    )
