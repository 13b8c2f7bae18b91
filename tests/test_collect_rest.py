"""A REST source end to end against the real demo server on 127.0.0.1: every fault in
turn, the records land exactly once, the audit shows the retries, bronze reads landing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from deltalake import DeltaTable

from utils.cli import main
from utils.ingest import demo_api, landing
from utils.lake.datamart import Datamart

N = 45  # records on the server: 5 pages of 10


def records(n: int = N) -> list[dict]:
    return [{"id": f"T{i:03d}", "updated_at": f"2024-0{1 + i % 3}-{1 + i % 28:02d}T10:00:00Z",
             "customer": {"id": f"C{i % 7}"}, "text": f"ticket {i}"} for i in range(n)]


def write_domain(tmp_path: Path, url: str, **api) -> Path:
    body = {"url": url, "records": "data", "pagination": "page", "page_size": 10, "timeout_s": 0.5,
            "max_attempts": 6, **api}
    conf = {
        "domain": "shop",
        "sources": {"tickets": {
            "format": "json", "api": body,
            "json": {"fields": {"id": "id", "updated_at": "updated_at", "customer_id": "customer.id", "text": "text"}},
            "date_column": "updated_at", "date_formats": ["yyyy-MM-dd'T'HH:mm:ssX"],
            "required_columns": ["id", "updated_at", "customer_id", "text"], "keys": ["id"],
        }},
    }
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(conf), encoding="utf-8")
    return path


def landed_ids(datamart: Path) -> list[str]:
    out = []
    for d in landing.deliveries(Datamart(datamart, "shop").landing(), "tickets"):
        for f in d.files:
            out += [r["id"] for r in json.loads((d.path / f.name).read_bytes())["data"]]
    return out


def audit(datamart: Path):
    return DeltaTable(str(Datamart(datamart).meta("ingestion"))).to_pandas()


@pytest.fixture(scope="module")
def server():
    data = {"shop/tickets": records()}
    faults = demo_api.Faults()
    app = demo_api.create_app(data, faults)
    with demo_api.serve(app) as url:
        yield url, app


FAULTS = {
    "rate-limit": dict(rate_limit_every=3, retry_after_s=0.2),
    "5xx-burst": dict(burst_5xx=2, burst_every=3),
    "slow": dict(slow_every=3, slow_s=1.5),
    "malformed-page": dict(malformed_every=3),
    "dropped-connection": dict(drop_every=3),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_fault_still_lands_each_record_exactly_once(server, tmp_path, fault):
    url, app = server
    app.faults = demo_api.Faults(**FAULTS[fault])
    conf, datamart = write_domain(tmp_path, f"{url}/shop/tickets"), tmp_path / "dm"
    assert main(["collect", "--config", str(conf), "--datamart", str(datamart), "--data-root", str(tmp_path)]) == 0
    assert sorted(landed_ids(datamart)) == sorted(r["id"] for r in records())
    rows = audit(datamart)
    retries = rows[rows["status"] == "retry"]
    assert len(retries) >= 1, fault
    assert (rows["status"] == "landed").sum() == 1
    assert rows.loc[rows["status"] == "landed", "records"].item() == N


def test_bronze_reads_the_landed_pages_not_the_server(server, tmp_path, spark):
    url, app = server
    app.faults = demo_api.Faults()
    conf, datamart = write_domain(tmp_path, f"{url}/shop/tickets"), tmp_path / "dm"
    assert main(["--config", str(conf), "--datamart", str(datamart), "--data-root", str(tmp_path),
                 "--layers", "bronze"]) == 0
    bronze = DeltaTable(str(Datamart(datamart, "shop").table("bronze", "tickets"))).to_pandas()
    assert len(bronze) == N and sorted(bronze["id"]) == sorted(r["id"] for r in records())
    assert set(bronze["customer_id"]) == {f"C{i}" for i in range(7)}
    assert bronze["_source_file"].str.startswith("landing/shop/tickets/api/").all()
    # unchanged on the server: nothing lands, bronze keeps its version
    version = DeltaTable(str(Datamart(datamart, "shop").table("bronze", "tickets"))).version()
    assert main(["--config", str(conf), "--datamart", str(datamart), "--data-root", str(tmp_path),
                 "--layers", "bronze"]) == 0
    assert len(landing.deliveries(Datamart(datamart, "shop").landing(), "tickets")) == 1
    assert DeltaTable(str(Datamart(datamart, "shop").table("bronze", "tickets"))).version() == version


def test_incremental_cursor_brings_only_new_records(tmp_path):
    data = {"shop/tickets": records(20)}
    app = demo_api.create_app(data, demo_api.Faults())
    with demo_api.serve(app) as url:
        conf = write_domain(tmp_path, f"{url}/shop/tickets",
                            incremental={"param": "updated_since", "field": "updated_at"})
        datamart = tmp_path / "dm"
        args = ["collect", "--config", str(conf), "--datamart", str(datamart), "--data-root", str(tmp_path)]
        assert main(args) == 0
        first = landing.deliveries(Datamart(datamart, "shop").landing(), "tickets")
        assert len(first) == 1 and first[0].records == 20 and first[0].cursor == max(r["updated_at"] for r in records(20))
        assert main(args) == 0  # nothing new: nothing lands
        assert len(landing.deliveries(Datamart(datamart, "shop").landing(), "tickets")) == 1
        data["shop/tickets"].append({"id": "T999", "updated_at": "2024-12-31T00:00:00Z",
                                     "customer": {"id": "C1"}, "text": "late"})
        assert main(args) == 0
        second = landing.deliveries(Datamart(datamart, "shop").landing(), "tickets")[-1]
        assert second.records == 1 and second.cursor == "2024-12-31T00:00:00Z"
    assert sorted(landed_ids(datamart)) == sorted([r["id"] for r in records(20)] + ["T999"])


def test_a_server_that_stays_down_fails_in_one_line_and_changes_nothing(server, tmp_path, capsys):
    url, app = server
    app.faults = demo_api.Faults(down=True)
    conf, datamart = write_domain(tmp_path, f"{url}/shop/tickets", max_attempts=3), tmp_path / "dm"
    assert main(["--config", str(conf), "--datamart", str(datamart), "--data-root", str(tmp_path)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "tickets" in errors[0] and f"{url}/shop/tickets" in errors[0]
    assert landing.deliveries(Datamart(datamart, "shop").landing(), "tickets") == []
    assert not Datamart(datamart, "shop").table("bronze", "tickets").exists()
    assert not Datamart(datamart).runs.exists()  # the run never started: no ledger row
    rows = audit(datamart)
    assert (rows["status"] == "retry").sum() + (rows["status"] == "failed").sum() >= 3
    assert (rows["http_status"] == 503).sum() >= 3


def test_demo_placeholder_starts_the_server_in_process(tmp_path):
    (tmp_path / "api").mkdir()
    (tmp_path / "api" / "tickets.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records(12)))
    conf, datamart = write_domain(tmp_path, "demo://shop/tickets"), tmp_path / "dm"
    assert main(["collect", "--config", str(conf), "--datamart", str(datamart), "--data-root", str(tmp_path)]) == 0
    assert sorted(landed_ids(datamart)) == sorted(r["id"] for r in records(12))
    origin = landing.deliveries(Datamart(datamart, "shop").landing(), "tickets")[0].origin
    assert origin.startswith("http://127.0.0.1:")
