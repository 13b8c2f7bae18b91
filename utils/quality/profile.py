"""Column profiles of the silver and gold tables, per run and partition: `_meta/profile`.

`_meta/profile` (Delta, unpartitioned, written by delta-rs from Arrow like the other
`_meta` tables): one row per run_id x table x snapshot_date x column, for every data
column of the table (lineage columns starting with ``_``, raw text such as
``raw_values`` and silver flag columns ``<col>_invalid`` are not profiled: a flag is
counted as the ``invalid_count`` of its column instead).

Every row holds
  - ``row_count`` (rows of the partition), ``null_count`` (NaN counts as null),
    ``invalid_count`` (rows whose ``<col>_invalid`` flag is true; null when the column
    has no flag, e.g. in gold), ``distinct_count`` (exact: non-null distinct values;
    for list columns, distinct lists);
  - numeric and date columns: ``min``, ``max``, ``mean``, ``stddev`` (sample), the
    quantiles ``p01 p25 p50 p75 p99`` (exact: the smallest observed value whose rank
    reaches the quantile, numpy's ``inverted_cdf``), and a histogram ``hist_edges``
    (n + 1 edges) / ``hist_counts`` (n counts) whose bins are fixed per column across
    all partitions of the run (see :func:`histogram_edges`): unit bins for integers
    over a small range, else up to ``HIST_BINS`` equal-width bins between the lowest
    partition p01 and the highest partition p99; the outer bins also hold the values
    beyond the edges, so the counts add up to the non-null rows. Date columns are
    profiled as days since 1970-01-01 (also matplotlib's date number);
  - string, boolean and list columns: ``top_values``, the ``TOP_N`` most frequent
    values with their counts (ties by value; list columns count their elements).
    Values of keyed-hash columns (``*_hash``, personal data) are stored as
    ``<masked>`` with their counts. Identifier-like text columns (distinct count >=
    ``KEY_LIKE_SHARE`` of the values in every partition) get no top values (null):
    each value occurs about once.

Computation: two Spark jobs per table, and only small aggregates reach the driver (one
row per partition and column). Spark groups the rows of each partition (snapshot_date)
and hands them to a Python worker as Arrow batches (``applyInArrow``), where numpy and
pyarrow compute (1) every statistic of every column of that partition, exactly, and
(2) with the bin edges fixed from (1), the histogram of every numeric column. One
partition of one table must fit in a worker's memory (a month of a table: a few MB on
CS611, tens of MB at 40 times its size). The earlier pure-Spark version
(percentile_approx and HyperLogLog over rows unpivoted to (column, value)) took about
twice as long on the CS611 tables, most of it in per-row aggregation buffers.
"""

from __future__ import annotations

import datetime as dt
import functools
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
TOP_N = 5
HIST_BINS = 20
#: A text column whose distinct count is at least this share of its values in every
#: partition is an identifier: its top values (all seen once) say nothing.
KEY_LIKE_SHARE = 0.9
KEY_LIKE_MIN_VALUES = 20
SKIPPED_COLUMNS = frozenset({"raw_values", "_raw_values", "_malformed_record"})
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
    from pyspark.sql import functions as F

    if PARTITION_COLUMN not in df.columns:
        raise ValueError(f"{table_name}: no {PARTITION_COLUMN} column to profile by")
    began = time.perf_counter()
    types = {f.name: f.dataType for f in df.schema.fields}
    flags = dict(flag_columns(df.schema) if flags is None else flags)
    kinds = profiled_columns(df.schema, flags)
    flags = {c: f for c, f in flags.items() if c in kinds and f in types}
    bins = {c: [float(e) for e in edges] for c, edges in (bins or {}).items()}
    profiled_at = profiled_at or dt.datetime.now(dt.timezone.utc)
    if not kinds:
        return []
    numeric = [c for c, k in kinds.items() if k in ("numeric", "date")]
    # what the Python workers read: the profiled columns as Arrow-friendly types
    # (decimals and timestamps as doubles, dates as days since 1970) and the flags
    columns = [PARTITION_COLUMN]
    for c, k in kinds.items():
        columns.append(_numeric_value(F.col(c), k, types[c]).alias(c) if c in numeric else F.col(c))
    columns += [F.col(f).alias(f"\u0001flag:{c}") for c, f in flags.items()]
    narrow = df.select(*columns)

    # job 1: every statistic per partition and column, exact, in one Python pass per
    # partition (Arrow batches in, one small row per column out)
    spec = {"kinds": kinds, "flags": sorted(flags), "top_n": top_n}
    stats = {
        (r[PARTITION_COLUMN], r["column"]): r.asDict()
        for r in narrow.groupBy(PARTITION_COLUMN).applyInArrow(
            functools.partial(_partition_statistics, spec=spec), _result_types()[0]).collect()
    }
    job1 = time.perf_counter() - began

    # bin edges fixed per column across the partitions
    edges = _fixed_edges(stats, numeric, kinds, types, bins, histogram_bins)

    # job 2: the histogram of every numeric column per partition, with those edges
    counted: dict[tuple, list[int]] = {}
    if edges:
        counted = {
            (r[PARTITION_COLUMN], r["column"]): list(r["counts"])
            for r in narrow.select(PARTITION_COLUMN, *edges).groupBy(PARTITION_COLUMN).applyInArrow(
                functools.partial(_partition_histograms, edges=edges), _result_types()[1]).collect()
        }

    rows, dates = _profile_rows(stats, counted, edges, kinds, types, flags, numeric,
                                run_id=run_id, table_name=table_name, table_version=table_version,
                                profiled_at=profiled_at)
    logger.debug("%s: profiled %d columns x %d partitions in %.1fs (statistics %.1fs, histograms %.1fs)",
                 table_name, len(kinds), len(dates), time.perf_counter() - began, job1,
                 time.perf_counter() - began - job1)
    return rows


