"""Silver end to end on the sample_copy data: accounting, privacy, fail, quarantine, replay."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable

from utils.cli import main
from utils.lake.config import load_config
from utils.lake.datamart import Datamart

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SILVER = list(load_config("loan_default").silver)
SSN = re.compile(r"\d{3}-\d{2}-\d{4}")


def build(data: Path, datamart: Path, *extra: str) -> int:
    return main(["--domain", "loan_default", "--data-root", str(data), "--datamart", str(datamart), "--layers", "bronze,silver", *extra])


def silver_versions(datamart: Path) -> dict[str, int]:
    return {t: DeltaTable(str(datamart / "silver" / "loan_default" / t)).version() for t in SILVER}


def table(datamart: Path, name: str) -> pd.DataFrame:
    """A loan_default table named like the ledger names it (silver/<table>)."""
    return DeltaTable(str(Datamart(datamart, "loan_default").path_of(name))).to_pandas()


@pytest.fixture(scope="module")
def built(sample_datamart) -> Path:
    """The shared sample datamart (tests/conftest.py)."""
    return sample_datamart


def copies(built: Path, sample_copy: Path, tmp_path: Path) -> tuple[Path, Path]:
    data, datamart = tmp_path / "data", tmp_path / "dm"
    shutil.copytree(sample_copy, data)
    shutil.copytree(built, datamart)
    return data, datamart


def test_bronze_equals_silver_plus_quarantine_for_every_partition(built):
    accounting = table(built, "_meta/accounting")
    assert set(accounting["table"]) == {f"silver/{t}" for t in SILVER}
    assert accounting["balanced"].all()
    assert (accounting["bronze_rows"] == accounting["silver_rows"] + accounting["quarantined_rows"]).all()
    bronze_total = len(table(built, "bronze/features_attributes"))
    assert accounting.loc[accounting["table"] == "silver/attributes", "bronze_rows"].sum() == bronze_total


def test_every_typed_silver_column_is_stored_with_its_type(built):
    import pyarrow as pa

    expected = {"int": pa.int32(), "long": pa.int64(), "double": pa.float64(), "boolean": pa.bool_(),
                "date": pa.date32(), "string": pa.string(), "array<string>": pa.list_(pa.string())}
    for name, spec in load_config("loan_default").silver.items():
        schema = pa.schema(DeltaTable(str(built / "silver" / "loan_default" / name)).schema().to_arrow())
        for column in spec.columns:
            got = schema.field(column.name).type
            want = pa.string() if column.mask else expected[column.type]
            assert got == want or (pa.types.is_list(got) and pa.types.is_list(want)), (name, column.name, got)
        for column in spec.columns:
            if column.validated:
                assert schema.field(column.flag_column).type == pa.bool_()


def test_personal_data_never_reaches_silver_in_clear_text(built, sample_copy):
    names = set(pd.read_csv(sample_copy / "features_attributes.csv", dtype=str)["Name"])
    for name in [*SILVER, "_quarantine"]:
        frame = table(built, f"silver/{name}").astype(str)
        for column in frame.columns:
            values = frame[column]
            assert not values.str.contains(SSN).any(), (name, column)
            assert not values.isin(names).any(), (name, column)
    attributes = table(built, "silver/attributes")
    assert "name" not in attributes.columns and attributes["ssn_hash"].dropna().str.fullmatch(r"[0-9a-f]{64}").all()


def test_quality_counts_match_an_independent_count_of_the_raw_file(built, sample_copy):
    raw = pd.read_csv(sample_copy / "features_attributes.csv", dtype=str)
    quality = table(built, "_meta/quality")
    counts = quality[quality["table"] == "silver/attributes"].groupby("rule")["rows_failed"].sum()
    assert counts["decorated_age"] == raw["Age"].str.endswith("_").sum()
    assert counts["null_token_occupation"] == (raw["Occupation"] == "_______").sum()
    assert counts["valid_ssn_hash"] == (~raw["SSN"].str.fullmatch(r"\d{3}-\d{2}-\d{4}")).sum()


def test_rerun_with_unchanged_inputs_writes_no_new_silver_version(built, sample_copy, tmp_path):
    data, datamart = copies(built, sample_copy, tmp_path)  # the shared datamart's latest run stays the build
    before = silver_versions(datamart)
    assert build(data, datamart) == 0
    assert silver_versions(datamart) == before


def all_versions(datamart: Path) -> dict[str, int]:
    tables = [p.parent for p in datamart.glob("*/*/*/_delta_log")] + [p.parent for p in datamart.glob("_meta/*/_delta_log")]
    return {str(t.relative_to(datamart)): DeltaTable(str(t)).version() for t in tables}


def test_fail_rule_stops_the_run_and_every_table_stays_at_its_previous_version(built, sample_copy, tmp_path, capsys):
    data, datamart = copies(built, sample_copy, tmp_path)
    path = data / "features_financials.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[5] = "BAD-ID" + lines[5][lines[5].index(","):]
    path.write_text("".join(lines))
    before = all_versions(datamart)
    assert "bronze/loan_default/features_financials" in before and "silver/loan_default/_quarantine" in before
    assert build(data, datamart) == 1
    error = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    assert "rule valid_customer_id (fail) failed on 1 row(s)" in error[0] and "BAD-ID" in error[0]
    after = all_versions(datamart)
    assert after.pop("_meta/runs") == before.pop("_meta/runs") + 2  # the failed run is recorded
    # the changed file was received: its delivery stays in landing, audited once
    assert after.pop("_meta/ingestion") == before.pop("_meta/ingestion") + 1
    assert after == before


def test_duplicate_row_is_quarantined_with_reason_and_lineage_then_replayed(built, sample_copy, tmp_path):
    data, datamart = copies(built, sample_copy, tmp_path)
    path = data / "features_attributes.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines) + lines[3])  # the customer of line 4 appears twice
    assert build(data, datamart) == 0
    quarantine = table(datamart, "silver/_quarantine")
    assert len(quarantine) == 1
    row = quarantine.iloc[0]
    assert row["table"] == "attributes" and row["rule"] == "unique_customer_id"
    assert "duplicate of an earlier row" in row["reason"]
    assert row["_source_line"] == len(lines) + 1 and row["_source_file"].endswith("features_attributes.csv")
    raw = dict(row["raw_values"])
    assert raw["Customer_ID"] == lines[3].split(",")[0] and raw["SSN"] == "<masked>" and raw["Name"] == "<masked>"
    accounting = table(datamart, "_meta/accounting")
    assert accounting["balanced"].all()

    # after deciding duplicates are only worth a warning, replay what was quarantined
    rules = "[{name: valid_customer_id, check: \"customer_id rlike '^CUS_0x[0-9a-f]+$'\", severity: fail}, " \
            "{name: unique_customer_id, unique: [customer_id], severity: warn}]"
    before = silver_versions(datamart)
    assert build(data, datamart, "--replay-quarantine", "--set", f"silver.attributes.rules={rules}") == 0
    assert len(table(datamart, "silver/_quarantine")) == 0
    after = silver_versions(datamart)
    assert after["attributes"] == before["attributes"] + 1
    assert len(table(datamart, "silver/attributes")) == len(lines)  # header line gone, duplicate kept
    assert {t: after[t] for t in SILVER if t != "attributes"} == {t: before[t] for t in SILVER if t != "attributes"}


def test_replay_after_a_date_format_fix_moves_the_rows_into_their_months(built, sample_copy, tmp_path):
    data, datamart = copies(built, sample_copy, tmp_path)
    path = data / "features_attributes.csv"
    lines = path.read_text().splitlines(keepends=True)
    fields = lines[3].rstrip("\n").split(",")
    year, month, day = fields[-1].split("-")
    fields[-1] = f"{int(day)}/{int(month)}/{year}"  # one row re-saved by a spreadsheet
    lines[3] = ",".join(fields) + "\n"
    path.write_text("".join(lines))
    assert build(data, datamart) == 0
    quarantine = table(datamart, "silver/_quarantine")
    assert list(quarantine["rule"]) == ["valid_snapshot_date"]

    # the fix re-ingests bronze; the replay must process the month the row now belongs to
    fix = "sources.features_attributes.date_formats=[yyyy-MM-dd, d/M/yyyy]"
    assert build(data, datamart, "--replay-quarantine", "--set", fix) == 0
    assert len(table(datamart, "silver/_quarantine")) == 0
    attributes = table(datamart, "silver/attributes")
    assert len(attributes) == len(lines) - 1
    assert attributes["snapshot_date"].notna().all()
    assert table(datamart, "_meta/accounting")["balanced"].all()
