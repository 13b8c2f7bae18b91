"""Generic bronze ingest on tiny files: every raw row lands, as text, traceable to its line."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

import pytest

from utils.lake.config import Source
from utils.layers.bronze import (
    SourceError,
    date_digests,
    inspect_file,
    inspect_source,
    parse_bronze,
    read_bronze,
    read_numbered_lines,
    restrict_to_range,
)

RUN_AT = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def source(**kw) -> Source:
    args = {
        "name": "people", "path": "people.csv", "date_column": "snapshot_date", "date_formats": ("yyyy-MM-dd",),
        "required_columns": ("id", "name", "snapshot_date"), "personal_data": ("name",),
    }
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


def test_row_with_wrong_field_count_keeps_its_raw_line_and_says_why(spark, tmp_path):
    _, rows = ingest(spark, tmp_path, "id,name,snapshot_date\n1,Ann\n2,Bob,2023-01-01,extra\n3,Cy,2023-01-01\n4\n")
    assert [r._malformed_record for r in rows] == ["1,Ann", "2,Bob,2023-01-01,extra", None, "4"]
    assert [r._malformed_reason for r in rows] == [
        "2 fields, header has 3", "4 fields, header has 3", None, "1 field, header has 3"]


def test_quoted_delimiters_do_not_count_as_fields_in_the_reason(spark, tmp_path):
    _, rows = ingest(spark, tmp_path, 'id,name,snapshot_date\n1,"A, ""B"", C"\n')
    assert rows[0]._malformed_reason == "2 fields, header has 3"


def test_half_of_a_record_split_by_a_quoted_newline_is_malformed_not_read_as_fields(spark, tmp_path):
    _, rows = ingest(spark, tmp_path, 'id,name,snapshot_date\n1,"Ann\nSmith",2023-01-01\n2,Bob,2023-01-01\n')
    assert [r._malformed_reason for r in rows] == [
        "quoted field not closed at the end of the line (multiline is off)"] * 2 + [None]
    assert rows[1]._malformed_record == 'Smith",2023-01-01'


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


# --------------------------------------------------------------------------- readers


def test_source_file_records_the_name_the_caller_gives(spark, tmp_path):
    (tmp_path / "people.csv").write_text("id,name,snapshot_date\n1,Ann,2023-01-01\n")
    assert inspect_source(source(), tmp_path).name == str((tmp_path / "people.csv").resolve())
    sf = inspect_file(source(), tmp_path / "people.csv", name="landing/x/people.csv")
    [row] = read_bronze(spark, sf, run_id="r", ingested_at=RUN_AT, scratch=tmp_path / "tmp").collect()
    assert row._source_file == "landing/x/people.csv"


@pytest.mark.parametrize("content, options, reader", [
    (b"id,name,snapshot_date\n1,Ann,2023-01-01\n", {}, "spark"),
    (b"\xef\xbb\xbfid,name,snapshot_date\r\n1,Ann,2023-01-01\r\n", {}, "spark"),
    (b"id,name,snapshot_date\n1,Ann\xff,2023-01-01\n", {}, "python"),
    (b"id,name,snapshot_date\n1,An\x00n,2023-01-01\n", {}, "python"),
    (b"id,name,snapshot_date\n1,Jos\xe9,2023-01-01\n", {"encoding": "latin-1"}, "python"),
    (b"id name snapshot_date\n1 Ann 2023-01-01\n", {"whitespace": True}, "python"),
    (b"1,Ann,2023-01-01\n", {"header": False, "columns": ("id", "name", "snapshot_date")}, "python"),
    (b"id,name,snapshot_date\n1,Ann,2023-01-01\n", {"multiline": True}, "python"),
    (b'{"id": 1, "name": "Ann", "snapshot_date": "2023-01-01"}\n', {"format": "jsonl"}, "python"),
], ids=["utf-8", "bom-crlf", "invalid-utf-8", "nul", "latin-1", "whitespace", "headerless", "multiline", "jsonl"])
def test_only_plain_utf8_csv_takes_the_spark_path(tmp_path, content, options, reader):
    (tmp_path / "people.csv").write_bytes(content)
    sf = inspect_source(source(**options), tmp_path)
    assert sf.reader == reader
    assert sf.header == ("id", "name", "snapshot_date")
    assert (date_digests(sf) is None) == (reader == "python")


def test_both_readers_give_the_same_bronze_rows(spark, tmp_path):
    text = ('id,name,snapshot_date\n1,"Ann, ""A""",2023-01-01\n\n# note\n2,,2023-02-01\n3,Cy\n'
            '4,Di,1/2/2023\n5,"open,2023-01-01\n')
    (tmp_path / "people.csv").write_text(text)
    sf = inspect_source(source(csv={"sep": ",", "quote": '"', "escape": '"', "comment": "#"}), tmp_path)
    assert sf.reader == "spark"
    fast = read_bronze(spark, sf, run_id="r", ingested_at=RUN_AT, scratch=tmp_path / "tmp")
    python = read_bronze(spark, dataclasses.replace(sf, reader="python"), run_id="r", ingested_at=RUN_AT,
                         scratch=tmp_path / "tmp")
    assert fast.schema == python.schema
    rows = {name: sorted(map(tuple, df.collect()), key=lambda r: r[4]) for name, df in
            (("fast", fast), ("python", python))}
    assert rows["fast"] == rows["python"]
    assert [r[:3] + r[4:5] for r in rows["python"]] == [
        ("1", 'Ann, "A"', "2023-01-01", 2), ("2", None, "2023-02-01", 5), ("3", "Cy", None, 6),
        ("4", "Di", "1/2/2023", 7), ("5", "open,2023-01-01", None, 8)]


