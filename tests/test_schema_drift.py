"""Schema drift and event-data options of a source: a column renamed in later deliveries
(`from: [phone, mobile_phone]`, `optional_columns`), timestamps, and `snapshot_grain: month`."""

from __future__ import annotations

import datetime as dt

import pytest

from utils.lake.config import ColumnSpec, ConfigError, SilverTable, Source, load_config
from utils.layers import bronze
from utils.layers.silver import clean_table

KEY = b"test-pii-key"

SOURCE = Source(
    name="customers", path="crm/customers_*.csv", date_column="export_date", date_formats=("yyyy-MM-dd",),
    required_columns=("customer_id", "export_date"), optional_columns=("phone", "mobile_phone"),
    personal_data=("phone", "mobile_phone"), snapshot_grain="month",
)
PHONE = ColumnSpec("phone_hash", "phone", fallback_columns=("mobile_phone",), mask="hmac_sha256")
SEEN = ColumnSpec("seen_at", "seen_at", type="timestamp", date_formats=("yyyy-MM-dd'T'HH:mm:ssXXX", "dd/MM/yyyy HH:mm"))
TAIL = "_malformed_record string, _source_file string, _source_line long, snapshot_date date"


def _clean(spark, rows, schema, *columns):
    table = SilverTable(name="customers", source="customers", columns=(ColumnSpec("customer_id", "customer_id"),
                                                                          *columns), rules=())
    return clean_table(spark.createDataFrame(rows, schema), table, SOURCE, pii_key=KEY)


def test_a_renamed_column_is_read_from_whichever_name_the_delivery_used(spark):
    rows = [("C1", "2024-06-30", "+44 1", None, None, "old.csv", 2, dt.date(2024, 6, 1)),
            ("C2", "2024-07-31", None, "+44 2", None, "new.csv", 2, dt.date(2024, 7, 1)),
            ("C3", "2024-07-31", "", "  ", None, "new.csv", 3, dt.date(2024, 7, 1))]
    schema = f"customer_id string, export_date string, phone string, mobile_phone string, {TAIL}"
    out = {r["customer_id"]: r["phone_hash"] for r in _clean(spark, rows, schema, PHONE).collect()}
    assert out["C1"] is not None and out["C2"] is not None and out["C1"] != out["C2"]
    assert out["C3"] is None
    assert "+44" not in "".join(v for v in out.values() if v)


def test_an_optional_column_no_delivery_held_yet_reads_as_null(spark):
    rows = [("C1", "2024-06-30", None, "old.csv", 2, dt.date(2024, 6, 1))]
    out = _clean(spark, rows, f"customer_id string, export_date string, {TAIL}", PHONE).collect()
    assert out[0]["phone_hash"] is None


def test_timestamps_in_two_formats_with_and_without_offset_are_read_as_utc(spark):
    rows = [("C1", "d", "2024-03-15T10:22:05+01:00", None, "o.csv", 2, dt.date(2024, 3, 1)),
            ("C2", "d", "15/03/2024 10:22", None, "o.csv", 3, dt.date(2024, 3, 1)),
            ("C3", "d", "March 15", None, "o.csv", 4, dt.date(2024, 3, 1))]
    out = _clean(spark, rows, f"customer_id string, export_date string, seen_at string, {TAIL}", SEEN)
    got = {r["customer_id"]: (r["seen_at"], r["seen_at_invalid"]) for r in out.collect()}
    spark_tz_naive = got["C1"][0].replace(tzinfo=None)
    assert spark_tz_naive in (dt.datetime(2024, 3, 15, 9, 22, 5),  # the session runs in UTC
                              dt.datetime(2024, 3, 15, 9, 22, 5).astimezone().replace(tzinfo=None))
    assert got["C2"][0] is not None and got["C2"][1] is False
    assert got["C3"] == (None, True)


def test_month_grain_puts_every_day_of_a_month_in_its_first_day(spark):
    texts = {"2024-03-15", "2024-03-31", "2024-04-01", "not a date"}
    assert bronze.partitions_of(spark, SOURCE, texts) == {"2024-03-01", "2024-04-01", None}
    other = Source(**{**SOURCE.__dict__, "date_formats": ("dd/MM/yyyy",)})  # parsed by Spark, not in Python
    assert bronze.partitions_of(spark, other, {"15/03/2024", "01/04/2024"}) == {"2024-03-01", "2024-04-01"}


def _write(tmp_path, source_yaml: str):
    (tmp_path / "d.yaml").write_text(
        "domain: d\nsources:\n  s:\n" + source_yaml
        + "silver:\n  t:\n    source: s\n    columns:\n      id: {}\n      p: {from: [p_old, p_new]}\n")
    return tmp_path / "d.yaml"


def test_keys_and_personal_data_may_name_optional_columns_but_nothing_else(tmp_path):
    base = ("    path: x_*.csv\n    date_column: d\n    date_formats: [yyyy-MM-dd]\n"
            "    required_columns: [id, d]\n")
    config = load_config(path=_write(tmp_path, base + "    optional_columns: [p_old, p_new]\n"
                                "    personal_data: [p_old, p_new]\n    snapshot_grain: month\n"))
    src, col = config.sources["s"], config.silver["t"].columns[1]
    assert (src.optional_columns, src.snapshot_grain) == (("p_old", "p_new"), "month")
    assert (col.source_column, col.fallback_columns) == ("p_old", ("p_new",))
    with pytest.raises(ConfigError, match=r"personal_data: \['email'\] not in required_columns or optional_columns"):
        load_config(path=_write(tmp_path, base + "    personal_data: [email]\n"))
    with pytest.raises(ConfigError, match=r"snapshot_grain: 'week' not one of day, month"):
        load_config(path=_write(tmp_path, base + "    snapshot_grain: week\n"))
