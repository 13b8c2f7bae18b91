"""utils/layers/cleaning.py: one tiny DataFrame per cleaning behaviour, exact outputs.

Every test builds a ColumnSpec, applies `clean_column(F.col("raw"), spec)` to a
one-column DataFrame of raw text and compares, row by row, the cleaned value, the
invalid flag and the boolean metric columns (`null_token_<c>`, `decorated_<c>`,
`valid_<c>`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pytest
from pyspark.sql import functions as F

from utils.layers.cleaning import bound_column, clean_column, hmac_sha256, parse_column
from utils.lake.config import ColumnSpec


def clean(spark, spec: ColumnSpec, values: list[str | None], **kw) -> list[dict]:
    """Clean `values` with `spec`: one dict per input row, in input order, holding the
    raw text, the value, the invalid flag (when the column is validated) and every metric."""
    df = spark.createDataFrame([(v,) for v in values], "raw string")
    cleaned = clean_column(F.col("raw"), spec, **kw)
    cols = [F.col("raw"), cleaned.value.alias("value")]
    if cleaned.invalid is not None:
        cols.append(cleaned.invalid.alias("invalid"))
    cols += [m.alias(name) for name, m in cleaned.metrics.items()]
    return [row.asDict() for row in df.select(*cols).collect()]


# --------------------------------------------------------------------------- trim, blanks


def test_trim_removes_surrounding_spaces(spark):
    spec = ColumnSpec("city", "City")
    assert clean(spark, spec, ["  Lyon ", "Paris"]) == [
        {"raw": "  Lyon ", "value": "Lyon"},
        {"raw": "Paris", "value": "Paris"},
    ]


def test_without_trim_spaces_are_kept(spark):
    spec = ColumnSpec("city", "City", trim=False)
    assert clean(spark, spec, ["  Lyon "]) == [{"raw": "  Lyon ", "value": "  Lyon "}]


def test_blank_text_is_missing_not_invalid(spark):
    spec = ColumnSpec("age", "Age", type="int")
    assert clean(spark, spec, ["", "   ", None]) == [
        {"raw": "", "value": None, "invalid": False, "valid_age": False},
        {"raw": "   ", "value": None, "invalid": False, "valid_age": False},
        {"raw": None, "value": None, "invalid": False, "valid_age": False},
    ]


# --------------------------------------------------------------------------- null tokens, strip


def test_null_token_becomes_null_and_is_counted_not_invalid(spark):
    spec = ColumnSpec("credit_mix", "Credit_Mix", null_tokens=("_",), vocabulary=("Bad", "Good"))
    assert clean(spark, spec, ["_", " _ ", "Good", None]) == [
        {"raw": "_", "value": None, "invalid": False, "null_token_credit_mix": True, "valid_credit_mix": False},
        {"raw": " _ ", "value": None, "invalid": False, "null_token_credit_mix": True, "valid_credit_mix": False},
        {"raw": "Good", "value": "Good", "invalid": False, "null_token_credit_mix": False, "valid_credit_mix": False},
        {"raw": None, "value": None, "invalid": False, "null_token_credit_mix": False, "valid_credit_mix": False},
    ]


def test_strip_removes_decoration_and_counts_it(spark):
    spec = ColumnSpec("age", "Age", type="int", strip="_")
    assert clean(spark, spec, ["23_", "_7_", "41", "-500"]) == [
        {"raw": "23_", "value": 23, "invalid": False, "decorated_age": True, "valid_age": False},
        {"raw": "_7_", "value": 7, "invalid": False, "decorated_age": True, "valid_age": False},
        {"raw": "41", "value": 41, "invalid": False, "decorated_age": False, "valid_age": False},
        {"raw": "-500", "value": -500, "invalid": False, "decorated_age": False, "valid_age": False},
    ]


def test_value_that_is_only_decoration_is_missing_not_invalid(spark):
    spec = ColumnSpec("age", "Age", type="int", strip="_")
    assert clean(spark, spec, ["__"]) == [
        {"raw": "__", "value": None, "invalid": False, "decorated_age": True, "valid_age": False},
    ]


def test_null_token_is_matched_before_decoration_is_stripped(spark):
    # "__10000__" must count as a placeholder, not be stripped to the number 10000.
    spec = ColumnSpec("invested", "Amount_invested_monthly", type="double", null_tokens=("__10000__",), strip="_")
    assert clean(spark, spec, ["__10000__", "10000", "_12.5_"]) == [
        {"raw": "__10000__", "value": None, "invalid": False,
         "null_token_invested": True, "decorated_invested": False, "valid_invested": False},
        {"raw": "10000", "value": 10000.0, "invalid": False,
         "null_token_invested": False, "decorated_invested": False, "valid_invested": False},
        {"raw": "_12.5_", "value": 12.5, "invalid": False,
         "null_token_invested": False, "decorated_invested": True, "valid_invested": False},
    ]


# --------------------------------------------------------------------------- casts


def test_int_cast_accepts_whole_numbers_written_as_decimals(spark):
    spec = ColumnSpec("n", "N", type="int")
    assert clean(spark, spec, ["7", "7.0", "-3", "1e3", "2147483647"]) == [
        {"raw": "7", "value": 7, "invalid": False, "valid_n": False},
        {"raw": "7.0", "value": 7, "invalid": False, "valid_n": False},
        {"raw": "-3", "value": -3, "invalid": False, "valid_n": False},
        {"raw": "1e3", "value": 1000, "invalid": False, "valid_n": False},
        {"raw": "2147483647", "value": 2147483647, "invalid": False, "valid_n": False},
    ]


def test_int_cast_turns_fractions_text_and_overflow_into_null_and_invalid(spark):
    spec = ColumnSpec("n", "N", type="int")
    assert clean(spark, spec, ["7.5", "abc", "2147483648", "NaN", "Infinity"]) == [
        {"raw": "7.5", "value": None, "invalid": True, "valid_n": True},
        {"raw": "abc", "value": None, "invalid": True, "valid_n": True},
        {"raw": "2147483648", "value": None, "invalid": True, "valid_n": True},
        {"raw": "NaN", "value": None, "invalid": True, "valid_n": True},
        {"raw": "Infinity", "value": None, "invalid": True, "valid_n": True},
    ]


def test_int_cast_accepts_the_smallest_int(spark):
    spec = ColumnSpec("n", "N", type="int")
    assert clean(spark, spec, ["-2147483648"]) == [
        {"raw": "-2147483648", "value": -2147483648, "invalid": False, "valid_n": False},
    ]


def test_long_cast_keeps_every_digit(spark):
    spec = ColumnSpec("n", "N", type="long")
    assert clean(spark, spec, ["9007199254740993"]) == [
        {"raw": "9007199254740993", "value": 9007199254740993, "invalid": False, "valid_n": False},
    ]


def test_double_cast_turns_text_nan_and_infinity_into_null_and_invalid(spark):
    spec = ColumnSpec("x", "X", type="double")
    assert clean(spark, spec, ["3.25", "-0.5", "1,5", "abc", "NaN", "-Infinity", "1e309"]) == [
        {"raw": "3.25", "value": 3.25, "invalid": False, "valid_x": False},
        {"raw": "-0.5", "value": -0.5, "invalid": False, "valid_x": False},
        {"raw": "1,5", "value": None, "invalid": True, "valid_x": True},
        {"raw": "abc", "value": None, "invalid": True, "valid_x": True},
        {"raw": "NaN", "value": None, "invalid": True, "valid_x": True},
        {"raw": "-Infinity", "value": None, "invalid": True, "valid_x": True},
        {"raw": "1e309", "value": None, "invalid": True, "valid_x": True},
    ]


def test_date_cast_uses_the_first_format_that_fits(spark):
    day_first = ColumnSpec("d", "D", type="date", date_formats=("dd/MM/yyyy", "MM/dd/yyyy", "yyyy-MM-dd"))
    assert clean(spark, day_first, ["03/04/2023", "12/31/2023", "2023-01-05"]) == [
        {"raw": "03/04/2023", "value": dt.date(2023, 4, 3), "invalid": False, "valid_d": False},
        {"raw": "12/31/2023", "value": dt.date(2023, 12, 31), "invalid": False, "valid_d": False},
        {"raw": "2023-01-05", "value": dt.date(2023, 1, 5), "invalid": False, "valid_d": False},
    ]
    month_first = ColumnSpec("d", "D", type="date", date_formats=("MM/dd/yyyy", "dd/MM/yyyy"))
    assert clean(spark, month_first, ["03/04/2023"]) == [
        {"raw": "03/04/2023", "value": dt.date(2023, 3, 4), "invalid": False, "valid_d": False},
    ]


def test_date_cast_turns_text_no_format_fits_into_null_and_invalid(spark):
    spec = ColumnSpec("d", "D", type="date", date_formats=("yyyy-MM-dd", "dd/MM/yyyy"))
    assert clean(spark, spec, ["2023-02-30", "13/13/2023", "soon"]) == [
        {"raw": "2023-02-30", "value": None, "invalid": True, "valid_d": True},
        {"raw": "13/13/2023", "value": None, "invalid": True, "valid_d": True},
        {"raw": "soon", "value": None, "invalid": True, "valid_d": True},
    ]


# --------------------------------------------------------------------------- map -> boolean

PAYS_MIN = ColumnSpec("pays_min", "Payment_of_Min_Amount", type="boolean",
                      mapping={"Yes": "true", "No": "false", "NM": None})


def test_boolean_map_turns_yes_and_no_into_true_and_false(spark):
    assert clean(spark, PAYS_MIN, ["Yes", " No "]) == [
        {"raw": "Yes", "value": True, "invalid": False, "valid_pays_min": False},
        {"raw": " No ", "value": False, "invalid": False, "valid_pays_min": False},
    ]


def test_value_mapped_to_null_is_null_but_not_invalid(spark):
    assert clean(spark, PAYS_MIN, ["NM"]) == [
        {"raw": "NM", "value": None, "invalid": False, "valid_pays_min": False},
    ]


def test_unmapped_value_is_null_and_invalid(spark):
    # the map is case sensitive: "yes" is not a key
    assert clean(spark, PAYS_MIN, ["Maybe", "yes"]) == [
        {"raw": "Maybe", "value": None, "invalid": True, "valid_pays_min": True},
        {"raw": "yes", "value": None, "invalid": True, "valid_pays_min": True},
    ]


# --------------------------------------------------------------------------- parse

HISTORY = ColumnSpec("history_months", "Credit_History_Age", type="int", parse="duration_months")


def test_duration_months_counts_years_and_months(spark):
    assert clean(spark, HISTORY, ["10 Years and 9 Months", "1 Year and 1 Month", "0 Years and 0 Months"]) == [
        {"raw": "10 Years and 9 Months", "value": 129, "invalid": False, "valid_history_months": False},
        {"raw": "1 Year and 1 Month", "value": 13, "invalid": False, "valid_history_months": False},
        {"raw": "0 Years and 0 Months", "value": 0, "invalid": False, "valid_history_months": False},
    ]


def test_duration_months_turns_garbage_into_null_and_invalid(spark):
    assert clean(spark, HISTORY, ["NA", "10 Years", "ten Years and 9 Months"]) == [
        {"raw": "NA", "value": None, "invalid": True, "valid_history_months": True},
        {"raw": "10 Years", "value": None, "invalid": True, "valid_history_months": True},
        {"raw": "ten Years and 9 Months", "value": None, "invalid": True, "valid_history_months": True},
    ]


@pytest.mark.parametrize("raw", ["200000000 Years and 0 Months", "99999999999 Years and 0 Months"])
def test_duration_months_too_large_is_invalid_not_a_crash(spark, raw):
    assert clean(spark, HISTORY, [raw]) == [
        {"raw": raw, "value": None, "invalid": True, "valid_history_months": True},
    ]


LOANS = ColumnSpec("loans", "Type_of_Loan", type="array<string>", parse="list")


def test_list_parse_splits_english_lists_into_distinct_items(spark):
    assert clean(spark, LOANS, ["Auto Loan, Payday Loan, and Student Loan", "A and B", "A, A", "Mortgage Loan", None]) == [
        {"raw": "Auto Loan, Payday Loan, and Student Loan", "value": ["Auto Loan", "Payday Loan", "Student Loan"],
         "invalid": False, "valid_loans": False},
        {"raw": "A and B", "value": ["A", "B"], "invalid": False, "valid_loans": False},
        {"raw": "A, A", "value": ["A"], "invalid": False, "valid_loans": False},
        {"raw": "Mortgage Loan", "value": ["Mortgage Loan"], "invalid": False, "valid_loans": False},
        {"raw": None, "value": None, "invalid": False, "valid_loans": False},
    ]


def test_list_parse_gives_array_of_strings(spark):
    df = spark.createDataFrame([("A, B",)], "raw string")
    cleaned = clean_column(F.col("raw"), LOANS)
    assert df.select(cleaned.value.alias("v")).schema["v"].dataType.simpleString() == "array<string>"


# --------------------------------------------------------------------------- vocabulary


def test_vocabulary_on_a_string_nulls_and_flags_an_unknown_value(spark):
    spec = ColumnSpec("credit_mix", "Credit_Mix", vocabulary=("Bad", "Standard", "Good"))
    assert clean(spark, spec, ["Good", "Excellent", "bad", None]) == [
        {"raw": "Good", "value": "Good", "invalid": False, "valid_credit_mix": False},
        {"raw": "Excellent", "value": None, "invalid": True, "valid_credit_mix": True},
        {"raw": "bad", "value": None, "invalid": True, "valid_credit_mix": True},
        {"raw": None, "value": None, "invalid": False, "valid_credit_mix": False},
    ]


def test_vocabulary_on_an_array_removes_unknown_items_and_flags_the_row(spark):
    spec = ColumnSpec("loans", "Type_of_Loan", type="array<string>", parse="list",
                      vocabulary=("Auto Loan", "Payday Loan"))
    assert clean(spark, spec, ["Auto Loan and Payday Loan", "Auto Loan, Magic Loan", "Magic Loan", None]) == [
        {"raw": "Auto Loan and Payday Loan", "value": ["Auto Loan", "Payday Loan"], "invalid": False, "valid_loans": False},
        {"raw": "Auto Loan, Magic Loan", "value": ["Auto Loan"], "invalid": True, "valid_loans": True},
        {"raw": "Magic Loan", "value": [], "invalid": True, "valid_loans": True},
        {"raw": None, "value": None, "invalid": False, "valid_loans": False},
    ]


# --------------------------------------------------------------------------- ranges


def test_valid_range_is_inclusive_at_both_ends(spark):
    spec = ColumnSpec("age", "Age", type="int", valid_range=(0, 100))
    assert clean(spark, spec, ["-1", "0", "100", "101"]) == [
        {"raw": "-1", "value": None, "invalid": True, "valid_age": True},
        {"raw": "0", "value": 0, "invalid": False, "valid_age": False},
        {"raw": "100", "value": 100, "invalid": False, "valid_age": False},
        {"raw": "101", "value": None, "invalid": True, "valid_age": True},
    ]


def test_valid_range_with_open_upper_end_bounds_only_the_lower_side(spark):
    spec = ColumnSpec("debt", "Outstanding_Debt", type="double", valid_range=(0, None))
    assert clean(spark, spec, ["-0.01", "0", "1e12"]) == [
        {"raw": "-0.01", "value": None, "invalid": True, "valid_debt": True},
        {"raw": "0", "value": 0.0, "invalid": False, "valid_debt": False},
        {"raw": "1e12", "value": 1e12, "invalid": False, "valid_debt": False},
    ]


def test_valid_range_with_open_lower_end_bounds_only_the_upper_side(spark):
    spec = ColumnSpec("delay", "Delay_from_due_date", type="int", valid_range=(None, 60))
    assert clean(spark, spec, ["-5000", "60", "61"]) == [
        {"raw": "-5000", "value": -5000, "invalid": False, "valid_delay": False},
        {"raw": "60", "value": 60, "invalid": False, "valid_delay": False},
        {"raw": "61", "value": None, "invalid": True, "valid_delay": True},
    ]


def test_fitted_bounds_intersect_with_the_static_valid_range(spark):
    # static [0, open) and fitted [-10, 50] -> [0, 50]
    spec = ColumnSpec("loans", "Num_of_Loan", type="double", valid_range=(0, None), fit_k=3.0)
    assert clean(spark, spec, ["-1", "0", "50", "51"], fitted=(-10.0, 50.0)) == [
        {"raw": "-1", "value": None, "invalid": True, "valid_loans": True},
        {"raw": "0", "value": 0.0, "invalid": False, "valid_loans": False},
        {"raw": "50", "value": 50.0, "invalid": False, "valid_loans": False},
        {"raw": "51", "value": None, "invalid": True, "valid_loans": True},
    ]


def test_fitted_bounds_narrower_than_the_static_range_win(spark):
    # static [0, 100] and fitted [5, 20] -> [5, 20]; also through parse_column + bound_column
    spec = ColumnSpec("rate", "Interest_Rate", type="int", valid_range=(0, 100), fit_k=3.0)
    df = spark.createDataFrame([("4",), ("5",), ("20",), ("21",)], "raw string")
    typed, parse_bad, metrics = parse_column(F.col("raw"), spec)
    cleaned = bound_column(typed, parse_bad, spec, metrics, fitted=(5.0, 20.0))
    rows = df.select(cleaned.value.alias("v"), cleaned.invalid.alias("i")).collect()
    assert [tuple(r) for r in rows] == [(None, True), (5, False), (20, False), (None, True)]


def test_fitted_bounds_with_an_open_end_keep_the_static_end(spark):
    spec = ColumnSpec("rate", "Interest_Rate", type="int", valid_range=(0, 100), fit_k=3.0)
    assert clean(spark, spec, ["-1", "3", "100", "101"], fitted=(2.0, None)) == [
        {"raw": "-1", "value": None, "invalid": True, "valid_rate": True},
        {"raw": "3", "value": 3, "invalid": False, "valid_rate": False},
        {"raw": "100", "value": 100, "invalid": False, "valid_rate": False},
        {"raw": "101", "value": None, "invalid": True, "valid_rate": True},
    ]


# --------------------------------------------------------------------------- pattern, mask

SSN = ColumnSpec("ssn", "SSN", pattern=r"^\d{3}-\d{2}-\d{4}$", flag="ssn_invalid")


def test_value_not_matching_its_pattern_is_null_and_invalid(spark):
    assert clean(spark, SSN, ["123-45-6789", "#F%$D@*&8", "123-45-67890", None]) == [
        {"raw": "123-45-6789", "value": "123-45-6789", "invalid": False, "valid_ssn": False},
        {"raw": "#F%$D@*&8", "value": None, "invalid": True, "valid_ssn": True},
        {"raw": "123-45-67890", "value": None, "invalid": True, "valid_ssn": True},
        {"raw": None, "value": None, "invalid": False, "valid_ssn": False},
    ]


def _python_hmac(key: bytes, value: str | None) -> str | None:
    return None if value is None else hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    "key",
    [b"k", b"secret-key-32-bytes-long-0123456", b"x" * 64, b"a much longer key " * 5, "clé-日本".encode()],
    ids=["1-byte", "32-bytes", "64-bytes", "90-bytes", "non-ascii-key"],
)
def test_hmac_sha256_equals_python_hmac(spark, key):
    values = ["123-45-6789", "Zoë Ünïcode 日本", "a", "x" * 200]
    df = spark.createDataFrame([(v,) for v in values], "raw string")
    got = [r[0] for r in df.select(hmac_sha256(F.col("raw"), key)).collect()]
    assert got == [_python_hmac(key, v) for v in values]


def test_hmac_sha256_of_null_is_null(spark):
    df = spark.createDataFrame([(None,)], "raw string")
    assert df.select(hmac_sha256(F.col("raw"), b"k")).collect()[0][0] is None


def test_masked_column_hashes_valid_values_and_nulls_invalid_ones(spark):
    spec = ColumnSpec("ssn_hash", "SSN", pattern=r"^\d{3}-\d{2}-\d{4}$", flag="ssn_invalid", mask="hmac_sha256")
    assert clean(spark, spec, [" 123-45-6789 ", "#F%$D@*&8", None], pii_key=b"key") == [
        {"raw": " 123-45-6789 ", "value": _python_hmac(b"key", "123-45-6789"), "invalid": False, "valid_ssn_hash": False},
        {"raw": "#F%$D@*&8", "value": None, "invalid": True, "valid_ssn_hash": True},
        {"raw": None, "value": None, "invalid": False, "valid_ssn_hash": False},
    ]


def test_mask_without_a_key_is_refused(spark):
    spec = ColumnSpec("ssn_hash", "SSN", mask="hmac_sha256")
    with pytest.raises(ValueError, match="ssn_hash: mask hmac_sha256 needs a key"):
        clean_column(F.col("raw"), spec)


# --------------------------------------------------------------------------- no validation


def test_column_without_validation_has_no_valid_metric(spark):
    spec = ColumnSpec("occupation", "Occupation", null_tokens=("_______",))
    cleaned = clean_column(F.col("raw"), spec)
    assert cleaned.invalid is None
    assert list(cleaned.metrics) == ["null_token_occupation"]
    assert clean(spark, spec, ["Engineer", "_______"]) == [
        {"raw": "Engineer", "value": "Engineer", "null_token_occupation": False},
        {"raw": "_______", "value": None, "null_token_occupation": True},
    ]
