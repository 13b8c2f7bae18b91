"""Gold: the point-in-time feature store and the label store (pure builders).

`build_label_store(loans, label)`
    One row per loan that has reached month on book `label.mob`: ``loan_id``,
    ``customer_id``, ``label`` (0/1), ``label_def`` (e.g. ``30dpd_6mob``), ``dpd``,
    ``mob``, ``snapshot_date`` = the month the label is observed (application month +
    mob) and ``feature_snapshot_date`` = that month minus ``mob`` months, the
    snapshot of the feature row the label belongs to. DPD as the course defines it:
    installments_missed = ceil(overdue_amt / due_amt) (0 when due_amt = 0),
    first_missed_date = snapshot_date - installments_missed months, dpd = days between
    them; label = dpd >= label.dpd. A loan without a row at that MOB gets no label.

`build_feature_store(population, sources, spec)`
    One row per (entity, snapshot_date D) of the population, all months in one pass.
    Row sources (attributes, financials) are joined AS OF D: the latest source row
    whose own snapshot_date is <= D (or < D, per source cutoff). Window sources
    (clickstream) are aggregated over the months ending at D under the same cutoff.
    Every row records, per source, ``has_<source>`` (1 when any source row was
    usable) and ``_asof_<source>``, the latest source date it read: the leakage
    guard checks that no ``_asof_`` date lies beyond the cutoff.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from utils.lake.config import FeatureDef, GoldSpec, LabelDef

SNAPSHOT = "snapshot_date"


def build_label_store(loans: DataFrame, label: LabelDef) -> DataFrame:
    """Loan-month rows (silver loan_daily) -> one label row per loan at MOB `label.mob`."""
    at_mob = loans.where(F.col("installment_num") == label.mob)
    missed = F.when(F.col("due_amt") > 0, F.ceil(F.col("overdue_amt") / F.col("due_amt"))).otherwise(F.lit(0))
    first_missed = F.add_months(F.col(SNAPSHOT), -missed.cast("int"))
    dpd = F.when(F.col("overdue_amt") > 0, F.datediff(F.col(SNAPSHOT), first_missed)).otherwise(F.lit(0))
    return at_mob.select(
        "loan_id",
        "customer_id",
        (dpd >= label.dpd).cast("int").alias("label"),
        F.lit(label.name).alias("label_def"),
        dpd.cast("int").alias("dpd"),
        F.lit(label.mob).alias("mob"),
        F.add_months(F.col(SNAPSHOT), -label.mob).alias("feature_snapshot_date"),
        F.col(SNAPSHOT),
    )


def build_population(rows: DataFrame, spec: GoldSpec) -> DataFrame:
    """(entity, snapshot_date) pairs the feature store must cover, distinct."""
    if spec.population_where:
        rows = rows.where(F.expr(spec.population_where))
    return rows.select(spec.entity, SNAPSHOT).where(F.col(SNAPSHOT).isNotNull()).distinct()


def _usable(src_date: Column, cutoff: str) -> Column:
    return src_date <= F.col(SNAPSHOT) if cutoff == "<=" else src_date < F.col(SNAPSHOT)


def _row_source_features(
    population: DataFrame, rows: DataFrame, name: str, cutoff: str, features: list[FeatureDef], entity: str
) -> DataFrame:
    """As-of join: the latest usable source row per (entity, D), then feature expressions."""
    fields = [c for c in rows.columns if c not in (entity, SNAPSHOT)]
    src = rows.select(
        F.col(entity).alias("_e"), F.col(SNAPSHOT).alias("_d"), F.struct(*fields).alias("_row")
    )
    joined = population.join(src, (F.col(entity) == F.col("_e")) & _usable(F.col("_d"), cutoff), "left")
    latest = joined.groupBy(entity, SNAPSHOT).agg(
        F.max_by("_row", "_d").alias("_row"), F.max("_d").alias(f"_asof_{name}")
    )
    flat = latest.select(entity, SNAPSHOT, f"_asof_{name}", "_row.*")
    return flat.select(
        entity,
        SNAPSHOT,
        *[F.expr(f.expr).alias(f.name) for f in features],
        F.col(f"_asof_{name}").isNotNull().cast("int").alias(f"has_{name}"),
        f"_asof_{name}",
    )


def _window_source_features(
    population: DataFrame, rows: DataFrame, name: str, cutoff: str, features: list[FeatureDef], entity: str
) -> DataFrame:
    """Aggregates over the months ending at D (month 0 = D) of every usable row."""
    src = rows.select(F.col(entity).alias("_e"), F.col(SNAPSHOT).alias("_d"), *[
        F.col(c) for c in {f.column for f in features if f.column}
    ])
    joined = population.join(src, (F.col(entity) == F.col("_e")) & _usable(F.col("_d"), cutoff), "left")
    age = F.months_between(F.col(SNAPSHOT), F.col("_d")).cast("int")  # months before D
    aggs = []
    for f in features:
        if f.aggregate == "months":
            aggs.append(F.count("_d").alias(f.name))
        elif f.aggregate == "last":
            aggs.append(F.max_by(F.col(f.column), F.col("_d")).alias(f.name))
        elif f.aggregate == "mean":
            aggs.append(F.avg(F.when(age < f.months, F.col(f.column))).alias(f.name))
        elif f.aggregate == "slope":
            inside = age < f.months
            aggs.append(F.regr_slope(F.when(inside, F.col(f.column)), F.when(inside, -age)).alias(f.name))
    aggs.append(F.max("_d").alias(f"_asof_{name}"))
    out = joined.groupBy(entity, SNAPSHOT).agg(*aggs)
    return out.withColumn(f"has_{name}", F.col(f"_asof_{name}").isNotNull().cast("int"))


def build_feature_store(population: DataFrame, sources: dict[str, DataFrame], spec: GoldSpec) -> DataFrame:
    """Population x point-in-time features of every source; one row per (entity, D)."""
    from utils.layers.gold_events import event_source_features

    out = population
    for name, (_, cutoff) in spec.sources.items():
        features = [f for f in spec.features if f.source == name]
        is_window = any(f.aggregate for f in features)
        if is_window and any(f.expr for f in features):
            raise ValueError(f"gold source {name}: mixes expr and aggregate features")
        if name in spec.event_times:
            part = event_source_features(population, sources[name], name, cutoff, spec.event_times[name], features,
                                         spec.entity)
        else:
            build = _window_source_features if is_window else _row_source_features
            part = build(population, sources[name], name, cutoff, features, spec.entity)
        out = out.join(part, on=[spec.entity, SNAPSHOT], how="left")
    for f in spec.features:
        if not f.source:  # derived: an expression over the features before it
            out = out.withColumn(f.name, F.expr(f.expr))
    ordered = [f.name for f in spec.features]
    lineage = [c for n in spec.sources for c in (f"has_{n}", f"_asof_{n}")]
    return out.select(spec.entity, *ordered, *lineage, SNAPSHOT)


def cutoff_violations(features: DataFrame, spec: GoldSpec) -> Column:
    """Count of feature rows that read a source row dated beyond its cutoff (must be 0)."""
    bad = F.lit(False)
    for name, (_, cutoff) in spec.sources.items():
        asof = F.col(f"_asof_{name}")
        beyond = asof > F.col(SNAPSHOT) if cutoff == "<=" else asof >= F.col(SNAPSHOT)
        bad = bad | F.coalesce(beyond, F.lit(False))
    return F.sum(bad.cast("long"))
