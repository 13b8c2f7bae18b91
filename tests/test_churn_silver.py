"""The churn domain end to end through bronze and silver, on a tiny generated sample
(300 customers, 2024-05 .. 2024-08, so the CRM drift of 2024-07 is inside): every raw
record reaches bronze, bronze = silver + quarantine, no personal data leaves bronze in
clear text, the renamed phone column is absorbed, and the dirt ends where conf/churn.yaml
sends it. Tables are read with deltalake (no Spark beyond the build)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable

from utils.cli import main
from utils.domains.churn import synthetic
from utils.lake.config import CONF_DIR, json_schema, load_config

CHURN_YAML = CONF_DIR / "churn.yaml"
TABLES = ("customers", "orders", "web_events", "support_tickets")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+(?:@| at )[A-Za-z0-9-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?:\+\d{2} ?\d|\b0\d)(?:[ .]?\d{2}){4}")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path, synthetic.Manifest]:
    """(data root, datamart, manifest) after one bronze+silver build of the tiny sample."""
    root = tmp_path_factory.mktemp("churn")
    data, datamart = root / "data", root / "dm"
    manifest = synthetic.generate(data, 300, 11, start=dt.date(2024, 5, 1), months=4)
    assert main(["--domain", "churn", "--data-root", str(data), "--datamart", str(datamart),
                 "--layers", "bronze,silver", "--master", "local[1]"]) == 0
    return data, datamart, manifest


def table(datamart: Path, layer: str, name: str) -> pd.DataFrame:
    return DeltaTable(str(datamart / layer / "churn" / name)).to_pandas()


def test_churn_yaml_validates_against_the_schema_and_points_editors_at_it():
    jsonschema = pytest.importorskip("jsonschema")
    text = CHURN_YAML.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# yaml-language-server: $schema=schema.json"
    jsonschema.validate(json.loads(json.dumps(yaml.safe_load(text), default=str)), json_schema())
    config = load_config(path=CHURN_YAML)
    assert list(config.sources) == list(TABLES) and list(config.silver) == list(TABLES)
    assert yaml.safe_load(text)["gold"]["population"]["kind"] == "active"


def test_every_raw_record_reaches_bronze(built):
    data, datamart, manifest = built
    folders = {"customers": "crm", "orders": "orders", "web_events": "events", "support_tickets": "api"}
    for name, folder in folders.items():
        records = 0
        for path in (data / folder).iterdir():
            lines = path.read_text(encoding="utf-8").splitlines()
            records += len(lines) - 1 if path.suffix == ".csv" else len(lines)
        assert len(table(datamart, "bronze", name)) == records == manifest.rows[name], name


def test_bronze_is_silver_plus_quarantine_in_every_partition(built):
    _, datamart, _ = built
    quarantine = table(datamart, "silver", "_quarantine")
    for name in TABLES:
        bronze = table(datamart, "bronze", name).groupby("snapshot_date").size()
        silver = table(datamart, "silver", name).groupby("snapshot_date").size()
        rejected = quarantine[quarantine["table"] == name].groupby("snapshot_date").size()
        assert bronze.index.notna().all() and len(bronze) == 4, name  # one partition per month
        assert bronze.to_dict() == silver.add(rejected, fill_value=0).astype(int).to_dict(), name


def test_no_name_email_phone_or_birth_date_leaves_bronze_in_clear_text(built):
    data, datamart, _ = built
    crm = pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False) for p in (data / "crm").glob("*.csv")])
    names = re.compile("|".join(re.escape(n) for n in sorted(set(crm["name"]))))
    births = set(crm["birth_date"])
    for name in (*TABLES, "_quarantine"):
        df = table(datamart, "silver", name)
        assert not {"name", "email", "phone", "mobile_phone", "birth_date"} & set(df.columns), name
        for column in df.columns:
            values = df[column].dropna()
            if column == "raw_values":  # the quarantine's bronze text, a list of (key, value)
                values = pd.Series([v for pairs in values for _, v in pairs if v is not None])
            elif not pd.api.types.is_string_dtype(values) or column in ("_source_file",):
                continue
            values = values.astype(str)
            # a keyed hash (64 hex digits) may begin like a phone number (0338343930...)
            values = values[~values.str.fullmatch(r"[0-9a-f]{64}")]
            hits = values[values.str.contains(EMAIL) | values.str.contains(PHONE) | values.str.contains(names)
                          | values.isin(births)]
            assert hits.empty, f"{name}.{column}: {hits.head(3).tolist()}"


def test_the_phone_renamed_mobile_phone_in_2024_07_is_hashed_all_the_same(built):
    _, datamart, _ = built
    customers = table(datamart, "silver", "customers")
    customers["month"] = customers["snapshot_date"].astype(str)
    assert customers["phone_hash"].notna().all()  # before and after the rename
    july = customers[customers["month"] == "2024-07-01"].set_index("customer_id")["phone_hash"]
    june = customers[customers["month"] == "2024-06-01"].set_index("customer_id")["phone_hash"]
    assert len(june) > 0 and (july.loc[june.index] == june).all()  # the same number, the same hash
    opt_in = customers.groupby("month")["marketing_opt_in"].apply(lambda s: s.notna().all())
    assert opt_in.to_dict() == {"2024-05-01": False, "2024-06-01": False, "2024-07-01": True, "2024-08-01": True}
    assert customers.loc[customers["month"] < "2024-07-01", "marketing_opt_in"].isna().all()


def test_order_dirt_is_quarantined_or_flagged_as_declared(built):
    _, datamart, manifest = built
    quarantine = table(datamart, "silver", "_quarantine")
    rules = quarantine.loc[quarantine["table"] == "orders", "rule"].value_counts().to_dict()
    assert rules == {"unique_order_event": manifest.dirt["duplicate_orders"],
                     "non_negative_amount": manifest.dirt["negative_amounts"],
                     "refund_has_order": manifest.dirt["orphan_refunds"]}
    reasons = set(quarantine.loc[quarantine["rule"] == "refund_has_order", "reason"])
    assert reasons == {"refund_has_order: no row in silver/orders matching status = 'completed' with the same order_id"}
    orders = table(datamart, "silver", "orders")
    assert orders["amount_invalid"].sum() == manifest.dirt["absurd_amounts"]
    assert orders.loc[orders["amount_invalid"], "amount"].isna().all()
    assert not orders["ordered_at_invalid"].any() and orders["ordered_at"].notna().all()


def test_both_timestamp_formats_are_read_as_utc(built):
    data, datamart, _ = built
    orders = table(datamart, "silver", "orders").set_index(["order_id", "status"])
    raw = pd.read_csv(data / "orders" / "orders_2024-06.csv", dtype=str)
    for _, row in raw.drop_duplicates(["order_id", "status"]).head(200).iterrows():
        text = row["ordered_at"]
        if "T" in text:
            expected = pd.Timestamp(text).tz_convert("UTC")
        else:
            expected = pd.Timestamp(dt.datetime.strptime(text, "%d/%m/%Y %H:%M"), tz="UTC")
        got = orders.loc[(row["order_id"], row["status"]), "ordered_at"]
        assert pd.Timestamp(got).tz_convert("UTC") == expected, text


def test_late_events_land_in_the_month_they_happened(built):
    _, datamart, manifest = built
    events = table(datamart, "silver", "web_events")
    occurred = pd.to_datetime(events["occurred_at"], utc=True).dt.strftime("%Y-%m-01")
    assert (occurred == events["snapshot_date"].astype(str)).all()
    drop = events["_source_file"].str.extract(r"web_events_(\d{4}-\d{2})\.jsonl$")[0] + "-01"
    assert (drop != occurred).sum() == manifest.dirt["late_events"]


def test_unknown_customers_and_ticket_contact_data_are_counted_in_meta_quality(built):
    _, datamart, manifest = built
    quality = DeltaTable(str(datamart / "_meta" / "quality")).to_pandas()
    failed = quality.groupby(["table", "rule"])["rows_failed"].sum()
    assert failed[("silver/web_events", "known_customer")] == manifest.dirt["unknown_customer_events"]
    assert failed[("silver/support_tickets", "valid_text")] == manifest.dirt["contact_in_ticket_texts"]
    tickets = table(datamart, "silver", "support_tickets")
    assert tickets["text_has_contact"].sum() == manifest.dirt["contact_in_ticket_texts"]
    empty_or_contact = manifest.dirt["empty_ticket_texts"] + manifest.dirt["contact_in_ticket_texts"]
    assert tickets["text"].isna().sum() == empty_or_contact
    assert tickets["satisfaction"].dropna().between(1, 5).all()
    assert tickets["satisfaction"].isna().sum() == manifest.dirt["unanswered_satisfaction"]
