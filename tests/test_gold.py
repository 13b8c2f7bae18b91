"""Gold builders on tiny DataFrames: labels as the course defines them, features as of D."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import Row

from utils.lake.config import FeatureDef, GoldSpec, LabelDef
from utils.layers.gold import build_feature_store, build_label_store, build_population, cutoff_violations

D = dt.date


def loans(spark, rows):
    cols = ("loan_id", "customer_id", "installment_num", "due_amt", "overdue_amt", "snapshot_date")
    return spark.createDataFrame([Row(**dict(zip(cols, r))) for r in rows])


def spec(features, cutoffs=None, labels=(LabelDef(30, 6),)):
    cutoffs = cutoffs or {}
    sources = {s: (s, cutoffs.get(s, "<=")) for s in sorted({f.source for f in features})}
    return GoldSpec("loan_daily", "customer_id", "installment_num = 0", sources, tuple(labels), tuple(features),
                    None, 0.95, {})


def test_label_is_one_when_dpd_at_mob_reaches_the_threshold(spark):
    df = loans(spark, [
        ("L1", "C1", 6, 1000.0, 0.0, D(2023, 7, 1)),      # paid up: dpd 0
        ("L2", "C2", 6, 1000.0, 1000.0, D(2023, 7, 1)),   # one missed: 2023-06-01 -> 30 days
        ("L3", "C3", 6, 1000.0, 3000.0, D(2023, 7, 1)),   # three missed: 2023-04-01 -> 91 days
        ("L4", "C4", 6, 1000.0, 1000.0, D(2023, 3, 1)),   # one missed in February: 28 days
        ("L5", "C5", 5, 1000.0, 5000.0, D(2023, 6, 1)),   # MOB 5 only: no label yet
    ])
    got = {r.loan_id: (r.label, r.dpd, r.feature_snapshot_date) for r in build_label_store(df, LabelDef(30, 6)).collect()}
    assert got == {
        "L1": (0, 0, D(2023, 1, 1)),
        "L2": (1, 30, D(2023, 1, 1)),
        "L3": (1, 91, D(2023, 1, 1)),
        "L4": (0, 28, D(2022, 9, 1)),
    }


def test_label_definition_is_configuration(spark):
    df = loans(spark, [("L1", "C1", 3, 1000.0, 3000.0, D(2023, 4, 1))])
    row = build_label_store(df, LabelDef(60, 3)).first()
    assert (row.label_def, row.label, row.dpd, row.mob, row.feature_snapshot_date) == ("60dpd_3mob", 1, 90, 3, D(2023, 1, 1))


def test_population_is_customers_applying_in_the_month(spark):
    df = loans(spark, [("L1", "C1", 0, 0.0, 0.0, D(2023, 1, 1)), ("L1", "C1", 1, 1000.0, 0.0, D(2023, 2, 1))])
    feats = [FeatureDef("x", "attributes", "x", expr="x")]
    got = build_population(df, spec(feats)).collect()
    assert [(r.customer_id, r.snapshot_date) for r in got] == [("C1", D(2023, 1, 1))]


def population(spark, rows):
    return spark.createDataFrame([Row(customer_id=c, snapshot_date=d) for c, d in rows])


def test_attribute_row_after_the_snapshot_is_ignored(spark):
    attrs = spark.createDataFrame([
        Row(customer_id="C1", age=30, snapshot_date=D(2023, 1, 1)),
        Row(customer_id="C1", age=31, snapshot_date=D(2023, 3, 1)),  # known only later
    ])
    feats = [FeatureDef("age", "attributes", "age", expr="age")]
    out = build_feature_store(population(spark, [("C1", D(2023, 2, 1))]), {"attributes": attrs}, spec(feats)).first()
    assert (out.age, out.has_attributes, out._asof_attributes) == (30, 1, D(2023, 1, 1))


def test_strict_cutoff_excludes_the_snapshot_month_itself(spark):
    attrs = spark.createDataFrame([Row(customer_id="C1", age=30, snapshot_date=D(2023, 2, 1))])
    feats = [FeatureDef("age", "attributes", "age", expr="age")]
    out = build_feature_store(population(spark, [("C1", D(2023, 2, 1))]), {"attributes": attrs},
                              spec(feats, {"attributes": "<"})).first()
    assert (out.age, out.has_attributes, out._asof_attributes) == (None, 0, None)


def test_clickstream_after_snapshot_is_ignored_and_windows_end_at_the_snapshot(spark):
    months = [D(2023, m, 1) for m in range(1, 9)]
    click = spark.createDataFrame([Row(customer_id="C1", fe_1=float(i * i), snapshot_date=d)
                                   for i, d in enumerate(months, start=1)])  # 1, 4, 9, ..., 64
    feats = [
        FeatureDef("months", "clickstream", "m", aggregate="months"),
        FeatureDef("fe_1_last", "clickstream", "l", aggregate="last", column="fe_1"),
        FeatureDef("fe_1_mean_3m", "clickstream", "m3", aggregate="mean", column="fe_1", months=3),
        FeatureDef("fe_1_trend_3m", "clickstream", "t3", aggregate="slope", column="fe_1", months=3),
    ]
    out = build_feature_store(population(spark, [("C1", D(2023, 4, 1))]), {"clickstream": click}, spec(feats)).first()
    # April is month 4: history Jan..Apr; last 3 months Feb..Apr = 4, 9, 16
    assert (out.months, out.fe_1_last, out._asof_clickstream) == (4, 16.0, D(2023, 4, 1))
    assert out.fe_1_mean_3m == pytest.approx((4 + 9 + 16) / 3)
    assert out.fe_1_trend_3m == pytest.approx(6.0)  # least squares through (0,4), (1,9), (2,16)


def test_customer_without_clickstream_gets_explicit_indicator(spark):
    click = spark.createDataFrame([Row(customer_id="C2", fe_1=1.0, snapshot_date=D(2023, 1, 1))])
    feats = [FeatureDef("months", "clickstream", "m", aggregate="months"),
             FeatureDef("fe_1_last", "clickstream", "l", aggregate="last", column="fe_1")]
    out = build_feature_store(population(spark, [("C1", D(2023, 4, 1))]), {"clickstream": click}, spec(feats)).first()
    assert (out.months, out.fe_1_last, out.has_clickstream) == (0, None, 0)


def test_cutoff_guard_counts_rows_that_read_beyond_their_cutoff(spark):
    feats = [FeatureDef("age", "attributes", "age", expr="age")]
    rows = spark.createDataFrame([
        Row(customer_id="C1", age=1, has_attributes=1, _asof_attributes=D(2023, 1, 1), snapshot_date=D(2023, 1, 1)),
        Row(customer_id="C2", age=1, has_attributes=1, _asof_attributes=D(2023, 2, 1), snapshot_date=D(2023, 1, 1)),
    ])
    assert rows.agg(cutoff_violations(rows, spec(feats)).alias("n")).first().n == 1
    strict = spec(feats, {"attributes": "<"})
    assert rows.agg(cutoff_violations(rows, strict).alias("n")).first().n == 2


def test_replay_mismatch_counts_rows_in_one_build_only_up_to_the_cut(spark):
    from utils.layers.leakage import replay_mismatch

    schema = "customer_id string, f double, snapshot_date date"
    d1, d2, d3 = dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)
    full = spark.createDataFrame(
        [("a", 1.0, d1), ("a", 1.0, d1), ("b", None, d2), ("c", 5.0, d3)], schema)
    same = spark.createDataFrame([("b", None, d2), ("a", 1.0, d1), ("a", 1.0, d1)], schema)
    assert replay_mismatch(full, same, d2) == 0  # order and rows after the cut do not matter
    changed = spark.createDataFrame([("a", 1.0, d1), ("b", 2.0, d2), ("x", 9.0, d3)], schema)
    # one duplicate of a missing, b differs (one row each side): 3
    assert replay_mismatch(full, changed, d2) == 3
