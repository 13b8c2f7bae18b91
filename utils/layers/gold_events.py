"""Gold for event data (DESIGN §12): populations of active entities at month ends,
window aggregates of events in days ending at D, and labels that look for an event in
the days after D. Pure builders over silver DataFrames, as in :mod:`utils.layers.gold`.

Point in time (DESIGN §3): a feature row for D reads events whose event time is before
the end of day D (cutoff ``<=``; ``<``: before D), and windows of ``days`` end at D
(age in days 0 .. days - 1, shifted back by ``offset_days``). A label row for D looks at
(D, D + days] only, and exists only when D + days is within the data (censoring): its
``snapshot_date`` is the day its window closes, so a label row dated <= a cut was
decided by data <= that cut, which the replay guard checks.

`build_active_population(events, spec, last=...)`
    (entity, D) for every month end D (up to `last`) at which the entity has one of
    the activity events in the ``days`` up to and including D.
`event_source_features(population, events, name, cutoff, time, features, entity)`
    count / sum / mean / min / max / distinct / last / recency / share per feature, plus
    ``has_<name>`` and ``_asof_<name>`` (the latest event day read; the cutoff guard
    checks it is not after D).
`build_no_event_labels(population, events, label, entity, data_end=...)`
    ``label`` = 1 when no matching event falls in (D, D + days].
`build_interaction_labels(population, events, label, entity, data_end=...)`
    one row per (entity, item) with an event in (D, D + days]; ``label`` = its highest grade.
"""

from __future__ import annotations

import datetime as dt
import functools

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, FloatType

from utils.lake.config import FeatureDef, GoldSpec, LabelDef

SNAPSHOT = "snapshot_date"


def _day(column: str) -> Column:
    """The calendar day (session time zone, UTC) of an event-time column."""
    return F.to_date(F.col(column))


def build_active_population(
    events: list[tuple[DataFrame, str, str | None]], spec: GoldSpec, *, last: dt.date, first: dt.date | None = None
) -> DataFrame:
    """(entity, D): month ends D in [first, last] with an activity event in (D - days, D].
    `events` holds (silver rows, event-time column, predicate or None) per activity table."""
    entity, days = spec.entity, spec.active_days
    parts = []
    for rows, time, where in events:
        if where:
            rows = rows.where(F.expr(where))
        active_days = rows.select(F.col(entity), _day(time).alias("_day")).where(
            F.col(entity).isNotNull() & F.col("_day").isNotNull()).distinct()
        # the month ends that see this day inside their window: from the day's own month end
        # to the month end of day + days - 1, then kept when the day is within the window
        ends = F.sequence(F.last_day("_day"), F.last_day(F.date_add("_day", days - 1)), F.expr("interval 1 month"))
        candidates = active_days.select(entity, "_day", F.explode(ends).alias("_end")).select(
            entity, "_day", F.last_day("_end").alias(SNAPSHOT))
        age = F.datediff(F.col(SNAPSHOT), F.col("_day"))
        parts.append(candidates.where((age >= 0) & (age < days)).select(entity, SNAPSHOT))
    population = functools.reduce(lambda a, b: a.unionByName(b), parts).distinct()
    population = population.where(F.col(SNAPSHOT) <= F.lit(last))
    return population if first is None else population.where(F.col(SNAPSHOT) >= F.lit(first))


def _window(f: FeatureDef, age: Column) -> Column:
    """Whether an event of age `age` (days before D) is inside the feature's window."""
    if f.days is None:
        return age >= F.lit(f.offset_days)
    return (age >= F.lit(f.offset_days)) & (age < F.lit(f.offset_days + f.days))


#: Sums and means of floating-point columns are computed in this decimal type, then cast
#: back: a float sum depends on the order of its terms, which depends on how the rows were
#: partitioned, so the same events would give features differing in the last bits between
#: two builds (and the replay guard, which compares exactly, would see a difference).
#: 28 integer digits and 10 decimals: exact for any amount a domain records.
EXACT = "decimal(38,10)"


def _aggregate(f: FeatureDef, inside: Column, hit: Column, age: Column, fractional: bool = False) -> Column:
    """The feature's aggregate over the joined events of one (entity, D); `fractional`:
    the column is float or double (summed exactly, see EXACT)."""
    cond = inside & hit
    value = F.col(f.column) if f.column else None
    exact = value.cast(EXACT) if fractional else value
    match f.aggregate:
        case "count":
            return F.count(F.when(cond, F.lit(1)))
        case "sum":
            total = F.sum(F.when(cond, exact))
            return F.coalesce(total.cast("double") if fractional else total, F.lit(0))
        case "mean":
            return F.avg(F.when(cond, exact)).cast("double") if fractional else F.avg(F.when(cond, value))
        case "min":
            return F.min(F.when(cond, value))
        case "max":
            return F.max(F.when(cond, value))
        case "distinct":
            return F.count_distinct(F.when(cond, value))
        case "last":
            return F.max_by(F.when(cond, value), F.when(cond, F.col("_t")))
        case "recency":
            return F.min(F.when(cond, age))
        case "share":
            return F.try_divide(F.count(F.when(cond, F.lit(1))), F.count(F.when(inside, F.lit(1))))
    raise ValueError(f"feature {f.name}: aggregate {f.aggregate!r} does not apply to events")


