"""Gold for event data on tiny DataFrames: who is active at a month end, window
aggregates of days ending at D, and the no-event label with its censoring."""

from __future__ import annotations

import datetime as dt

from utils.lake.config import FeatureDef, GoldSpec, LabelDef
from utils.layers import gold, gold_events

D = dt.date
T = dt.datetime

SPEC = GoldSpec(
    population_table=None, entity="customer_id", population_where=None,
    sources={"orders": ("orders", "<="), "web": ("web_events", "<=")}, labels=(), features=(), replay_cut=None,
    max_single_feature_auc=0.95, population_kind="active", active_days=90,
    activity=(("orders", "ordered_at", "status = 'completed'"), ("web_events", "at", "kind = 'login'")),
    event_times={"orders": "ordered_at", "web": "at"},
)

ORDERS = [  # customer, time, amount, status, channel
    ("A", T(2024, 1, 10, 9), 10.0, "completed", "web"),
    ("A", T(2024, 1, 31, 23, 59), 20.0, "completed", "app"),   # the last minute of D = Jan 31: counts
    ("A", T(2024, 2, 1, 0, 0), 40.0, "completed", "web"),      # the first minute after Jan 31: does not
    ("A", T(2024, 3, 5), 5.0, "refunded", "web"),
    ("B", T(2023, 11, 20), 7.0, "completed", "store"),         # active at Nov, Dec, Jan (90 days), not Feb 29
    ("C", T(2024, 1, 15), 3.0, "refunded", "web"),             # a refund alone does not make C active
]
EVENTS = [("C", T(2024, 2, 2), "login"), ("C", T(2024, 2, 3), "page_view")]


def frames(spark):
    orders = spark.createDataFrame(ORDERS, "customer_id string, ordered_at timestamp, amount double, "
                                           "status string, channel string")
    web = spark.createDataFrame(EVENTS, "customer_id string, at timestamp, kind string")
    return orders, web


def pairs(df):
    return sorted((r["customer_id"], r["snapshot_date"]) for r in df.collect())


def test_active_population_is_every_month_end_within_the_days_after_an_activity_event(spark):
    orders, web = frames(spark)
    events = [(orders, "ordered_at", "status = 'completed'"), (web, "at", "kind = 'login'")]
    got = pairs(gold_events.build_active_population(events, SPEC, last=D(2024, 3, 31)))
    a = [("A", D(2024, 1, 31)), ("A", D(2024, 2, 29)), ("A", D(2024, 3, 31)), ("A", D(2024, 4, 30))]
    b = [("B", D(2023, 11, 30)), ("B", D(2023, 12, 31)), ("B", D(2024, 1, 31))]
    c = [("C", D(2024, 2, 29)), ("C", D(2024, 3, 31))]
    assert got == sorted(x for x in a + b + c if x[1] <= D(2024, 3, 31))
    later = pairs(gold_events.build_active_population(events, SPEC, last=D(2024, 3, 31), first=D(2024, 2, 1)))
    assert later == sorted([("A", D(2024, 2, 29)), ("A", D(2024, 3, 31)), ("C", D(2024, 2, 29)), ("C", D(2024, 3, 31))])


FEATURES = [
    FeatureDef("orders_30d", "orders", "", aggregate="count", days=30, where="status = 'completed'"),
    FeatureDef("spend_30d", "orders", "", aggregate="sum", column="amount", days=30, where="status = 'completed'"),
    FeatureDef("orders_prev_60d", "orders", "", aggregate="count", days=60, offset_days=30),
    FeatureDef("channels_90d", "orders", "", aggregate="distinct", column="channel", days=90),
    FeatureDef("days_since_order", "orders", "", aggregate="recency", where="status = 'completed'"),
    FeatureDef("last_amount", "orders", "", aggregate="last", column="amount"),
    FeatureDef("refund_share_90d", "orders", "", aggregate="share", days=90, where="status = 'refunded'"),
    FeatureDef("mean_amount_90d", "orders", "", aggregate="mean", column="amount", days=90),
]


