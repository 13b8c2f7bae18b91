"""Point-in-time retrieval from the gold stores of any domain: training sets and online
features, through ONE as-of function, reproducible by Delta version. No Spark needed.

    from utils.ml.feature_store import latest_features, training_set
    frame = training_set(domain="loan_default", label="30dpd_6mob", datamart="datamart")
    frame = training_set(domain="loan_default", as_of="2026-11-23T10:00:00Z")      # as the tables were then
    online = latest_features("loan_default", "2024-06-01", entities=["CUS_0x1000"], datamart="datamart")

Contract of the stores (every domain): ``gold/<domain>/feature_store`` holds one row per
(`<entity>`, `snapshot_date` D) with the feature columns and the lineage columns
``has_<source>`` / ``_asof_<source>``; ``gold/<domain>/label_store`` holds `<entity>`,
``label``, ``label_def``, ``feature_snapshot_date`` (the D of the feature row the label
belongs to: the offset is part of the label definition, not of the notebook),
``snapshot_date`` (when the label is observed) and kind-specific columns.

:func:`point_in_time` is the as-of join: for each (entity, date) it takes the feature row
of that entity with the latest ``snapshot_date`` <= date, optionally no older than a
given age. :func:`training_set` calls it with age 0 (a label gets the feature row of its
own ``feature_snapshot_date``, or nulls when that row is missing);
:func:`latest_features` calls it with no age limit (the newest row known at `as_of`),
so training and serving cannot disagree about which row a (entity, date) gets.

Time travel: ``versions={"feature_store": 3, "label_store": 2}`` or ``as_of=<timestamp>``
reads the tables as they were (Delta versions), so a training set is rebuilt exactly;
:func:`store_versions` says which versions a call reads. ``training_set(spark, datamart,
...)`` (a Spark session first) returns a Spark DataFrame, as it always did; without a
session it returns pandas.

The stores are read with delta-rs into Arrow (columns projected, partitions pruned);
the whole result lives on the driver, as a training frame or an online batch does anyway.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds

from utils.lake import delta_io
from utils.lake.datamart import Datamart
from utils.lake.paths import PROJECT_ROOT

log = logging.getLogger(__name__)

#: The domain whose stores are read when none is named (the course domain).
DEFAULT_DOMAIN = "loan_default"
#: Where `python main.py` builds the datamart by default.
DEFAULT_DATAMART = PROJECT_ROOT / "datamart"
#: The key columns of a loan_default training set (every column before the features).
KEY_COLUMNS = ("loan_id", "customer_id", "feature_snapshot_date", "label_date", "label_def", "label")

SNAPSHOT = "snapshot_date"
FEATURE_DATE = "feature_snapshot_date"
LABEL_DATE = "label_date"
STORES = ("feature_store", "label_store")


# --------------------------------------------------------------------------- helpers


def _date(value: Any) -> dt.date | None:
    """A date from a date, a datetime (its day), 'YYYY-MM-DD' or 'YYYY-MM' (the first of that month)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value)
    if len(text) > 10:  # an ISO timestamp: its day
        return dt.datetime.fromisoformat(text).date()
    return dt.date.fromisoformat(text if len(text) > 7 else f"{text}-01")


def _store_path(datamart: str | Path, domain: str, name: str) -> Path:
    return Datamart(Path(datamart), domain).table("gold", name)


def _plain(table: pa.Table) -> pa.Table:
    """`table` with string views and large strings as plain strings (what Spark and pandas expect)."""
    fields = [
        pa.field(f.name, pa.string(), f.nullable) if f.type in (pa.string_view(), pa.large_string()) else f
        for f in table.schema
    ]
    schema = pa.schema(fields)
    return table if schema.equals(table.schema) else table.cast(schema)


def _read(path: Path, version: int | None, *, columns: Sequence[str] | None = None,
          partitions: pds.Expression | None = None) -> pa.Table:
    """Rows of the Delta table at `path` (version `version`, latest when None) as Arrow,
    `columns` projected. `partitions` may only test the partition column (snapshot_date):
    delta-rs turns the min/max that the log does not hold (delta_io records them for
    numbers and dates only) into null bounds, so a pushed-down test of a string column
    silently drops every file. Other filters are applied by the caller in memory."""
    # delta-rs directly: utils.lake.delta_io reads into Spark only; an Arrow reader belongs there.
    from deltalake import DeltaTable

    if not delta_io.table_exists(path):
        raise delta_io.TableMissingError(f"no Delta table at {path}; build it with `python main.py`")
    dataset = DeltaTable(str(path), version=version).to_pyarrow_dataset()
    return _plain(dataset.to_table(columns=list(columns) if columns is not None else None, filter=partitions))


