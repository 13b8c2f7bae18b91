"""Every source format end to end (landing -> bronze -> silver) on a tiny domain, each
with its trap: raw records in = bronze rows, values exact, bronze = silver + quarantine."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from deltalake import DeltaTable

from utils.cli import main
from utils.lake.datamart import Datamart

DOMAIN = "formats"


def write_domain(tmp_path: Path, source: dict, columns: dict | None = None, **silver) -> Path:
    """conf for one source `things` (id, amount, date by default) and one silver table."""
    body = {"date_column": "date", "date_formats": ["yyyy-MM-dd"], "required_columns": ["id", "amount", "date"]}
    body.update(source)
    columns = columns or {"id": {}, "amount": {"type": "double"}, "day": {"from": "date", "type": "date"}}
    config = {"domain": DOMAIN, "sources": {"things": body},
              "silver": {"things": {"source": "things", "columns": columns, **silver}}}
    path = tmp_path / "things.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def build(tmp_path: Path, config: Path, *extra: str) -> int:
    return main(["--config", str(config), "--data-root", str(tmp_path / "data"),
                 "--datamart", str(tmp_path / "dm"), "--layers", "bronze,silver", *extra])


def data_file(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / "data" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def table(tmp_path: Path, layer: str, name: str = "things") -> pd.DataFrame:
    """A table of the tiny domain, located by the pipeline's own layout, rows in file order."""
    frame = DeltaTable(str(Datamart(tmp_path / "dm", DOMAIN).table(layer, name))).to_pandas()
    return frame.sort_values("_source_line", ignore_index=True) if "_source_line" in frame else frame


def meta(tmp_path: Path, name: str) -> pd.DataFrame:
    """A _meta table (empty when no run wrote one, e.g. nothing to account for)."""
    path = Datamart(tmp_path / "dm", DOMAIN).meta(name)
    if not (path / "_delta_log").exists():
        return pd.DataFrame({"table": [], "balanced": [], "bronze_rows": [], "rule": [], "rows_failed": []})
    return DeltaTable(str(path)).to_pandas()


