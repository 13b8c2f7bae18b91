"""Partition-level incremental builds: a file that changed in some months rewrites
those months only, in bronze, silver and gold, and the tables end up as a full build
of the same files makes them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from deltalake import DeltaTable

from utils.cli import main
from utils.lake.config import load_config
from utils.lake.datamart import Datamart
from utils.lake.ledger import RunLedger
from utils.layers import bronze

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LMS = "lms_loan_daily.csv"
MONTH = "2024-12-01"  # a month with new loans (gold rows) and later months after it
LINEAGE = {"_run_id", "_ingested_at", "_source_line", "_source_file"}
TABLES = ("bronze/lms_loan_daily", "silver/loan_daily", "silver/_quarantine", "gold/feature_store",
          "gold/label_store")


def at(datamart: Path, table: str) -> Path:
    """The folder of a loan_default table named like the ledger names it (bronze/<source>)."""
    return Datamart(datamart, "loan_default").path_of(table)


def _split(path: Path, month: str) -> tuple[list[str], list[str]]:
    """(lines without `month`, the lines of `month`) of a CSV whose last field is the date."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [lines[0]] + [x for x in lines[1:] if x.rstrip("\n").rsplit(",", 1)[-1] != month]
    return kept, [x for x in lines[1:] if x.rstrip("\n").rsplit(",", 1)[-1] == month]


def _build(data: Path, datamart: Path, monkeypatch) -> dict:
    monkeypatch.setenv("LAKEHOUSE_PII_KEY", "incremental-test-key")  # one key: comparable hashes
    assert main(["--domain", "loan_default", "--data-root", str(data), "--datamart", str(datamart)]) == 0
    return RunLedger(datamart / "_meta" / "runs").latest_runs()[-1]


def _outputs(run: dict) -> dict[str, dict]:
    return {o["table"]: o for o in run["outputs"]}


def _content(datamart: Path, table: str):
    frame = DeltaTable(str(at(datamart, table))).to_pandas()
    frame = frame.drop(columns=[c for c in frame.columns if c in LINEAGE])
    columns = sorted(frame.columns)
    return frame[columns].astype(str).sort_values(columns).reset_index(drop=True)