def test_invalid_utf8_line_lands_malformed_with_its_reason(spark, tmp_path):
    (tmp_path / "people.csv").write_bytes(b"id,name,snapshot_date\n1,Ann,2023-01-01\n2,B\xf6b,2023-01-01\n")
    sf = inspect_source(source(), tmp_path)
    rows = sorted(read_bronze(spark, sf, run_id="r", ingested_at=RUN_AT, scratch=tmp_path / "t").collect(),
                  key=lambda r: r._source_line)
    assert [(r._source_line, r._malformed_reason) for r in rows] == [
        (2, None), (3, "bytes not valid utf-8 at byte 4: 0xf6")]
    assert rows[1].name == "B\\xf6b" and rows[1].snapshot_date == dt.date(2023, 1, 1)


def test_header_only_file_lands_nothing_and_warns(spark, tmp_path, caplog):
    (tmp_path / "people.csv").write_text("id,name,snapshot_date\n\n")
    with caplog.at_level(logging.WARNING):
        sf = inspect_source(source(), tmp_path)
    assert "no records (header only)" in caplog.text
    assert read_bronze(spark, sf, run_id="r", ingested_at=RUN_AT, scratch=tmp_path / "t").count() == 0


@pytest.mark.parametrize("content, options, message", [
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, {}, r"not utf-8 text: \d+ of the first"),
    (b"id,na\xffme,snapshot_date\n", {}, r"line 1 \(the header\): bytes not valid utf-8 at byte 6: 0xff"),
    (b"ID,id,name,snapshot_date\n", {}, r"line 1: duplicate column name\(s\) \['ID', 'id'\]"),
    (b"1,Ann\n", {"header": False, "columns": ("id", "snapshot_date")},
     r"missing required column\(s\) \['name'\]; declared columns"),
    (b'{"id": 1, "snapshot_date": "2023-01-01"}', {"format": "json", "json_fields": {
        "id": "id", "name": "who.name", "snapshot_date": "snapshot_date"}},
     r"required column\(s\) \['name'\] hold a value in none of its 1 record\(s\)"),
    (b"id,name,snapshot_date\n", {"format": "parquet"}, r"not a Parquet file"),
], ids=["binary", "header-bytes", "duplicate-ignoring-case", "headerless-missing", "json-path-nowhere", "parquet"])
def test_format_aware_checks_refuse_the_file_in_one_line(tmp_path, content, options, message):
    (tmp_path / "people.csv").write_bytes(content)
    with pytest.raises(SourceError, match=message) as info:
        inspect_source(source(**options), tmp_path)
    assert "\n" not in str(info.value) and str(info.value).startswith("source people: ")
