"""utils/layers/silver.py: rules, quarantine and counts over a tiny hand-made bronze table.

The bronze rows imitate `bronze/people`: every source column as raw text (the source's
`snapshot_date` column is reserved, so its text lands in `snapshot_date_raw`), plus
`_malformed_record`, `_source_file`, `_source_line` and the parsed `snapshot_date`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

import pytest
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from utils.lake.config import ColumnSpec, RuleSpec, SilverTable, Source
from utils.layers import silver
from utils.layers.silver import (
    MASKED,
    Rule,
    check_rules,
    clean_table,
    metric_aggregates,
    quarantine_rows,
    silver_rows,
    table_rules,
)

KEY = b"test-pii-key"
JAN, FEB = dt.date(2023, 1, 1), dt.date(2023, 2, 1)

SOURCE = Source(
    name="people",
    path="people.csv",
    date_column="snapshot_date",
    date_formats=("yyyy-MM-dd",),
    required_columns=("Customer_ID", "Name", "SSN", "Age", "Monthly", "Annual", "snapshot_date"),
    keys=("Customer_ID",),
    personal_data=("Name", "SSN"),
)

CUSTOMER_ID = ColumnSpec("customer_id", "Customer_ID")
SSN_HASH = ColumnSpec("ssn_hash", "SSN", pattern=r"^\d{3}-\d{2}-\d{4}$", flag="ssn_invalid", mask="hmac_sha256")
AGE = ColumnSpec("age", "Age", type="int", strip="_", valid_range=(0, 100))
MONTHLY = ColumnSpec("monthly", "Monthly", type="double")
ANNUAL = ColumnSpec("annual", "Annual", type="double")
COLUMNS = (CUSTOMER_ID, SSN_HASH, AGE, MONTHLY, ANNUAL)

BRONZE_SCHEMA = (
    "Customer_ID string, Name string, SSN string, Age string, Monthly string, Annual string, "
    "snapshot_date_raw string, _malformed_record string, _source_file string, _source_line long, snapshot_date date"
)


def bronze_row(line: int, customer_id: str | None = "CUS_0x1", *, name: str | None = "Alice Smith",
               ssn: str | None = "123-45-6789", age: str | None = "30", monthly: str | None = "100",
               annual: str | None = "2000", date: str | None = "2023-01-01", malformed: str | None = None,
               file: str = "people.csv") -> tuple:
    """One bronze row; snapshot_date is `date` parsed as yyyy-MM-dd, as bronze does (else null)."""
    parsed = dt.date.fromisoformat(date) if date and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date) else None
    return (customer_id, name, ssn, age, monthly, annual, date, malformed, file, line, parsed)


def run(spark, rows: list[tuple], *rules: RuleSpec, columns=COLUMNS, references=None, accepted=None):
    """Bronze rows -> (table, checked DataFrame, evaluated rules). The checked rows are
    computed once, as the pipeline does (it persists them), so that the several reads
    of one test do not each re-run the cleaning."""
    table = SilverTable(name="people", source="people", columns=columns, rules=tuple(rules))
    bronze = spark.createDataFrame(rows, BRONZE_SCHEMA)
    checked = check_rules(clean_table(bronze, table, SOURCE, pii_key=KEY), table, references, accepted=accepted)
    return table, checked.localCheckpoint(), table_rules(table, SOURCE)


def lines(df) -> list[int]:
    return sorted(r["_source_line"] for r in df.select("_source_line").collect())


def expected_hash(value: str) -> str:
    return hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------------- rule list


def test_table_rules_lists_builtins_then_column_rules_then_declared_rules(spark):
    declared = RuleSpec("adult", "warn", check="age >= 18")
    table = SilverTable(name="people", source="people", columns=COLUMNS, rules=(declared,))
    assert table_rules(table, SOURCE, as_of=dt.date(2024, 6, 30)) == [
        Rule("well_formed_row", "builtin", "drop", "quarantined", "the raw record did not parse"),
        Rule("valid_snapshot_date", "builtin", "drop", "quarantined",
             "snapshot_date did not parse with any of [yyyy-MM-dd]"),
        Rule("not_future_date", "builtin", "warn", "counted", "snapshot_date is after the run's date 2024-06-30"),
        Rule("valid_ssn_hash", "cleaning", "warn", "nulled", r"SSN present but unusable (type string; pattern ^\d{3}-\d{2}-\d{4}$)"),
        Rule("decorated_age", "cleaning", "warn", "stripped", "Age had '_' around the value"),
        Rule("valid_age", "cleaning", "warn", "nulled", "Age present but unusable (type int; range [0, 100])"),
        Rule("valid_monthly", "cleaning", "warn", "nulled", "Monthly present but unusable (type double)"),
        Rule("valid_annual", "cleaning", "warn", "nulled", "Annual present but unusable (type double)"),
        Rule("adult", "rule", "warn", "counted", "fails check: age >= 18"),
    ]


# --------------------------------------------------------------------------- severities


def test_warn_rule_only_counts_and_keeps_the_row(spark):
    rows = [bronze_row(2, "CUS_0x1", age="30"), bronze_row(3, "CUS_0x2", age="10"), bronze_row(4, "CUS_0x3", age="12")]
    table, checked, rules = run(spark, rows, RuleSpec("adult", "warn", check="age >= 18"))
    assert lines(silver_rows(checked, table, rules)) == [2, 3, 4]
    assert quarantine_rows(checked, table, rules).count() == 0
    [agg] = metric_aggregates(checked, rules).select("snapshot_date", "_rows", "adult").collect()
    assert agg.asDict() == {"snapshot_date": JAN, "_rows": 3, "adult": 2}


def test_drop_rule_sends_the_row_to_quarantine_with_reason_raw_values_and_lineage(spark):
    rows = [bronze_row(2, "CUS_0x1", age="30"), bronze_row(3, "CUS_0x2", age="10_", monthly=" 90 ")]
    table, checked, rules = run(spark, rows, RuleSpec("adult", "drop", check="age >= 18"))
    assert lines(silver_rows(checked, table, rules)) == [2]
    assertDataFrameEqual(quarantine_rows(checked, table, rules), [Row(
        table="people",
        rule="adult",
        reason="adult: fails check: age >= 18",
        failed_rules=["adult"],
        raw_values={  # raw bronze text, untrimmed and undecorated; personal data masked
            "Customer_ID": "CUS_0x2", "Name": MASKED, "SSN": MASKED, "Age": "10_",
            "Monthly": " 90 ", "Annual": "2000", "snapshot_date": "2023-01-01",
        },
        _malformed_record=None,
        _source_file="people.csv",
        _source_line=3,
        snapshot_date=JAN,
    )])


def test_drop_rule_reason_is_the_rule_description_when_given(spark):
    rule = RuleSpec("adult", "drop", check="age >= 18", description="customers must be adults")
    table, checked, rules = run(spark, [bronze_row(2, age="10")], rule)
    [q] = quarantine_rows(checked, table, rules).select("rule", "reason").collect()
    assert (q.rule, q.reason) == ("adult", "adult: customers must be adults")


def test_row_failing_two_drop_rules_is_quarantined_once_listing_both(spark):
    rows = [bronze_row(2, "CUS_0x1", age="10", annual="0"), bronze_row(3, "CUS_0x2", age="40", annual="0")]
    table, checked, rules = run(
        spark, rows,
        RuleSpec("adult", "drop", check="age >= 18"),
        RuleSpec("has_income", "drop", check="annual > 0"),
    )
    got = quarantine_rows(checked, table, rules).select("_source_line", "rule", "failed_rules", "reason")
    assertDataFrameEqual(got, [
        Row(_source_line=2, rule="adult", failed_rules=["adult", "has_income"],
            reason="adult: fails check: age >= 18; has_income: fails check: annual > 0"),
        Row(_source_line=3, rule="has_income", failed_rules=["has_income"],
            reason="has_income: fails check: annual > 0"),
    ])


def test_fail_rule_is_marked_failed_and_its_failures_are_counted(spark):
    rule = RuleSpec("valid_customer_id", "fail", check="customer_id rlike '^CUS_0x[0-9a-f]+$'")
    rows = [bronze_row(2, "CUS_0x1"), bronze_row(3, "cus-7"), bronze_row(4, "CUS_0x2")]
    table, checked, rules = run(spark, rows, rule)
    assert rules[-1] == Rule("valid_customer_id", "rule", "fail", "failed",
                             "fails check: customer_id rlike '^CUS_0x[0-9a-f]+$'")
    [agg] = metric_aggregates(checked, rules).select("_rows", "valid_customer_id").collect()
    assert (agg["_rows"], agg["valid_customer_id"]) == (3, 1)
    # fail is not drop: the row is not quarantined; stopping the run is the pipeline's job
    assert quarantine_rows(checked, table, rules).count() == 0


# --------------------------------------------------------------------------- built-in rules


def test_valid_snapshot_date_quarantines_a_row_whose_date_did_not_parse(spark):
    rows = [bronze_row(2, "CUS_0x1"), bronze_row(3, "CUS_0x2", date="01/02/2023")]
    table, checked, rules = run(spark, rows)
    assert lines(silver_rows(checked, table, rules)) == [2]
    [q] = quarantine_rows(checked, table, rules).collect()
    assert (q.rule, q.failed_rules, q.snapshot_date, q.raw_values["snapshot_date"], q._source_line) == (
        "valid_snapshot_date", ["valid_snapshot_date"], None, "01/02/2023", 3)
    assert q.reason == "valid_snapshot_date: snapshot_date did not parse with any of [yyyy-MM-dd]"


def test_well_formed_row_quarantines_a_row_with_a_malformed_record(spark):
    rows = [bronze_row(2, "CUS_0x1"), bronze_row(3, "CUS_0x2", name=None, ssn=None, age=None, monthly=None,
                                                 annual=None, date=None, malformed="CUS_0x2")]
    table, checked, rules = run(spark, rows)
    assert lines(silver_rows(checked, table, rules)) == [2]
    [q] = quarantine_rows(checked, table, rules).collect()
    assert (q.rule, q.failed_rules, q._malformed_record, q._source_line) == (
        "well_formed_row", ["well_formed_row", "valid_snapshot_date"], "CUS_0x2", 3)


def test_well_formed_row_reason_says_why_bronze_could_not_parse_the_record(spark):
    table = SilverTable(name="people", source="people", columns=COLUMNS, rules=())
    bronze = spark.createDataFrame(
        [bronze_row(3, "CUS_0x2", malformed="CUS_0x2,x")], BRONZE_SCHEMA
    ).withColumn("_malformed_reason", F.lit("2 fields, header has 7"))
    checked = check_rules(clean_table(bronze, table, SOURCE, pii_key=KEY), table)
    [q] = quarantine_rows(checked, table, table_rules(table, SOURCE)).collect()
    assert q.reason == "well_formed_row: the raw record did not parse: 2 fields, header has 7"


AS_OF = dt.date(2023, 1, 15)


def future(spark, severity: str):
    """Rows dated before, on and after the run's date (AS_OF), checked with not_future_date at `severity`."""
    table = SilverTable(name="people", source="people", columns=COLUMNS, rules=(), future_dates=severity)
    rows = [bronze_row(2, "CUS_0x1", date="2023-01-01"), bronze_row(3, "CUS_0x2", date="2023-01-15"),
            bronze_row(4, "CUS_0x3", date="2023-02-01")]
    cleaned = clean_table(spark.createDataFrame(rows, BRONZE_SCHEMA), table, SOURCE, pii_key=KEY)
    return table, check_rules(cleaned, table, as_of=AS_OF).localCheckpoint(), table_rules(table, SOURCE, as_of=AS_OF)


