"""Gold end to end on the sample_copy data: idempotent reruns, reproducible training sets."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from utils.cli import main
from utils.ml.feature_store import training_set

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GOLD = ("feature_store", "label_store")


def gold_versions(datamart: Path) -> dict[str, int]:
    return {t: DeltaTable(str(datamart / "gold" / "loan_default" / t)).version() for t in GOLD}


@pytest.fixture(scope="module")
def built(sample_datamart) -> Path:
    """The shared sample datamart (tests/conftest.py)."""
    return sample_datamart


def test_gold_holds_one_feature_row_per_application_and_one_label_per_loan(built, sample_copy):
    import pandas as pd

    lms = pd.read_csv(sample_copy / "lms_loan_daily.csv", dtype=str)
    features = DeltaTable(str(built / "gold" / "loan_default" / "feature_store")).to_pandas()
    labels = DeltaTable(str(built / "gold" / "loan_default" / "label_store")).to_pandas()
    assert len(features) == lms["loan_id"].nunique() == len(labels)
    assert (labels["feature_snapshot_date"] < labels["snapshot_date"]).all()
    leakage = DeltaTable(str(built / "_meta" / "leakage")).to_pandas()
    assert set(leakage["guard"]) == {"cutoff", "replay", "single_feature_auc"}
    assert leakage["passed"].all()


def test_rerunning_gold_on_unchanged_silver_creates_no_new_version(built, sample_copy, tmp_path):
    datamart = tmp_path / "dm"  # a copy: the shared datamart's latest run stays the full build
    shutil.copytree(built, datamart)
    before = gold_versions(datamart)
    assert main(["--domain", "loan_default", "--data-root", str(sample_copy), "--datamart", str(datamart)]) == 0
    assert main(["--domain", "loan_default", "--data-root", str(sample_copy), "--datamart", str(datamart), "--layers", "gold"]) == 0
    assert gold_versions(datamart) == before


def test_training_set_by_version_or_timestamp_reproduces_an_earlier_one(spark, built, sample_copy, tmp_path):
    datamart = tmp_path / "dm"
    shutil.copytree(built, datamart)
    data = tmp_path / "data"
    shutil.copytree(sample_copy, data)
    first = training_set(spark, datamart).toPandas().sort_values("loan_id").reset_index(drop=True)
    old = gold_versions(datamart)
    time.sleep(1.1)
    between = dt.datetime.now(dt.timezone.utc)
    time.sleep(1.1)
    path = data / "features_financials.csv"  # a corrected financials drop: different incomes
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:1] + [line.replace(",", ",1", 1) for line in lines[1:]]))
    assert main(["--domain", "loan_default", "--data-root", str(data), "--datamart", str(datamart)]) == 0
    assert gold_versions(datamart)["feature_store"] == old["feature_store"] + 1
    latest = training_set(spark, datamart).toPandas().sort_values("loan_id").reset_index(drop=True)
    by_version = training_set(spark, datamart, versions=old).toPandas().sort_values("loan_id").reset_index(drop=True)
    by_time = training_set(spark, datamart, as_of=between).toPandas().sort_values("loan_id").reset_index(drop=True)
    assert not latest.equals(first)
    assert by_version.equals(first) and by_time.equals(first)


def test_training_set_joins_each_label_to_the_features_of_its_application_month(spark, built):
    frame = training_set(spark, built, features=["age", "interest_rate"], start="2023-03", end="2023-05").toPandas()
    assert set(frame["feature_snapshot_date"].astype(str)) == {"2023-03-01", "2023-04-01", "2023-05-01"}
    assert (frame["label_date"] > frame["feature_snapshot_date"]).all()
    assert list(frame.columns) == ["loan_id", "customer_id", "feature_snapshot_date", "label_date", "label_def",
                                   "label", "age", "interest_rate"]
    with pytest.raises(KeyError, match="no_such_feature"):
        training_set(spark, built, features=["no_such_feature"])
