"""Column profiles of the silver and gold tables, per run and partition: `_meta/profile`.

`_meta/profile` (Delta, unpartitioned, written by delta-rs from Arrow like the other
`_meta` tables): one row per run_id x table x snapshot_date x column, for every data
column of the table (lineage columns starting with ``_``, raw text such as
``raw_values`` and silver flag columns ``<col>_invalid`` are not profiled: a flag is
counted as the ``invalid_count`` of its column instead).

Every row holds
  - ``row_count`` (rows of the partition), ``null_count`` (NaN counts as null),
    ``invalid_count`` (rows whose ``<col>_invalid`` flag is true; null when the column
    has no flag, e.g. in gold), ``distinct_count`` (approximate: HyperLogLog++, 5 %
    relative standard error, near exact for small counts);
  - numeric and date columns: ``min``, ``max``, ``mean``, ``stddev`` (sample), the
    approximate quantiles ``p01 p25 p50 p75 p99`` (``percentile_approx``, accuracy
    1,000: a quantile is an observed value within 0.1 % of the rows of its rank), and a
    histogram ``hist_edges`` (n + 1 edges) / ``hist_counts`` (n counts) whose bins are
    fixed per column across all partitions of the run (see :func:`histogram_edges`):
    unit bins for integers over a small range, else up to ``HIST_BINS`` equal-width
    bins between the lowest partition p01 and the highest partition p99; the outer
    bins also hold the values beyond the edges, so the counts add up to the non-null
    rows. Date columns are profiled as days since 1970-01-01 (also matplotlib's date
    number);
  - string, boolean and list columns: ``top_values``, the ``TOP_N`` most frequent
    values with their counts (ties by value; list columns count their elements).
    Values of keyed-hash columns (``*_hash``, personal data) are stored as
    ``<masked>`` with their counts. Identifier-like text columns (approximate
    distinct count >= ``KEY_LIKE_SHARE`` of the values in every partition) get no
    top values (null): each value occurs about once, and counting them all costs
    the most of any column.

Computation: two Spark jobs per table, whatever its width, and only small aggregates
reach the driver (one row per partition and column): (1) counts, moments and
percentile_approx quantiles of every column in one aggregation grouped by
(snapshot_date, column) over the rows unpivoted to (column, value); (2) the bin of
every numeric value (edges from (1), joined as a broadcast table) and every text
value counted per partition in one aggregation, keeping all bins and the top values.
A wide ``groupBy(snapshot_date)`` with hundreds of aggregate columns computes the same
but spends most of its time compiling generated code (measured on the 123 columns of
gold/feature_store), hence the unpivot.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

logger = logging.getLogger(__name__)

PARTITION_COLUMN = "snapshot_date"
QUANTILES = (0.01, 0.25, 0.5, 0.75, 0.99)
QUANTILE_NAMES = ("p01", "p25", "p50", "p75", "p99")
QUANTILE_ACCURACY = 1_000
TOP_N = 5
HIST_BINS = 20
#: A text column whose (approximate) distinct count is at least this share of its
#: values in every partition is an identifier: its top values (all seen once) are
#: not counted, which spares a count over every distinct value.
KEY_LIKE_SHARE = 0.9
KEY_LIKE_MIN_VALUES = 20
SKIPPED_COLUMNS = frozenset({"raw_values", "_raw_values", "_malformed_line"})
FLAG_SUFFIX = "_invalid"
MASKED = "<masked>"
PROFILED_LAYERS = ("silver", "gold")

TOP_VALUE_TYPE = pa.struct([("value", pa.string()), ("count", pa.int64())])
PROFILE_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("table", pa.string()),
    ("table_version", pa.int64()),
    ("snapshot_date", pa.date32()),
    ("column", pa.string()),
    ("dtype", pa.string()),
    ("kind", pa.string()),  # numeric | date | categorical | list
    ("row_count", pa.int64()),
    ("null_count", pa.int64()),
    ("invalid_count", pa.int64()),
    ("distinct_count", pa.int64()),
    ("min", pa.float64()),
    ("max", pa.float64()),
    ("mean", pa.float64()),
    ("stddev", pa.float64()),
    *[(q, pa.float64()) for q in QUANTILE_NAMES],
    ("top_values", pa.list_(TOP_VALUE_TYPE)),
    ("hist_edges", pa.list_(pa.float64())),
    ("hist_counts", pa.list_(pa.int64())),
    ("profiled_at", pa.timestamp("us", tz="UTC")),
])


# --------------------------------------------------------------------------- columns


def column_kind(data_type) -> str | None:
    """numeric | date | categorical | list, or None for types not profiled (maps,
    structs, binary)."""
    from pyspark.sql import types as T

    if isinstance(data_type, (T.ByteType, T.ShortType, T.IntegerType, T.LongType,
                              T.FloatType, T.DoubleType, T.DecimalType)):
        return "numeric"
    if isinstance(data_type, (T.DateType, T.TimestampType, T.TimestampNTZType)):
        return "date"
    if isinstance(data_type, (T.StringType, T.BooleanType)):
        return "categorical"
    if isinstance(data_type, T.ArrayType) and isinstance(
            data_type.elementType, (T.StringType, T.BooleanType, T.IntegerType, T.LongType)):
        return "list"
    return None


def flag_columns(schema) -> dict[str, str]:
    """Column -> its boolean flag column, by the silver convention ``<col>_invalid``
    (or ``<stem>_invalid`` for a column ``<stem>_<suffix>``, e.g. ssn_invalid flags
    ssn_hash). Integer columns named ``*_invalid`` (gold features) are not flags."""
    from pyspark.sql import types as T

    names = [f.name for f in schema.fields]
    flags: dict[str, str] = {}
    for f in schema.fields:
        if not (f.name.endswith(FLAG_SUFFIX) and isinstance(f.dataType, T.BooleanType)):
            continue
        stem = f.name[: -len(FLAG_SUFFIX)]
        if stem in names:
            flags[stem] = f.name
            continue
        candidates = [n for n in names if n.startswith(f"{stem}_") and n != f.name and not n.endswith(FLAG_SUFFIX)]
        if len(candidates) == 1:
            flags[candidates[0]] = f.name
    return flags


def profiled_columns(schema, flags: Mapping[str, str]) -> dict[str, str]:
    """The columns that get a profile row, with their kind, in table order."""
    flag_names = set(flags.values())
    out: dict[str, str] = {}
    for f in schema.fields:
        if f.name == PARTITION_COLUMN or f.name.startswith("_") or f.name in SKIPPED_COLUMNS or f.name in flag_names:
            continue
        kind = column_kind(f.dataType)
        if kind is not None:
            out[f.name] = kind
    return out


# --------------------------------------------------------------------------- bins


def histogram_edges(
    lo: float | None, hi: float | None, *, vmin: float | None = None, vmax: float | None = None,
    integer: bool = False, bins: int = HIST_BINS,
) -> list[float] | None:
    """Bin edges for a column: unit bins centred on the integers when an integer
    column spans at most `bins` values (from `vmin` to `vmax`); else at most `bins`
    equal-width bins over [lo, hi] (the robust range; [vmin, vmax] when lo == hi),
    of a whole width centred on the integers for an integer column (so no bin holds
    more integers than its neighbours). None when the column has no value."""
    vmin = lo if vmin is None else vmin
    vmax = hi if vmax is None else vmax
    if vmin is None or vmax is None:
        return None
    if integer and vmax - vmin + 1 <= bins:
        first = math.floor(vmin)
        return [first - 0.5 + i for i in range(math.floor(vmax) - first + 2)]
    lo = vmin if lo is None else lo
    hi = vmax if hi is None else hi
    if hi <= lo:
        lo, hi = vmin, vmax
    if hi <= lo:
        return [lo - 0.5, lo + 0.5]
    if integer:
        first, last = math.floor(lo), math.floor(hi)
        width = math.ceil((last - first + 1) / bins)
        count = math.ceil((last - first + 1) / width)
        return [first - 0.5 + i * width for i in range(count + 1)]
    width = (hi - lo) / bins
    return [lo + i * width for i in range(bins)] + [hi]


def _uniform_width(edges: Sequence[float]) -> float | None:
    """The bin width when the edges are equally spaced, else None."""
    width = (edges[-1] - edges[0]) / (len(edges) - 1)
    tolerance = 1e-9 * max(abs(edges[0]), abs(edges[-1]), width)
    ok = all(abs(edges[i] - (edges[0] + i * width)) <= tolerance for i in range(len(edges)))
    return width if ok and width > 0 else None


def _bin_index():
    """Spark expression over the columns num, edges, width, bins: the bin of num, 0 ..
    bins - 1, where bin i holds edges[i] <= num < edges[i + 1], values below the first
    inner edge fall in bin 0 and values at or above the last inner edge in the last
    bin (so the last bin is closed, as in numpy.histogram). Equal-width edges take
    arithmetic plus a one-step correction against the edges (exact at the edges);
    other edges count the inner edges <= num."""
    from pyspark.sql import functions as F

    num, edges, width, bins = F.col("num"), F.col("edges"), F.col("width"), F.col("bins")
    guess = F.least(F.greatest(F.floor((num - F.element_at(edges, 1)) / width).cast("int"), F.lit(0)), bins - 1)
    lower, upper = F.element_at(edges, guess + 1), F.element_at(edges, guess + 2)
    uniform = (F.when((guess > 0) & (num < lower), guess - 1)
               .when((guess < bins - 1) & (num >= upper), guess + 1)
               .otherwise(guess))
    inner = F.slice(edges, 2, F.greatest(bins - 1, F.lit(1)))
    counted = F.when(bins == 1, F.lit(0)).otherwise(F.size(F.filter(inner, lambda edge: edge <= num)))
    return F.when(width.isNotNull(), uniform).otherwise(counted)


def _element_entry(name: str):
    """The function F.transform applies to each element of list column `name` (one
    argument: F.transform passes the index too to a two-argument function)."""
    from pyspark.sql import functions as F

    return lambda e: F.struct(F.lit(name).alias("column"), F.lit(None).cast("double").alias("num"),
                              e.cast("string").alias("text"))


def _numeric_value(col, kind: str, data_type):
    """A numeric or date column as double (dates as days since 1970-01-01; NaN -> null)."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if kind == "date":
        if isinstance(data_type, T.DateType):
            return F.datediff(col, F.lit(dt.date(1970, 1, 1))).cast("double")
        return (F.unix_micros(col.cast("timestamp")) / F.lit(86_400_000_000.0)).cast("double")
    value = col.cast("double")
    return F.nanvl(value, F.lit(None).cast("double"))