def test_not_future_date_warns_by_default_counting_rows_dated_after_the_run_date(spark):
    table, checked, rules = future(spark, "warn")
    assert [r for r in rules if r.name == "not_future_date"] == [
        Rule("not_future_date", "builtin", "warn", "counted", "snapshot_date is after the run's date 2023-01-15")]
    assert lines(silver_rows(checked, table, rules)) == [2, 3, 4]
    counts = {r.snapshot_date: r.not_future_date for r in metric_aggregates(checked, rules).collect()}
    assert counts == {JAN: 0, dt.date(2023, 1, 15): 0, FEB: 1}


def test_not_future_date_drop_quarantines_the_row_with_its_reason(spark):
    table, checked, rules = future(spark, "drop")
    assert lines(silver_rows(checked, table, rules)) == [2, 3]
    [q] = quarantine_rows(checked, table, rules).collect()
    assert (q.rule, q._source_line, q.reason) == (
        "not_future_date", 4, "not_future_date: snapshot_date is after the run's date 2023-01-15")


def test_not_future_date_fail_is_a_failing_rule(spark):
    table, checked, rules = future(spark, "fail")
    [rule] = [r for r in rules if r.name == "not_future_date"]
    assert (rule.severity, rule.action) == ("fail", "failed")
    assert quarantine_rows(checked, table, rules).count() == 0  # stopping the run is the pipeline's job


