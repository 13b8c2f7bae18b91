"""Bronze on the real CS611 data (skipped where ../shared/datasets is absent)."""

from __future__ import annotations

import pandas as pd
import pytest
from deltalake import DeltaTable

from utils.cli import main

EXPECTED = {  # source: (rows, distinct snapshot dates), from datasets/README.md
    "lms_loan_daily": (137_500, 35),
    "features_attributes": (12_500, 25),
    "features_financials": (12_500, 25),
    "feature_clickstream": (215_376, 24),
}


@pytest.fixture(scope="module")
def real_bronze(spark, cs611, tmp_path_factory):
    datamart = tmp_path_factory.mktemp("cs611_dm")
    assert main(["--data-root", str(cs611), "--datamart", str(datamart), "--layers", "bronze"]) == 0
    return datamart


@pytest.mark.parametrize("source", list(EXPECTED))
def test_bronze_holds_every_real_row_and_month(real_bronze, source):
    table = DeltaTable(str(real_bronze / "bronze" / source)).to_pandas()
    rows, months = EXPECTED[source]
    assert len(table) == rows
    assert table["snapshot_date"].nunique() == months
    assert table["snapshot_date"].notna().all()


def test_doubled_quote_names_read_as_single_quote_text(real_bronze):
    names = DeltaTable(str(real_bronze / "bronze" / "features_attributes")).to_pandas(columns=["Name"])["Name"]
    quoted = names[names.str.contains('"', regex=False)]
    assert len(quoted) == 107
    assert 'ODonnell"d' in set(quoted)
    assert not quoted.str.contains('""', regex=False).any()


def test_resaved_dmy_files_give_the_same_months_with_a_date_format_override(real_bronze, cs611_dmy, tmp_path):
    datamart = tmp_path / "dm"
    args = ["--data-root", str(cs611_dmy), "--datamart", str(datamart),
            "--sources", "features_attributes,features_financials"]
    for source in ("features_attributes", "features_financials"):
        args += ["--set", f"sources.{source}.date_formats=[d/M/yyyy]"]
    assert main(args) == 0
    for source in ("features_attributes", "features_financials"):
        cols = ["Customer_ID", "snapshot_date"]
        resaved = DeltaTable(str(datamart / "bronze" / source)).to_pandas(columns=cols)
        original = DeltaTable(str(real_bronze / "bronze" / source)).to_pandas(columns=cols)
        merged = original.merge(resaved, on="Customer_ID", suffixes=("_orig", "_dmy"), validate="1:1")
        assert len(merged) == 12_500
        assert (merged["snapshot_date_orig"] == merged["snapshot_date_dmy"]).all(), source


def test_resaved_dmy_files_without_override_land_with_null_dates(cs611_dmy, spark, tmp_path):
    datamart = tmp_path / "dm"
    assert main(["--data-root", str(cs611_dmy), "--datamart", str(datamart), "--sources", "features_attributes"]) == 0
    table = DeltaTable(str(datamart / "bronze" / "features_attributes")).to_pandas(columns=["snapshot_date"])
    assert len(table) == 12_500 and table["snapshot_date"].isna().all()