def read_arrow(path: str | Path, version: int | None = None, *, columns: Sequence[str] | None = None,
               partitions: pds.Expression | None = None) -> pa.Table:
    """Rows of any Delta table of the datamart as Arrow, without Spark (see `_read`)."""
    return _read(Path(path), version, columns=columns, partitions=partitions)


def _schema(path: Path, version: int | None) -> pa.Schema:
    """The Arrow schema of a table version (read from the log, no data)."""
    if not delta_io.table_exists(path):
        raise delta_io.TableMissingError(f"no Delta table at {path}; build it with `python main.py`")
    return delta_io.view(path, version=version).schema


def _arrow(frame: pa.Table | pd.DataFrame) -> pa.Table:
    return frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)


def lineage_columns(columns: Iterable[str]) -> set[str]:
    """The lineage columns among `columns`: ``_asof_<source>`` and its ``has_<source>``."""
    names = list(columns)
    sources = {c[len("_asof_"):] for c in names if c.startswith("_asof_")}
    return {f"has_{s}" for s in sources} | {f"_asof_{s}" for s in sources}


def feature_columns(columns: Iterable[str], entity: str) -> list[str]:
    """The feature columns of a feature store's `columns`: all but the entity, snapshot_date
    and the lineage columns (loan-type flags such as ``has_auto_loan`` are features)."""
    names = list(columns)
    lineage = lineage_columns(names)
    return [c for c in names if c not in (entity, SNAPSHOT) and c not in lineage]


def _entity(columns: Sequence[str], given: str | None) -> str:
    """The entity column: `given`, else the feature store's first column (gold writes it first)."""
    if given is not None:
        if given not in columns:
            raise KeyError(f"entity column {given!r} not in gold/feature_store")
        return given
    return columns[0]


def _entity_and_features(path: Path, version: int | None, entity: str | None,
                         features: Sequence[str] | None) -> tuple[str, list[str]]:
    """The entity column and the feature columns to read from the feature store at
    `version` (`features`, else all of them); KeyError naming those it lacks."""
    columns = _schema(path, version).names
    entity = _entity(columns, entity)
    wanted = list(features) if features is not None else feature_columns(columns, entity)
    missing = [f for f in wanted if f not in columns]
    if missing:
        raise KeyError(f"feature(s) {missing} not in gold/feature_store version "
                       f"{'latest' if version is None else version}")
    return entity, wanted


# --------------------------------------------------------------------------- the as-of join