# --------------------------------------------------------------------------- unique, references


def test_unique_does_not_treat_rows_with_a_null_key_as_duplicates(spark):
    rows = [bronze_row(2, None), bronze_row(3, None), bronze_row(4, "CUS_0x1")]
    table, checked, rules = run(spark, rows, RuleSpec("unique_customer_id", "drop", unique=("customer_id",)))
    assert quarantine_rows(checked, table, rules).count() == 0
    assert silver_rows(checked, table, rules).count() == 3



@pytest.mark.parametrize("broadcast_limit", [100_000, 1], ids=["broadcast", "window"])
def test_unique_keeps_the_first_row_by_source_file_and_line_and_quarantines_later_ones(
        spark, monkeypatch, broadcast_limit):
    # two duplicates: flagged by the broadcast join of their row ids, or, over the limit,
    # by the window over whole rows; both give the same answer
    monkeypatch.setattr(silver, "MAX_BROADCAST_DUPLICATES", broadcast_limit)
    rows = [  # deliberately not in source order
        bronze_row(2, "CUS_0x1", file="b.csv", age="21"),
        bronze_row(5, "CUS_0x1", file="a.csv", age="22"),
        bronze_row(3, "CUS_0x1", file="a.csv", age="23"),
        bronze_row(4, "CUS_0x2", file="a.csv", age="24"),
    ]
    table, checked, rules = run(spark, rows, RuleSpec("unique_customer_id", "drop", unique=("customer_id",)))
    assertDataFrameEqual(
        silver_rows(checked, table, rules).select("customer_id", "age", "_source_file", "_source_line"),
        [Row(customer_id="CUS_0x1", age=23, _source_file="a.csv", _source_line=3),
         Row(customer_id="CUS_0x2", age=24, _source_file="a.csv", _source_line=4)],
    )
    assertDataFrameEqual(
        quarantine_rows(checked, table, rules).select("rule", "_source_file", "_source_line"),
        [Row(rule="unique_customer_id", _source_file="a.csv", _source_line=5),
         Row(rule="unique_customer_id", _source_file="b.csv", _source_line=2)],
    )


