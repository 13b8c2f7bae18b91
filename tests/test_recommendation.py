"""The recommendation domain end to end on a small generated sample (300 users,
2024-01 .. 2024-06): every raw record accounted for, the graded label store equal to an
independent pandas computation from the raw files, gold rebuilt from raw data cut at D
equal to the full build up to D, the out-of-time evaluation of the four recommenders
(and its leakage alarm on a planted leak), retrieval for serving, and no personal data
past bronze. Tables are read with deltalake; the raw files with pandas."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable

from utils.cli import main
from utils.domains.recommendation import synthetic
from utils.lake.config import load_config
from utils.ml import recommend, retrieve

from conftest import RECO_BUILD, RECO_REPLAY_CUT  # noqa: E402  (tests/ is on the path)

CUT = dt.date.fromisoformat(RECO_REPLAY_CUT)
BUILD = RECO_BUILD


@pytest.fixture(scope="module")
def built(reco_sample) -> tuple[Path, Path]:
    """(data root, datamart) after one full build of the small sample (which also evaluates)."""
    return reco_sample


def table(datamart: Path, layer: str, name: str) -> pd.DataFrame:
    return DeltaTable(str(datamart / layer / "recommendation" / name)).to_pandas()


def jsonl(folder: Path) -> pd.DataFrame:
    rows = [json.loads(line) for p in sorted(folder.glob("*.jsonl"))
            for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    return pd.DataFrame(rows)


def csvs(folder: Path) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, dtype=str) for p in sorted(folder.glob("*.csv"))], ignore_index=True)


def raw_interactions(data: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(clicks, orders, users) as silver must keep them, from the raw files: duplicate
    deliveries once, events of unknown users or products and bot sessions (over 500
    events) out."""
    users = csvs(data / "users")
    users["day"] = pd.to_datetime(users["signup_at"], format="ISO8601", utc=True).dt.date
    products = set(jsonl(data / "api").dropna(subset=["title"])["id"])
    clicks = jsonl(data / "clickstream")
    sizes = clicks.groupby("session_id")["event_id"].transform("size")
    clicks = clicks[sizes <= 500].drop_duplicates("event_id")
    clicks = clicks[clicks["user_id"].isin(set(users["user_id"])) & clicks["product_id"].isin(products)].copy()
    clicks["day"] = pd.to_datetime(clicks["occurred_at"], format="ISO8601", utc=True).dt.date
    orders = csvs(data / "orders").drop_duplicates(["order_id", "product_id"])
    orders = orders[orders["user_id"].isin(set(users["user_id"])) & orders["product_id"].isin(products)].copy()
    orders["day"] = pd.to_datetime(orders["ordered_at"], format="ISO8601", utc=True).dt.date
    return clicks, orders, users


def test_every_raw_record_is_in_silver_or_quarantined_with_its_reason(built):
    data, datamart = built
    manifest = json.loads((data / synthetic.MANIFEST_FILE).read_text())
    bronze, silver = table(datamart, "bronze", "clickstream"), table(datamart, "silver", "clickstream")
    quarantine = table(datamart, "silver", "_quarantine")
    quarantine = quarantine[quarantine["table"] == "clickstream"]
    assert len(bronze) == manifest["rows"]["clickstream"] == len(silver) + len(quarantine)
    dirt = manifest["dirt"]
    assert len(quarantine) == sum(dirt[k] for k in ("bot_events", "duplicate_events", "rating_out_of_scale",
                                                    "unknown_product_events", "unknown_user_events"))
    counts = quarantine["rule"].value_counts()
    assert set(counts.index) == {"bot_session", "rating_scale", "known_user", "known_product", "unique_event_id"}
    assert counts["rating_scale"] == dirt["rating_out_of_scale"]
    assert counts["bot_session"] == dirt["bot_events"]
    assert silver["rating"].dropna().between(1, 5).all()


def test_label_store_equals_a_pandas_computation_from_the_raw_files(built):
    data, datamart = built
    clicks, orders, users = raw_interactions(data)
    graded = pd.concat([
        clicks[clicks["event_type"] != "rating"].assign(
            grade=clicks["event_type"].map({"view": 1, "add_to_cart": 2, "purchase": 3}))[
            ["user_id", "product_id", "day", "grade"]],
        orders.assign(grade=3)[["user_id", "product_id", "day", "grade"]],
    ])
    data_end = max(clicks["day"].max(), orders["day"].max(), users["day"].max())
    expected = set()
    for d in pd.date_range("2024-01-31", data_end, freq="ME").date:
        close = d + dt.timedelta(days=30)
        if close > data_end:
            continue  # censored
        registered = set(users.loc[users["day"] <= d, "user_id"])
        window = graded[(graded["day"] > d) & (graded["day"] <= close) & graded["user_id"].isin(registered)]
        for (user, product), grade in window.groupby(["user_id", "product_id"])["grade"].max().items():
            expected.add((user, product, int(grade), d, close))
    labels = table(datamart, "gold", "label_store")
    got = {(r.user_id, r.product_id, int(r.label), r.feature_snapshot_date, r.window_end)
           for r in labels.itertuples()}
    assert len(expected) > 3000 and got == expected
    assert (labels["snapshot_date"] == labels["window_end"]).all()
    assert set(labels["label_def"]) == {"interactions_30d"}