def assert_accounted(tmp_path: Path, raw_records: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Bronze holds every raw record, and per partition bronze = silver + quarantine,
    both as _meta/accounting recorded it and counted from the tables themselves."""
    bronze, silver, quarantine = table(tmp_path, "bronze"), table(tmp_path, "silver"), table(tmp_path, "silver",
                                                                                            "_quarantine")
    assert len(bronze) == raw_records
    assert bronze["_source_line"].is_unique

    def per_date(frame: pd.DataFrame) -> dict:
        return frame.groupby(frame["snapshot_date"].astype(str), dropna=False).size().to_dict() if len(frame) else {}

    kept, dropped = per_date(silver), per_date(quarantine)
    assert per_date(bronze) == {d: kept.get(d, 0) + dropped.get(d, 0) for d in per_date(bronze)}
    assert set(kept) | set(dropped) <= set(per_date(bronze))
    accounting = meta(tmp_path, "accounting")
    accounting = accounting[accounting["table"] == "silver/things"]
    assert accounting["balanced"].all() and accounting["bronze_rows"].sum() == raw_records
    return bronze, silver, quarantine


def test_whitespace_delimited_file_keeps_zero_padded_ids(tmp_path):
    config = write_domain(tmp_path, {"path": "things.txt", "csv": {"whitespace": True}})
    data_file(tmp_path, "things.txt", "id    amount   date\n00042  1.50  2023-01-01\n\t00007 \t2  2023-02-01  \n"
                                      "  00099 3.00\n")
    assert build(tmp_path, config) == 0
    bronze, silver, quarantine = assert_accounted(tmp_path, 3)
    assert list(bronze["id"]) == ["00042", "00007", "00099"] and list(bronze["amount"]) == ["1.50", "2", "3.00"]
    assert list(bronze["_source_line"]) == [2, 3, 4]
    assert list(silver["id"]) == ["00042", "00007"] and list(silver["amount"]) == [1.5, 2.0]
    [reason] = quarantine["reason"]
    assert reason == "well_formed_row: the raw record did not parse: 2 fields, header has 3; " \
                     "valid_snapshot_date: date did not parse with any of [yyyy-MM-dd]"


def test_latin_1_file_decodes_as_declared(tmp_path):
    config = write_domain(tmp_path, {"path": "things.csv", "csv": {"encoding": "latin-1"},
                                     "required_columns": ["id", "name", "amount", "date"]},
                          {"id": {}, "name": {}, "amount": {"type": "double"}})
    data_file(tmp_path, "things.csv", "id,name,amount,date\n1,José Müller,1.5,2023-01-01\n2,Zoë,2,2023-01-01\n"
              .encode("latin-1"))
    assert build(tmp_path, config) == 0
    bronze, silver, _ = assert_accounted(tmp_path, 2)
    assert list(bronze["name"]) == ["José Müller", "Zoë"] and bronze["_malformed_record"].isna().all()
    assert list(silver["name"]) == ["José Müller", "Zoë"]


def test_headerless_csv_takes_the_declared_columns_and_line_1_is_a_record(tmp_path):
    config = write_domain(tmp_path, {"path": "things.psv", "csv": {
        "sep": "|", "header": False, "columns": ["id", "amount", "date"]}})
    data_file(tmp_path, "things.psv", "A1|10|2023-01-01\nA2|20|2023-02-01\n")
    assert build(tmp_path, config) == 0
    bronze, silver, _ = assert_accounted(tmp_path, 2)
    assert list(bronze["_source_line"]) == [1, 2] and list(bronze["id"]) == ["A1", "A2"]
    assert list(silver["amount"]) == [10.0, 20.0]
    assert list(silver["day"]) == [dt.date(2023, 1, 1), dt.date(2023, 2, 1)]


def test_quoted_newlines_stay_inside_their_record_with_multiline(tmp_path):
    config = write_domain(tmp_path, {"path": "things.csv", "csv": {"multiline": True},
                                     "required_columns": ["id", "note", "amount", "date"]},
                          {"id": {}, "note": {"trim": False}, "amount": {"type": "double"}})
    data_file(tmp_path, "things.csv", 'id,note,amount,date\n1,"line one\nline two, with comma",1,2023-01-01\n'
                                      '2,plain,2,2023-01-01\n3,"a ""quoted""\n\nend",3,2023-02-01\n')
    assert build(tmp_path, config) == 0
    bronze, silver, _ = assert_accounted(tmp_path, 3)
    assert list(bronze["_source_line"]) == [2, 4, 5]
    assert list(silver["note"]) == ["line one\nline two, with comma", "plain", 'a "quoted"\n\nend']


def test_json_lines_with_a_malformed_line_lands_it_and_quarantines_it_with_the_parser_reason(tmp_path):
    config = write_domain(tmp_path, {"path": "things.jsonl", "format": "jsonl",
                                     "required_columns": ["id", "amount", "date", "tags"]},
                          {"id": {}, "amount": {"type": "double"}, "tags": {}})
    data_file(tmp_path, "things.jsonl", '{"id": "a", "amount": 1.50, "date": "2023-01-01", "tags": ["x", "y"]}\n'
                                        '{"id": "b", "amount": 2 "date": "2023-01-01"}\n'
                                        '\n'
                                        '{"id": "c", "amount": null, "date": "2023-02-01"}\n')
    assert build(tmp_path, config) == 0
    bronze, silver, quarantine = assert_accounted(tmp_path, 3)
    assert list(bronze["_source_line"]) == [1, 2, 4]
    assert list(bronze["amount"].fillna("null")) == ["1.50", "null", "null"]
    assert bronze.loc[0, "tags"] == '["x","y"]'
    assert list(silver["id"]) == ["a", "c"]
    [row] = quarantine.to_dict("records")
    assert row["_source_line"] == 2 and row["_malformed_record"] == '{"id": "b", "amount": 2 "date": "2023-01-01"}'
    assert "well_formed_row: the raw record did not parse: not valid JSON: Expecting ',' delimiter at line 1 " \
           "column 25" in row["reason"]


def test_nested_json_document_reads_records_at_the_path_and_fields_at_declared_paths(tmp_path):
    config = write_domain(tmp_path, {"path": "things.json", "format": "json", "json": {
        "record_path": "data.items", "fields": {"id": "customer.id", "amount": "payment.amount",
                                                "date": "meta.date", "first_tag": "tags.0", "customer": "customer"}}})
    pages = {"page": 1, "data": {"items": [
        {"customer": {"id": "C1", "name": "x"}, "payment": {"amount": 12.5}, "meta": {"date": "2023-01-01"},
         "tags": ["new", "web"]},
        {"customer": {"id": "C2"}, "payment": {"amount": 7}, "meta": {"date": "2023-03-01"}},
    ]}}
    data_file(tmp_path, "things.json", json.dumps(pages, indent=2))
    assert build(tmp_path, config) == 0
    bronze, silver, _ = assert_accounted(tmp_path, 2)
    assert list(bronze["_source_line"]) == [1, 2]
    assert list(bronze["first_tag"].fillna("null")) == ["new", "null"]
    assert bronze.loc[0, "customer"] == '{"id":"C1","name":"x"}'
    assert list(silver["id"]) == ["C1", "C2"] and list(silver["amount"]) == [12.5, 7.0]


def test_parquet_columns_land_as_text_located_by_row_index(tmp_path):
    config = write_domain(tmp_path, {"path": "things.parquet", "format": "parquet"})
    (tmp_path / "data").mkdir()
    pq.write_table(pa.table({
        "id": pa.array([1, 2, 3], pa.int64()), "amount": [1.25, None, 1e20],
        "date": [dt.date(2023, 1, 1), dt.date(2023, 1, 1), dt.date(2023, 2, 1)],
        "extra": [{"k": 1}, None, {"k": 3}],
    }), tmp_path / "data" / "things.parquet")
    assert build(tmp_path, config) == 0
    bronze, silver, _ = assert_accounted(tmp_path, 3)
    assert list(bronze["_source_line"]) == [1, 2, 3] and list(bronze["id"]) == ["1", "2", "3"]
    assert list(bronze["extra"].fillna("null")) == ['{"k":1}', "null", '{"k":3}']
    assert list(silver["amount"].fillna(-1)) == [1.25, -1, 1e20]


def test_future_dates_with_severity_fail_stop_the_run_naming_count_and_samples(tmp_path, capsys):
    config = write_domain(tmp_path, {"path": "things.csv"}, future_dates="fail")
    data_file(tmp_path, "things.csv", "id,amount,date\na,1,2023-01-01\nb,2,2999-01-01\nc,3,2999-02-01\n")
    assert build(tmp_path, config) == 1
    [error] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "rule not_future_date (fail) failed on 2 row(s)" in error, error
    assert re.search(r"\bb \([^)]*things\.csv:3\)", error) and re.search(r"\bc \([^)]*things\.csv:4\)", error), error
    assert not (Datamart(tmp_path / "dm", DOMAIN).table("silver", "things") / "_delta_log").exists()