# --------------------------------------------------------------------------- profile


def profile_table(
    df,
    table_name: str,
    run_id: str,
    *,
    table_version: int | None = None,
    bins: Mapping[str, Sequence[float]] | None = None,
    flags: Mapping[str, str] | None = None,
    top_n: int = TOP_N,
    histogram_bins: int = HIST_BINS,
    profiled_at: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Profile rows of one table (see the module docstring for the columns): one per
    snapshot_date x profiled column, ordered by date then table column order.

    `df` must hold ``snapshot_date``. `bins` gives fixed edges for some columns
    (values outside go to the outer bins); `flags` maps a column to its flag column
    (default: :func:`flag_columns`). Runs two Spark jobs; collects only aggregates.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if PARTITION_COLUMN not in df.columns:
        raise ValueError(f"{table_name}: no {PARTITION_COLUMN} column to profile by")
    began = time.perf_counter()
    types = {f.name: f.dataType for f in df.schema.fields}
    flags = dict(flag_columns(df.schema) if flags is None else flags)
    kinds = profiled_columns(df.schema, flags)
    flags = {c: f for c, f in flags.items() if c in kinds and f in types}
    bins = dict(bins or {})
    profiled_at = profiled_at or dt.datetime.now(dt.timezone.utc)
    if not kinds:
        return []

    # job 1: counts, moments, quantiles per partition and column, in one aggregation
    # over (snapshot_date, column, value) triples: a narrow plan whatever the width of
    # the table (a wide groupBy with hundreds of aggregates spends its time compiling)
    values = {c: _numeric_value(F.col(c), k, types[c]) for c, k in kinds.items() if k in ("numeric", "date")}
    triples = []
    for c, k in kinds.items():
        if c in values:
            num, text, present = values[c], F.lit(None).cast("string"), values[c].isNotNull()
        else:
            text = F.col(c).cast("string") if k == "categorical" else F.when(
                F.col(c).isNotNull(), F.concat_ws("\u0001", F.col(c).cast("array<string>")))
            num, present = F.lit(None).cast("double"), F.col(c).isNotNull()
        flag = F.col(flags[c]).cast("long") if c in flags else F.lit(None).cast("long")
        triples.append(F.struct(F.lit(c).alias("column"), num.alias("num"), text.alias("text"),
                                present.cast("long").alias("present"), flag.alias("flag")))
    long = df.select(PARTITION_COLUMN, F.explode(F.array(*triples)).alias("t")).select(PARTITION_COLUMN, "t.*")
    num = F.col("num")
    aggregated = long.groupBy(PARTITION_COLUMN, "column").agg(
        F.count(F.lit(1)).alias("rows"), F.sum("present").alias("nonnull"), F.sum("flag").alias("invalid"),
        F.approx_count_distinct(num).alias("distinct_num"), F.approx_count_distinct("text").alias("distinct_text"),
        F.min(num).alias("min"), F.max(num).alias("max"), F.avg(num).alias("mean"),
        F.stddev_samp(num).alias("stddev"),
        F.percentile_approx(num, list(QUANTILES), QUANTILE_ACCURACY).alias("quantiles"),
    )
    with _hash_aggregated_sketches(df.sparkSession):
        stats = {(r[PARTITION_COLUMN], r["column"]): r.asDict() for r in aggregated.collect()}
    job1 = time.perf_counter() - began

    # bin edges fixed per column across the partitions
    edges: dict[str, list[float]] = {}
    for c in values:
        if c in bins:
            edges[c] = [float(e) for e in bins[c]]
            continue
        parts = [s for (_, column), s in stats.items() if column == c and s["nonnull"]]
        if not parts:
            continue
        integer = kinds[c] == "date" or types[c].typeName() in ("byte", "short", "integer", "long")
        found = histogram_edges(
            min(s["quantiles"][0] for s in parts), max(s["quantiles"][-1] for s in parts),
            vmin=min(s["min"] for s in parts), vmax=max(s["max"] for s in parts),
            integer=integer, bins=histogram_bins,
        )
        if found is not None:
            edges[c] = found

    # job 2: bins of numeric columns, top values of the others, per partition: one
    # count over (snapshot_date, column, value-or-bin), the bin found by a broadcast
    # join on the column's inner edges (bin = inner edges <= value)
    entry_type = "array<struct<column:string,num:double,text:string>>"
    key_like = {c for c, k in kinds.items() if k == "categorical" and _key_like(c, stats)}
    items, lists = [], []
    for c, k in kinds.items():
        if c in key_like:
            continue
        if c in edges:
            items.append(F.struct(F.lit(c).alias("column"), values[c].alias("num"), F.lit(None).cast("string").alias("text")))
        elif k == "categorical":
            items.append(F.struct(F.lit(c).alias("column"), F.lit(None).cast("double").alias("num"),
                                  F.col(c).cast("string").alias("text")))
        elif k == "list":
            lists.append(F.coalesce(F.transform(F.col(c), _element_entry(c)), F.array().cast(entry_type)))
    counted: dict[tuple, list] = {}
    if items or lists:
        entries = F.array(*items) if items else F.array().cast(entry_type)
        if lists:
            entries = F.concat(entries, *lists)
        exploded = df.select(PARTITION_COLUMN, F.explode(entries).alias("e")).select(PARTITION_COLUMN, "e.*")
        if edges:
            bin_table = df.sparkSession.createDataFrame(
                [(c, e, _uniform_width(e), len(e) - 1) for c, e in edges.items()],
                "column string, edges array<double>, width double, bins int")
            exploded = exploded.join(F.broadcast(bin_table), on="column", how="left")
            value = F.when(F.col("bins").isNotNull(), F.when(F.col("num").isNotNull(), _bin_index().cast("string")))
            exploded = exploded.withColumn("value", value.otherwise(F.col("text")))
        else:
            exploded = exploded.withColumn("value", F.col("text"))
        counts = exploded.where(F.col("value").isNotNull()).groupBy(PARTITION_COLUMN, "column", "value").count()
        rank = F.row_number().over(
            Window.partitionBy(PARTITION_COLUMN, "column").orderBy(F.desc("count"), F.asc("value")))
        keep = F.col("_rank") <= top_n
        if edges:
            keep = keep | F.col("column").isin(list(edges))
        grouped = counts.withColumn("_rank", rank).where(keep).groupBy(PARTITION_COLUMN, "column").agg(
            F.collect_list(F.struct("value", "count")).alias("entries"))
        counted = {(r[PARTITION_COLUMN], r["column"]): [(e["value"], e["count"]) for e in r["entries"]]
                   for r in grouped.collect()}

    rows: list[dict[str, Any]] = []
    dates = sorted({d for d, _ in stats}, key=lambda d: (d is None, d))
    for date in dates:
        for c, k in kinds.items():
            s = stats[(date, c)]
            row: dict[str, Any] = {
                "run_id": run_id, "table": table_name, "table_version": table_version, "snapshot_date": date,
                "column": c, "dtype": types[c].simpleString(), "kind": k,
                "row_count": s["rows"], "null_count": s["rows"] - (s["nonnull"] or 0),
                "invalid_count": int(s["invalid"] or 0) if c in flags else None,
                "distinct_count": s["distinct_num"] if c in values else s["distinct_text"],
                "profiled_at": profiled_at, "top_values": None, "hist_edges": None, "hist_counts": None,
            }
            if c in values:
                quantiles = s["quantiles"] or [None] * len(QUANTILES)
                row.update({"min": s["min"], "max": s["max"], "mean": s["mean"], "stddev": s["stddev"],
                            **dict(zip(QUANTILE_NAMES, quantiles))})
            entries = counted.get((date, c), [])
            if c in edges:
                hist = [0] * (len(edges[c]) - 1)
                for value, n in entries:
                    hist[int(value)] += n
                row["hist_edges"], row["hist_counts"] = edges[c], hist
            elif k in ("categorical", "list") and c not in key_like:
                top = sorted(entries, key=lambda e: (-e[1], e[0]))[:top_n]
                masked = c.endswith("_hash")
                row["top_values"] = [{"value": MASKED if masked else v, "count": n} for v, n in top]
            rows.append(row)
    logger.debug("%s: profiled %d columns x %d partitions in %.1fs (statistics %.1fs, bins and top values %.1fs)",
                 table_name, len(kinds), len(dates), time.perf_counter() - began, job1,
                 time.perf_counter() - began - job1)
    return rows


#: Groups (partition x column) a task keeps in a hash map of quantile sketches before
#: Spark falls back to sorting all its rows (Spark's default: 128, fewer than the
#: columns x months of one table). A sketch holds a few thousand numbers at most.
SKETCH_GROUPS_IN_MEMORY = 4096


@contextlib.contextmanager
def _hash_aggregated_sketches(spark):
    key = "spark.sql.objectHashAggregate.sortBased.fallbackThreshold"
    before = spark.conf.get(key, None)
    spark.conf.set(key, str(SKETCH_GROUPS_IN_MEMORY))
    try:
        yield
    finally:
        if before is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, before)


