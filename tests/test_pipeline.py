"""One end-to-end build of the shipped sample data, and what reruns and bad input do."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable

from utils.cli import main
from utils.lake.config import load_config
from utils.lake.ledger import RunLedger

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SOURCES = list(load_config("loan_default").sources)


def data_lines(path: Path) -> int:
    """Raw data rows of a CSV: non-blank lines after the header."""
    with path.open(encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip()) - 1


def versions(datamart: Path) -> dict[str, int]:
    return {s: DeltaTable(str(datamart / "bronze" / "loan_default" / s)).version() for s in SOURCES}


def build(data: Path, datamart: Path, *extra: str) -> int:
    """The bronze layer alone (silver has its own end-to-end tests)."""
    return main(["--domain", "loan_default", "--data-root", str(data), "--datamart", str(datamart), "--layers", "bronze", *extra])


@pytest.fixture(scope="module")
def built(spark, sample_copy, tmp_path_factory) -> Path:
    datamart = tmp_path_factory.mktemp("dm")
    assert build(sample_copy, datamart) == 0
    return datamart


def test_every_raw_row_reaches_bronze(built, sample_copy):
    for source in SOURCES:
        table = DeltaTable(str(built / "bronze" / "loan_default" / source)).to_pandas()  # independent reader
        assert len(table) == data_lines(sample_copy / f"{source}.csv"), source
        assert table["_source_line"].is_unique
        assert table["snapshot_date"].notna().all()


def test_bronze_partitions_follow_the_source_months(built, sample_copy):
    import pandas as pd

    for source in SOURCES:
        raw = pd.read_csv(sample_copy / f"{source}.csv", dtype=str)
        table = DeltaTable(str(built / "bronze" / "loan_default" / source))
        months = {p["snapshot_date"] for p in table.partitions()}
        assert months == set(raw["snapshot_date"]), source


def test_run_is_recorded_in_the_ledger_with_hashes_and_versions(built):
    runs = RunLedger(built / "_meta" / "runs").latest_runs()
    assert [r["status"] for r in runs][:1] == ["success"]
    first = runs[0]
    assert {i["source"] for i in first["inputs"]} == set(SOURCES)
    assert all(len(i["sha256"]) == 64 for i in first["inputs"])
    assert {o["table"]: o["version"] for o in first["outputs"]} == {f"bronze/{s}": 0 for s in SOURCES}
    assert first["code_version"] and first["config_hash"]
    assert (built / "_meta" / "run_records" / f"{first['run_id']}.json").exists()


def test_rerun_with_unchanged_inputs_writes_no_new_version(built, sample_copy):
    before = versions(built)
    assert build(sample_copy, built) == 0
    assert versions(built) == before
    last = RunLedger(built / "_meta" / "runs").latest_runs()[-1]
    assert all(i["skipped"] for i in last["inputs"])


def test_changed_file_is_ingested_again_and_only_that_one(built, sample_copy, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(sample_copy, data)
    datamart = tmp_path / "dm"
    shutil.copytree(built, datamart)
    target = data / "features_attributes.csv"
    lines = target.read_text().splitlines(keepends=True)
    target.write_text("".join(lines[:-1]))  # the newest drop lost a row
    before = versions(datamart)
    assert build(data, datamart) == 0
    after = versions(datamart)
    assert {s for s in SOURCES if after[s] != before[s]} == {"features_attributes"}
    rows = len(DeltaTable(str(datamart / "bronze" / "loan_default" / "features_attributes")).to_pandas())
    assert rows == data_lines(target)


def test_full_refresh_rebuilds_unchanged_inputs(built, sample_copy, tmp_path):
    datamart = tmp_path / "dm"
    shutil.copytree(built, datamart)
    before = versions(datamart)
    assert build(sample_copy, datamart, "--full-refresh", "--sources", "feature_clickstream") == 0
    after = versions(datamart)
    assert after["feature_clickstream"] == before["feature_clickstream"] + 1
    assert {s: after[s] for s in SOURCES if s != "feature_clickstream"} == {
        s: before[s] for s in SOURCES if s != "feature_clickstream"
    }


def test_date_range_replaces_only_the_months_in_range(built, sample_copy, tmp_path):
    datamart = tmp_path / "dm"
    shutil.copytree(built, datamart)
    table = datamart / "bronze" / "loan_default" / "lms_loan_daily"
    before = DeltaTable(str(table)).to_pandas()
    assert build(sample_copy, datamart, "--sources", "lms_loan_daily", "--start", "2023-03", "--end", "2023-04",
                 "--full-refresh") == 0
    dt = DeltaTable(str(table))
    after = dt.to_pandas()
    history = dt.history(1)[0]
    assert len(after) == len(before)
    changed = after.merge(before, how="outer", indicator=True)
    moved = changed[changed["_merge"] != "both"]
    assert set(moved["snapshot_date"].astype(str)) <= {"2023-03-01", "2023-04-01"}
    assert history["operation"] == "WRITE"


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda p: p.unlink(), "file not found"),
        (lambda p: p.write_text(""), "file is empty"),
        (lambda p: (p.unlink(), p.mkdir()), "is a directory"),
        (lambda p: p.write_text("Customer_ID,Name,Age,snapshot_date\nC1,A,3,2023-01-01\n"),
         "missing required column(s) ['SSN', 'Occupation']"),
    ],
    ids=["missing", "empty", "directory", "missing-column"],
)
def test_bad_input_fails_with_one_line_error_and_changes_no_table(
    built, sample_copy, tmp_path, capsys, breakage, expected
):
    data = tmp_path / "data"
    shutil.copytree(sample_copy, data)
    datamart = tmp_path / "dm"
    shutil.copytree(built, datamart)
    (data / "lms_loan_daily.csv").write_text((data / "lms_loan_daily.csv").read_text() + "\n")  # a change to ingest
    before = versions(datamart)
    ledger_version = DeltaTable(str(datamart / "_meta" / "runs")).version()
    breakage(data / "features_attributes.csv")
    assert build(data, datamart, "--full-refresh") == 1
    err = capsys.readouterr().err
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert "features_attributes.csv" in error_lines[0] and expected in error_lines[0]
    assert versions(datamart) == before
    assert DeltaTable(str(datamart / "_meta" / "runs")).version() == ledger_version


def test_killed_run_then_rerun_matches_uninterrupted_run(built, sample_copy, tmp_path):
    datamart = tmp_path / "dm"
    cmd = [sys.executable, str(PROJECT_ROOT / "main.py"), "--domain", "loan_default", "--data-root", str(sample_copy),
           "--datamart", str(datamart), "--master", "local[1]", "--layers", "bronze"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 180
    staging = datamart / "bronze" / "loan_default" / "features_attributes" / "_staging"
    while not staging.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed mid-write"
    os.killpg(proc.pid, signal.SIGKILL)  # the JVM too
    proc.wait()
    assert not DeltaTable.is_deltatable(str(datamart / "bronze" / "loan_default" / "features_attributes"))
    assert build(sample_copy, datamart) == 0
    data_columns = lambda df: df.drop(columns=["_run_id", "_ingested_at"]).sort_values("_source_line").reset_index(drop=True)  # noqa: E731
    for source in SOURCES:
        resumed = DeltaTable(str(datamart / "bronze" / "loan_default" / source)).to_pandas()
        clean = DeltaTable(str(built / "bronze" / "loan_default" / source)).to_pandas()
        # each datamart landed its own copy (its own delivery folder): compare file names
        clean["_source_file"] = clean["_source_file"].str.rsplit("/", n=1).str[-1]
        resumed["_source_file"] = resumed["_source_file"].str.rsplit("/", n=1).str[-1]
        assert data_columns(resumed).equals(data_columns(clean)), source