@pytest.fixture(scope="module")
def without_month(spark, tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """(data without MONTH in lms, its datamart, the lines of MONTH)."""
    data = tmp_path_factory.mktemp("data_without")
    for f in (PROJECT_ROOT / "data").glob("*.csv"):
        shutil.copy(f, data / f.name)
    kept, month_lines = _split(data / LMS, MONTH)
    assert month_lines, f"the sample has no {MONTH} rows in {LMS}"
    (data / LMS).write_text("".join(kept), encoding="utf-8")
    datamart = tmp_path_factory.mktemp("dm_without")
    with pytest.MonkeyPatch.context() as mp:
        _build(data, datamart, mp)
    return data, datamart, month_lines


def _copy(without_month, tmp_path: Path) -> tuple[Path, Path]:
    data, datamart, _ = without_month
    shutil.copytree(data, tmp_path / "data")
    shutil.copytree(datamart, tmp_path / "dm")
    return tmp_path / "data", tmp_path / "dm"


def test_adding_a_month_rewrites_that_month_and_matches_a_full_build(without_month, tmp_path, monkeypatch):
    data, datamart = _copy(without_month, tmp_path)
    month_lines = without_month[2]
    with (data / LMS).open("a", encoding="utf-8") as fh:
        fh.writelines(month_lines)
    before = {t: DeltaTable(str(at(datamart, t))).to_pandas() for t in ("bronze/lms_loan_daily", "gold/feature_store")}

    run = _build(data, datamart, monkeypatch)
    out = _outputs(run)
    # bronze and silver: the one month, in one partition; every other table skipped
    for table in ("bronze/lms_loan_daily", "silver/loan_daily"):
        assert out[table]["status"] == "written"
        assert (out[table]["rows_written"], out[table]["partitions_written"]) == (len(month_lines), 1)
    assert {t for t, o in out.items() if o["status"] == "unchanged"} >= {
        "bronze/features_attributes", "bronze/features_financials", "bronze/feature_clickstream",
        "silver/attributes", "silver/financials", "silver/clickstream"}
    # the bronze rows of the other months are the committed ones, lineage included
    after = DeltaTable(str(at(datamart, "bronze/lms_loan_daily"))).to_pandas()
    old = before["bronze/lms_loan_daily"]
    assert set(after.loc[after["snapshot_date"].astype(str) != MONTH, "_run_id"]) == set(old["_run_id"])
    assert set(after.loc[after["snapshot_date"].astype(str) == MONTH, "_run_id"]) == {run["run_id"]}
    # gold: only the months from MONTH on were rebuilt
    features = DeltaTable(str(at(datamart, "gold/feature_store")))
    assert out["gold/feature_store"]["status"] == "written"
    assert out["gold/feature_store"]["rows_written"] < len(features.to_pandas())
    replay = [r for r in DeltaTable(str(datamart / "_meta/leakage")).to_pandas().itertuples()
              if r.run_id == run["run_id"]]
    assert {r.guard for r in replay} == {"cutoff", "replay", "single_feature_auc"}
    assert all(r.passed for r in replay if r.guard != "single_feature_auc")

    full_dm = tmp_path / "full_dm"
    _build(data, full_dm, monkeypatch)
    for table in TABLES:
        assert _content(datamart, table).equals(_content(full_dm, table)), f"{table} differs from a full build"


def test_a_new_month_repeating_an_accepted_key_is_quarantined(without_month, tmp_path, monkeypatch):
    data, datamart = _copy(without_month, tmp_path)
    kept, _ = _split(data / LMS, MONTH)
    fields = kept[1].rstrip("\n").split(",")
    duplicate = ",".join(fields[:-1] + ["2026-01-01"]) + "\n"  # same loan and installment, a new month
    with (data / LMS).open("a", encoding="utf-8") as fh:
        fh.write(duplicate)

    run = _build(data, datamart, monkeypatch)
    out = _outputs(run)
    assert (out["bronze/lms_loan_daily"]["rows_written"], out["bronze/lms_loan_daily"]["partitions_written"]) == (1, 1)
    assert out["silver/loan_daily"]["rows_quarantined"] == 1
    quarantine = DeltaTable(str(at(datamart, "silver/_quarantine"))).to_pandas()
    row = quarantine[quarantine["snapshot_date"].astype(str) == "2026-01-01"]
    assert len(row) == 1 and row.iloc[0]["rule"] == "unique_loan_month"
    accounting = DeltaTable(str(datamart / "_meta/accounting")).to_pandas()
    mine = accounting[accounting["run_id"] == run["run_id"]]
    assert len(mine) == 1 and bool(mine.iloc[0]["balanced"])
    # nothing dated 2026 reaches gold, so gold keeps its version
    assert out["gold/feature_store"]["status"] == "unchanged"


def test_a_rewritten_month_replaces_its_rows(without_month, tmp_path, monkeypatch):
    """A corrected month (same dates, other values) rewrites that month, nothing else."""
    data, datamart = _copy(without_month, tmp_path)
    lines = (data / LMS).read_text(encoding="utf-8").splitlines(keepends=True)
    target = next(i for i, x in enumerate(lines) if x.rstrip("\n").endswith(",2024-06-01") and ",6," in x)
    fields = lines[target].rstrip("\n").split(",")
    fields[8] = str(float(fields[6]) * 2)  # overdue_amt: two installments missed
    lines[target] = ",".join(fields) + "\n"
    (data / LMS).write_text("".join(lines), encoding="utf-8")

    run = _build(data, datamart, monkeypatch)
    out = _outputs(run)
    month_rows = sum(1 for x in lines[1:] if x.rstrip("\n").endswith(",2024-06-01"))
    assert (out["bronze/lms_loan_daily"]["rows_written"], out["bronze/lms_loan_daily"]["partitions_written"]) == (
        month_rows, 1)
    full_dm = tmp_path / "full_dm"
    _build(data, full_dm, monkeypatch)
    for table in ("silver/loan_daily", "gold/label_store", "gold/feature_store"):
        assert _content(datamart, table).equals(_content(full_dm, table)), f"{table} differs from a full build"


# ----------------------------------------------------------------------------- no Spark


def _source_file(path: Path):
    return bronze.inspect_source(load_config("loan_default").sources["lms_loan_daily"], path.parent)


def test_date_digests_ignore_line_order_and_see_a_changed_line(tmp_path):
    header = (PROJECT_ROOT / "data" / LMS).read_text(encoding="utf-8").splitlines()[0]
    rows = [f"L{i},C{i},2024-01-01,10,{m},100,10.0,10.0,0.0,90.0,2024-0{m + 1}-01" for i in range(3) for m in range(3)]
    path = tmp_path / LMS
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    first = bronze.date_digests(_source_file(path))
    path.write_text("\n".join([header, *reversed(rows), ""]) + "\n", encoding="utf-8")  # re-sorted, blank line
    assert bronze.date_digests(_source_file(path)) == first
    changed = [*rows[:-1], rows[-1].replace("90.0", "91.0"), "bad,line"]
    path.write_text("\n".join([header, *changed]) + "\n", encoding="utf-8")
    second = bronze.date_digests(_source_file(path))
    assert bronze.changed_date_texts(second, first) == {"2024-03-01", bronze.MALFORMED}
    assert first["2024-01-01"][0] == 3


@pytest.mark.parametrize("text, formats, expected", [
    ("2024-01-05", ("yyyy-MM-dd",), "2024-01-05"),
    (" 2024-01-05 ", ("yyyy-MM-dd",), "2024-01-05"),
    ("2024-02-30", ("yyyy-MM-dd",), None),
    ("05.01.2024", ("dd.MM.yyyy",), "2024-01-05"),
    ("2024-02-30", ("yyyy-MM-dd", "d/M/yyyy"), NotImplemented),  # the next format decides
    ("5/1/2024", ("d/M/yyyy",), NotImplemented),
    ("2024/01/05", ("yyyy-MM-dd",), NotImplemented),
])
def test_simple_dates_are_parsed_without_spark_only_when_certain(text, formats, expected):
    got = bronze._simple_date(text, formats)
    assert (got if got in (None, NotImplemented) else got.isoformat()) == expected


def test_partitions_of_agree_with_the_bronze_parse(spark):
    source = load_config("loan_default").sources["lms_loan_daily"]
    texts = {"2024-01-05", " 2024-02-01", "2024-02-30", "2024/03/01", "24-1-1", ""}
    expected = {"2024-01-05", "2024-02-01", None}
    assert bronze.partitions_of(spark, source, texts) == expected


def test_a_no_change_rerun_records_every_table_and_the_overrides(without_month, tmp_path, monkeypatch):
    data, datamart = _copy(without_month, tmp_path)
    first = RunLedger(datamart / "_meta" / "runs").latest_runs()[-1]
    monkeypatch.setenv("LAKEHOUSE_PII_KEY", "incremental-test-key")
    override = "spark.spark.sql.shuffle.partitions=3"  # Spark settings are not inputs of any table
    assert main(["--domain", "loan_default", "--data-root", str(data), "--datamart", str(datamart), "--set", override]) == 0
    run = RunLedger(datamart / "_meta" / "runs").latest_runs()[-1]
    assert {o["table"] for o in run["outputs"]} == {o["table"] for o in first["outputs"]}
    assert {o["status"] for o in run["outputs"]} == {"unchanged"}
    assert json.loads(run["options"])["overrides"] == [override]