def event_source_features(
    population: DataFrame, events: DataFrame, name: str, cutoff: str, time: str, features: list[FeatureDef],
    entity: str,
) -> DataFrame:
    """Window aggregates over the events of one source per population row (entity, D)."""
    columns = sorted({f.column for f in features if f.column})
    flags = {f.name: F.expr(f.where) for f in features if f.where}
    src = events.select(
        F.col(entity).alias("_e"), F.col(time).cast("timestamp").alias("_t"), *[F.col(c) for c in columns],
        *[F.coalesce(flag, F.lit(False)).alias(f"_w_{n}") for n, flag in flags.items()],
    ).where(F.col("_t").isNotNull())
    end = F.date_add(F.col(SNAPSHOT), 1) if cutoff == "<=" else F.col(SNAPSHOT)
    on = (F.col(entity) == F.col("_e")) & (F.col("_t") < end.cast("timestamp"))
    if features and all(f.days is not None for f in features):  # nothing reads all history: bound the join
        lookback = max(f.days + f.offset_days for f in features)
        on = on & (F.col("_t") >= F.date_sub(end, lookback).cast("timestamp"))
    joined = population.join(src, on, "left")
    age = F.datediff(F.col(SNAPSHOT), F.to_date(F.col("_t")))
    present = F.col("_t").isNotNull()
    fractional = {c for c in columns if isinstance(events.schema[c].dataType, (DoubleType, FloatType))}
    aggs = [
        _aggregate(f, present & _window(f, age), F.col(f"_w_{f.name}") if f.where else F.lit(True), age,
                   f.column in fractional).alias(f.name)
        for f in features
    ]
    out = joined.groupBy(entity, SNAPSHOT).agg(*aggs, F.max(F.to_date(F.col("_t"))).alias(f"_asof_{name}"))
    return out.withColumn(f"has_{name}", F.col(f"_asof_{name}").isNotNull().cast("int"))


def build_no_event_labels(
    population: DataFrame, events: DataFrame, label: LabelDef, entity: str, *, data_end: dt.date
) -> DataFrame:
    """One row per population row whose window (D, D + days] closes by `data_end`:
    label 1 when the entity has no matching event in it."""
    if label.where:
        events = events.where(F.expr(label.where))
    days = label.days
    ev = events.select(F.col(entity).alias("_e"), _day(label.time).alias("_day")).where(F.col("_day").isNotNull())
    closes = F.date_add(F.col(SNAPSHOT), days)
    rows = population.where(closes <= F.lit(data_end))
    joined = rows.join(ev, (F.col(entity) == F.col("_e")) & (F.col("_day") > F.col(SNAPSHOT))
                       & (F.col("_day") <= closes), "left")
    counted = joined.groupBy(entity, SNAPSHOT).agg(F.count("_day").alias("_events"))
    return counted.select(
        entity,
        (F.col("_events") == 0).cast("int").alias("label"),
        F.lit(label.name).alias("label_def"),
        F.col(SNAPSHOT).alias("feature_snapshot_date"),
        F.date_add(F.col(SNAPSHOT), 1).alias("window_start"),
        closes.alias("window_end"),
        closes.alias(SNAPSHOT),
    )


def build_interaction_labels(
    population: DataFrame, events: dict[str, DataFrame], label: LabelDef, entity: str, *, data_end: dt.date
) -> DataFrame:
    """One row per (population row whose window (D, D + days] closes by `data_end`, item
    the entity interacted with in that window): ``label`` = the highest grade of its
    events there. `events` maps each graded table to its silver rows."""
    days, item = label.days, label.item
    parts = []
    for table, time, where, grade in label.graded:
        rows = events[table] if not where else events[table].where(F.expr(where))
        parts.append(rows.select(F.col(entity).alias("_e"), F.col(item).alias("_item"), _day(time).alias("_day"),
                                 F.expr(grade).cast("int").alias("_grade")))
    ev = functools.reduce(lambda a, b: a.unionByName(b), parts).where(
        F.col("_day").isNotNull() & F.col("_item").isNotNull() & (F.col("_grade") > 0))
    closes = F.date_add(F.col(SNAPSHOT), days)
    rows = population.where(closes <= F.lit(data_end))
    joined = rows.join(ev, (F.col(entity) == F.col("_e")) & (F.col("_day") > F.col(SNAPSHOT))
                       & (F.col("_day") <= closes), "inner")
    graded = joined.groupBy(entity, "_item", SNAPSHOT).agg(F.max("_grade").alias("label"))
    return graded.select(
        entity,
        F.col("_item").alias(item),
        F.col("label"),
        F.lit(label.name).alias("label_def"),
        F.col(SNAPSHOT).alias("feature_snapshot_date"),
        F.date_add(F.col(SNAPSHOT), 1).alias("window_start"),
        closes.alias("window_end"),
        closes.alias(SNAPSHOT),
    )


def data_end(frames: list[tuple[DataFrame, str]]) -> dt.date | None:
    """The last event day in any of (rows, event-time column): how far the data reaches."""
    days = [rows.select(F.max(_day(time)).alias("d")) for rows, time in frames]
    if not days:
        return None
    found = functools.reduce(lambda a, b: a.unionByName(b), days).agg(F.max("d")).first()[0]
    return found