def _days(column: pa.ChunkedArray) -> pd.Series:
    """Days since 1970-01-01 of a date, timestamp or ISO-text column (float: NaN for null)."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_timestamp(kind):
        column = pc.cast(column, pa.date32())
    return pd.Series(pc.cast(column, pa.int32()).to_numpy(zero_copy_only=False), dtype="float64")


def _match(features: pa.Table, keys: pa.Table, entity: str, date_column: str,
           max_age_days: int | None) -> pa.Array:
    """For each row of `keys`, the position in `features` of its as-of row (null: none)."""
    right = pd.DataFrame({"_e": features[entity].to_pandas(), "_d": _days(features[SNAPSHOT]),
                          "_pos": np.arange(features.num_rows)}).dropna(subset=["_e", "_d"])
    dupes = right.duplicated(["_e", "_d"])
    if dupes.any():
        first = right[dupes].iloc[0]
        raise ValueError(f"feature rows are not unique per ({entity}, {SNAPSHOT}): {first['_e']!r} at "
                         f"{dt.date(1970, 1, 1) + dt.timedelta(days=int(first['_d']))} appears more than once")
    left = pd.DataFrame({"_e": keys[entity].to_pandas(), "_d": _days(keys[date_column]),
                         "_row": np.arange(keys.num_rows)}).dropna(subset=["_e", "_d"])
    left["_d"], right["_d"] = left["_d"].astype("int64"), right["_d"].astype("int64")
    merged = pd.merge_asof(
        left.sort_values("_d", kind="stable"), right.sort_values("_d", kind="stable"), on="_d", by="_e",
        direction="backward", allow_exact_matches=True, tolerance=max_age_days,
    )
    positions = np.full(keys.num_rows, -1, dtype="int64")
    positions[merged["_row"].to_numpy()] = merged["_pos"].fillna(-1).to_numpy(dtype="int64")
    return pa.array(positions, mask=positions < 0)


def point_in_time(
    features: pa.Table | pd.DataFrame,
    keys_with_dates: pa.Table | pd.DataFrame,
    *,
    entity: str,
    date_column: str = FEATURE_DATE,
    max_age_days: int | None = None,
    row_date: str | None = None,
) -> pa.Table:
    """One row per row of `keys_with_dates`, in its order: its own columns, then the
    columns of the feature row of the same `entity` with the latest ``snapshot_date`` <=
    its `date_column` (nulls when there is none). The point-in-time rule of the product:
    a row dated after the key's date is never taken.

    `features`: rows (entity, snapshot_date, feature columns...), unique per (entity,
    snapshot_date) (ValueError otherwise). `max_age_days`: the chosen row is at most that
    many days older than the key date (0: exactly that date; None: any age). `row_date`:
    name of an output column holding the chosen row's snapshot_date (None: not returned).
    A key column named like a feature column is a ValueError.
    """
    features, keys = _arrow(features), _arrow(keys_with_dates)
    for name in (entity, SNAPSHOT):
        if name not in features.column_names:
            raise KeyError(f"features have no column {name!r}")
    for name in (entity, date_column):
        if name not in keys.column_names:
            raise KeyError(f"keys_with_dates have no column {name!r}")
    taken = features.take(_match(features, keys, entity, date_column, max_age_days))
    out = keys
    for name in features.column_names:
        if name == entity or (name == SNAPSHOT and row_date is None):
            continue
        label = row_date if name == SNAPSHOT else name
        if label in out.column_names:
            raise ValueError(f"column {label!r} is both a key column and a feature column")
        out = out.append_column(label, taken[name])
    return out


# --------------------------------------------------------------------------- versions


def store_versions(datamart: str | Path = DEFAULT_DATAMART, versions: dict[str, int] | None = None,
                   as_of: Any = None, *, domain: str = DEFAULT_DOMAIN) -> dict[str, int | None]:
    """The Delta versions of gold/feature_store and gold/label_store a call reads: those of
    `versions`, else those current at the timestamp `as_of`, else the latest (None: no table)."""
    out: dict[str, int | None] = {}
    for name in STORES:
        path = _store_path(datamart, domain, name)
        if versions and name in versions:
            out[name] = int(versions[name])
        elif as_of is not None:
            out[name] = delta_io.version_at(path, as_of)
        else:
            out[name] = delta_io.table_version(path)
    return out


# --------------------------------------------------------------------------- training


def _choose_label(labels: pa.Table, wanted: str | None) -> str:
    """The label_def to use: `wanted`, else the only one the label store holds."""
    known = sorted(v for v in pc.unique(labels["label_def"]).to_pylist() if v is not None)
    if wanted is None:
        if len(known) != 1:
            raise ValueError(f"name a label: gold/label_store holds {', '.join(known) or 'no labels'}")
        return known[0]
    if wanted not in known and labels.num_rows:
        raise KeyError(f"unknown label {wanted!r}; gold/label_store holds {', '.join(known) or 'no labels'}")
    return wanted


def _label_rows(path: Path, version: int | None, entity: str, label: str | None, start: Any, end: Any) -> pa.Table:
    """The label rows of one label_def as training keys: `<x>_id` columns other than the
    entity first (loan_id), then entity, feature_snapshot_date, label_date, label_def, label."""
    labels = _read(path, version)
    if entity not in labels.column_names:
        raise KeyError(f"gold/label_store has no entity column {entity!r}")
    labels = labels.filter(pc.equal(labels["label_def"], _choose_label(labels, label)))
    for bound, op in ((_date(start), pc.greater_equal), (_date(end), pc.less_equal)):
        if bound is not None:
            labels = labels.filter(op(labels[FEATURE_DATE], pa.scalar(bound, pa.date32())))
    ids = [c for c in labels.column_names if c.endswith("_id") and c != entity]
    keys = labels.select([*ids, entity, FEATURE_DATE, SNAPSHOT, "label_def", "label"])
    keys = keys.rename_columns([*ids, entity, FEATURE_DATE, LABEL_DATE, "label_def", "label"])
    return keys.sort_by([(FEATURE_DATE, "ascending"), (entity, "ascending"), *[(c, "ascending") for c in ids]])


def training_arrow(
    datamart: str | Path = DEFAULT_DATAMART,
    *,
    domain: str = DEFAULT_DOMAIN,
    label: str | None = None,
    features: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    versions: dict[str, int | None] | None = None,
    entity: str | None = None,
) -> pa.Table:
    """One row per label of `label` (see :func:`training_set`), as Arrow, at `versions`."""
    chosen = versions if versions is not None else store_versions(datamart, domain=domain)
    store_path = _store_path(datamart, domain, "feature_store")
    entity, wanted = _entity_and_features(store_path, chosen["feature_store"], entity, features)
    keys = _label_rows(_store_path(datamart, domain, "label_store"), chosen["label_store"], entity, label,
                       start, end)
    dates = pc.unique(keys[FEATURE_DATE].drop_null())
    rows = _read(store_path, chosen["feature_store"], columns=[entity, SNAPSHOT, *wanted],
                 partitions=pds.field(SNAPSHOT).isin(dates))
    out = point_in_time(rows, keys, entity=entity, date_column=FEATURE_DATE, max_age_days=0)
    log.info("training set %s/%s: %d labels, %d features (feature_store v%s, label_store v%s)", domain,
             out["label_def"][0] if out.num_rows else label, out.num_rows, len(wanted), chosen["feature_store"],
             chosen["label_store"])
    return out


def training_set(
    spark: Any = None,
    datamart: str | Path = DEFAULT_DATAMART,
    *,
    domain: str = DEFAULT_DOMAIN,
    label: str | None = None,
    label_def: str | None = None,
    features: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    versions: dict[str, int] | None = None,
    as_of: Any = None,
    entity: str | None = None,
):
    """One row per label of one label_def, joined to the feature row of its entity at its
    ``feature_snapshot_date`` (exactly that row: features are null when it is missing).

    Columns: the label store's ``*_id`` columns other than the entity (loan_id), the
    entity, feature_snapshot_date, label_date (the label store's snapshot_date),
    label_def, label, then `features` (default: every feature column of the store, no
    lineage columns). Rows sorted by feature_snapshot_date, entity, ids.

    `label` (or its older name `label_def`): default the only label_def of the store.
    `start`/`end` filter feature_snapshot_date (inclusive; 'YYYY-MM' = the 1st).
    `versions` ({"feature_store": v, "label_store": w}) or `as_of` (a timestamp) read the
    tables as they were then (Delta time travel). `entity`: default the feature store's
    first column. Returns pandas (``attrs["versions"]`` = the versions read), or a Spark
    DataFrame when a Spark session is given (the original signature).
    """
    if label is not None and label_def is not None and label != label_def:
        raise ValueError(f"label={label!r} and label_def={label_def!r}: give one")
    chosen = store_versions(datamart, versions, as_of, domain=domain)
    table = training_arrow(datamart, domain=domain, label=label or label_def, features=features, start=start,
                           end=end, versions=chosen, entity=entity)
    if spark is not None:
        return spark.createDataFrame(table)
    frame = table.to_pandas()
    frame.attrs["versions"] = chosen
    return frame


# --------------------------------------------------------------------------- online


def latest_arrow(
    domain: str,
    as_of: Any,
    entities: Iterable[Any] | None = None,
    datamart: str | Path = DEFAULT_DATAMART,
    *,
    features: Sequence[str] | None = None,
    version: int | None = None,
    entity: str | None = None,
    table: str = "feature_store",
) -> pa.Table:
    """Per entity the latest feature row with snapshot_date <= `as_of` (see
    :func:`latest_features`). `table` names another gold table of the domain partitioned
    by snapshot_date with one row per entity and day (e.g. energy's building_days, whose
    rows hold the forecast's point-in-time inputs)."""
    day = _date(as_of)
    if day is None:
        raise ValueError("as_of is required: the date the features are wanted for")
    path = _store_path(datamart, domain, table)
    entity, wanted = _entity_and_features(path, version, entity, features)
    rows = _read(path, version, columns=[entity, SNAPSHOT, *wanted],
                 partitions=pds.field(SNAPSHOT) <= pa.scalar(day, pa.date32()))
    if entities is not None:
        given = pa.array(list(dict.fromkeys(entities)), type=rows.schema.field(entity).type)
        rows = rows.filter(pc.is_in(rows[entity], value_set=given))
    else:
        given = pc.unique(rows[entity].drop_null())
        given = given.take(pc.sort_indices(given))
    keys = pa.table({entity: given, "_as_of": pa.array([day] * len(given), pa.date32())})
    out = point_in_time(rows, keys, entity=entity, date_column="_as_of", max_age_days=None, row_date=SNAPSHOT)
    return out.drop_columns(["_as_of"])


def latest_features(
    domain: str,
    as_of: Any,
    entities: Iterable[Any] | None = None,
    datamart: str | Path = DEFAULT_DATAMART,
    *,
    features: Sequence[str] | None = None,
    version: int | None = None,
    entity: str | None = None,
) -> pd.DataFrame:
    """One row per entity: its latest feature row with ``snapshot_date`` <= `as_of` (a
    date; a timestamp counts as its day), as an online store or a batch scoring job needs.

    Columns: the entity, snapshot_date (of the row used: how fresh the features are),
    then `features` (default: every feature column). `entities`: those, in that order
    (an entity without any row up to `as_of` gets nulls and a null snapshot_date);
    default every entity with a row up to `as_of`, sorted. `version` reads an older
    version of the feature store. Same as-of function as :func:`training_set`.
    """
    return latest_arrow(domain, as_of, entities, datamart, features=features, version=version,
                        entity=entity).to_pandas()
