"""The landing zone and the file collector: what lands, what does not, and what bronze
then ingests (DESIGN §10-§11)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from deltalake import DeltaTable

from utils.cli import main
from utils.ingest import landing
from utils.lake.datamart import Datamart, LayoutError
from utils.lake.ledger import RunLedger

HEADER = "customer_id,plan,snapshot_date\n"


def write_domain(tmp_path: Path) -> Path:
    """A tiny domain whose one source is a glob of monthly CRM exports."""
    conf = {
        "domain": "shop",
        "sources": {
            "customers": {
                "path": "crm/customers_*.csv",
                "date_column": "snapshot_date",
                "date_formats": ["yyyy-MM-dd"],
                "required_columns": ["customer_id", "plan", "snapshot_date"],
                "keys": ["customer_id", "snapshot_date"],
            }
        },
        "silver": {
            "customers": {
                "source": "customers",
                "columns": {"customer_id": {}, "plan": {}},
                "rules": [{"name": "unique_customer", "unique": ["customer_id", "snapshot_date"], "severity": "drop"}],
            }
        },
    }
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(conf), encoding="utf-8")
    return path


def export(data: Path, month: str, ids: range) -> Path:
    path = data / "crm" / f"customers_{month}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"C{i:04d},basic,{month}-01\n" for i in ids), encoding="utf-8")
    return path


def build(conf: Path, data: Path, datamart: Path, *extra: str) -> int:
    return main(["--config", str(conf), "--data-root", str(data), "--datamart", str(datamart),
                 "--layers", "bronze,silver", "--master", "local[1]", *extra])


def versions(datamart: Path) -> dict[str, int]:
    dm = Datamart(datamart, "shop")
    return {t: DeltaTable(str(dm.path_of(t))).version() for t in ("bronze/customers", "silver/customers")}


@pytest.fixture(scope="module")
def drops(spark, tmp_path_factory):
    """Two exports built, then a third dropped and built again."""
    tmp = tmp_path_factory.mktemp("drops")
    conf, data, datamart = write_domain(tmp), tmp / "data", tmp / "dm"
    export(data, "2024-01", range(0, 5))
    export(data, "2024-02", range(0, 7))
    assert build(conf, data, datamart) == 0
    first = versions(datamart)
    export(data, "2024-03", range(0, 9))
    assert build(conf, data, datamart) == 0
    return conf, data, datamart, first


def test_each_export_file_lands_once_byte_for_byte(drops):
    _, data, datamart, _ = drops
    found = landing.deliveries(Datamart(datamart, "shop").landing(), "customers")
    assert [sorted(f.origin for f in d.files) for d in found] == [
        ["crm/customers_2024-01.csv", "crm/customers_2024-02.csv"], ["crm/customers_2024-03.csv"]]
    for d in found:
        manifest = json.loads((d.path / landing.MANIFEST).read_text())
        assert manifest["source"] == "customers" and manifest["type"] == "file" and manifest["status"] == "landed"
        for f in d.files:
            assert (d.path / f.name).read_bytes() == (data / f.origin).read_bytes()


def test_a_new_drop_is_the_only_file_bronze_ingests(drops):
    _, _, datamart, first = drops
    dm = Datamart(datamart, "shop")
    table = DeltaTable(str(dm.table("bronze", "customers")))
    assert table.version() == first["bronze/customers"] + 1
    rows = table.to_pandas()
    assert len(rows) == 5 + 7 + 9
    last_run = RunLedger(dm.runs, domain="shop").successful_runs()[-1]["run_id"]
    new = rows[rows["_run_id"] == last_run]
    assert len(new) == 9 and set(new["_source_file"].str.rsplit("/", n=1).str[-1]) == {"customers_2024-03.csv"}
    # the commit only added files: the first two exports' rows were not rewritten
    commit = table.history(1)[0]
    assert commit["operation"] in ("WRITE", "APPEND") and commit.get("operationParameters", {}).get("mode") != "Overwrite"
    silver = DeltaTable(str(dm.table("silver", "customers"))).to_pandas()
    assert len(silver) == 21


def test_rerun_with_unchanged_sources_lands_nothing_and_writes_no_version(drops, tmp_path):
    conf, data, datamart, _ = drops
    dm = Datamart(datamart, "shop")
    before_landing = sorted(p.name for p in (dm.landing("customers") / "file").iterdir())
    before = versions(datamart)
    assert build(conf, data, datamart) == 0
    assert sorted(p.name for p in (dm.landing("customers") / "file").iterdir()) == before_landing
    assert versions(datamart) == before
    audit = DeltaTable(str(dm.meta("ingestion"))).to_pandas()
    last = audit[audit["run_id"] == audit["run_id"].max()]
    assert set(last["status"]) == {"unchanged"} and len(last) == 3


def test_collect_subcommand_lands_without_building(tmp_path):
    conf, data, datamart = write_domain(tmp_path), tmp_path / "data", tmp_path / "dm"
    export(data, "2024-01", range(0, 3))
    assert main(["collect", "--config", str(conf), "--data-root", str(data), "--datamart", str(datamart)]) == 0
    dm = Datamart(datamart, "shop")
    assert len(landing.deliveries(dm.landing(), "customers")) == 1
    assert not dm.table("bronze", "customers").exists()
    run = RunLedger(dm.runs, domain="shop").successful_runs()[-1]
    assert run["layers"] == ["landing"] and [i["source"] for i in run["inputs"]] == ["customers"]


def test_collect_every_runs_bounded_rounds(tmp_path):
    conf, data, datamart = write_domain(tmp_path), tmp_path / "data", tmp_path / "dm"
    export(data, "2024-01", range(0, 3))
    assert main(["collect", "--config", str(conf), "--data-root", str(data), "--datamart", str(datamart),
                 "--every", "0.2s", "--rounds", "3"]) == 0
    runs = RunLedger(Datamart(datamart).runs, domain="shop").successful_runs()
    assert len(runs) == 3 and sum(len(r["inputs"]) for r in runs) == 1  # landed once, then unchanged


def test_a_glob_matching_nothing_fails_naming_source_and_pattern(tmp_path, capsys):
    conf, data, datamart = write_domain(tmp_path), tmp_path / "data", tmp_path / "dm"
    (data / "crm").mkdir(parents=True)
    assert build(conf, data, datamart) == 1
    error = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "source customers" in error[0] and "customers_*.csv" in error[0]
    assert not (datamart / "landing" / "shop" / "customers" / "file").exists() or not any(
        p for p in (datamart / "landing" / "shop" / "customers" / "file").iterdir() if not p.name.startswith("."))


def test_an_old_single_domain_datamart_is_refused_with_how_to_rebuild(tmp_path):
    old = tmp_path / "dm" / "bronze" / "lms_loan_daily" / "_delta_log"
    old.mkdir(parents=True)
    with pytest.raises(LayoutError, match=r"older single-domain layout.*python main.py --datamart NEW_DIR"):
        Datamart(tmp_path / "dm", "loan_default").check_layout()


def test_a_killed_collector_leaves_no_visible_delivery(tmp_path):
    root = tmp_path / "landing" / "shop"
    staged = landing.StagedDelivery(root, landing.Delivery("shop", "customers", "file", "x", "run", "t"))
    staged.add_bytes("a.csv", "a.csv", b"id\n1\n")
    assert landing.deliveries(root, "customers") == []  # never published: invisible
    assert landing.clean_stale(root) == 1 and not staged.tmp.exists()


def test_parse_every_reads_periods():
    from utils.ingest.collect import parse_every

    assert [parse_every(x) for x in ("30s", "15m", "1h", "2")] == [30, 900, 3600, 2]
    with pytest.raises(ValueError, match="not a period"):
        parse_every("soon")


def test_ctrl_c_ends_periodic_collection_cleanly_after_the_round(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    conf, data, datamart = write_domain(tmp_path), tmp_path / "data", tmp_path / "dm"
    export(data, "2024-01", range(0, 3))
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, str(root / "main.py"), "collect", "--config", str(conf), "--data-root",
                             str(data), "--datamart", str(datamart), "--every", "1h"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    runs = Datamart(datamart).runs
    while time.monotonic() < deadline and not (runs.exists() and RunLedger(runs).successful_runs()):
        time.sleep(0.2)  # the first round lands the export
    proc.send_signal(signal.SIGINT)  # waiting for the next round: it ends at once
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "1 round(s), 0 failed" in out
    assert len(landing.deliveries(Datamart(datamart, "shop").landing(), "customers")) == 1