def test_leakage_guards_passed_for_every_gold_table(built):
    _, datamart = built
    rows = pd.DataFrame(DeltaTable(str(datamart / "_meta" / "leakage")).to_pandas())
    mine = rows[rows["domain"] == "recommendation"]
    replay = mine[mine["guard"] == "replay"]
    assert set(replay["subject"]) == {f"gold/{t}" for t in ("feature_store", "item_features", "item_similarity",
                                                            "label_store")}
    assert replay["passed"].all() and mine[mine["guard"] == "cutoff"]["passed"].all()
    assert set(mine[mine["guard"] == "cutoff"]["subject"]) == {"gold/feature_store", "gold/item_features"}


def _cut_raw(data: Path, out: Path, cut: dt.date) -> None:
    """A copy of the raw files holding only what happened by the end of `cut`."""
    end = pd.Timestamp(cut + dt.timedelta(days=1), tz="UTC")
    for folder, column in (("users", "signup_at"), ("orders", "ordered_at")):
        (out / folder).mkdir(parents=True)
        for path in (data / folder).glob("*.csv"):
            rows = pd.read_csv(path, dtype=str, keep_default_na=False)
            kept = rows[pd.to_datetime(rows[column], format="ISO8601", utc=True) < end]
            if len(kept):
                kept.to_csv(out / folder / path.name, index=False)
    for folder in ("clickstream", "api"):
        (out / folder).mkdir()
        for path in (data / folder).glob("*.jsonl"):
            field = "occurred_at" if folder == "clickstream" else "updated_at"
            lines = [line for line in path.read_text(encoding="utf-8").splitlines()
                     if line.strip() and pd.Timestamp(json.loads(line)[field]) < end]
            if lines:
                (out / folder / path.name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_gold_from_raw_data_cut_at_d_equals_the_full_build_up_to_d(built, tmp_path):
    data, datamart = built
    cut_data, cut_datamart = tmp_path / "data", tmp_path / "dm"
    _cut_raw(data, cut_data, CUT)
    assert main([*BUILD, "--data-root", str(cut_data), "--datamart", str(cut_datamart)]) == 0
    for name, date_column, at_least in (("feature_store", "snapshot_date", 500), ("item_features", "snapshot_date", 1000),
                                        ("item_similarity", "snapshot_date", 10_000),
                                        ("label_store", "window_end", 2000)):
        frames = []
        for dm in (datamart, cut_datamart):
            df = table(dm, "gold", name)
            df = df[pd.to_datetime(df[date_column]).dt.date <= CUT]
            frames.append(df.sort_values(list(df.columns)).reset_index(drop=True))
        assert len(frames[0]) > at_least, name
        pd.testing.assert_frame_equal(frames[0], frames[1], check_dtype=False, obj=name)


def test_evaluation_of_the_four_recommenders_out_of_time(built):
    _, datamart = built
    report = json.loads((datamart / "_models" / "recommendation" / "evaluation.json").read_text())
    assert report["cut"] == "2024-05-31"  # the latest D whose 30-day window closes in the data
    assert set(report["models"]) == {"popularity", "cooccurrence", "als", "content"}
    users = report["users"]
    assert users["all"] == users["warm"] + users["cold"] and users["warm"] > 50 and users["cold"] > 0
    for name, result in report["models"].items():
        assert result["fit_seconds"] >= 0 and result["recommend_seconds"] >= 0
        assert result["fallback_users"] == users["cold"], name  # every cold user from popularity, counted
        for segment in ("all", "warm", "cold"):
            for k in ("5", "10", "20"):
                m = result["metrics"][segment][k]
                assert {"precision", "recall", "ndcg", "map", "hit_rate", "coverage", "users"} <= set(m)
                assert m["users"] == users[segment] and 0 <= m["ndcg"] <= 1
    # cold users get the popularity list from every model
    cold = {r["metrics"]["cold"]["10"]["ndcg"] for r in report["models"].values()}
    assert len(cold) == 1
    warm = {n: r["metrics"]["warm"]["10"]["ndcg"] for n, r in report["models"].items()}
    assert max(warm[n] for n in ("cooccurrence", "als", "content")) > warm["popularity"], warm
    assert report["leakage_alarms"] == []


def test_a_planted_leak_trips_the_alarm(built, spark):
    _, datamart = built
    spec = load_config("recommendation").gold
    data = recommend.load(spark, datamart)
    honest = recommend.evaluate_models(data, spec, spark, names=("content",))
    assert recommend.leakage_alarms(honest, spec.recommend.ceiling) == []
    # the label items copied into what the model learns from (as strong views at the cut)
    leak = data.truth.assign(event_type="view", weight=50.0,
                             occurred_at=pd.Timestamp(data.cut, tz="UTC"))[list(data.train.columns)]
    data.train = pd.concat([data.train, leak], ignore_index=True)
    leaky = recommend.evaluate_models(data, spec, spark, names=("content",))
    alarms = recommend.leakage_alarms(leaky, spec.recommend.ceiling)
    assert {a["metric"] for a in alarms} & {"precision_at_10", "ndcg_at_10"}, leaky["content"]["metrics"]["all"]["10"]


def test_retrieval_as_of_a_time_with_the_popularity_fallback(built):
    data, datamart = built
    clicks, orders, _ = raw_interactions(data)
    when = dt.date(2024, 5, 20)
    recent = orders[(orders["day"] <= when) & (orders["day"] > when - dt.timedelta(days=60))]
    user = recent["user_id"].value_counts().index[0]
    got = retrieve.top_k(datamart, user, when, k=10)
    assert got["snapshot_date"] == "2024-04-30" and not got["fallback"] and len(got["items"]) == 10
    assert [i["rank"] for i in got["items"]] == list(range(1, 11))
    bought = set(orders.loc[(orders["user_id"] == user) & (orders["day"] <= when), "product_id"])
    assert not bought & {i["product_id"] for i in got["items"]}
    stranger = retrieve.top_k(datamart, "U999999", when, k=5)
    assert stranger["fallback"] and {i["source"] for i in stranger["items"]} == {"popularity"}
    assert len(stranger["items"]) == 5
    with pytest.raises(LookupError):
        retrieve.top_k(datamart, user, dt.date(2023, 6, 1))


def test_no_personal_data_in_silver_or_gold(built):
    data, datamart = built
    users = csvs(data / "users")
    emails, names = set(users["email"].str.lower()), set(users["name"].str.lower())
    for layer, name in [("silver", t) for t in ("users", "clickstream", "orders")] + [("gold", "feature_store")]:
        df = table(datamart, layer, name)
        assert not {"name", "email"} & set(df.columns), (layer, name)
        for column in df.columns:
            if df[column].dtype == object:
                values = set(df[column].dropna().astype(str).str.lower())
                assert not values & (emails | names), (layer, name, column)


def test_recommendation_catalogue_and_formulation_are_current():
    from utils.lake.paths import PROJECT_ROOT
    from utils.present import docs

    folder = PROJECT_ROOT / "docs" / "recommendation"
    assert docs.main(["--check", "--config", str(PROJECT_ROOT / "conf" / "recommendation.yaml"),
                      "--out", str(folder / "feature_catalogue.md"),
                      "--formulation", str(folder / "problem_formulation.md")]) == 0


def test_tracked_evaluation_registers_a_champion_that_serves_without_spark(built, spark, tmp_path):
    import mlflow

    _, datamart = built
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    report = recommend.run(spark, datamart, track=True, tracking_uri=uri, out=tmp_path / "evaluation.json")
    tracked = report["mlflow"]
    assert tracked["model"] == "recommendation_interactions_30d" and tracked["champion"] == tracked["version"] == 1
    client = mlflow.tracking.MlflowClient(tracking_uri=uri, registry_uri=uri)
    run = client.get_run(tracked["run_id"])
    best = run.data.params["best_model"]
    assert run.data.metrics["best.warm_ndcg_at_10"] == pytest.approx(
        report["models"][best]["metrics"]["warm"]["10"]["ndcg"])
    assert run.data.tags["delta.label_store.version"] == str(DeltaTable(
        str(datamart / "gold" / "recommendation" / "label_store")).version())
    mlflow.set_registry_uri(uri)
    model = mlflow.pyfunc.load_model("models:/recommendation_interactions_30d@champion")
    user = sorted(recommend.load(spark, datamart).warm)[0]
    served = model.predict(pd.DataFrame({"user_id": [user], "k": [5]}))
    assert list(served["rank"]) == [1, 2, 3, 4, 5] and set(served["user_id"]) == {user}
    # the same cut again, same scores: the champion moves to the new version (not worse)
    again = recommend.run(spark, datamart, track=True, tracking_uri=uri, out=tmp_path / "again.json")["mlflow"]
    assert again["version"] == 2 and again["champion"] == 2 and "promoted" in again["decision"]


def test_recommendation_notebook_runs_top_to_bottom_and_draws_its_figures(built, tmp_path, monkeypatch):
    from conftest import run_notebook

    data, datamart = built
    _, figures = run_notebook("recommendation", "recommendation.ipynb", {
        "LAKEHOUSE_DATAMART": str(datamart), "LAKEHOUSE_DATA_ROOT": str(data), "LAKEHOUSE_SPARK_MASTER": "local[2]"},
        tmp_path, monkeypatch)
    assert figures >= 10
