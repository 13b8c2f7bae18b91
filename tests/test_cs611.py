"""Every layer on the real CS611 data (skipped where ../shared/datasets is absent)."""

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
    assert main(["--domain", "loan_default", "--data-root", str(cs611), "--datamart", str(datamart)]) == 0
    return datamart


@pytest.mark.parametrize("source", list(EXPECTED))
def test_bronze_holds_every_real_row_and_month(real_bronze, source):
    table = DeltaTable(str(real_bronze / "bronze" / "loan_default" / source)).to_pandas()
    rows, months = EXPECTED[source]
    assert len(table) == rows
    assert table["snapshot_date"].nunique() == months
    assert table["snapshot_date"].notna().all()


def test_doubled_quote_names_read_as_single_quote_text(real_bronze):
    names = DeltaTable(str(real_bronze / "bronze" / "loan_default" / "features_attributes")).to_pandas(columns=["Name"])["Name"]
    quoted = names[names.str.contains('"', regex=False)]
    assert len(quoted) == 107
    assert 'ODonnell"d' in set(quoted)
    assert not quoted.str.contains('""', regex=False).any()


def test_resaved_dmy_files_give_the_same_months_with_a_date_format_override(real_bronze, cs611_dmy, tmp_path):
    datamart = tmp_path / "dm"
    args = ["--domain", "loan_default", "--data-root", str(cs611_dmy), "--datamart", str(datamart),
            "--sources", "features_attributes,features_financials", "--layers", "bronze"]
    for source in ("features_attributes", "features_financials"):
        args += ["--set", f"sources.{source}.date_formats=[d/M/yyyy]"]
    assert main(args) == 0
    for source in ("features_attributes", "features_financials"):
        cols = ["Customer_ID", "snapshot_date"]
        resaved = DeltaTable(str(datamart / "bronze" / "loan_default" / source)).to_pandas(columns=cols)
        original = DeltaTable(str(real_bronze / "bronze" / "loan_default" / source)).to_pandas(columns=cols)
        merged = original.merge(resaved, on="Customer_ID", suffixes=("_orig", "_dmy"), validate="1:1")
        assert len(merged) == 12_500
        assert (merged["snapshot_date_orig"] == merged["snapshot_date_dmy"]).all(), source


def test_resaved_dmy_files_without_override_land_with_null_dates(cs611_dmy, spark, tmp_path):
    datamart = tmp_path / "dm"
    assert main(["--domain", "loan_default", "--data-root", str(cs611_dmy), "--datamart", str(datamart), "--sources", "features_attributes", "--layers", "bronze"]) == 0
    table = DeltaTable(str(datamart / "bronze" / "loan_default" / "features_attributes")).to_pandas(columns=["snapshot_date"])
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
        frame = DeltaTable(str(real_bronze / "silver" / "loan_default" / table)).to_pandas().astype(str)
        for column in frame.columns:
            assert not frame[column].str.contains(ssn).any(), (table, column)
            assert not frame[column].isin(names).any(), (table, column)


def pandas_labels(lms: pd.DataFrame, dpd: int = 30, mob: int = 6) -> pd.Series:
    """The course label computed independently from the raw LMS file, per loan_id."""
    at = lms[lms["installment_num"].astype(int) == mob].copy()
    due, overdue = at["due_amt"].astype(float), at["overdue_amt"].astype(float)
    missed = (overdue / due).where(due > 0, 0).apply(lambda x: int(-(-x // 1)))
    snap = pd.to_datetime(at["snapshot_date"])
    first_missed = [s - pd.DateOffset(months=m) for s, m in zip(snap, missed)]
    days = (snap - pd.Series(first_missed, index=at.index)).dt.days.where(overdue > 0, 0)
    return pd.Series((days >= dpd).astype(int).values, index=at["loan_id"].values).sort_index()


def test_label_store_matches_an_independent_pandas_computation(real_bronze, cs611):
    labels = DeltaTable(str(real_bronze / "gold" / "loan_default" / "label_store")).to_pandas()
    assert len(labels) == 12_500 and labels["label"].sum() == 3_602
    assert labels["loan_id"].is_unique and set(labels["label_def"]) == {"30dpd_6mob"}
    expected = pandas_labels(pd.read_csv(cs611 / "lms_loan_daily.csv", dtype=str))
    got = labels.set_index("loan_id")["label"].sort_index()
    assert got.index.equals(expected.index)
    assert (got.values == expected.values).all()
    assert str(labels["snapshot_date"].min()) == "2023-07-01" and str(labels["snapshot_date"].max()) == "2025-07-01"


def test_feature_store_covers_every_application_and_no_clickstream_after_it(real_bronze):
    store = DeltaTable(str(real_bronze / "gold" / "loan_default" / "feature_store")).to_pandas()
    assert len(store) == 12_500 and not store.duplicated(["customer_id", "snapshot_date"]).any()
    read = store.dropna(subset=["_asof_clickstream"])
    assert (read["_asof_clickstream"] <= read["snapshot_date"]).all()
    assert store["has_clickstream"].sum() == 8_974  # applicants up to 2024-06 have history
    leakage = DeltaTable(str(real_bronze / "_meta" / "leakage")).to_pandas()
    assert leakage[leakage["guard"].isin(["cutoff", "replay"])]["passed"].all()
    aucs = leakage[leakage["guard"] == "single_feature_auc"]
    assert len(aucs) > 50 and (aucs["value"] <= 0.95).all()


def test_replay_from_raw_data_cut_at_2024_06_reproduces_gold(real_bronze, cs611, tmp_path):
    cut = "2024-06-01"
    cut_dir = tmp_path / "cut"
    cut_dir.mkdir()
    for f in cs611.glob("*.csv"):
        frame = pd.read_csv(f, dtype=str, keep_default_na=False)
        frame[frame["snapshot_date"] <= cut].to_csv(cut_dir / f.name, index=False)
    datamart = tmp_path / "dm"
    assert main(["--domain", "loan_default", "--data-root", str(cut_dir), "--datamart", str(datamart)]) == 0
    for table, keys in (("feature_store", ["customer_id", "snapshot_date"]), ("label_store", ["loan_id"])):
        full = DeltaTable(str(real_bronze / "gold" / "loan_default" / table)).to_pandas()
        full = full[full["snapshot_date"].astype(str) <= cut].sort_values(keys).reset_index(drop=True)
        replay = DeltaTable(str(datamart / "gold" / "loan_default" / table)).to_pandas().sort_values(keys).reset_index(drop=True)
        assert len(full) > 0
        pd.testing.assert_frame_equal(full, replay[full.columns], check_dtype=False)  # ints with nulls read as float
