"""Column profiles (`utils.quality.profile`): metrics checked against pandas on a tiny table."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable

from utils.quality.profile import MASKED, histogram_edges, profile_table, write_profile

D1, D2 = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
SCHEMA = ("amount double, amount_invalid boolean, visits int, city string, ssn_hash string, "
          "tags array<string>, opened date, raw_values map<string,string>, _source_line long, snapshot_date date")
ROWS = [
    # amount, amount_invalid, visits, city, ssn_hash, tags, opened, raw_values, _source_line, snapshot_date
    (10.0, False, 1, "Oslo", "h1", ["a", "b"], dt.date(2020, 1, 5), {"x": "1"}, 2, D1),
    (20.0, False, 2, "Oslo", "h1", ["a"], dt.date(2020, 3, 1), {"x": "2"}, 3, D1),
    (None, True, 2, "Rome", "h2", None, None, {"x": "3"}, 4, D1),
    (40.0, False, 3, None, "h3", ["b", "c"], dt.date(2021, 7, 9), {"x": "4"}, 5, D1),
    (float("nan"), False, 5, "Lima", "h4", [], dt.date(2019, 12, 31), {"x": "5"}, 6, D1),
    (1000.0, False, 8, "Rome", "h4", ["a"], dt.date(2020, 1, 5), {"x": "6"}, 7, D1),
    (15.0, False, 1, "Kyiv", "h5", ["c"], dt.date(2022, 2, 2), {"x": "7"}, 8, D2),
    (None, True, None, "Kyiv", "h6", ["c", "a"], dt.date(2022, 2, 3), {"x": "8"}, 9, D2),
    (35.5, False, 4, "Oslo", "h7", ["a"], dt.date(2023, 5, 5), {"x": "9"}, 10, D2),
    (-5.0, False, 2, "Kyiv", "h8", None, dt.date(2021, 1, 1), {"x": "10"}, 11, D2),
]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    columns = ["amount", "amount_invalid", "visits", "city", "ssn_hash", "tags", "opened", "raw_values",
               "_source_line", "snapshot_date"]
    return pd.DataFrame(ROWS, columns=columns)


@pytest.fixture(scope="module")
def profiled(spark) -> dict[tuple, dict]:
    df = spark.createDataFrame(ROWS, SCHEMA)
    rows = profile_table(df, "silver/tiny", "run-1", table_version=3)
    return {(r["snapshot_date"], r["column"]): r for r in rows}


def part(frame: pd.DataFrame, date: dt.date) -> pd.DataFrame:
    return frame[frame["snapshot_date"] == date]


def test_one_row_per_partition_and_data_column_lineage_raw_values_and_flags_left_out(profiled):
    assert sorted({c for _, c in profiled}) == ["amount", "city", "opened", "ssn_hash", "tags", "visits"]
    assert sorted({d for d, _ in profiled}) == [D1, D2]
    row = profiled[(D1, "amount")]
    assert (row["run_id"], row["table"], row["table_version"], row["kind"]) == ("run-1", "silver/tiny", 3, "numeric")


def test_row_null_and_invalid_counts_match_pandas_nan_counting_as_null(profiled, frame):
    for date in (D1, D2):
        p = part(frame, date)
        for column in ("amount", "visits", "city", "opened"):
            row = profiled[(date, column)]
            assert row["row_count"] == len(p)
            assert row["null_count"] == p[column].isna().sum(), (date, column)
        assert profiled[(date, "amount")]["invalid_count"] == p["amount_invalid"].sum()
        assert profiled[(date, "city")]["invalid_count"] is None  # no flag column: not applicable


def test_distinct_counts_match_pandas(profiled, frame):
    for date in (D1, D2):
        p = part(frame, date)
        for column in ("amount", "visits", "city", "ssn_hash", "opened"):
            assert profiled[(date, column)]["distinct_count"] == p[column].nunique(), (date, column)


def test_min_max_mean_and_sample_stddev_match_pandas(profiled, frame):
    for date in (D1, D2):
        p = part(frame, date)
        for column in ("amount", "visits"):
            row, values = profiled[(date, column)], p[column].astype(float).dropna()
            assert row["min"] == values.min() and row["max"] == values.max()
            assert row["mean"] == pytest.approx(values.mean())
            assert row["stddev"] == pytest.approx(values.std(ddof=1))


def test_dates_are_profiled_as_days_since_1970(profiled, frame):
    days = part(frame, D2)["opened"].dropna().map(lambda d: (d - dt.date(1970, 1, 1)).days)
    row = profiled[(D2, "opened")]
    assert (row["kind"], row["min"], row["max"]) == ("date", days.min(), days.max())


def test_quantiles_are_the_observed_values_at_the_quantile_rank(profiled, frame):
    for date in (D1, D2):
        values = np.sort(part(frame, date)["amount"].dropna().to_numpy())
        for name, q in (("p01", 0.01), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p99", 0.99)):
            # the smallest value with at least q of the values <= it
            assert profiled[(date, "amount")][name] == np.quantile(values, q, method="inverted_cdf"), (date, name)


def test_top_values_are_the_most_frequent_with_ties_broken_by_value(profiled, frame):
    for date in (D1, D2):
        counts = part(frame, date)["city"].value_counts()
        expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
        got = [(e["value"], e["count"]) for e in profiled[(date, "city")]["top_values"]]
        assert got == expected
    assert [(e["value"], e["count"]) for e in profiled[(D1, "tags")]["top_values"]] == [("a", 3), ("b", 2), ("c", 1)]


def test_values_of_hashed_personal_columns_are_masked_but_counted(profiled):
    top = profiled[(D1, "ssn_hash")]["top_values"]
    assert {e["value"] for e in top} == {MASKED}
    assert sorted(e["count"] for e in top) == [1, 1, 2, 2]


def test_histogram_counts_add_up_to_the_non_null_rows(profiled, frame):
    for date in (D1, D2):
        for column in ("amount", "visits", "opened"):
            row = profiled[(date, column)]
            assert sum(row["hist_counts"]) == row["row_count"] - row["null_count"], (date, column)
            assert len(row["hist_edges"]) == len(row["hist_counts"]) + 1


def test_histogram_bins_are_the_same_in_every_partition_and_match_numpy(profiled, frame):
    for column in ("amount", "visits"):
        edges = profiled[(D1, column)]["hist_edges"]
        assert profiled[(D2, column)]["hist_edges"] == edges
        for date in (D1, D2):
            values = part(frame, date)[column].astype(float).dropna().clip(edges[0], edges[-1])
            expected, _ = np.histogram(values, bins=edges)
            assert profiled[(date, column)]["hist_counts"] == expected.tolist(), (date, column)


def test_integer_columns_over_a_small_range_get_unit_bins(profiled):
    assert profiled[(D1, "visits")]["hist_edges"] == [0.5 + i for i in range(9)]  # 1 .. 8
    assert histogram_edges(0, 100, vmin=0, vmax=300, integer=True, bins=20)[:3] == [-0.5, 5.5, 11.5]
    assert histogram_edges(None, None) is None
    assert histogram_edges(7.0, 7.0) == [6.5, 7.5]


def test_configured_edges_are_used_and_values_beyond_them_go_to_the_outer_bins(spark, frame):
    df = spark.createDataFrame(ROWS, SCHEMA)
    edges = [0.0, 12.0, 30.0, 100.0]  # unequal widths; -5 and 1000 lie outside
    rows = profile_table(df, "silver/tiny", "run-1", bins={"amount": edges})
    got = {r["snapshot_date"]: r["hist_counts"] for r in rows if r["column"] == "amount"}
    assert got == {D1: [1, 1, 2], D2: [1, 1, 1]}
    assert all(r["hist_edges"] == edges for r in rows if r["column"] == "amount")


def test_write_profile_replaces_the_rows_of_the_same_run_and_table(tmp_path, profiled):
    path = tmp_path / "profile"
    rows = list(profiled.values())
    other = [dict(r, table="silver/other") for r in rows]
    write_profile(path, rows + other)
    write_profile(path, rows)  # the same run and table again: replaced, not added
    stored = DeltaTable(str(path)).to_pandas()
    assert len(stored) == 2 * len(rows)
    assert sorted(stored["table"].unique()) == ["silver/other", "silver/tiny"]
    assert stored.loc[stored["column"] == "city", "top_values"].map(len).sum() > 0


def test_identifier_like_text_columns_get_no_top_values(spark):
    day = dt.date(2024, 1, 1)
    rows = [(f"CUS_{i}", "A" if i % 3 else "B", day) for i in range(40)]
    df = spark.createDataFrame(rows, "customer_id string, grade string, snapshot_date date")
    by_column = {r["column"]: r for r in profile_table(df, "silver/ids", "run-1")}
    assert by_column["customer_id"]["top_values"] is None
    assert by_column["customer_id"]["distinct_count"] == 40
    assert by_column["grade"]["top_values"] == [{"value": "A", "count": 26}, {"value": "B", "count": 14}]