def _fixed_edges(stats: dict, numeric: list[str], kinds: dict, types: dict, bins: dict,
                 histogram_bins: int) -> dict[str, list[float]]:
    """Histogram bin edges per numeric column, the same for every partition: the given
    `bins`, else edges over the range the partitions' statistics span."""
    edges: dict[str, list[float]] = {}
    for c in numeric:
        if c in bins:
            edges[c] = bins[c]
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
    return edges


def _profile_rows(stats: dict, counted: dict, edges: dict, kinds: dict, types: dict, flags: dict,
                  numeric: list[str], *, run_id: str, table_name: str, table_version, profiled_at) -> tuple[list, list]:
    """The profile rows (one per snapshot_date x column, by date then column order) from
    the per-partition statistics and histograms; and the dates."""
    key_like = {c for c, k in kinds.items() if k == "categorical" and _key_like(c, stats)}
    rows: list[dict[str, Any]] = []
    dates = sorted({d for d, _ in stats}, key=lambda d: (d is None, d))
    for date in dates:
        for c, k in kinds.items():
            s = stats[(date, c)]
            row: dict[str, Any] = {
                "run_id": run_id, "table": table_name, "table_version": table_version, "snapshot_date": date,
                "column": c, "dtype": types[c].simpleString(), "kind": k,
                "row_count": s["rows"], "null_count": s["rows"] - s["nonnull"],
                "invalid_count": s["invalid"] if c in flags else None,
                "distinct_count": s["distinct"], "profiled_at": profiled_at,
                "top_values": None, "hist_edges": None, "hist_counts": None,
            }
            if c in numeric:
                quantiles = s["quantiles"] or [None] * len(QUANTILES)
                row.update({"min": s["min"], "max": s["max"], "mean": s["mean"], "stddev": s["stddev"],
                            **dict(zip(QUANTILE_NAMES, quantiles))})
            if c in edges:
                row["hist_edges"] = edges[c]
                row["hist_counts"] = counted.get((date, c), [0] * (len(edges[c]) - 1))
            elif k in ("categorical", "list") and c not in key_like:
                masked = c.endswith("_hash")
                row["top_values"] = [{"value": MASKED if masked else e["value"], "count": e["count"]}
                                     for e in s["top"] or []]
            rows.append(row)
    return rows, dates


@functools.cache
def _result_types():
    """(statistics, histogram) row types the Python workers return, as Spark types
    (for applyInArrow) from which pyspark derives the Arrow schemas (for the workers)."""
    from pyspark.sql import types as T

    def struct(*fields):
        return T.StructType([T.StructField(name, kind) for name, kind in fields])

    key = [(PARTITION_COLUMN, T.DateType()), ("column", T.StringType())]
    top = T.ArrayType(struct(("value", T.StringType()), ("count", T.LongType())))
    statistics = struct(*key, *[(n, T.LongType()) for n in ("rows", "nonnull", "invalid", "distinct")],
                        *[(n, T.DoubleType()) for n in ("min", "max", "mean", "stddev")],
                        ("quantiles", T.ArrayType(T.DoubleType())), ("top", top))
    histogram = struct(*key, ("counts", T.ArrayType(T.LongType())))
    return statistics, histogram


def _arrow_table(rows: list[dict[str, Any]], spark_type):
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema

    return pa.Table.from_pylist(rows, schema=to_arrow_schema(spark_type))


