"""utils/ingest/readers.py: every raw record of every format, as text, with its locator."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from utils.ingest.readers import (
    RawRecord,
    ReadError,
    TextProbe,
    binary_reason,
    iter_records,
    json_field_names,
    read_options,
    records_to_parquet,
)
from utils.lake.config import Source


def source(**kw) -> Source:
    args = {"name": "s", "path": "f", "date_column": "date", "date_formats": ("yyyy-MM-dd",),
            "required_columns": ("id", "date")}
    args.update(kw)
    return Source(**args)


def records(tmp_path, content: bytes | str, **kw) -> list[RawRecord]:
    path = tmp_path / "f"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return list(iter_records(path, source(**kw)))


# --------------------------------------------------------------------------- CSV


def test_csv_records_are_numbered_by_their_line_header_and_blank_lines_included(tmp_path):
    got = records(tmp_path, "id,date\n1,2023-01-01\n\n2,2023-02-01\n")
    assert got == [RawRecord(2, {"id": "1", "date": "2023-01-01"}, None, None),
                   RawRecord(4, {"id": "2", "date": "2023-02-01"}, None, None)]


def test_csv_empty_field_is_null_and_spaces_are_kept(tmp_path):
    [r] = records(tmp_path, "id,name,date\n1,,2023-01-01\n", required_columns=("id", "name", "date"))
    assert r.fields == {"id": "1", "name": None, "date": "2023-01-01"}
    [r] = records(tmp_path, "id,name,date\n 1 , a ,2023-01-01\n", required_columns=("id", "name", "date"))
    assert r.fields["id"] == " 1 " and r.fields["name"] == " a "


def test_wrong_field_count_is_malformed_with_counts_and_keeps_the_fields_it_has(tmp_path):
    got = records(tmp_path, "id,date\n1\n2,2023-01-01,x\n")
    assert got == [RawRecord(2, {"id": "1", "date": None}, "1", "1 field, header has 2"),
                   RawRecord(3, {"id": "2", "date": "2023-01-01"}, "2,2023-01-01,x", "3 fields, header has 2")]


def test_whitespace_delimited_fields_split_on_runs_and_keep_zero_padding(tmp_path):
    got = records(tmp_path, "  id   date\n00042 \t 2023-01-01  \n  7 2023-02-01\n", whitespace=True)
    assert [r.fields for r in got] == [{"id": "00042", "date": "2023-01-01"}, {"id": "7", "date": "2023-02-01"}]
    assert [r.line for r in got] == [2, 3]


def test_headerless_csv_takes_declared_columns_and_line_1_is_a_record(tmp_path):
    got = records(tmp_path, "1;2023-01-01\n2;2023-02-01\n", header=False, columns=("id", "date"),
                  csv={"sep": ";", "quote": '"', "escape": '"'})
    assert got[0] == RawRecord(1, {"id": "1", "date": "2023-01-01"}, None, None)
    assert [r.line for r in got] == [1, 2]


def test_headerless_wrong_count_names_the_declared_columns(tmp_path):
    [r] = records(tmp_path, "1,2,3\n", header=False, columns=("id", "date"))
    assert r.reason == "3 fields, columns declares 2"


def test_latin_1_bytes_decode_as_declared(tmp_path):
    [r] = records(tmp_path, "id,date\nJos\xe9,2023-01-01\n".encode("latin-1"), encoding="latin-1")
    assert r.fields["id"] == "José" and r.malformed is None


def test_invalid_utf8_byte_marks_the_record_malformed_and_keeps_the_byte_visible(tmp_path):
    got = records(tmp_path, b"id,date\nab\xffc,2023-01-01\nok,2023-01-01\n")
    assert got[0].line == 2 and got[0].reason == "bytes not valid utf-8 at byte 3: 0xff"
    assert got[0].malformed == "ab\\xffc,2023-01-01" and got[0].fields["date"] == "2023-01-01"
    assert got[1].malformed is None


def test_byte_undefined_in_cp1252_is_reported(tmp_path):
    [r] = records(tmp_path, b"id,date\n\x81,2023-01-01\n", encoding="cp1252")
    assert r.reason == "bytes not valid cp1252 at byte 1: 0x81"


def test_nul_byte_marks_the_record_malformed(tmp_path):
    [r] = records(tmp_path, b"id,date\na\x00b,2023-01-01\n")
    assert r.reason == "NUL byte at character 2"


def test_bom_is_skipped_and_crlf_line_ends_are_removed(tmp_path):
    [r] = records(tmp_path, b"\xef\xbb\xbfid,date\r\n1,2023-01-01\r\n")
    assert r == RawRecord(2, {"id": "1", "date": "2023-01-01"}, None, None)


def test_comment_lines_carry_no_record(tmp_path):
    got = records(tmp_path, "id,date\n# note\n1,2023-01-01\n", csv={"sep": ",", "quote": '"', "escape": '"',
                                                                      "comment": "#"})
    assert [r.line for r in got] == [3]


def test_multiline_quoted_field_is_one_record_located_at_its_first_line(tmp_path):
    got = records(tmp_path, 'id,date\n"a\nb\n\nc",2023-01-01\n2,2023-02-01\n', multiline=True)
    assert got == [RawRecord(2, {"id": "a\nb\n\nc", "date": "2023-01-01"}, None, None),
                   RawRecord(6, {"id": "2", "date": "2023-02-01"}, None, None)]


def test_doubled_quotes_do_not_open_a_multiline_field(tmp_path):
    got = records(tmp_path, 'id,date\n"say ""hi""",2023-01-01\n2,2023-02-01\n', multiline=True)
    assert [(r.line, r.fields["id"]) for r in got] == [(2, 'say "hi"'), (3, "2")]