def _key_like(column: str, stats: Mapping[tuple, Mapping[str, Any]]) -> bool:
    """True when every partition's values of `column` are (nearly) all distinct."""
    parts = [s for (_, c), s in stats.items() if c == column and s["nonnull"]]
    return bool(parts) and all(
        s["nonnull"] > KEY_LIKE_MIN_VALUES and (s["distinct_text"] or 0) >= KEY_LIKE_SHARE * s["nonnull"]
        for s in parts
    )


# --------------------------------------------------------------------------- storage


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def write_profile(path: str | Path, rows: list[dict[str, Any]]) -> None:
    """Store profile rows in the Delta table at `path` (created on first use). Rows of
    a (run_id, table) already there are replaced in the same commit, so profiling a
    run again does not duplicate it."""
    from deltalake import DeltaTable, write_deltalake

    if not rows:
        return
    data = pa.Table.from_pylist(rows, schema=PROFILE_SCHEMA)
    if not DeltaTable.is_deltatable(str(path)):
        write_deltalake(str(path), data, mode="append")
        return
    pairs = sorted({(r["run_id"], r["table"]) for r in rows})
    predicate = " OR ".join(f"(run_id = {_sql_text(run)} AND \"table\" = {_sql_text(table)})" for run, table in pairs)
    write_deltalake(str(path), data, mode="overwrite", predicate=predicate)