@pytest.mark.parametrize("broadcast_limit", [100_000, 1], ids=["broadcast", "window"])
def test_unique_also_quarantines_rows_repeating_a_key_silver_already_accepted(spark, monkeypatch, broadcast_limit):
    monkeypatch.setattr(silver, "MAX_BROADCAST_DUPLICATES", broadcast_limit)
    accepted = spark.createDataFrame([("CUS_0x1",), (None,)], "customer_id string")  # rows outside the build
    rows = [bronze_row(2, "CUS_0x1"), bronze_row(3, "CUS_0x2"), bronze_row(4, "CUS_0x2"), bronze_row(5, None)]
    table, checked, rules = run(spark, rows, RuleSpec("unique_customer_id", "drop", unique=("customer_id",)),
                                accepted=accepted)
    assert lines(quarantine_rows(checked, table, rules)) == [2, 4]
    assert lines(silver_rows(checked, table, rules)) == [3, 5]


def test_references_flags_rows_whose_key_is_missing_but_not_null_keys(spark):
    attributes = spark.createDataFrame([("CUS_0x1",), ("CUS_0x1",), (None,)], "customer_id string")
    rows = [bronze_row(2, "CUS_0x1"), bronze_row(3, "CUS_0x9"), bronze_row(4, "  ")]
    table, checked, rules = run(
        spark, rows, RuleSpec("known_customer", "warn", references=("attributes", ("customer_id",))),
        references={"attributes": attributes},
    )
    flags = {r["_source_line"]: r["_r_known_customer"] for r in checked.collect()}
    assert flags == {2: False, 3: True, 4: False}  # one row out per row in, despite the duplicate key
    [agg] = metric_aggregates(checked, rules).select("_rows", "known_customer").collect()
    assert (agg["_rows"], agg["known_customer"]) == (3, 1)