def _text_of(values):
    """An Arrow array as text, the way Spark casts it to string (booleans as true/false)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_boolean(values.type):
        return pc.if_else(values, "true", "false")
    return pc.cast(values, pa.string())


def _top(text, top_n: int) -> list[dict[str, Any]]:
    """The `top_n` most frequent non-null values of a text array, ties by value."""
    import pyarrow.compute as pc

    counts = pc.value_counts(pc.drop_null(text)).to_pylist()
    counts.sort(key=lambda e: (-e["counts"], e["values"]))
    return [{"value": e["values"], "count": e["counts"]} for e in counts[:top_n]]


def _partition_statistics(table, spec: Mapping[str, Any]):
    """One partition (an Arrow table of the narrowed columns) -> one row per profiled
    column: counts, exact distinct count, moments and exact quantiles (the smallest
    observed value whose rank reaches the quantile), and top values of text columns.
    Runs in the Python workers."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    date = table.column(PARTITION_COLUMN)[0].as_py() if table.num_rows else None
    rows = table.num_rows
    out: list[dict[str, Any]] = []
    for c, kind in spec["kinds"].items():
        values = table.column(c).combine_chunks()
        row: dict[str, Any] = {PARTITION_COLUMN: date, "column": c, "rows": rows, "invalid": None,
                               "min": None, "max": None, "mean": None, "stddev": None, "quantiles": None,
                               "top": None}
        if c in spec["flags"]:
            row["invalid"] = int(pc.sum(pc.cast(table.column(f"\u0001flag:{c}"), pa.int64())).as_py() or 0)
        if kind in ("numeric", "date"):
            v = values.to_numpy(zero_copy_only=False).astype("float64")
            v = np.sort(v[~np.isnan(v)])
            n = len(v)
            row.update(nonnull=n, distinct=int(n and 1 + np.count_nonzero(v[1:] != v[:-1])))
            if n:
                ranks = [max(0, math.ceil(q * n) - 1) for q in QUANTILES]
                row.update(min=float(v[0]), max=float(v[-1]), mean=float(v.mean()),
                           stddev=float(v.std(ddof=1)) if n > 1 else None, quantiles=[float(v[r]) for r in ranks])
        elif kind == "categorical":
            text = _text_of(values)
            row.update(nonnull=rows - text.null_count, distinct=int(pc.count_distinct(text).as_py()),
                       top=_top(text, spec["top_n"]))
        else:  # list: distinct lists, top elements
            elements = pc.list_flatten(values)
            lists = {tuple(x) for x in values.to_pylist() if x is not None}
            row.update(nonnull=rows - values.null_count, distinct=len(lists),
                       top=_top(_text_of(elements), spec["top_n"]))
        out.append(row)
    return _arrow_table(out, _result_types()[0])


def _partition_histograms(table, edges: Mapping[str, Sequence[float]]):
    """One partition -> the bin counts of every column in `edges`: bin i holds
    edges[i] <= value < edges[i + 1]; values below the first inner edge count in the
    first bin and values at or above the last inner edge in the last (the last bin is
    closed, as in numpy.histogram). Runs in the Python workers."""
    import numpy as np

    date = table.column(PARTITION_COLUMN)[0].as_py() if table.num_rows else None
    out = []
    for c, e in edges.items():
        v = table.column(c).combine_chunks().to_numpy(zero_copy_only=False).astype("float64")
        v = v[~np.isnan(v)]
        which = np.searchsorted(np.asarray(e[1:-1], dtype="float64"), v, side="right")
        out.append({PARTITION_COLUMN: date, "column": c,
                    "counts": np.bincount(which, minlength=len(e) - 1).astype("int64").tolist()})
    return _arrow_table(out, _result_types()[1])


def _key_like(column: str, stats: Mapping[tuple, Mapping[str, Any]]) -> bool:
    """True when every partition's values of `column` are (nearly) all distinct."""
    parts = [s for (_, c), s in stats.items() if c == column and s["nonnull"]]
    return bool(parts) and all(
        s["nonnull"] > KEY_LIKE_MIN_VALUES and (s["distinct"] or 0) >= KEY_LIKE_SHARE * s["nonnull"]
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


def datamart_tables(datamart: str | Path, domain: str) -> list[str]:
    """The silver and gold tables of a domain, as ``<layer>/<name>`` (the quarantine
    and other ``_`` folders excluded), from the folders holding a Delta table."""
    from utils.lake import delta_io

    root = Path(datamart)
    found = []
    for layer in PROFILED_LAYERS:
        folder = root / layer / domain
        if folder.is_dir():
            found += [f"{layer}/{p.name}" for p in sorted(folder.iterdir())
                      if not p.name.startswith("_") and delta_io.table_exists(p)]
    return found


def run_domain(datamart: str | Path, run_id: str) -> str:
    """The domain a run built (from the ledger)."""
    from utils.lake.ledger import RunLedger

    for run in RunLedger(Path(datamart) / "_meta" / "runs").latest_runs():
        if run["run_id"] == run_id:
            return run["domain"]
    raise ValueError(f"{datamart}: no run {run_id} in the ledger")


def run_versions(datamart: str | Path, run_id: str) -> dict[str, int]:
    """Table -> the Delta version the run wrote or found unchanged (from the ledger);
    empty when the run has no outputs recorded (yet)."""
    from utils.lake.ledger import RunLedger

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
    from utils.lake import delta_io
    from utils.lake.datamart import Datamart

    root = Path(datamart)
    domain = run_domain(root, run_id)
    names = list(tables) if tables is not None else datamart_tables(root, domain)
    versions = dict(run_versions(root, run_id) if versions is None else versions)
    began = time.perf_counter()
    rows: list[dict[str, Any]] = []
    profiled_at = dt.datetime.now(dt.timezone.utc)
    for name in names:
        path = Datamart(root, domain).path_of(name)
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
