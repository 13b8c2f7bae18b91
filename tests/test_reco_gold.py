"""Gold of the recommendation domain on tiny DataFrames: the graded interactions label
with its window and censoring, item-item co-occurrence (counts, Jaccard, lift, top N,
window) and TF-IDF content neighbours."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from utils.lake.config import LabelDef
from utils.layers import gold_events, gold_similarity

D = dt.date
T = dt.datetime

LABEL = LabelDef(kind="interactions", label_name="interactions_30d", days=30, item="product_id", graded=(
    ("clicks", "at", "event_type in ('view', 'add_to_cart', 'purchase')",
     "case event_type when 'purchase' then 3 when 'add_to_cart' then 2 else 1 end"),
    ("orders", "at", None, "3"),
))

CLICKS = [  # user, product, time, type
    ("U1", "P1", T(2024, 1, 31, 23, 59), "purchase"),  # on D itself: before the window
    ("U1", "P1", T(2024, 2, 1, 0, 0), "view"),  # the window's first minute
    ("U1", "P1", T(2024, 2, 5), "add_to_cart"),  # P1: the highest grade wins (2)
    ("U1", "P2", T(2024, 3, 1), "view"),  # Jan 31 + 30 days = Mar 1: the window's last day
    ("U1", "P3", T(2024, 3, 2), "view"),  # after the window
    ("U1", "P4", T(2024, 2, 10), "rating"),  # not a graded event
    ("U2", "P2", T(2024, 2, 10), "view"),
]
ORDERS = [("U2", "P2", T(2024, 2, 11)), ("U3", "P1", T(2024, 2, 12))]  # U3 not in the population


def test_interactions_label_grades_the_items_of_the_window_and_censors_late_windows(spark):
    clicks = spark.createDataFrame(CLICKS, "user_id string, product_id string, at timestamp, event_type string")
    orders = spark.createDataFrame(ORDERS, "user_id string, product_id string, at timestamp")
    population = spark.createDataFrame(
        [("U1", D(2024, 1, 31)), ("U2", D(2024, 1, 31)), ("U1", D(2024, 2, 29))], "user_id string, snapshot_date date")
    rows = gold_events.build_interaction_labels(population, {"clicks": clicks, "orders": orders}, LABEL, "user_id",
                                                data_end=D(2024, 3, 15)).collect()
    got = sorted((r.user_id, r.product_id, r.label, r.feature_snapshot_date, r.window_start, r.window_end,
                  r.snapshot_date) for r in rows)
    window = (D(2024, 1, 31), D(2024, 2, 1), D(2024, 3, 1), D(2024, 3, 1))
    # Feb 29 + 30 days = Mar 30 > the data's end (Mar 15): U1's row of Feb is censored
    assert got == [("U1", "P1", 2, *window), ("U1", "P2", 1, *window), ("U2", "P2", 3, *window)]
    assert {r.label_def for r in rows} == {"interactions_30d"}


SESSIONS = [  # session, product, day
    ("s1", "A", D(2024, 1, 5)), ("s1", "B", D(2024, 1, 5)), ("s1", "C", D(2024, 1, 5)),
    ("s2", "A", D(2024, 1, 9)), ("s2", "B", D(2024, 1, 9)),
    ("s3", "A", D(2024, 1, 20)), ("s3", "A", D(2024, 1, 20)),  # A twice in one session: one basket
    ("s4", "B", D(2024, 1, 25)), ("s4", "C", D(2024, 1, 25)),
    ("s5", "A", D(2024, 2, 10)), ("s5", "B", D(2024, 2, 10)),  # after Jan 31
]


def test_cooccurrence_counts_baskets_and_scores_jaccard_and_lift_as_of_each_month_end(spark):
    events = spark.createDataFrame([(s, p, T(d.year, d.month, d.day, 12)) for s, p, d in SESSIONS],
                                   "session_id string, product_id string, at timestamp")
    out = gold_similarity.cooccurrence(events, item="product_id", time="at", group="session_id", where=None,
                                       kind="session", days=30, snapshots=[D(2024, 1, 31)], top_n=5, min_count=1)
    got = {(r.product_id, r.neighbour_id): r for r in out.collect()}
    # Jan: baskets s1 {A,B,C}, s2 {A,B}, s3 {A}, s4 {B,C}; N = 4; A in 3, B in 3, C in 2
    ab = got[("A", "B")]
    assert ab.baskets == 2 and ab.jaccard == pytest.approx(2 / (3 + 3 - 2)) and ab.lift == pytest.approx(2 * 4 / 9)
    bc = got[("B", "C")]
    assert bc.baskets == 2 and bc.jaccard == pytest.approx(2 / 3) and bc.rank == 1
    assert got[("B", "A")].rank == 2  # B's neighbours: C (2/3) before A (1/2)
    assert got[("A", "C")].baskets == 1 and got[("A", "C")].jaccard == pytest.approx(1 / 4)
    assert {r.snapshot_date for r in got.values()} == {D(2024, 1, 31)}
    strict = gold_similarity.cooccurrence(events, item="product_id", time="at", group="session_id", where=None,
                                          kind="session", days=30, snapshots=[D(2024, 1, 31), D(2024, 2, 29)],
                                          top_n=1, min_count=2).collect()
    # min_count 2 drops A-C; top_n 1 keeps one neighbour per item; Feb 29 sees Jan 31..Feb 29 (s5 only:
    # a single basket per pair, dropped)
    assert sorted((r.product_id, r.neighbour_id, r.snapshot_date) for r in strict) == [
        ("A", "B", D(2024, 1, 31)), ("B", "C", D(2024, 1, 31)), ("C", "B", D(2024, 1, 31))]


def test_content_neighbours_rank_items_sharing_words_first():
    items = pd.DataFrame({
        "product_id": ["P1", "P2", "P3", "P4"],
        "title": ["steel saucepan", "steel frying pan", "running shoes", "trail running shoes"],
        "category": ["Home/Kitchen", "Home/Kitchen", "Sport/Shoes", "Sport/Shoes"],
    })
    got = gold_similarity.content_neighbours(items, item="product_id", text=("title", "category"), top_n=2,
                                             max_features=100)
    first = got[got["rank"] == 1].set_index("product_id")["neighbour_id"].to_dict()
    assert first == {"P1": "P2", "P2": "P1", "P3": "P4", "P4": "P3"}
    assert (got["product_id"] != got["neighbour_id"]).all() and got["score"].between(0, 1).all()
    assert len(got) == 8