def test_a_rule_may_reference_its_own_table_among_filtered_rows_and_apply_to_some_rows_only(spark):
    # like "a refund must match a completed order": rows with age >= 50 must share their
    # customer_id with a row of age < 50, of this run or kept from earlier (accepted)
    rule = RuleSpec("has_young_twin", "drop", references=("people", ("customer_id",)), where="age >= 50",
                    reference_where="age < 50")
    rows = [bronze_row(2, "CUS_A", age="30"), bronze_row(3, "CUS_A", age="60"), bronze_row(4, "CUS_B", age="70"),
            bronze_row(5, "CUS_C", age="80"), bronze_row(6, "CUS_D", age="20"), bronze_row(7, "CUS_E", age="")]
    accepted = spark.createDataFrame([("CUS_B", 20, JAN)], "customer_id string, age int, snapshot_date date")
    _, checked, rules = run(spark, rows, rule, accepted=accepted)
    flags = {r["_source_line"]: r["_r_has_young_twin"] for r in checked.collect()}
    assert flags == {2: False, 3: False, 4: False, 5: True, 6: False, 7: False}  # unknown age: not judged
    [evaluated] = [r for r in rules if r.name == "has_young_twin"]
    assert evaluated.reason == "no row in silver/people matching age < 50 with the same customer_id"


def test_references_without_data_for_the_referenced_table_are_refused(spark):
    rule = RuleSpec("known_customer", "warn", references=("attributes", ("customer_id",)))
    with pytest.raises(KeyError, match="known_customer: no data for referenced table silver/attributes"):
        run(spark, [bronze_row(2)], rule, references={})


# --------------------------------------------------------------------------- checks across columns


def test_denial_constraint_across_columns_passes_when_a_value_is_null(spark):
    rows = [
        bronze_row(2, monthly="100", annual="800"),   # 1200 <= 1200: passes at the boundary
        bronze_row(3, monthly="100", annual="799"),   # 1200 <= 1198.5: fails
        bronze_row(4, monthly="", annual="10"),       # monthly missing: NULL passes
        bronze_row(5, monthly="100", annual="abc"),   # annual invalid -> null: NULL passes
    ]
    table, checked, rules = run(
        spark, rows, RuleSpec("salary_within_income", "warn", check="monthly * 12 <= annual * 1.5"))
    flags = {r["_source_line"]: r["_r_salary_within_income"] for r in checked.collect()}
    assert flags == {2: False, 3: True, 4: False, 5: False}


# --------------------------------------------------------------------------- invalid values


def test_invalid_value_is_nulled_and_flagged_and_the_row_kept_by_default(spark):
    table, checked, rules = run(spark, [bronze_row(2, age="-500"), bronze_row(3, age="_41_")])
    assertDataFrameEqual(
        silver_rows(checked, table, rules).select("_source_line", "age", "age_invalid"),
        [Row(_source_line=2, age=None, age_invalid=True), Row(_source_line=3, age=41, age_invalid=False)],
    )
    assert quarantine_rows(checked, table, rules).count() == 0


def test_on_invalid_quarantine_makes_valid_column_a_drop_rule(spark):
    age = ColumnSpec("age", "Age", type="int", strip="_", valid_range=(0, 100), on_invalid="quarantine")
    rows = [bronze_row(2, age="-500"), bronze_row(3, age=""), bronze_row(4, age="41")]
    table, checked, rules = run(spark, rows, columns=(CUSTOMER_ID, age))
    assert [r for r in rules if r.name == "valid_age"] == [
        Rule("valid_age", "cleaning", "drop", "quarantined", "Age present but unusable (type int; range [0, 100])")]
    assertDataFrameEqual(  # a missing age is not invalid: the row stays
        silver_rows(checked, table, rules).select("_source_line", "age", "age_invalid"),
        [Row(_source_line=3, age=None, age_invalid=False), Row(_source_line=4, age=41, age_invalid=False)],
    )
    [q] = quarantine_rows(checked, table, rules).collect()
    assert (q._source_line, q.rule, q.failed_rules, q.raw_values["Age"]) == (2, "valid_age", ["valid_age"], "-500")


# --------------------------------------------------------------------------- personal data

PII = ("Alice Smith", "123-45-6789", "Bob Jones", "987-65-4321", "#F%$D@*&8")