def read_profile(path: str | Path, run_id: str | None = None):
    """Profile rows (all runs, or one) as a pandas DataFrame; empty when none."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(str(path)):
        return PROFILE_SCHEMA.empty_table().to_pandas()
    dataset = DeltaTable(str(path)).to_pyarrow_dataset()
    table = dataset.to_table(filter=pc.field("run_id") == run_id) if run_id is not None else dataset.to_table()
    return table.to_pandas()


def profiled_runs(path: str | Path) -> set[str]:
    """Run ids that have profile rows."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(str(path)):
        return set()
    ids = DeltaTable(str(path)).to_pyarrow_dataset().to_table(columns=["run_id"]).column("run_id")
    return set(pa.compute.unique(ids).to_pylist())


def profile_path(datamart: str | Path) -> Path:
    return Path(datamart) / "_meta" / "profile"


def datamart_tables(datamart: str | Path) -> list[str]:
    """The silver and gold tables of a datamart, as ``<layer>/<name>`` (the quarantine
    and other ``_`` folders excluded), from the folders holding a Delta table."""
    from utils import delta_io

    root = Path(datamart)
    found = []
    for layer in PROFILED_LAYERS:
        folder = root / layer
        if folder.is_dir():
            found += [f"{layer}/{p.name}" for p in sorted(folder.iterdir())
                      if not p.name.startswith("_") and delta_io.table_exists(p)]
    return found