def test_backslash_escaped_quote_does_not_close_a_multiline_field(tmp_path):
    got = records(tmp_path, 'id,date\n"a\\"\nb",2023-01-01\n', multiline=True,
                  csv={"sep": ",", "quote": '"', "escape": "\\"})
    assert got == [RawRecord(2, {"id": 'a"\nb', "date": "2023-01-01"}, None, None)]


def test_quoted_newline_without_multiline_gives_two_malformed_records(tmp_path):
    got = records(tmp_path, 'id,date\n"a\nb",2023-01-01\n')
    assert [(r.line, r.malformed is not None) for r in got] == [(2, True), (3, True)]
    assert got[0].reason == "quoted field not closed at the end of the line (multiline is off)"


def test_unclosed_quote_holds_the_rest_of_the_file_as_one_malformed_record(tmp_path):
    got = records(tmp_path, 'id,date\n1,2023-01-01\n"open,2023-01-01\n3,2023-01-01\n', multiline=True)
    assert [r.line for r in got] == [2, 3]
    assert got[1].malformed == '"open,2023-01-01\n3,2023-01-01'
    assert got[1].reason == "quoted field not closed by the end of the file"


def test_field_of_one_megabyte_is_read_whole(tmp_path):
    big = "x" * (1 << 20)
    [r] = records(tmp_path, f"id,date\n{big},2023-01-01\n")
    assert r.fields["id"] == big


# --------------------------------------------------------------------------- JSON Lines


def test_jsonl_records_keep_numbers_as_written_and_nested_values_as_compact_json(tmp_path):
    text = ('{"id": 7, "amount": 1.50, "ok": true, "none": null, "big": 123456789012345678901234567890,\n'
            ' "tags": ["a", "é"], "who": {"n": 1}}\n').replace("\n ", " ")
    [r] = records(tmp_path, text, format="jsonl")
    assert r.fields == {"id": "7", "amount": "1.50", "ok": "true", "none": None,
                        "big": "123456789012345678901234567890", "tags": '["a","é"]', "who": '{"n":1}'}
    assert r.line == 1


def test_jsonl_bad_line_is_malformed_with_the_parser_message_and_blank_lines_are_skipped(tmp_path):
    got = records(tmp_path, '{"id": 1}\n\n{"id": 2 "x": 1}\n[1, 2]\n{"id": 3}\n', format="jsonl")
    assert [r.line for r in got] == [1, 3, 4, 5]
    assert got[1] == RawRecord(3, None, '{"id": 2 "x": 1}', "not valid JSON: Expecting ',' delimiter at line 1 column 10")
    assert got[2].reason == "not a JSON object but an array"


def test_jsonl_declared_fields_follow_dotted_paths(tmp_path):
    [r] = records(tmp_path, '{"c": {"id": "A1", "tags": ["x", "y"]}, "d": "2023-01-01"}\n',
                  format="jsonl", json_fields={"id": "c.id", "tag": "c.tags.1", "date": "d", "gone": "c.nope"})
    assert r.fields == {"id": "A1", "tag": "y", "date": "2023-01-01", "gone": None}


# --------------------------------------------------------------------------- JSON documents


def test_pretty_printed_json_array_is_located_by_record_index(tmp_path):
    doc = json.dumps([{"id": 1, "date": "2023-01-01"}, {"id": 2, "date": "2023-02-01"}], indent=2)
    got = records(tmp_path, doc, format="json")
    assert [(r.line, r.fields["id"]) for r in got] == [(1, "1"), (2, "2")]