def _texts(value) -> list[str]:
    """Every string inside a collected value (rows, lists, maps)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Row):
        value = value.asDict()
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _texts(k) + _texts(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _texts(v)]
    return []


def _leaks(df) -> list[str]:
    texts = _texts(df.collect())
    return sorted({p for p in PII for t in texts if p in t})


def test_personal_data_is_masked_in_raw_values_and_never_in_clear_text(spark):
    rows = [
        bronze_row(2, "CUS_0x1", name="Alice Smith", ssn="123-45-6789"),
        bronze_row(3, "CUS_0x2", name="Bob Jones", ssn="987-65-4321", age="10"),  # quarantined
        bronze_row(4, "CUS_0x3", name="Bob Jones", ssn="#F%$D@*&8"),              # invalid SSN
    ]
    table, checked, rules = run(spark, rows, RuleSpec("adult", "drop", check="age >= 18"))
    silver, quarantine = silver_rows(checked, table, rules), quarantine_rows(checked, table, rules)
    assert _leaks(silver) == [] and _leaks(quarantine) == []
    assert {r["_source_line"]: r["ssn_hash"] for r in silver.collect()} == {2: expected_hash("123-45-6789"), 4: None}
    [q] = quarantine.collect()
    assert (q.raw_values["Name"], q.raw_values["SSN"]) == (MASKED, MASKED)


def test_malformed_record_does_not_leak_personal_data_into_quarantine(spark):
    line = "CUS_0x2,Bob Jones,987-65-4321,40,100,2000,2023-01-01,extra"
    rows = [bronze_row(2, "CUS_0x2", name="Bob Jones", ssn="987-65-4321", age="40", malformed=line)]
    table, checked, rules = run(spark, rows)
    quarantine = quarantine_rows(checked, table, rules, SOURCE)
    assert quarantine.count() == 1
    assert _leaks(quarantine) == []
    assert quarantine.first()["_malformed_record"] == MASKED


# --------------------------------------------------------------------------- accounting

MIXED_RULES = (
    RuleSpec("adult", "warn", check="age >= 18"),
    RuleSpec("has_income", "drop", check="annual > 0"),
    RuleSpec("unique_customer_id", "drop", unique=("customer_id",)),
)
MIXED = [
    bronze_row(2, "CUS_0x1"),                                    # clean
    bronze_row(3, "CUS_0x2", age="10"),                          # warn only: silver
    bronze_row(4, "CUS_0x3", annual="0"),                        # drop: quarantine
    bronze_row(5, "CUS_0x1", date="2023-02-01"),                 # duplicate of line 2: quarantine
    bronze_row(6, "CUS_0x4", age="-500", ssn="x", date="2023-02-01"),  # invalid values, nulled: silver
    bronze_row(7, "CUS_0x5", date="01/13/2023"),                 # date did not parse: quarantine
    bronze_row(8, "CUS_0x6", malformed="CUS_0x6,,", annual="0"),  # malformed and no income: quarantine once
]


def test_every_bronze_row_lands_in_exactly_one_of_silver_or_quarantine(spark):
    table, checked, rules = run(spark, MIXED, *MIXED_RULES)
    silver = lines(silver_rows(checked, table, rules))
    quarantined = lines(quarantine_rows(checked, table, rules))
    assert silver == [2, 3, 6]
    assert quarantined == [4, 5, 7, 8]
    assert sorted(silver + quarantined) == [r[9] for r in MIXED]


def test_metric_aggregates_gives_one_row_per_snapshot_date_with_rows_and_a_column_per_rule(spark):
    table, checked, rules = run(spark, MIXED, *MIXED_RULES)
    aggregates = metric_aggregates(checked, rules)
    assert aggregates.columns == ["snapshot_date", "_rows", "well_formed_row", "valid_snapshot_date", "not_future_date",
                                  "valid_ssn_hash", "decorated_age", "valid_age", "valid_monthly", "valid_annual",
                                  "adult", "has_income", "unique_customer_id"]
    assertDataFrameEqual(aggregates, [
        Row(snapshot_date=JAN, _rows=4, well_formed_row=1, valid_snapshot_date=0, not_future_date=0,
            valid_ssn_hash=0, decorated_age=0,
            valid_age=0, valid_monthly=0, valid_annual=0, adult=1, has_income=2, unique_customer_id=0),
        Row(snapshot_date=FEB, _rows=2, well_formed_row=0, valid_snapshot_date=0, not_future_date=0,
            valid_ssn_hash=1, decorated_age=0,
            valid_age=1, valid_monthly=0, valid_annual=0, adult=0, has_income=0, unique_customer_id=1),
        Row(snapshot_date=None, _rows=1, well_formed_row=0, valid_snapshot_date=1, not_future_date=0,
            valid_ssn_hash=0, decorated_age=0,
            valid_age=0, valid_monthly=0, valid_annual=0, adult=0, has_income=0, unique_customer_id=0),
    ])