def run_versions(datamart: str | Path, run_id: str) -> dict[str, int]:
    """Table -> the Delta version the run wrote or found unchanged (from the ledger);
    empty when the run has no outputs recorded (yet)."""
    from utils.ledger import RunLedger

    for run in RunLedger(Path(datamart) / "_meta" / "runs").latest_runs():
        if run["run_id"] == run_id:
            return {o["table"]: o["version"] for o in run["outputs"] or [] if o["version"] is not None}
    return {}


def profile_datamart(
    spark,
    datamart: str | Path,
    run_id: str,
    tables: Iterable[str] | None = None,
    *,
    versions: Mapping[str, int] | None = None,
) -> list[dict[str, Any]]:
    """Profile the silver and gold tables of `datamart` (or `tables`, named like
    ``silver/attributes``) as run `run_id` left them, store the rows in
    `_meta/profile` (replacing that run's rows of those tables) and return them.

    Table versions: `versions` when given (e.g. from the run record right after the
    commit), else those the ledger records for the run, else the latest.
    """
    from utils import delta_io

    root = Path(datamart)
    names = list(tables) if tables is not None else datamart_tables(root)
    versions = dict(run_versions(root, run_id) if versions is None else versions)
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    profiled_at = dt.datetime.now(dt.timezone.utc)
    for name in names:
        path = root / name
        if not delta_io.table_exists(path):
            logger.warning("profile: %s does not exist, skipped", name)
            continue
        version = versions.get(name)
        if version is None:
            version = delta_io.table_version(path)
        t0 = time.perf_counter()
        table_rows = profile_table(delta_io.read_table(spark, path, version=version), name, run_id,
                                   table_version=version, profiled_at=profiled_at)
        logger.info("profile %s (version %s): %d rows in %.1fs", name, version, len(table_rows),
                    time.perf_counter() - t0)
        rows += table_rows
    write_profile(profile_path(root), rows)
    logger.info("profile of run %s: %d tables, %d rows -> %s (%.1fs)", run_id, len(names), len(rows),
                profile_path(root), time.perf_counter() - began)
    return rows
