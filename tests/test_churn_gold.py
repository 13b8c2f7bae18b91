"""The churn domain end to end through gold, on a small generated sample (400 customers,
2024-01 .. 2024-08): the leakage guards pass, the population, the churn_60d labels and
the order features equal an independent pandas computation from the raw files (not from
silver), and no personal data reaches silver or gold in clear text. Tables are read with
deltalake; the raw files with pandas."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable

from utils.cli import main
from utils.domains.churn import synthetic
from utils.lake.config import load_config
from utils.ml import train

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}")
PHONE = re.compile(r"(?:\+\d{2} ?\d|\b0\d)(?:[ .]?\d{2}){4}")
START, MONTHS = dt.date(2024, 1, 1), 8


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, Path]:
    """(data root, datamart) after one full build of the sample."""
    root = tmp_path_factory.mktemp("churn_gold")
    data, datamart = root / "data", root / "dm"
    synthetic.generate(data, 400, 11, start=START, months=MONTHS)
    assert main(["--domain", "churn", "--data-root", str(data), "--datamart", str(datamart),
                 "--master", "local[2]"]) == 0
    return data, datamart


def table(datamart: Path, layer: str, name: str) -> pd.DataFrame:
    return DeltaTable(str(datamart / layer / "churn" / name)).to_pandas()


def raw_orders(data: Path) -> pd.DataFrame:
    """Completed orders as silver must keep them, parsed from the raw CSV drops: both
    timestamp formats (offset, or dd/MM/yyyy HH:mm in UTC), negative amounts out."""
    frames = [pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted((data / "orders").glob("*.csv"))]
    orders = pd.concat(frames, ignore_index=True)
    iso = pd.to_datetime(orders["ordered_at"], format="ISO8601", utc=True, errors="coerce")
    till = pd.to_datetime(orders["ordered_at"], format="%d/%m/%Y %H:%M", utc=True, errors="coerce")
    orders["day"] = iso.fillna(till).dt.date
    amount = pd.to_numeric(orders["amount"], errors="coerce")
    keep = (orders["status"] == "completed") & ~(amount < 0) & orders["day"].notna()
    # a completed order delivered twice counts once (silver quarantines the later copy)
    return orders.loc[keep, ["order_id", "customer_id", "day"]].drop_duplicates("order_id")


def raw_logins(data: Path) -> pd.DataFrame:
    """Logins of customers the CRM exported (silver quarantines the others)."""
    rows = [json.loads(line) for p in sorted((data / "events").glob("*.jsonl"))
            for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    events = pd.DataFrame(rows)
    known = set(pd.concat([pd.read_csv(p, dtype=str) for p in (data / "crm").glob("*.csv")])["customer_id"])
    events = events[(events["event_type"] == "login") & events["customer_id"].isin(known)].copy()
    events["day"] = pd.to_datetime(events["occurred_at"], format="ISO8601", utc=True).dt.date
    return events[["customer_id", "day"]]


def month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    ends = pd.date_range(first, last, freq="ME").date
    return [d for d in ends if first <= d <= last]


def expected_population_and_labels(data: Path) -> tuple[set, dict]:
    """(customer, D) active at month end D (a completed order or a login in the 90 days
    up to D), and churn_60d per (customer, D) whose window (D, D+60] closes by the data's
    last event day: 1 when no completed order falls in it."""
    gold = load_config("churn").gold
    orders, logins = raw_orders(data), raw_logins(data)
    activity = pd.concat([orders[["customer_id", "day"]], logins], ignore_index=True)
    data_end = max(orders["day"].max(), logins["day"].max())
    first = max(dt.date.fromisoformat(gold.population_start), START)
    population = set()
    for d in month_ends(first, data_end):
        age = activity["day"].map(lambda day, d=d: (d - day).days)
        population |= {(c, d) for c in activity.loc[(age >= 0) & (age < gold.active_days), "customer_id"]}
    by_customer = orders.groupby("customer_id")["day"].apply(list).to_dict()
    labels = {}
    for customer, d in population:
        closes = d + dt.timedelta(days=60)
        if closes <= data_end:
            labels[(customer, d)] = int(not any(d < day <= closes for day in by_customer.get(customer, [])))
    return population, labels


def test_the_build_passes_every_leakage_guard(built):
    _, datamart = built
    leakage = DeltaTable(str(datamart / "_meta" / "leakage")).to_pandas()
    leakage = leakage[leakage["domain"] == "churn"]
    guards = leakage.groupby("guard")["passed"].agg(["all", "size"])
    assert guards.loc["cutoff", "all"] and guards.loc["replay", "all"], guards
    assert guards.loc["replay", "size"] == 2  # feature and label store
    aucs = leakage[leakage["guard"] == "single_feature_auc"]
    assert len(aucs) > 15 and aucs["value"].max() <= 0.95


def test_population_and_labels_equal_a_pandas_computation_from_the_raw_files(built):
    data, datamart = built
    population, labels = expected_population_and_labels(data)
    features = table(datamart, "gold", "feature_store")
    got_population = set(zip(features["customer_id"], features["snapshot_date"].dt.date if hasattr(
        features["snapshot_date"], "dt") else features["snapshot_date"], strict=True))
    assert got_population == population
    store = table(datamart, "gold", "label_store")
    assert set(store["label_def"]) == {"churn_60d"}
    feature_dates = pd.to_datetime(store["feature_snapshot_date"]).dt.date
    got = dict(zip(zip(store["customer_id"], feature_dates, strict=True), store["label"], strict=True))
    assert got == labels
    assert 0.05 < np.mean(list(got.values())) < 0.6  # churners and stayers both present
    # the window is recorded and is the one the label looked at
    ends = pd.to_datetime(store["window_end"]).dt.date
    assert all(e == f + dt.timedelta(days=60) for e, f in zip(ends, feature_dates, strict=True))
    assert (pd.to_datetime(store["snapshot_date"]).dt.date == ends).all()


def test_order_features_equal_a_pandas_computation_from_the_raw_files(built):
    data, datamart = built
    orders = raw_orders(data)
    features = table(datamart, "gold", "feature_store")
    features["D"] = pd.to_datetime(features["snapshot_date"]).dt.date
    merged = features[["customer_id", "D", "orders_90d", "days_since_order"]].merge(
        orders[["customer_id", "day"]], on="customer_id", how="left")
    merged["age"] = [(d - day).days if isinstance(day, dt.date) else np.nan
                     for d, day in zip(merged["D"], merged["day"], strict=True)]
    known = merged[merged["age"] >= 0]
    expected_90 = known[known["age"] < 90].groupby(["customer_id", "D"]).size()
    expected_recency = known.groupby(["customer_id", "D"])["age"].min()
    keyed = features.set_index(["customer_id", "D"])
    assert (keyed["orders_90d"] == expected_90.reindex(keyed.index, fill_value=0)).all()
    recency = expected_recency.reindex(keyed.index)
    assert ((keyed["days_since_order"] == recency) | (keyed["days_since_order"].isna() & recency.isna())).all()


def _cut_raw(data: Path, out: Path, cut: dt.date) -> None:
    """A copy of the raw files as of the end of day `cut` by event time: CRM exports of
    later months removed, orders, web events and ticket versions after `cut` removed from
    every drop (records dated up to `cut` that arrived in a later drop are kept: gold
    counts an event by its event time)."""
    import shutil

    end = pd.Timestamp(cut + dt.timedelta(days=1), tz="UTC")
    (out / "crm").mkdir(parents=True)
    for path in (data / "crm").glob("customers_*.csv"):
        if path.stem.split("_")[1] <= f"{cut:%Y-%m}":
            shutil.copy(path, out / "crm" / path.name)
    (out / "orders").mkdir()
    for path in (data / "orders").glob("*.csv"):
        rows = pd.read_csv(path, dtype=str, keep_default_na=False)
        iso = pd.to_datetime(rows["ordered_at"], format="ISO8601", utc=True, errors="coerce")
        till = pd.to_datetime(rows["ordered_at"], format="%d/%m/%Y %H:%M", utc=True, errors="coerce")
        kept = rows[~(iso.fillna(till) >= end)]
        if len(kept):
            kept.to_csv(out / "orders" / path.name, index=False)
    for folder, field in (("events", "occurred_at"), ("api", "updated_at")):
        (out / folder).mkdir()
        for path in (data / folder).glob("*.jsonl"):
            lines = [line for line in path.read_text(encoding="utf-8").splitlines()
                     if line.strip() and pd.Timestamp(json.loads(line)[field]) < end]
            if lines:
                (out / folder / path.name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_gold_from_raw_data_cut_at_d_equals_the_full_build_up_to_d(built, tmp_path):
    data, datamart = built
    cut = dt.date.fromisoformat(load_config("churn").gold.replay_cut)
    cut_data, cut_datamart = tmp_path / "data", tmp_path / "dm"
    _cut_raw(data, cut_data, cut)
    assert main(["--domain", "churn", "--data-root", str(cut_data), "--datamart", str(cut_datamart),
                 "--master", "local[2]"]) == 0

    def rows(dm: Path, name: str, date_column: str) -> pd.DataFrame:
        df = table(dm, "gold", name)
        df = df[pd.to_datetime(df[date_column]).dt.date <= cut]
        return df.sort_values(list(df.columns[:2]) + ["snapshot_date"]).reset_index(drop=True)

    full_features, cut_features = rows(datamart, "feature_store", "snapshot_date"), rows(cut_datamart, "feature_store",
                                                                                          "snapshot_date")
    assert len(full_features) > 1000
    pd.testing.assert_frame_equal(full_features, cut_features, check_dtype=False)
    # label rows whose window closes by the cut (their snapshot_date is the window's end)
    full_labels, cut_labels = rows(datamart, "label_store", "window_end"), rows(cut_datamart, "label_store", "window_end")
    assert len(full_labels) > 500
    pd.testing.assert_frame_equal(full_labels, cut_labels, check_dtype=False)


def test_models_beat_the_recency_baseline_out_of_time(built, tmp_path):
    _, datamart = built
    out = tmp_path / "model"
    assert train.main(["--domain", "churn", "--datamart", str(datamart), "--holdout-months", "2",
                       "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["domain"], metrics["label_def"]) == ("churn", "churn_60d")
    assert set(metrics["models"]) == {"logistic_regression", "random_forest", "hist_gradient_boosting"}
    assert metrics["baseline"]["feature"] == "days_since_order"  # gold.baseline of conf/churn.yaml
    for m in [*metrics["models"].values(), metrics["baseline"]]:
        assert {"accuracy", "precision", "recall", "f1", "auc", "pr_auc"} <= set(m["test"])
    split = metrics["split"]
    assert split["test_months"] == ["2024-05-31", "2024-06-30"] and split["cut"] == "2024-05-31"
    # trained only on rows whose 60-day window closed before the cut (D <= 2024-03-31)
    assert max(split["train_months"]) == "2024-03-31" and split["embargo_rows_dropped"] > 0
    assert metrics["table_versions"] == {
        n: DeltaTable(str(datamart / "gold" / "churn" / n)).version() for n in ("feature_store", "label_store")}
    best = metrics["models"][metrics["best_model"]]["test"]["auc"]
    assert best > metrics["baseline"]["test"]["auc"] and metrics["best_beats_baseline"]


def test_no_personal_data_in_silver_or_gold(built):
    data, datamart = built
    crm = pd.concat([pd.read_csv(p, dtype=str) for p in (data / "crm").glob("*.csv")])
    names = {n.lower() for n in crm["name"].dropna()}
    tables = [("silver", t) for t in ("customers", "orders", "web_events", "support_tickets")]
    tables += [("gold", "feature_store"), ("gold", "label_store")]
    scanned = 0
    for layer, name in tables:
        df = table(datamart, layer, name)
        assert not {"name", "email", "phone", "mobile_phone", "birth_date"} & set(df.columns), (layer, name)
        for column in df.columns:
            if df[column].dtype != object:
                continue
            values = df[column].dropna().astype(str)
            values = values[~values.str.fullmatch(r"[0-9a-f]{64}")]  # keyed hashes may begin like 0338343930
            scanned += len(values)
            assert not values.str.contains(EMAIL).any(), (layer, name, column)
            assert not values.str.contains(PHONE).any(), (layer, name, column)
            assert not values.str.lower().isin(names).any(), (layer, name, column)
            assert not any(n in v for v in values.str.lower().head(2000) for n in list(names)[:50]), (layer, name, column)
    assert scanned > 10_000
    # the birth date reaches silver only as an age band at the export
    customers = table(datamart, "silver", "customers")
    assert set(customers["age_band"].dropna()) <= {"under 25", "25-34", "35-44", "45-54", "55-64", "65+"}
    raw = crm.drop_duplicates("customer_id").set_index("customer_id")["birth_date"]
    one = customers.dropna(subset=["age_band"]).iloc[0]
    age = (pd.Timestamp(one["snapshot_date"]) - pd.Timestamp(raw[one["customer_id"]])).days / 365.25
    bands = [(25, "under 25"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64"), (200, "65+")]
    assert one["age_band"] == next(b for limit, b in bands if int(age) < limit)


def test_churn_catalogue_and_formulation_are_current():
    from utils.lake.paths import PROJECT_ROOT
    from utils.present import docs

    assert docs.main(["--check", "--config", str(PROJECT_ROOT / "conf" / "churn.yaml"),
                      "--out", str(PROJECT_ROOT / "docs" / "churn" / "feature_catalogue.md"),
                      "--formulation", str(PROJECT_ROOT / "docs" / "churn" / "problem_formulation.md")]) == 0


def test_churn_notebook_runs_top_to_bottom_and_draws_its_figures(built, tmp_path, monkeypatch):
    from conftest import run_notebook

    data, datamart = built
    _, figures = run_notebook("churn", "churn.ipynb", {
        "LAKEHOUSE_DATAMART": str(datamart), "LAKEHOUSE_DATA_ROOT": str(data), "LAKEHOUSE_SPARK_MASTER": "local[2]",
        "LAKEHOUSE_HOLDOUT_MONTHS": "2"}, tmp_path, monkeypatch)
    assert figures >= 9


def test_churn_deck_reads_its_numbers_from_the_run_and_fits_ten_slides(built, tmp_path, caplog):
    import re as regex

    from utils.present import deck
    from utils.present.deck.gather import gather_facts
    from utils.present.deck.runs import resolve_run

    _, datamart = built
    out = tmp_path / "churn.pdf"
    with caplog.at_level("WARNING"):
        assert deck.main(["--domain", "churn", "--datamart", str(datamart), "--out", str(out)]) == 0
    pages = regex.findall(rb"/Type\s*/Page\b(?!s)", out.read_bytes())
    assert 0 < len(pages) <= 10
    assert not [r for r in caplog.records if "into the footer" in r.getMessage()]  # every table fits its slide
    facts = gather_facts(datamart, resolve_run(datamart, None, "churn")[0]["run_id"])
    labels = table(datamart, "gold", "label_store")
    assert (facts.label.label_def, facts.label.total, facts.label.positives) == (
        "churn_60d", len(labels), int(labels["label"].sum()))
    assert facts.label.unit == "customer" and "60 days after D" in facts.label.rule


def test_churn_gold_exports_into_postgresql_with_every_row(built, postgres_url):
    """The churn gold tables in the PostgreSQL on 127.0.0.1 (skipped without one): the
    DDL applied, the row counts equal, the label store keyed by its contract."""
    import uuid

    import psycopg

    from utils.warehouse import export

    url = postgres_url
    pg = psycopg.connect(url, connect_timeout=3, autocommit=True)
    _, datamart = built
    prefix = f"churn_test_{uuid.uuid4().hex[:8]}"
    try:
        result = export.export_warehouse(url, datamart, "churn", load_config("churn"), prefix=prefix)
        for name in ("feature_store", "label_store"):
            rows = len(table(datamart, "gold", name))
            assert pg.execute(f'SELECT count(*) FROM "{prefix}_gold"."{name}"').fetchone()[0] == rows == \
                result.rows[f"gold.{name}"] > 0
        key = pg.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                         "AND contype = 'p'", (f'"{prefix}_gold"."label_store"',)).fetchone()
        churners = pg.execute(f'SELECT sum(label) FROM "{prefix}_gold"."label_store"').fetchone()[0]
        assert churners == int(table(datamart, "gold", "label_store")["label"].sum())
    finally:
        for (schema,) in pg.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (f"{prefix}%",)).fetchall():
            pg.execute(f'DROP SCHEMA "{schema}" CASCADE')
        pg.close()
    assert key == ("PRIMARY KEY (customer_id, feature_snapshot_date, label_def)",)
