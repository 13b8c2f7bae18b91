"""Bronze and silver on the real CS611 data (skipped where ../shared/datasets is absent)."""

from __future__ import annotations

import re

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
    assert main(["--data-root", str(cs611), "--datamart", str(datamart), "--layers", "bronze,silver"]) == 0
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


# counts stated in ../shared/datasets/README.md, by the rule or cleaning step that meets them
README_COUNTS = {
    ("silver/attributes", "decorated_age"): 637,                 # Age with trailing _
    ("silver/attributes", "valid_age"): 104 + 215,               # Age = -500, Age > 100
    ("silver/attributes", "valid_ssn_hash"): 703,                # SSN #F%$D@*&8
    ("silver/attributes", "null_token_occupation"): 880,         # Occupation _______
    ("silver/financials", "null_token_credit_mix"): 2611,        # Credit_Mix _
    ("silver/financials", "null_token_payment_behaviour"): 998,  # Payment_Behaviour !@9#%8
    ("silver/financials", "null_token_amount_invested_monthly"): 558,  # __10000__
    ("silver/financials", "null_token_changed_credit_limit"): 254,     # Changed_Credit_Limit _
    ("silver/financials", "null_token_monthly_balance"): 1,      # __-333...__
    ("silver/financials", "decorated_annual_income"): 859,
    ("silver/financials", "decorated_num_of_loan"): 623,
    ("silver/financials", "decorated_num_of_delayed_payment"): 374,
    ("silver/financials", "decorated_outstanding_debt"): 139,
}


def test_rule_counts_match_the_dataset_readme(real_bronze):
    quality = DeltaTable(str(real_bronze / "_meta" / "quality")).to_pandas()
    counts = quality.groupby(["table", "rule"])["rows_failed"].sum()
    assert {key: int(counts[key]) for key in README_COUNTS} == README_COUNTS
    # Num_of_Loan = -100 (500 rows) is out of range, plus the fitted fence's outliers
    assert counts[("silver/financials", "valid_num_of_loan")] >= 500


def test_real_data_balances_per_partition_and_quarantines_nothing(real_bronze):
    accounting = DeltaTable(str(real_bronze / "_meta" / "accounting")).to_pandas()
    assert accounting["balanced"].all()
    totals = accounting.groupby("table")["silver_rows"].sum().to_dict()
    assert totals == {"silver/attributes": 12_500, "silver/financials": 12_500,
                      "silver/loan_daily": 137_500, "silver/clickstream": 215_376}


def test_no_ssn_or_name_in_silver(real_bronze, cs611):
    names = set(pd.read_csv(cs611 / "features_attributes.csv", dtype=str, escapechar=None)["Name"])
    ssn = re.compile(r"\d{3}-\d{2}-\d{4}")
    for table in ("attributes", "financials", "loan_daily", "clickstream", "_quarantine"):
        frame = DeltaTable(str(real_bronze / "silver" / table)).to_pandas().astype(str)
        for column in frame.columns:
            assert not frame[column].str.contains(ssn).any(), (table, column)
            assert not frame[column].isin(names).any(), (table, column)
