"""The synthetic CS611 generator: shape, time structure, dirt, determinism and signal.

Pure pandas on a small generated set (no Spark), so the whole file runs in seconds.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.domains.loan_default import synthetic

CUSTOMERS = 500
SEED = 7

LMS_HEADER = [
    "loan_id", "Customer_ID", "loan_start_date", "tenure", "installment_num", "loan_amt",
    "due_amt", "paid_amt", "overdue_amt", "balance", "snapshot_date",
]  # fmt: skip
ATTRIBUTES_HEADER = ["Customer_ID", "Name", "Age", "SSN", "Occupation", "snapshot_date"]
FINANCIALS_HEADER = [
    "Customer_ID", "Annual_Income", "Monthly_Inhand_Salary", "Num_Bank_Accounts",
    "Num_Credit_Card", "Interest_Rate", "Num_of_Loan", "Type_of_Loan", "Delay_from_due_date",
    "Num_of_Delayed_Payment", "Changed_Credit_Limit", "Num_Credit_Inquiries", "Credit_Mix",
    "Outstanding_Debt", "Credit_Utilization_Ratio", "Credit_History_Age",
    "Payment_of_Min_Amount", "Total_EMI_per_month", "Amount_invested_monthly",
    "Payment_Behaviour", "Monthly_Balance", "snapshot_date",
]  # fmt: skip
CLICKSTREAM_HEADER = [*(f"fe_{i}" for i in range(1, 21)), "Customer_ID", "snapshot_date"]
HEADERS = {
    "lms_loan_daily.csv": LMS_HEADER,
    "features_attributes.csv": ATTRIBUTES_HEADER,
    "features_financials.csv": FINANCIALS_HEADER,
    "feature_clickstream.csv": CLICKSTREAM_HEADER,
}


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synthetic")
    synthetic.generate(path, CUSTOMERS, SEED)
    return path


@pytest.fixture(scope="module")
def lms(out_dir: Path) -> pd.DataFrame:
    return pd.read_csv(out_dir / "lms_loan_daily.csv")


@pytest.fixture(scope="module")
def attributes(out_dir: Path) -> pd.DataFrame:
    return pd.read_csv(out_dir / "features_attributes.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def financials(out_dir: Path) -> pd.DataFrame:
    return pd.read_csv(out_dir / "features_financials.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def clickstream(out_dir: Path) -> pd.DataFrame:
    return pd.read_csv(out_dir / "feature_clickstream.csv")


def course_label(lms: pd.DataFrame) -> pd.Series:
    """The "30dpd_6mob" label per Customer_ID, computed from LMS as the course defines it."""
    mob6 = lms[lms["installment_num"] == 6]
    snapshot = pd.to_datetime(mob6["snapshot_date"])
    due = mob6["due_amt"].to_numpy()
    missed = np.where(due > 0, np.ceil(mob6["overdue_amt"].to_numpy() / np.where(due > 0, due, 1.0)), 0)
    first_missed = [date - pd.DateOffset(months=int(k)) for date, k in zip(snapshot, missed)]
    dpd = (snapshot - pd.DatetimeIndex(first_missed)).dt.days
    return pd.Series((dpd >= 30).to_numpy(), index=mob6["Customer_ID"].to_numpy(), name="label")


def numeric(column: pd.Series) -> pd.Series:
    return pd.to_numeric(column.str.rstrip("_"), errors="coerce")


# --------------------------------------------------------------------------- shape


@pytest.mark.parametrize("file_name", sorted(HEADERS))
def test_header_is_the_cs611_header(out_dir: Path, file_name: str) -> None:
    with (out_dir / file_name).open(newline="") as handle:
        assert next(csv.reader(handle)) == HEADERS[file_name]


@pytest.mark.parametrize("file_name", sorted(HEADERS))
def test_header_equals_the_real_cs611_file(out_dir: Path, cs611: Path, file_name: str) -> None:
    with (cs611 / file_name).open(newline="") as real, (out_dir / file_name).open(newline="") as ours:
        assert next(csv.reader(ours)) == next(csv.reader(real))


def test_no_customer_id_name_or_ssn_comes_from_the_real_data(attributes: pd.DataFrame, cs611: Path) -> None:
    real = pd.read_csv(cs611 / "features_attributes.csv", dtype=str, keep_default_na=False)
    assert not set(attributes["Customer_ID"]) & set(real["Customer_ID"])
    assert not set(attributes["Name"]) & set(real["Name"])
    assert not (set(attributes["SSN"]) & set(real["SSN"])) - {"#F%$D@*&8"}


def test_generate_returns_the_four_written_files(out_dir: Path, tmp_path: Path) -> None:
    paths = synthetic.generate(tmp_path, 5, SEED)
    assert {p.name for p in paths.values()} == set(HEADERS)
    assert all(p.is_file() and p.parent == tmp_path for p in paths.values())


def test_lms_has_eleven_rows_per_loan_with_mob_0_to_10(lms: pd.DataFrame) -> None:
    assert lms["Customer_ID"].nunique() == CUSTOMERS
    assert lms["loan_id"].nunique() == CUSTOMERS
    mobs = lms.groupby("loan_id")["installment_num"].apply(list)
    assert all(m == list(range(11)) for m in mobs)


def test_lms_snapshot_is_loan_start_plus_mob_months_on_first_of_month(lms: pd.DataFrame) -> None:
    start = pd.to_datetime(lms["loan_start_date"])
    snapshot = pd.to_datetime(lms["snapshot_date"])
    expected = [s + pd.DateOffset(months=int(m)) for s, m in zip(start, lms["installment_num"])]
    assert (snapshot == pd.DatetimeIndex(expected)).all()
    assert (snapshot.dt.day == 1).all() and (start.dt.day == 1).all()
    assert lms["snapshot_date"].str.fullmatch(r"\d{4}-\d{2}-01").all()


def test_applications_spread_over_25_months_from_2023_01(lms: pd.DataFrame) -> None:
    starts = pd.to_datetime(lms["loan_start_date"])
    assert starts.min() >= pd.Timestamp("2023-01-01") and starts.max() <= pd.Timestamp("2025-01-01")
    assert starts.dt.to_period("M").nunique() == 25


def test_loan_id_is_customer_and_start_date_with_underscores(lms: pd.DataFrame) -> None:
    expected = lms["Customer_ID"] + "_" + lms["loan_start_date"].str.replace("-", "_")
    assert (lms["loan_id"] == expected).all()
    assert lms["Customer_ID"].str.fullmatch(r"CUS_0x[0-9a-f]+").all()


def test_lms_terms_are_fixed_and_due_starts_at_mob_1(lms: pd.DataFrame) -> None:
    assert (lms["tenure"] == 10).all() and (lms["loan_amt"] == 10_000).all()
    assert (lms.loc[lms["installment_num"] == 0, "due_amt"] == 0.0).all()
    assert (lms.loc[lms["installment_num"] > 0, "due_amt"] == 1000.0).all()


def test_lms_overdue_and_balance_follow_cumulative_payments(lms: pd.DataFrame) -> None:
    by_loan = lms.groupby("loan_id")
    cumulative_paid = by_loan["paid_amt"].cumsum()
    assert (lms["overdue_amt"] == by_loan["due_amt"].cumsum() - cumulative_paid).all()
    assert (lms["balance"] == 10_000 - cumulative_paid).all()
    assert (lms["paid_amt"] % 1000 == 0).all() and (lms["overdue_amt"] >= 0).all()


def test_lms_floats_are_written_like_the_course_file(out_dir: Path) -> None:
    with (out_dir / "lms_loan_daily.csv").open() as handle:
        next(handle)
        first = next(handle).rstrip("\n").split(",")
    assert first[3:] == ["10", "0", "10000", "0.0", "0.0", "0.0", "10000.0", first[2]]


def test_some_defaulters_catch_up_by_paying_arrears(lms: pd.DataFrame) -> None:
    label = course_label(lms)
    catch_up = lms.loc[lms["paid_amt"] > 1000, "Customer_ID"].unique()
    assert len(catch_up) > 0
    assert label.loc[catch_up].all(), "catch-up payments belong to defaulters"


@pytest.mark.parametrize("file_name", ["features_attributes.csv", "features_financials.csv"])
def test_one_row_per_customer_at_loan_start(out_dir: Path, lms: pd.DataFrame, file_name: str) -> None:
    table = pd.read_csv(out_dir / file_name, dtype=str, keep_default_na=False)
    assert table["Customer_ID"].is_unique and len(table) == CUSTOMERS
    loan_start = lms.drop_duplicates("Customer_ID").set_index("Customer_ID")["loan_start_date"]
    assert (table.set_index("Customer_ID")["snapshot_date"] == loan_start.reindex(table["Customer_ID"])).all()


def test_clickstream_covers_24_months_for_applicants_by_2024_06_only(
    clickstream: pd.DataFrame, attributes: pd.DataFrame
) -> None:
    applied = attributes.set_index("Customer_ID")["snapshot_date"]
    expected = set(applied[applied <= "2024-06-01"].index)
    assert set(clickstream["Customer_ID"]) == expected
    months = clickstream.groupby("Customer_ID")["snapshot_date"].apply(sorted)
    calendar = [d.strftime("%Y-%m-%d") for d in pd.date_range("2023-01-01", "2024-12-01", freq="MS")]
    assert all(m == calendar for m in months)


def test_clickstream_has_rows_after_the_application_month(
    clickstream: pd.DataFrame, attributes: pd.DataFrame
) -> None:
    applied = clickstream["Customer_ID"].map(attributes.set_index("Customer_ID")["snapshot_date"])
    assert (clickstream["snapshot_date"] > applied).mean() > 0.4


def test_clickstream_values_are_integers_in_a_cs611_like_range(clickstream: pd.DataFrame) -> None:
    values = clickstream[[f"fe_{i}" for i in range(1, 21)]]
    assert all(pd.api.types.is_integer_dtype(t) for t in values.dtypes)
    assert values.min().min() >= -450 and values.max().max() <= 650
    assert 80 < values.stack().mean() < 120


def test_type_of_loan_is_an_english_list_matching_the_loan_count(financials: pd.DataFrame) -> None:
    loans = pd.to_numeric(financials["Num_of_Loan"].str.rstrip("_"))
    clean = financials[loans.between(0, 9)]
    items = clean["Type_of_Loan"].map(lambda s: 0 if s == "" else len(s.replace(", and ", ", ").split(", ")))
    assert (items == pd.to_numeric(clean["Num_of_Loan"].str.rstrip("_"))).all()
    two = clean.loc[items == 2, "Type_of_Loan"]
    many = clean.loc[items >= 3, "Type_of_Loan"]
    assert two.str.fullmatch(r"[^,]+, and [^,]+").all() and len(two) > 0
    assert many.str.fullmatch(r"([^,]+, )+and [^,]+").all() and len(many) > 0


def test_credit_history_age_reads_years_and_months(financials: pd.DataFrame) -> None:
    parts = financials["Credit_History_Age"].str.extract(r"^(\d+) Years and (\d+) Months$").astype(float)
    assert parts.notna().all().all() and (parts[1] < 12).all()


# --------------------------------------------------------------------------- dirt

DIRTY_KINDS = {
    "age_trailing_underscore": ("attributes", lambda t: t["Age"].str.fullmatch(r"\d+_")),
    "age_minus_500": ("attributes", lambda t: t["Age"] == "-500"),
    "age_over_100": ("attributes", lambda t: numeric(t["Age"]) > 100),
    "ssn_garbage": ("attributes", lambda t: t["SSN"] == "#F%$D@*&8"),
    "occupation_underscores": ("attributes", lambda t: t["Occupation"] == "_______"),
    "credit_mix_underscore": ("financials", lambda t: t["Credit_Mix"] == "_"),
    "payment_behaviour_garbage": ("financials", lambda t: t["Payment_Behaviour"] == "!@9#%8"),
    "amount_invested_10000": ("financials", lambda t: t["Amount_invested_monthly"] == "__10000__"),
    "changed_credit_limit_underscore": ("financials", lambda t: t["Changed_Credit_Limit"] == "_"),
    "monthly_balance_garbage": (
        "financials", lambda t: t["Monthly_Balance"] == "__-333333333333333333333333333__"
    ),  # fmt: skip
    "annual_income_trailing_underscore": ("financials", lambda t: t["Annual_Income"].str.endswith("_")),
    "num_of_loan_trailing_underscore": ("financials", lambda t: t["Num_of_Loan"].str.endswith("_")),
    "delayed_payments_trailing_underscore": (
        "financials", lambda t: t["Num_of_Delayed_Payment"].str.endswith("_")
    ),  # fmt: skip
    "outstanding_debt_trailing_underscore": ("financials", lambda t: t["Outstanding_Debt"].str.endswith("_")),
    "num_of_loan_minus_100": ("financials", lambda t: numeric(t["Num_of_Loan"]) == -100),
    "num_of_loan_huge": ("financials", lambda t: numeric(t["Num_of_Loan"]) > 9),
    "bank_accounts_huge": ("financials", lambda t: numeric(t["Num_Bank_Accounts"]) > 11),
    "credit_cards_huge": ("financials", lambda t: numeric(t["Num_Credit_Card"]) > 11),
    "interest_rate_huge": ("financials", lambda t: numeric(t["Interest_Rate"]) > 34),
    "annual_income_huge": ("financials", lambda t: numeric(t["Annual_Income"]) > 200_000),
    "delayed_payments_huge": ("financials", lambda t: numeric(t["Num_of_Delayed_Payment"]) > 28),
    "delayed_payments_negative": ("financials", lambda t: numeric(t["Num_of_Delayed_Payment"]) < 0),
    "credit_inquiries_huge": ("financials", lambda t: numeric(t["Num_Credit_Inquiries"]) > 17),
    "total_emi_huge": ("financials", lambda t: numeric(t["Total_EMI_per_month"]) > 5_000),
    "type_of_loan_empty": ("financials", lambda t: t["Type_of_Loan"] == ""),
    "name_with_double_quote": ("attributes", lambda t: t["Name"].str.contains('"', regex=False)),
}


@pytest.mark.parametrize("kind", sorted(DIRTY_KINDS))
def test_every_dirty_value_kind_is_present(
    kind: str, attributes: pd.DataFrame, financials: pd.DataFrame
) -> None:
    table_name, predicate = DIRTY_KINDS[kind]
    table = attributes if table_name == "attributes" else financials
    assert predicate(table).sum() >= 1


def test_dirty_values_are_a_minority(attributes: pd.DataFrame, financials: pd.DataFrame) -> None:
    for kind, (table_name, predicate) in DIRTY_KINDS.items():
        table = attributes if table_name == "attributes" else financials
        assert predicate(table).mean() < 0.25, kind


def test_clean_ssns_look_like_ssns(attributes: pd.DataFrame) -> None:
    ssn = attributes.loc[attributes["SSN"] != "#F%$D@*&8", "SSN"]
    assert ssn.str.fullmatch(r"\d{3}-\d{2}-\d{4}").all()


def test_quoted_names_are_rfc4180_doubled_and_round_trip(out_dir: Path, attributes: pd.DataFrame) -> None:
    raw = (out_dir / "features_attributes.csv").read_text()
    quoted = attributes.loc[attributes["Name"].str.contains('"', regex=False), "Name"]
    assert 1 <= len(quoted) <= 0.03 * CUSTOMERS
    for name in quoted:
        assert '"' + name.replace('"', '""') + '"' in raw
    assert set(quoted) <= set(pd.read_csv(out_dir / "features_attributes.csv")["Name"])


# --------------------------------------------------------------------------- determinism


def test_same_seed_gives_byte_identical_files(out_dir: Path, tmp_path: Path) -> None:
    synthetic.generate(tmp_path, CUSTOMERS, SEED)
    for name in HEADERS:
        assert (tmp_path / name).read_bytes() == (out_dir / name).read_bytes(), name


def test_another_seed_gives_other_data(out_dir: Path, tmp_path: Path) -> None:
    synthetic.generate(tmp_path, CUSTOMERS, SEED + 1)
    for name in HEADERS:
        assert (tmp_path / name).read_bytes() != (out_dir / name).read_bytes(), name


def test_helper_frames_are_what_generate_writes(out_dir: Path) -> None:
    truth = synthetic.make_customers(CUSTOMERS, SEED)
    frames = {
        "lms_loan_daily.csv": synthetic.make_loans(truth),
        "features_attributes.csv": synthetic.make_attributes(truth, SEED),
        "features_financials.csv": synthetic.make_financials(truth, SEED),
        "feature_clickstream.csv": synthetic.make_clickstream(truth, SEED),
    }
    for name, frame in frames.items():
        assert frame.to_csv(index=False, lineterminator="\n") == (out_dir / name).read_text(), name


# --------------------------------------------------------------------------- signal


def test_default_rate_is_near_the_cs611_rate(lms: pd.DataFrame) -> None:
    assert 0.22 <= course_label(lms).mean() <= 0.36


def test_label_equals_ground_truth_default(lms: pd.DataFrame) -> None:
    truth = synthetic.make_customers(CUSTOMERS, SEED).set_index("Customer_ID")["default"]
    label = course_label(lms)
    assert (label == truth.reindex(label.index)).all()


@pytest.mark.parametrize("feature", ["Interest_Rate", "Outstanding_Debt", "Num_of_Delayed_Payment"])
def test_default_rate_rises_from_bottom_to_top_quartile_of_a_planted_feature(
    lms: pd.DataFrame, financials: pd.DataFrame, feature: str
) -> None:
    label = course_label(lms)
    values = numeric(financials.set_index("Customer_ID")[feature])
    values = values[values.between(values.quantile(0.01), values.quantile(0.95))]  # drop planted outliers
    low, high = values.quantile([0.25, 0.75])
    bottom = label.reindex(values[values <= low].index).mean()
    top = label.reindex(values[values >= high].index).mean()
    assert top - bottom >= 0.1, (bottom, top)


def test_bad_credit_mix_defaults_more_than_good(lms: pd.DataFrame, financials: pd.DataFrame) -> None:
    rate = course_label(lms).groupby(financials.set_index("Customer_ID")["Credit_Mix"]).mean()
    assert rate["Bad"] > rate["Good"] + 0.15


def test_signal_is_learnable_but_far_from_perfect() -> None:
    truth = synthetic.make_customers(5_000, SEED)
    score = truth["default_probability"].rank()
    positives = truth["default"].to_numpy()
    n1, n0 = positives.sum(), (~positives).sum()
    auc = (score[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    assert 0.7 <= auc <= 0.9


# --------------------------------------------------------------------------- CLI


def test_cli_writes_the_files(tmp_path: Path) -> None:
    assert synthetic.main(["--customers", "12", "--seed", "3", "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.iterdir()} == set(HEADERS)
    assert len(pd.read_csv(tmp_path / "features_attributes.csv")) == 12


def test_cli_start_shifts_the_calendar(tmp_path: Path) -> None:
    synthetic.main(["--customers", "12", "--start", "2021-03-01", "--out", str(tmp_path)])
    lms = pd.read_csv(tmp_path / "lms_loan_daily.csv")
    assert lms["loan_start_date"].min() >= "2021-03-01" and lms["loan_start_date"].max() <= "2023-03-01"


@pytest.mark.parametrize(
    "argv",
    [
        ["--customers", "10", "--scale", "1"],
        ["--customers", "0"],
        ["--scale", "-1"],
        ["--start", "2023-01-15"],
    ],
)
def test_cli_rejects_invalid_arguments(argv: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as excinfo:
        synthetic.main([*argv, "--out", str(tmp_path)])
    assert excinfo.value.code == 2
