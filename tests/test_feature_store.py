"""Point-in-time retrieval (utils.ml.feature_store): training sets and latest features
share one as-of function; on tiny frames, on a tiny Delta datamart in tmp_path, and on the
shared sample datamart (tests/conftest.py). The Spark signature is tested in
tests/test_gold_pipeline.py."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from utils.ml.feature_store import (
    feature_columns,
    latest_features,
    point_in_time,
    store_versions,
    training_set,
)

DOMAIN = "loan_default"
D = dt.date


@pytest.fixture(scope="module")
def gold(sample_datamart) -> Path:
    """The shared sample datamart, read only."""
    return sample_datamart


def _store(datamart: Path, name: str) -> pd.DataFrame:
    return DeltaTable(str(datamart / "gold" / DOMAIN / name)).to_pandas()


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _same(a, b) -> bool:
    """Equal, or both missing (NaN / None)."""
    return (_missing(a) and _missing(b)) or a == b


# --------------------------------------------------------------------------- the as-of function


def test_point_in_time_takes_the_latest_row_not_after_the_key_date():
    features = pd.DataFrame({"user_id": ["a", "a", "b"], "snapshot_date": [D(2024, 1, 1), D(2024, 3, 1), D(2024, 5, 1)],
                             "x": [1, 3, 5]})
    keys = pd.DataFrame({"user_id": ["a", "a", "a", "b", "c"],
                         "when": [D(2024, 2, 15), D(2024, 3, 1), D(2023, 12, 31), D(2024, 4, 30), D(2024, 5, 1)]})
    out = point_in_time(features, keys, entity="user_id", date_column="when", row_date="row").to_pandas()
    assert list(out.columns) == ["user_id", "when", "row", "x"]
    assert out["x"].tolist()[:2] == [1, 3] and out["x"].isna().tolist()[2:] == [True, True, True]
    assert out["row"].tolist()[:2] == [D(2024, 1, 1), D(2024, 3, 1)]


def test_point_in_time_with_age_zero_takes_only_the_row_of_that_very_date():
    features = pd.DataFrame({"user_id": ["a", "a"], "snapshot_date": [D(2024, 1, 1), D(2024, 3, 1)], "x": [1, 3]})
    keys = pd.DataFrame({"user_id": ["a", "a"], "feature_snapshot_date": [D(2024, 2, 1), D(2024, 3, 1)]})
    out = point_in_time(features, keys, entity="user_id", max_age_days=0).to_pandas()
    assert out["x"].isna().tolist() == [True, False] and out["x"].iloc[1] == 3


def test_point_in_time_keeps_the_order_and_types_of_its_inputs():
    features = pa.table({"user_id": ["a", "b"], "snapshot_date": pa.array([D(2024, 1, 1)] * 2, pa.date32()),
                         "n": pa.array([7, None], pa.int32())})
    keys = pa.table({"user_id": ["b", "a", "b"], "feature_snapshot_date": pa.array([D(2024, 1, 1)] * 3, pa.date32())})
    out = point_in_time(features, keys, entity="user_id")
    assert out["user_id"].to_pylist() == ["b", "a", "b"]
    assert out.schema.field("n").type == pa.int32() and out["n"].to_pylist() == [None, 7, None]


def test_point_in_time_rejects_feature_rows_that_are_not_unique_per_entity_and_date():
    features = pd.DataFrame({"user_id": ["a", "a"], "snapshot_date": [D(2024, 1, 1)] * 2, "x": [1, 2]})
    keys = pd.DataFrame({"user_id": ["a"], "feature_snapshot_date": [D(2024, 1, 1)]})
    with pytest.raises(ValueError, match="not unique"):
        point_in_time(features, keys, entity="user_id")


# --------------------------------------------------------------------------- a tiny datamart


def _toy(root: Path, features: list[dict], labels: list[dict], mode: str = "overwrite") -> None:
    """gold/toy/feature_store and label_store (churn-like: entity user_id, label windows)."""
    for name, rows in (("feature_store", features), ("label_store", labels)):
        if rows:
            write_deltalake(str(root / "gold" / "toy" / name), pa.Table.from_pylist(rows), mode=mode,
                            partition_by=["snapshot_date"])


def _feature(user: str, day: D, spend: float) -> dict:
    return {"user_id": user, "spend_30d": spend, "has_orders": 1, "_asof_orders": day, "snapshot_date": day}


def _label(user: str, day: D, label: int, label_def: str = "churn_60d") -> dict:
    closes = day + dt.timedelta(days=60)
    return {"user_id": user, "label": label, "label_def": label_def, "feature_snapshot_date": day,
            "window_start": day + dt.timedelta(days=1), "window_end": closes, "snapshot_date": closes}


@pytest.fixture()
def toy(tmp_path) -> Path:
    """Version 0: two users at 2024-01-31; version 1 appends user a at 2024-02-29."""
    _toy(tmp_path, [_feature("a", D(2024, 1, 31), 10.0), _feature("b", D(2024, 1, 31), 20.0)],
         [_label("a", D(2024, 1, 31), 0), _label("b", D(2024, 1, 31), 1)])
    _toy(tmp_path, [_feature("a", D(2024, 2, 29), 30.0)], [_label("a", D(2024, 2, 29), 1)], mode="append")
    return tmp_path


def test_training_set_of_any_domain_keeps_its_entity_and_leaves_label_windows_out(toy):
    frame = training_set(datamart=toy, domain="toy", label="churn_60d")
    assert list(frame.columns) == ["user_id", "feature_snapshot_date", "label_date", "label_def", "label", "spend_30d"]
    assert frame["spend_30d"].tolist() == [10.0, 20.0, 30.0]
    assert frame.attrs["versions"] == {"feature_store": 1, "label_store": 1}


def test_time_travel_by_version_returns_the_rows_before_an_append(toy):
    old = {"feature_store": 0, "label_store": 0}
    assert store_versions(toy, old, domain="toy") == old
    assert len(training_set(datamart=toy, domain="toy", versions=old)) == 2
    assert len(training_set(datamart=toy, domain="toy")) == 3
    assert latest_features("toy", "2024-03-31", datamart=toy, version=0)["spend_30d"].tolist() == [10.0, 20.0]
    assert latest_features("toy", "2024-03-31", datamart=toy)["spend_30d"].tolist() == [30.0, 20.0]


def test_training_set_asks_for_a_label_when_the_store_holds_several(toy):
    _toy(toy, [], [_label("a", D(2024, 1, 31), 1, "churn_90d")], mode="append")
    with pytest.raises(ValueError, match="churn_60d, churn_90d"):
        training_set(datamart=toy, domain="toy")
    assert len(training_set(datamart=toy, domain="toy", label="churn_90d")) == 1
    with pytest.raises(KeyError, match="unknown label 'churn_7d'"):
        training_set(datamart=toy, domain="toy", label="churn_7d")


def test_latest_features_gives_unknown_entities_nulls_in_the_order_asked(toy):
    out = latest_features("toy", dt.datetime(2024, 2, 15, 12, 0), entities=["zed", "a"], datamart=toy)
    assert out["user_id"].tolist() == ["zed", "a"]
    assert out["snapshot_date"].tolist() == [None, D(2024, 1, 31)] and out["spend_30d"].iloc[1] == 10.0


# --------------------------------------------------------------------------- the sample datamart


def test_training_set_has_one_row_per_label_with_the_feature_row_of_its_feature_snapshot_date(gold):
    frame = training_set(datamart=gold, domain=DOMAIN, label="30dpd_6mob")
    labels = _store(gold, "label_store")
    assert len(frame) == len(labels) == frame["loan_id"].nunique()
    assert set(frame["loan_id"]) == set(labels["loan_id"])
    store = DeltaTable(str(gold / "gold" / DOMAIN / "feature_store"))
    wanted = feature_columns(store.schema().to_arrow().names, "customer_id")
    assert list(frame.columns) == ["loan_id", "customer_id", "feature_snapshot_date", "label_date", "label_def",
                                   "label", *wanted]
    for i in range(0, len(frame), max(1, len(frame) // 5)):  # a few rows, by direct lookup
        row = frame.iloc[i]
        month = store.to_pandas(filters=[("snapshot_date", "=", row["feature_snapshot_date"])])
        [expected] = month[month["customer_id"] == row["customer_id"]].to_dict("records")
        assert all(_same(row[c], expected[c]) for c in wanted), row["loan_id"]


def test_latest_features_never_returns_a_row_dated_after_as_of(gold):
    store = _store(gold, "feature_store")
    for as_of in (D(2023, 3, 1), D(2023, 8, 15)):
        out = latest_features(DOMAIN, as_of, datamart=gold, features=["age"])
        assert (out["snapshot_date"] <= as_of).all()
        expected = store[store["snapshot_date"] <= as_of].groupby("customer_id")["snapshot_date"].max()
        assert out.set_index("customer_id")["snapshot_date"].sort_index().equals(expected.sort_index())


def test_latest_features_equal_the_training_join_for_the_same_entity_and_date(gold):
    as_of = D(2023, 6, 1)
    latest = latest_features(DOMAIN, as_of, datamart=gold)
    train = training_set(datamart=gold, domain=DOMAIN)
    features = [c for c in latest.columns if c not in ("customer_id", "snapshot_date")]
    pairs = train.merge(latest[["customer_id", "snapshot_date"]], left_on=["customer_id", "feature_snapshot_date"],
                        right_on=["customer_id", "snapshot_date"])
    assert len(pairs) > 10
    by_entity = latest.set_index("customer_id")
    for _, row in pairs.iterrows():
        assert all(_same(row[c], by_entity.at[row["customer_id"], c]) for c in features), row["customer_id"]
