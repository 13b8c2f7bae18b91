"""The recommendation sample generator: determinism, the file contract (names, columns,
fields), the dirt it declares is the dirt its files hold (counted here from the
files), the planted behaviour (long tail, cold start, carts before purchases, items
priced as the catalog was, a personal signal beyond popularity) and ensure_sample.
Pure pandas on a small sample (no Spark)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.domains import recommendation
from utils.domains.recommendation import synthetic

USERS, SEED, START, MONTHS = 300, 5, dt.date(2024, 1, 1), 6
MONTH_NAMES = [f"2024-{m:02d}" for m in range(1, MONTHS + 1)]
LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
EVENT_FIELDS = ["event_id", "session_id", "user_id", "event_type", "product_id", "occurred_at", "device", "item",
                "rating"]
DIRT = {"bot_events", "bot_sessions", "category_changes", "duplicate_events", "rating_out_of_scale",
        "unknown_product_events", "unknown_user_events"}


def generate(out: Path, seed: int = SEED) -> synthetic.Manifest:
    return synthetic.generate(out, USERS, seed, start=START, months=MONTHS)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, synthetic.Manifest, float]:
    """300 users over six months: (folder, manifest, seconds taken)."""
    out = tmp_path_factory.mktemp("reco")
    began = time.perf_counter()
    manifest = generate(out)
    return out, manifest, time.perf_counter() - began


@pytest.fixture(scope="module")
def users(sample) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False).assign(file=p.stem[-7:])
                      for p in sorted((sample[0] / "users").glob("users_*.csv"))], ignore_index=True)


@pytest.fixture(scope="module")
def orders(sample) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, dtype=str, keep_default_na=False).assign(file=p.stem[-7:])
                      for p in sorted((sample[0] / "orders").glob("orders_*.csv"))], ignore_index=True)


@pytest.fixture(scope="module")
def events(sample) -> pd.DataFrame:
    rows = []
    for path in sorted((sample[0] / "clickstream").glob("clickstream_*.jsonl")):
        channel, month = path.stem.split("_")[1:]
        rows += [{**record, "channel": channel, "file": month} for record in read_jsonl(path)]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def products(sample) -> pd.DataFrame:
    return pd.DataFrame(read_jsonl(sample[0] / synthetic.PRODUCTS_FILE))


@pytest.fixture(scope="module")
def scores(sample) -> pd.DataFrame:
    return pd.DataFrame(read_jsonl(sample[0] / synthetic.SCORES_FILE))


def bot_session_ids(events: pd.DataFrame) -> set[str]:
    sizes = events.groupby("session_id").size()
    return set(sizes[sizes >= 1000].index)


def test_the_same_arguments_write_identical_bytes_and_another_seed_does_not(sample, tmp_path):
    out = sample[0]
    generate(tmp_path / "again")
    generate(tmp_path / "other", SEED + 1)
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "again") for p in (tmp_path / "again").rglob("*") if p.is_file())
    assert all((out / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)
    name = "clickstream/clickstream_web_2024-02.jsonl"
    assert (out / name).read_bytes() != (tmp_path / "other" / name).read_bytes()


def test_a_small_sample_is_fast_and_has_every_file(sample):
    out, manifest, seconds = sample
    assert seconds < 10
    expected = ({f"users/users_{m}.csv" for m in MONTH_NAMES} | {f"orders/orders_{m}.csv" for m in MONTH_NAMES}
                | {f"clickstream/clickstream_{c}_{m}.jsonl" for c in ("web", "mobile") for m in MONTH_NAMES}
                | {"api/products.jsonl", "api/product_scores.jsonl"})
    assert set(manifest.files) == expected
    assert {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()} == expected | {synthetic.MANIFEST_FILE}
    assert all(rows > 0 for rows in manifest.rows.values())
    assert json.loads((out / synthetic.MANIFEST_FILE).read_text()) == json.loads(manifest.to_json())
    for name, records in manifest.files.items():
        lines = (out / name).read_text(encoding="utf-8").splitlines()
        assert records == (len(lines) - 1 if name.endswith(".csv") else len(lines)), name


def test_csv_files_have_the_contract_columns(sample):
    out = sample[0]
    for folder, header in (("users", "user_id,name,email,country,signup_at"),
                           ("orders", "order_id,user_id,product_id,quantity,unit_price,ordered_at")):
        for path in (out / folder).glob("*.csv"):
            assert path.read_text(encoding="utf-8").splitlines()[0] == header, path


def test_users_are_monthly_deltas_of_signups(users):
    assert users["user_id"].is_unique and users["user_id"].str.match(r"^U\d{6}$").all()
    assert users["signup_at"].str.match(LOCAL).all() and users["email"].str.contains("@").all()
    assert set(users["country"]) <= {"FR", "DE", "ES", "IT", "NL", "BE"}
    later = users[users["file"] != MONTH_NAMES[0]]
    assert (later["signup_at"].str[:7] == later["file"]).all()
    first = users[users["file"] == MONTH_NAMES[0]]
    assert (first["signup_at"].str[:7] <= MONTH_NAMES[0]).all()
    assert 0.6 < len(first) / len(users) < 0.85 and (first["signup_at"] < "2024").mean() > 0.85


def test_products_are_versions_sorted_as_the_demo_api_serves_them(products):
    assert list(products.columns) == ["id", "title", "description", "category", "brand", "price", "created_at",
                                      "updated_at"]
    assert list(zip(products["updated_at"], products["id"])) == sorted(zip(products["updated_at"], products["id"]))
    assert products["id"].str.match(r"^P\d{5}$").all() and 550 <= products["id"].nunique() <= 650
    paths = products["category"].map(lambda c: c["path"])
    assert (paths.map(len) == 3).all() and paths.map(lambda p: p[0]).nunique() == 8
    assert (products["created_at"].str.match(UTC) & products["updated_at"].str.match(UTC)).all()
    assert (products["updated_at"] >= products["created_at"]).all()
    assert (products["price"] > 0).all() and (products["price"].round(2) == products["price"]).all()
    assert products.duplicated("id").sum() > 100  # price changes make new versions


def test_scores_are_published_when_they_move(scores):
    assert list(scores.columns) == ["id", "product_id", "score_date", "popularity", "sentiment", "updated_at"]
    assert (scores["id"] == scores["product_id"] + "-" + scores["score_date"]).all() and scores["id"].is_unique
    next_day = (pd.to_datetime(scores["score_date"]) + pd.Timedelta(days=1)).dt.strftime("%Y-%m-%dT02:00:00Z")
    assert (scores["updated_at"] == next_day).all()
    assert list(zip(scores["updated_at"], scores["id"])) == sorted(zip(scores["updated_at"], scores["id"]))
    assert scores["popularity"].between(0, 100).all() and scores["sentiment"].between(-1, 1).all()
    per_day = scores.groupby("score_date").size().iloc[1:] / 600  # the first day scores every product
    assert 0.05 < per_day.median() < 0.15


def test_events_have_the_contract_fields(events):
    assert list(events.columns[:9]) == EVENT_FIELDS
    assert events["event_id"].str.match(r"^E\d{10}$").all() and events["session_id"].str.match(r"^S\d{9}$").all()
    assert events["occurred_at"].str.match(UTC).all() and (events["occurred_at"].str[:7] == events["file"]).all()
    assert set(events["event_type"]) == {"view", "add_to_cart", "purchase", "rating"}
    device = pd.DataFrame(list(events["device"]))
    assert list(device.columns) == ["type", "app_version"] and set(device["type"]) <= {"desktop", "ios", "android",
                                                                                           "tablet"}
    web = (events["channel"] == "web").to_numpy()
    assert device.loc[web, "app_version"].isna().all()
    assert device.loc[~web, "app_version"].str.match(r"^3\.\d+\.\d$").all()
    assert not device.loc[web, "type"].isin(["ios", "android"]).any() and (device.loc[~web, "type"] != "desktop").all()
    item = pd.DataFrame(list(events["item"]))
    assert list(item.columns) == ["category", "price"] and (item["category"].str.count("/") == 2).all()
    rated = events["event_type"] == "rating"
    assert events.loc[~rated, "rating"].isna().all() and events.loc[rated, "rating"].notna().all()
    assert (events.loc[rated, "rating"] == events.loc[rated, "rating"].round()).all()  # never half stars


def test_every_dirt_kind_is_present(sample):
    dirt = sample[1].dirt
    assert set(dirt) == DIRT and all(count > 0 for count in dirt.values()), dirt


def test_event_dirt_counts_match_the_files(sample, events, users, products):
    dirt = sample[1].dirt
    duplicated = events.duplicated("event_id", keep=False)
    assert events.duplicated("event_id").sum() == dirt["duplicate_events"]
    copies = events[duplicated].drop(columns=["device", "item"]).astype(str)
    assert copies.duplicated(keep=False).all()  # the same event twice, whole
    position = np.flatnonzero(events.duplicated("event_id").to_numpy())
    assert (events["event_id"].to_numpy()[position - 1] == events["event_id"].to_numpy()[position]).all()
    unique = events.drop_duplicates("event_id")
    rated = unique[unique["event_type"] == "rating"]
    assert (~rated["rating"].between(1, 5)).sum() == dirt["rating_out_of_scale"]
    assert set(rated.loc[~rated["rating"].between(1, 5), "rating"]) <= {0, 6, 10}
    unknown_products = ~unique["product_id"].isin(set(products["id"]))
    assert unknown_products.sum() == dirt["unknown_product_events"]
    assert unique.loc[unknown_products, "product_id"].str.match(r"^P99\d{3}$").all()
    bots = unique["session_id"].isin(bot_session_ids(events))
    assert unique["session_id"][bots].nunique() == dirt["bot_sessions"] and bots.sum() == dirt["bot_events"]
    bot_spans = pd.to_datetime(unique.loc[bots, "occurred_at"]).groupby(unique.loc[bots, "session_id"]).agg(
        lambda t: t.max() - t.min())
    assert (bot_spans <= pd.Timedelta(hours=2)).all()
    strangers = ~unique["user_id"].isin(set(users["user_id"])) & ~bots
    assert strangers.sum() == dirt["unknown_user_events"]


def test_category_changes_are_catalog_versions_moving_a_product(sample, products):
    versions = products.assign(path=products["category"].map(lambda c: "/".join(c["path"])))
    versions = versions.sort_values(["id", "updated_at"], kind="stable")
    moved = versions["id"].eq(versions["id"].shift()) & versions["path"].ne(versions["path"].shift())
    assert moved.sum() == sample[1].dirt["category_changes"]


def test_popularity_has_a_long_tail(events):
    views = events[(events["event_type"] == "view") & ~events["session_id"].isin(bot_session_ids(events))]
    counts = views["product_id"].value_counts()
    assert counts.iloc[:60].sum() / counts.sum() > 0.35  # the top 10 % of 600 products


def test_cold_users_and_cold_items_exist(sample, users, products, events):
    truth = sample[1].truth
    cold_from = MONTH_NAMES[-2]
    assert (users["signup_at"].str[:7] >= cold_from).sum() == truth["cold_users"] > 0
    created = products.drop_duplicates("id")["created_at"]
    assert (created.str[:7] >= cold_from).sum() == truth["cold_items"] > 0
    first_seen = events.groupby("product_id")["occurred_at"].min()
    known = products.drop_duplicates("id").set_index("id")["created_at"]
    assert (first_seen.reindex(known.index).dropna() >= known.reindex(first_seen.index).dropna()).all()


def test_purchases_follow_a_cart_and_orders_are_the_system_of_record(sample, events, orders):
    unique = events.drop_duplicates("event_id")
    carts = unique[unique["event_type"] == "add_to_cart"]
    buys = unique[unique["event_type"] == "purchase"]
    cart_at = carts.groupby(["session_id", "product_id"])["occurred_at"].min()
    paired = cart_at.reindex(pd.MultiIndex.from_frame(buys[["session_id", "product_id"]]))
    assert paired.notna().all() and (paired.to_numpy() <= buys["occurred_at"].to_numpy()).all()
    assert orders["ordered_at"].str.match(LOCAL).all() and (orders["ordered_at"].str[:7] == orders["file"]).all()
    assert orders["order_id"].str.match(r"^O\d{8}$").all() and len(orders) == sample[1].truth["purchases"]
    at = pd.to_datetime(orders["ordered_at"], utc=True).dt.strftime("%Y-%m-%d")
    lines = set(zip(orders["user_id"], orders["product_id"], at))
    assert all(key in lines for key in zip(buys["user_id"], buys["product_id"], buys["occurred_at"].str[:10]))
    bought = set(zip(buys["user_id"], buys["product_id"]))
    untracked = orders.groupby("order_id").apply(
        lambda o: not any(k in bought for k in zip(o["user_id"], o["product_id"])), include_groups=False)
    assert 0.04 < untracked.mean() < 0.15


def test_items_carry_the_category_and_price_in_force_at_the_time(events, products):
    versions = products.assign(at=pd.to_datetime(products["updated_at"]),
                               path=products["category"].map(lambda c: "/".join(c["path"])))
    sample = events[events["product_id"].isin(set(products["id"]))].iloc[::50]
    sample = sample.assign(at=pd.to_datetime(sample["occurred_at"]), key=np.arange(len(sample)))
    merged = pd.merge_asof(sample.sort_values("at"), versions.sort_values("at"), on="at", left_by="product_id",
                           right_by="id")
    assert (merged["item"].map(lambda i: i["price"]) == merged["price"]).all()
    assert (merged["item"].map(lambda i: i["category"]) == merged["path"]).all()


def test_the_users_own_categories_beat_global_popularity(events, users):
    """Warm users' views in the last month ranked by global view counts vs by the same
    counts weighted by the user's own share of views in each leaf before (NDCG@10)."""
    known = set(users["user_id"])
    views = events[(events["event_type"] == "view") & events["user_id"].isin(known)
                   & ~events["session_id"].isin(bot_session_ids(events))].drop_duplicates("event_id")
    views = views.assign(leaf=views["item"].map(lambda i: i["category"]))
    train, test = views[views["file"] < MONTH_NAMES[-1]], views[views["file"] == MONTH_NAMES[-1]]
    popular = train["product_id"].value_counts()
    leaf_of = train.drop_duplicates("product_id").set_index("product_id")["leaf"].reindex(popular.index)
    taste = train.groupby(["user_id", "leaf"]).size()
    discount = 1 / np.log2(np.arange(2, 12))
    scores = {"popularity": [], "personal": []}
    for user, seen in test[test["user_id"].isin(set(train["user_id"]))].groupby("user_id")["product_id"]:
        relevant = set(seen)
        ideal = discount[:min(10, len(relevant))].sum()
        personal = (popular * leaf_of.map(taste[user]).fillna(0).to_numpy()).sort_values(ascending=False, kind="stable")
        for name, ranking in (("popularity", popular), ("personal", personal)):
            scores[name].append(sum(d for d, p in zip(discount, ranking.index[:10]) if p in relevant) / ideal)
    assert len(scores["personal"]) > 50
    assert np.mean(scores["personal"]) > 1.3 * np.mean(scores["popularity"]), {k: np.mean(v) for k, v in scores.items()}


def test_ensure_sample_generates_only_when_there_is_no_users_folder(tmp_path):
    root = tmp_path / "recommendation"
    assert recommendation.ensure_sample(root, users=20, seed=3) is True
    assert (root / "users").is_dir() and (root / synthetic.MANIFEST_FILE).is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["recommendation"]  # no staging folder left behind
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    assert recommendation.ensure_sample(root, users=20, seed=3) is False
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_the_command_line_writes_a_short_calendar(tmp_path):
    assert synthetic.main(["--users", "20", "--start", "2024-11", "--months", "2", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in (tmp_path / "orders").iterdir()) == ["orders_2024-11.csv", "orders_2024-12.csv"]
    with pytest.raises(SystemExit) as exit_info:
        synthetic.main(["--start", "2024-11-15", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
