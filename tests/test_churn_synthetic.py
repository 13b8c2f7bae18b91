"""The churn sample generator: determinism, the dirt it declares is the dirt its files
hold (counted here from the files), schema drift, late events, speed, the planted
churn signal, and ensure_sample. Pure pandas on small samples (no Spark)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.domains import churn
from utils.domains.churn import synthetic

CUSTOMERS, SEED = 300, 11
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
LEGACY = re.compile(r"^\d{2}/\d{2}/\d{4} \d{2}:\d{2}$")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z.]{2,}")
PHONE = re.compile(r"(?:\+\d{2} ?\d|\b0\d)(?:[ .]?\d{2}){4}")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, synthetic.Manifest, float]:
    """300 customers over the default two years: (folder, manifest, seconds taken)."""
    out = tmp_path_factory.mktemp("churn")
    began = time.perf_counter()
    manifest = synthetic.generate(out, CUSTOMERS, SEED)
    return out, manifest, time.perf_counter() - began


@pytest.fixture(scope="module")
def orders(sample) -> pd.DataFrame:
    out = sample[0]
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False).assign(file=p.name)
                      for p in sorted((out / "orders").glob("orders_*.csv"))], ignore_index=True)


@pytest.fixture(scope="module")
def events(sample) -> pd.DataFrame:
    rows = []
    for path in sorted((sample[0] / "events").glob("web_events_*.jsonl")):
        drop = path.stem.removeprefix("web_events_")
        rows += [{**json.loads(line), "drop": drop} for line in path.read_text(encoding="utf-8").splitlines()]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def tickets(sample) -> pd.DataFrame:
    lines = (sample[0] / synthetic.TICKETS_FILE).read_text(encoding="utf-8").splitlines()
    return pd.DataFrame([json.loads(line) for line in lines])


def last_crm(out: Path) -> pd.DataFrame:
    return pd.read_csv(max((out / "crm").glob("customers_*.csv")), dtype=str, keep_default_na=False)


def test_the_same_seed_writes_identical_bytes_and_another_seed_does_not(sample, tmp_path):
    out, _, _ = sample
    synthetic.generate(tmp_path / "again", CUSTOMERS, SEED)
    synthetic.generate(tmp_path / "other", CUSTOMERS, SEED + 1)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((out / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    month = "orders/orders_2024-01.csv"
    assert (out / month).read_bytes() != (tmp_path / "other" / month).read_bytes()


def test_a_sample_of_300_customers_is_fast_and_complete(sample):
    out, manifest, seconds = sample
    assert seconds < 10
    assert len(manifest.files) == 24 * 3 + 1
    assert {p.name for p in out.iterdir()} == {"crm", "orders", "events", "api", synthetic.MANIFEST_FILE}
    assert all(rows > 0 for rows in manifest.rows.values())


def test_the_manifest_counts_the_records_each_file_holds(sample):
    out, manifest, _ = sample
    assert json.loads((out / synthetic.MANIFEST_FILE).read_text()) == json.loads(manifest.to_json())
    for name, records in manifest.files.items():
        lines = (out / name).read_text(encoding="utf-8").splitlines()
        assert records == (len(lines) - 1 if name.endswith(".csv") else len(lines)), name


def test_every_dirt_kind_is_present(sample):
    dirt = sample[1].dirt
    assert set(dirt) == {"absurd_amounts", "contact_in_ticket_texts", "duplicate_orders", "empty_ticket_texts",
                         "invalid_emails", "late_events", "legacy_timestamps", "negative_amounts", "orphan_refunds",
                         "plan_changes", "unanswered_satisfaction", "unknown_customer_events"}
    assert all(count > 0 for count in dirt.values()), dirt


def test_order_dirt_counts_match_the_order_files(sample, orders):
    dirt = sample[1].dirt
    assert orders.duplicated(["order_id", "status"]).sum() == dirt["duplicate_orders"]
    completed = set(orders.loc[orders["status"] == "completed", "order_id"])
    refunds = orders.loc[orders["status"] == "refunded", "order_id"]
    assert (~refunds.isin(completed)).sum() == dirt["orphan_refunds"]
    amount = orders["amount"].astype(float)
    assert (amount < 0).sum() == dirt["negative_amounts"]
    assert (amount > 5000).sum() == dirt["absurd_amounts"]


def test_order_times_come_in_two_formats_store_tills_in_the_legacy_one(sample, orders):
    legacy = orders["ordered_at"].str.match(LEGACY)
    assert (legacy | orders["ordered_at"].str.match(ISO)).all()
    assert legacy.sum() == sample[1].dirt["legacy_timestamps"]
    assert legacy[orders["channel"] == "store"].all()
    assert 0.05 < legacy.mean() < 0.3  # the ISO format dominates


def test_event_dirt_counts_match_the_event_files(sample, events):
    dirt = sample[1].dirt
    known = set(last_crm(sample[0])["customer_id"])
    assert (~events["customer_id"].isin(known)).sum() == dirt["unknown_customer_events"]
    own_month = events["occurred_at"].str[:7]
    late = own_month != events["drop"]
    assert late.sum() == dirt["late_events"]
    previous = (pd.PeriodIndex(events.loc[late, "drop"], freq="M") - 1).astype(str)
    assert (own_month[late].to_numpy() == np.asarray(previous)).all()  # exactly one month late
    assert events["event_id"].is_unique


def test_events_nest_the_device_with_an_app_version_off_the_desktop(events):
    device = pd.DataFrame(list(events["device"]))
    assert set(device.columns) == {"type", "os", "app_version"}
    assert device.loc[device["type"] == "desktop", "app_version"].isna().all()
    assert device.loc[device["type"] != "desktop", "app_version"].str.match(r"^\d+\.\d+\.\d+$").all()


def test_ticket_dirt_counts_match_the_api_file(sample, tickets):
    dirt = sample[1].dirt
    assert (tickets["text"] == "").sum() == dirt["empty_ticket_texts"]
    contact = tickets["text"].str.contains(EMAIL) | tickets["text"].str.contains(PHONE)
    assert contact.sum() == dirt["contact_in_ticket_texts"]
    assert tickets["satisfaction"].isna().sum() == dirt["unanswered_satisfaction"]
    assert tickets["satisfaction"].dropna().between(1, 5).all()


def test_tickets_are_sorted_as_the_demo_api_serves_them(tickets):
    assert tickets["id"].is_unique
    assert list(zip(tickets["updated_at"], tickets["id"])) == sorted(zip(tickets["updated_at"], tickets["id"]))
    assert (tickets["updated_at"] >= tickets["created_at"]).all()


def test_crm_renames_phone_and_adds_opt_in_from_2024_07(sample):
    out, manifest, _ = sample
    headers = {p.stem[-7:]: p.read_text(encoding="utf-8").splitlines()[0].split(",")
               for p in (out / "crm").glob("customers_*.csv")}
    for month, header in headers.items():
        drifted = month >= "2024-07"
        assert ("mobile_phone" in header and "marketing_opt_in" in header) == drifted, month
        assert ("phone" in header) != drifted, month
    assert manifest.drift["from_month"] == "2024-07" and manifest.drift["files"] == 6


def test_each_crm_file_is_a_full_snapshot_at_its_month_end(sample):
    out = sample[0]
    seen: set[str] = set()
    for path in sorted((out / "crm").glob("customers_*.csv")):
        crm = pd.read_csv(path, dtype=str, keep_default_na=False)
        month_end = (pd.Period(path.stem[-7:], freq="M").end_time.date()).isoformat()
        assert (crm["export_date"] == month_end).all() and (crm["signup_date"] <= month_end).all()
        assert seen <= set(crm["customer_id"]) and crm["customer_id"].is_unique
        seen = set(crm["customer_id"])
    assert len(seen) == CUSTOMERS
    assert (~last_crm(out)["email"].str.contains("@")).sum() == sample[1].dirt["invalid_emails"]


def test_churners_visit_the_cancel_and_pricing_pages_more_before_their_last_order(tmp_path):
    """Churner: no completed order in the 60+ days before the data ends. Per customer,
    cancel-page and pricing-page visits in the 60 days before their last order. 1,500
    customers: with 300 the groups' counts are too small to tell. (Without the planted
    signal the ratios are 0.7-1.1 on seeds 1, 2, 3, 11; with it 2.8-4.2 and 1.6-1.9.)"""
    synthetic.generate(tmp_path, 1500, SEED)
    orders = pd.concat([pd.read_csv(p, dtype=str) for p in sorted((tmp_path / "orders").glob("*.csv"))])
    events = pd.DataFrame([json.loads(line) for p in sorted((tmp_path / "events").glob("*.jsonl"))
                           for line in p.read_text(encoding="utf-8").splitlines()])
    completed = orders[orders["status"] == "completed"]
    text = completed["ordered_at"]
    at = pd.to_datetime(text, format="%Y-%m-%dT%H:%M:%S%z", errors="coerce", utc=True).fillna(
        pd.to_datetime(text, format="%d/%m/%Y %H:%M", errors="coerce", utc=True))
    last = at.groupby(completed["customer_id"]).max()
    churner = last < pd.Timestamp("2024-12-31", tz="UTC") - pd.Timedelta(days=60)
    events = events.assign(at=pd.to_datetime(events["occurred_at"], utc=True),
                           last=events["customer_id"].map(last))
    before = events[(events["at"] <= events["last"]) & (events["at"] > events["last"] - pd.Timedelta(days=60))]
    visits = before.groupby(["customer_id", "event_type"]).size().unstack(fill_value=0).reindex(last.index,
                                                                                               fill_value=0)
    assert 0.2 < churner.mean() < 0.8  # both groups are there
    ratio = {page: visits.loc[churner, page].mean() / visits.loc[~churner, page].mean()
             for page in ("cancel_page", "pricing_page")}
    assert ratio["cancel_page"] > 2.0 and ratio["pricing_page"] > 1.4, ratio


def test_ensure_sample_generates_only_when_there_is_no_crm_folder(tmp_path):
    root = tmp_path / "churn"
    assert churn.ensure_sample(root, customers=20, seed=3) is True
    assert (root / "crm").is_dir() and (root / synthetic.MANIFEST_FILE).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["churn"]  # no staging folder left behind
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    assert churn.ensure_sample(root, customers=20, seed=3) is False
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_the_command_line_writes_a_short_calendar(tmp_path):
    assert synthetic.main(["--customers", "20", "--start", "2024-11", "--months", "2", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "orders").iterdir()) == ["orders_2024-11.csv", "orders_2024-12.csv"]
    with pytest.raises(SystemExit) as exit_info:
        synthetic.main(["--start", "2024-11-15", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