def test_json_record_path_walks_nested_objects_and_lists_of_pages(tmp_path):
    pages = [{"data": {"items": [{"c": {"id": "A"}, "d": "2023-01-01"}]}},
             {"data": {"items": [{"c": {"id": "B"}, "d": "2023-02-01"}, 5]}}]
    got = records(tmp_path, json.dumps(pages, indent=1), format="json", json_record_path="data.items",
                  json_fields={"id": "c.id", "date": "d"})
    assert got[:2] == [RawRecord(1, {"id": "A", "date": "2023-01-01"}, None, None),
                       RawRecord(2, {"id": "B", "date": "2023-02-01"}, None, None)]
    assert got[2] == RawRecord(3, None, "5", "record 3 is not a JSON object but a number")


def test_one_json_object_is_one_record(tmp_path):
    assert records(tmp_path, '{"id": 1, "date": "x"}', format="json") == [
        RawRecord(1, {"id": "1", "date": "x"}, None, None)]


@pytest.mark.parametrize("text, message", [
    ('[{"id": 1},', r"not valid JSON: Expecting value at line 1 column 12"),
    ('{"rows": []}', r"json_record_path 'data': no key 'data' in an object"),
])
def test_json_document_that_cannot_be_read_raises_with_the_place(tmp_path, text, message):
    with pytest.raises(ReadError, match=message):
        records(tmp_path, text, format="json", json_record_path="data" if "rows" in text else "")


def test_json_field_names_are_the_keys_in_order_of_first_appearance(tmp_path):
    path = tmp_path / "f.jsonl"
    path.write_text('{"id": 1, "date": "d"}\n{"date": "d", "extra": null}\nnot json\n')
    names, present, count = json_field_names(path, read_options(source(format="jsonl")))
    assert names == ("id", "date", "extra") and present == {"id", "date", "extra"} and count == 3


# --------------------------------------------------------------------------- Parquet


def test_parquet_columns_become_text_located_by_row_index(tmp_path):
    table = pa.table({
        "id": pa.array([1, 2], pa.int64()), "amount": [1.5, None], "date": [dt.date(2023, 1, 1), dt.date(2023, 2, 1)],
        "who": [{"n": "a"}, {"n": "b"}], "tags": [["x"], []], "blob": [b"\x00\xff", None],
    })
    pq.write_table(table, tmp_path / "f.parquet")
    got = list(iter_records(tmp_path / "f.parquet", source(format="parquet")))
    assert got[0] == RawRecord(1, {"id": "1", "amount": "1.5", "date": "2023-01-01", "who": '{"n":"a"}',
                                   "tags": '["x"]', "blob": "00ff"}, None, None)
    assert got[1].line == 2 and got[1].fields["amount"] is None and got[1].fields["tags"] == "[]"


# --------------------------------------------------------------------------- writing, probing


def test_records_to_parquet_writes_every_record_in_batches_with_positional_string_columns(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("id,date\n" + "".join(f"{i},2023-01-01\n" for i in range(7)) + "bad\n")
    stats = records_to_parquet(path, source(), tmp_path / "out", ("id", "date"), batch_rows=3)
    table = pq.read_table(tmp_path / "out")
    assert (stats.records, stats.malformed, table.num_rows) == (8, 1, 8)
    assert table.schema.names == ["_c0", "_c1", "_source_line", "_malformed_record", "_malformed_reason"]
    assert table.column("_source_line").to_pylist() == list(range(2, 10))
    assert table.column("_malformed_reason").to_pylist()[-1] == "1 field, header has 2"


def test_records_to_parquet_of_a_parquet_file_keeps_row_indexes(tmp_path):
    pq.write_table(pa.table({"date": ["d"] * 5, "id": list(range(5))}), tmp_path / "f.parquet", row_group_size=2)
    stats = records_to_parquet(tmp_path / "f.parquet", source(format="parquet"), tmp_path / "out", ("id", "date"),
                               batch_rows=2)
    table = pq.read_table(tmp_path / "out")
    assert stats.records == 5 and table.column("_c0").to_pylist() == ["0", "1", "2", "3", "4"]
    assert table.column("_source_line").to_pylist() == [1, 2, 3, 4, 5]


def test_text_probe_finds_the_line_of_the_first_bad_byte_and_nul_across_chunks():
    probe = TextProbe(read_options(source()))
    for chunk in (b"id,date\n1,a", b"\n2,\xc3", b"\xa9\n3,\xff\n", b"4,\x00\n"):
        probe.feed(chunk)
    probe.close()
    assert (probe.bad_line, probe.nul_line, probe.data_after_line_1, probe.clean) == (4, 5, True, False)


def test_binary_garbage_is_told_from_text_with_a_stray_bad_byte():
    import random

    rng = random.Random(1)
    noise = bytes(rng.randrange(256) for _ in range(1024))
    assert "not utf-8 text" in binary_reason(noise, read_options(source()))
    assert "not latin-1 text" in binary_reason(noise, read_options(source(encoding="latin-1")))
    assert binary_reason(b"id,date\n" + b"abc\xff,2023-01-01\n" * 20, read_options(source())) is None