def test_window_aggregates_read_only_events_up_to_the_end_of_d(spark):
    orders, _ = frames(spark)
    population = spark.createDataFrame([("A", D(2024, 1, 31)), ("A", D(2024, 3, 31)), ("B", D(2024, 1, 31)),
                                        ("Z", D(2024, 1, 31))], "customer_id string, snapshot_date date")
    out = gold_events.event_source_features(population, orders, "orders", "<=", "ordered_at", FEATURES,
                                            "customer_id")
    rows = {(r["customer_id"], r["snapshot_date"]): r.asDict() for r in out.collect()}
    a_jan = rows[("A", D(2024, 1, 31))]
    assert (a_jan["orders_30d"], a_jan["spend_30d"], a_jan["days_since_order"], a_jan["last_amount"]) == (2, 30.0, 0, 20.0)
    assert a_jan["_asof_orders"] == D(2024, 1, 31) and a_jan["has_orders"] == 1
    assert a_jan["channels_90d"] == 2 and a_jan["refund_share_90d"] == 0.0 and a_jan["mean_amount_90d"] == 15.0
    a_mar = rows[("A", D(2024, 3, 31))]
    # Mar 31: the Mar 5 refund is in the last 30 days; Feb 1, Jan 31 and Jan 10 in the 60 days before
    assert (a_mar["orders_30d"], a_mar["orders_prev_60d"], a_mar["days_since_order"]) == (0, 3, 59)
    assert a_mar["refund_share_90d"] == 1 / 4 and a_mar["last_amount"] == 5.0
    b_jan = rows[("B", D(2024, 1, 31))]
    assert (b_jan["orders_30d"], b_jan["spend_30d"], b_jan["days_since_order"], b_jan["channels_90d"]) == (0, 0, 72, 1)
    z = rows[("Z", D(2024, 1, 31))]
    assert (z["orders_30d"], z["spend_30d"], z["has_orders"], z["days_since_order"], z["_asof_orders"]) == (
        0, 0, 0, None, None)
    assert z["refund_share_90d"] is None and z["mean_amount_90d"] is None


def test_cutoff_before_d_excludes_the_events_of_day_d(spark):
    orders, _ = frames(spark)
    population = spark.createDataFrame([("A", D(2024, 1, 31))], "customer_id string, snapshot_date date")
    out = gold_events.event_source_features(population, orders, "orders", "<", "ordered_at", FEATURES[:1],
                                            "customer_id").first()
    assert (out["orders_30d"], out["_asof_orders"]) == (1, D(2024, 1, 10))


def test_derived_features_read_the_features_before_them(spark):
    orders, web = frames(spark)
    spec = GoldSpec(**{**SPEC.__dict__, "features": (
        *FEATURES[:3], FeatureDef("order_trend", "", "", expr="orders_30d - orders_prev_60d / 2"))})
    population = spark.createDataFrame([("A", D(2024, 3, 31))], "customer_id string, snapshot_date date")
    out = gold.build_feature_store(population, {"orders": orders, "web": web}, spec).first()
    assert out["order_trend"] == -1.5
    assert "has_web" in out.asDict() and out["has_web"] == 0


CHURN = LabelDef(kind="no_event", label_name="churn_60d", days=60, table="orders", time="ordered_at",
                 where="status = 'completed'")


def test_no_event_label_looks_at_the_days_after_d_and_is_censored_past_the_data(spark):
    orders, _ = frames(spark)
    population = spark.createDataFrame([("A", D(2023, 12, 31)), ("A", D(2024, 1, 31)), ("B", D(2023, 11, 30)),
                                        ("A", D(2024, 2, 29))], "customer_id string, snapshot_date date")
    out = gold_events.build_no_event_labels(population, orders, CHURN, "customer_id", data_end=D(2024, 4, 15))
    got = {(r["customer_id"], r["feature_snapshot_date"]): r.asDict() for r in out.collect()}
    assert set(got) == {("A", D(2023, 12, 31)), ("A", D(2024, 1, 31)), ("B", D(2023, 11, 30))}  # Feb 29 + 60 > Apr 15
    assert got[("A", D(2023, 12, 31))]["label"] == 0   # Jan 10 is within (Dec 31, Feb 29]
    assert got[("A", D(2024, 1, 31))]["label"] == 0    # Feb 1 00:00 is after Jan 31
    assert got[("B", D(2023, 11, 30))]["label"] == 1
    row = got[("A", D(2024, 1, 31))]
    assert (row["window_start"], row["window_end"], row["snapshot_date"], row["label_def"]) == (
        D(2024, 2, 1), D(2024, 3, 31), D(2024, 3, 31), "churn_60d")


def test_data_end_is_the_last_event_day_of_any_table(spark):
    orders, web = frames(spark)
    assert gold_events.data_end([(orders, "ordered_at"), (web, "at")]) == D(2024, 3, 5)
