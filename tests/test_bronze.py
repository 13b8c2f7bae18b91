"""Generic bronze ingest on tiny files: every raw row lands, as text, traceable to its line."""

from __future__ import annotations

import datetime as dt

import pytest

from utils.layers.bronze import SourceError, inspect_source, parse_bronze, read_numbered_lines, restrict_to_range
from utils.lake.config import Source

RUN_AT = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def source(**kw) -> Source:
    args = dict(
        name="people", path="people.csv", date_column="snapshot_date", date_formats=("yyyy-MM-dd",),
        required_columns=("id", "name", "snapshot_date"), personal_data=("name",),
    )
    args.update(kw)
    return Source(**args)


def ingest(spark, tmp_path, text: str, **kw):
    (tmp_path / "people.csv").write_text(text)
    sf = inspect_source(source(**kw), tmp_path)
    df = parse_bronze(read_numbered_lines(spark, sf.path), sf, run_id="r1", ingested_at=RUN_AT)
    return sf, sorted(df.collect(), key=lambda r: r["_source_line"])


def test_every_column_lands_as_text_with_its_raw_line_number(spark, tmp_path):
    _, rows = ingest(spark, tmp_path, "id,name,snapshot_date\n1,Ann,2023-01-01\n\n2,Bob,2023-02-01\n")
    assert [(r.id, r.name, r._source_line) for r in rows] == [("1", "Ann", 2), ("2", "Bob", 4)]
    assert {type(r.id) for r in rows} == {str}
    assert rows[0]._run_id == "r1" and rows[0]._source_file.endswith("people.csv")


def test_doubled_quotes_read_as_single_quote_characters(spark, tmp_path):
    _, rows = ingest(spark, tmp_path, 'id,name,snapshot_date\n1,"ODonnell""d",2023-01-01\n2,"""Johnt",2023-01-01\n')
    assert [r.name for r in rows] == ['ODonnell"d', '"Johnt']


def test_unparseable_date_lands_with_null_snapshot_date(spark, tmp_path):
    _, rows = ingest(spark, tmp_path, "id,name,snapshot_date\n1,Ann,2023-01-01\n2,Bob,1/2/2023\n")
    assert [r.snapshot_date for r in rows] == [dt.date(2023, 1, 1), None]
    assert rows[1].snapshot_date_raw == "1/2/2023"


def test_first_matching_date_format_wins(spark, tmp_path):
    _, rows = ingest(
        spark, tmp_path, "id,name,snapshot_date\n1,Ann,2023-01-01\n2,Bob,1/2/2023\n",
        date_formats=("yyyy-MM-dd", "d/M/yyyy"),
    )
    assert [r.snapshot_date for r in rows] == [dt.date(2023, 1, 1), dt.date(2023, 2, 1)]


def test_row_with_wrong_field_count_keeps_its_raw_line(spark, tmp_path):
    _, rows = ingest(spark, tmp_path, "id,name,snapshot_date\n1,Ann\n2,Bob,2023-01-01,extra\n3,Cy,2023-01-01\n")
    assert [r._malformed_line for r in rows] == ["1,Ann", "2,Bob,2023-01-01,extra", None]


def test_comment_lines_carry_no_row(spark, tmp_path):
    _, rows = ingest(spark, tmp_path, "id,name,snapshot_date\n# exported\n1,Ann,2023-01-01\n",
                     csv={"sep": ",", "quote": '"', "escape": '"', "comment": "#"})
    assert [r._source_line for r in rows] == [3]


def test_line_numbers_stay_exact_across_parallel_blocks(spark, tmp_path):
    spark.conf.set("spark.sql.files.maxPartitionBytes", "4096")
    try:
        body = "".join(f"{i},name{i},2023-01-01\n" for i in range(2, 3002))
        _, rows = ingest(spark, tmp_path, "id,name,snapshot_date\n" + body)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert all(int(r.id) == r._source_line for r in rows)
    assert len(rows) == 3000


def test_range_keeps_dates_within_bounds_and_unparsed_rows(spark, tmp_path):
    (tmp_path / "people.csv").write_text("id,name,snapshot_date\n1,A,2023-01-01\n2,B,2023-02-01\n3,C,2023-03-01\n4,D,bad\n")
    sf = inspect_source(source(), tmp_path)
    df = parse_bronze(read_numbered_lines(spark, sf.path), sf, run_id="r", ingested_at=RUN_AT)
    kept = restrict_to_range(df, dt.date(2023, 2, 1), dt.date(2023, 2, 1))
    assert sorted(r.id for r in kept.collect()) == ["2", "4"]


@pytest.mark.parametrize(
    "setup, message",
    [
        (lambda p: None, r"people\.csv: file not found"),
        (lambda p: (p / "people.csv").write_text(""), r"people\.csv: file is empty"),
        (lambda p: (p / "people.csv").mkdir(), r"people\.csv: is a directory"),
        (lambda p: (p / "people.csv").write_text("id,snapshot_date\n1,2023-01-01\n"),
         r"people\.csv: line 1: missing required column\(s\) \['name'\]"),
        (lambda p: (p / "people.csv").write_text("id,id,name,snapshot_date\n"), r"duplicate column name"),
    ],
    ids=["missing", "empty", "directory", "missing-column", "duplicate-column"],
)
def test_bad_source_file_gives_one_line_error_naming_the_file(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(SourceError, match=message) as info:
        inspect_source(source(), tmp_path)
    assert "\n" not in str(info.value) and "source people" in str(info.value)
