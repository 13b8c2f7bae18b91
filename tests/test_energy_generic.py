"""The generic capabilities the energy domain added, on tiny DataFrames: decimal commas,
wall-clock timestamps of a time zone with daylight saving (the repeated hour resolved in
file order), and denial-constraint rules ("no two rows with equal key and different
value"), including their YAML form and validation."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from utils.lake.config import ColumnSpec, ConfigError, RuleSpec, SilverTable, Source, denial_check, load_config
from utils.layers.cleaning import clean_column
from utils.layers.silver import check_rules, clean_table

PARIS = "Europe/Paris"
SOURCE = Source(name="readings", path="r.txt", date_column="timestamp", date_formats=("dd.MM.yyyy HH:mm",),
                required_columns=("device_id", "timestamp", "meter_kwh"), csv={"sep": ";", "quote": '"', "escape": '"'})
DEVICE = ColumnSpec("device_id", "device_id")
READ_AT = ColumnSpec("read_at", "timestamp", type="timestamp", date_formats=("dd.MM.yyyy HH:mm",), time_zone=PARIS,
                     repeated_hour=("device_id",))
METER = ColumnSpec("meter_kwh", "meter_kwh", type="double", decimal_separator=",")
BRONZE = ("device_id string, timestamp string, meter_kwh string, _malformed_record string, "
          "_source_file string, _source_line long, snapshot_date date")


def values(spark, spec: ColumnSpec, raw: list[str | None]) -> list[tuple]:
    df = spark.createDataFrame([(v,) for v in raw], "raw string")
    cleaned = clean_column(F.col("raw"), spec)
    return [(r["value"], r["invalid"]) for r in df.select(cleaned.value.alias("value"),
                                                         cleaned.invalid.alias("invalid")).collect()]


def utc(*args) -> dt.datetime:
    return dt.datetime(*args)  # the session time zone is UTC: timestamps come back naive UTC


def test_decimal_comma_is_read_as_the_decimal_mark_and_a_point_is_invalid(spark):
    assert values(spark, METER, ["12345,6", "7", "1.234,5", "abc", None]) == [
        (12345.6, False), (7.0, False), (None, True), (None, True), (None, False)]


def test_decimal_point_columns_are_unchanged(spark):
    spec = ColumnSpec("x", "x", type="double")
    assert values(spark, spec, ["12345.6", "12345,6"]) == [(12345.6, False), (None, True)]


def test_wall_clock_time_of_a_zone_becomes_utc_in_winter_and_summer(spark):
    spec = ColumnSpec("t", "t", type="timestamp", date_formats=("dd.MM.yyyy HH:mm",), time_zone=PARIS)
    assert values(spark, spec, ["15.01.2024 12:00", "15.07.2024 12:00", "27.10.2024 02:00"]) == [
        (utc(2024, 1, 15, 11), False), (utc(2024, 7, 15, 10), False),
        (utc(2024, 10, 27, 0), False)]  # a repeated hour alone is its first (summer-time) occurrence


def bronze(spark, rows: list[tuple[str, str, str]]):
    day = dt.date(2024, 10, 27)
    return spark.createDataFrame([(d, t, v, None, "r.txt", i + 2, day) for i, (d, t, v) in enumerate(rows)], BRONZE)


def test_repeated_hour_second_reading_of_a_device_is_the_later_instant(spark):
    rows = [("M1", "27.10.2024 01:00", "10,0"), ("M1", "27.10.2024 02:00", "11,0"), ("M2", "27.10.2024 02:00", "5,0"),
            ("M1", "27.10.2024 02:00", "12,0"), ("M1", "27.10.2024 03:00", "13,0")]
    table = SilverTable("readings", "readings", (DEVICE, READ_AT, METER), ())
    out = clean_table(bronze(spark, rows), table, SOURCE).orderBy("_source_line").collect()
    assert [(r["device_id"], r["read_at"], r["meter_kwh"]) for r in out] == [
        ("M1", utc(2024, 10, 26, 23), 10.0), ("M1", utc(2024, 10, 27, 0), 11.0), ("M2", utc(2024, 10, 27, 0), 5.0),
        ("M1", utc(2024, 10, 27, 1), 12.0), ("M1", utc(2024, 10, 27, 2), 13.0)]


def test_an_ordinary_hour_written_twice_stays_one_instant(spark):
    rows = [("M1", "20.10.2024 02:00", "10,0"), ("M1", "20.10.2024 02:00", "10,5")]
    table = SilverTable("readings", "readings", (DEVICE, READ_AT, METER), ())
    out = clean_table(bronze(spark, rows), table, SOURCE).collect()
    assert {r["read_at"] for r in out} == {utc(2024, 10, 20, 0)}


def test_denial_rule_fails_every_row_of_a_key_with_different_values_only(spark):
    rows = [("M1", "20.10.2024 02:00", "10,0"), ("M1", "20.10.2024 02:00", "10,5"),  # conflicting pair
            ("M1", "20.10.2024 03:00", "11,0"), ("M1", "20.10.2024 03:00", "11,0"),  # exact duplicate
            ("M2", "20.10.2024 02:00", "3,0"), ("M1", "27.10.2024 02:00", "20,0"), ("M1", "27.10.2024 02:00", "21,0")]
    rule = RuleSpec("one_value_per_reading", "drop", check=denial_check(["device_id", "read_at"], ["meter_kwh"]))
    table = SilverTable("readings", "readings", (DEVICE, READ_AT, METER), (rule,))
    checked = check_rules(clean_table(bronze(spark, rows), table, SOURCE), table).orderBy("_source_line")
    assert [r["_r_one_value_per_reading"] for r in checked.collect()] == [True, True, False, False, False, False, False]


def write_yaml(tmp_path, body: str):
    path = tmp_path / "energy.yaml"
    path.write_text(body, encoding="utf-8")
    return path


YAML = """
domain: energy
sources:
  readings:
    path: readings/*.txt
    csv: {sep: ";"}
    date_column: timestamp
    date_formats: ["dd.MM.yyyy HH:mm"]
    required_columns: [device_id, timestamp, meter_kwh]
silver:
  readings:
    source: readings
    columns:
      device_id: {}
      read_at: {from: timestamp, type: timestamp, date_formats: ["dd.MM.yyyy HH:mm"], %s}
      meter_kwh: {type: double, decimal_separator: ","}
    rules:
      - {name: one_value, denial: {equal: [device_id, read_at], different: [meter_kwh]}, severity: drop}
"""


def test_yaml_denial_rule_becomes_its_check_with_a_reason(tmp_path):
    config = load_config(path=write_yaml(tmp_path, YAML % "time_zone: Europe/Paris, repeated_hour: [device_id]"))
    table = config.silver["readings"]
    rule = table.rules[0]
    assert rule.check == denial_check(["device_id", "read_at"], ["meter_kwh"])
    assert "different meter_kwh" in rule.description
    read_at = next(c for c in table.columns if c.name == "read_at")
    assert (read_at.time_zone, read_at.repeated_hour) == (PARIS, ("device_id",))


@pytest.mark.parametrize("recipe, message", [
    ("time_zone: Mars/Olympus", "not an IANA time zone"),
    ("repeated_hour: [device_id]", "needs time_zone"),
])
def test_yaml_time_zone_mistakes_name_the_key(tmp_path, recipe, message):
    with pytest.raises(ConfigError, match=message):
        load_config(path=write_yaml(tmp_path, YAML % recipe))
