"""End to end: the energy sample built by the command line (`python main.py --domain
energy`, conf/energy.yaml) through bronze, silver and gold (the domain's builder), then
its analyses; row accounting balances, every planted defect is counted by its named rule
or step as often as the generator's ground truth says, the gold tables are in the run
ledger, a rerun changes nothing and an interrupted gold build leaves every table as it
was. One small sample (5 buildings, two months holding the autumn change of clocks), on
the session's Spark."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import unquote

import pytest
from deltalake import DeltaTable

from utils.cli import main
from utils.domains.energy import synthetic
from utils.lake import delta_io
from utils.lake.datamart import Datamart
from utils.lake.ledger import RunLedger

GOLD = ("building_matches", "device_days", "building_days")
LAYERS = {"bronze": ("readings", "devices", "registry", "holidays", "weather"),
          "silver": ("readings", "devices", "registry", "holidays", "weather"), "gold": GOLD}


def build(data: Path, datamart: Path, *extra: str) -> int:
    return main(["--domain", "energy", "--data-root", str(data), "--datamart", str(datamart), "--master", "local[2]",
                 *extra])


def versions(datamart: Path) -> dict[str, int | None]:
    dm = Datamart(datamart, "energy")
    return {f"{layer}/{t}": delta_io.table_version(dm.table(layer, t)) for layer, tables in LAYERS.items()
            for t in tables}


def model_file(datamart: Path, name: str) -> Path:
    return Datamart(datamart, "energy").models / name


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    """(data root, datamart, truth, exploitation report) after one build."""
    root = tmp_path_factory.mktemp("energy")
    data, datamart = root / "data", root / "dm"
    synthetic.generate(data, 5, 3, start=dt.date(2024, 9, 1), months=2)
    assert build(data, datamart) == 0
    truth = json.loads((data / synthetic.TRUTH_FILE).read_text(encoding="utf-8"))
    report = json.loads(model_file(datamart, "exploitation.json").read_text(encoding="utf-8"))
    return data, datamart, truth, report


def meta(datamart: Path, name: str):
    return DeltaTable(str(datamart / "_meta" / name)).to_pandas()


def failed(datamart: Path) -> dict[tuple[str, str], int]:
    quality = meta(datamart, "quality")
    return quality.groupby(["table", "rule"])["rows_failed"].sum().astype(int).to_dict()


def test_every_partition_balances_bronze_with_silver_and_quarantine(built):
    accounting = meta(built[1], "accounting")
    assert len(accounting) > 0 and accounting["balanced"].all()
    assert (accounting["bronze_rows"] == accounting["silver_rows"] + accounting["quarantined_rows"]).all()


def test_each_planted_reading_defect_is_counted_by_its_rule(built):
    _, datamart, truth, _ = built
    counts = failed(datamart)
    conflicts = sum(d["kind"] == "conflict" for d in truth["duplicates"])
    assert counts["silver/readings", "one_value_per_reading"] == 2 * conflicts > 0
    assert counts["silver/readings", "unique_reading"] == len(truth["duplicates"])
    assert counts["silver/readings", "counter_reset"] == len(truth["counter_resets"]) > 0
    assert counts["silver/readings", "stuck_counter"] == sum(s["hours"] - 7 for s in truth["stuck_values"]) > 0
    assert counts["silver/readings", "reading_gap"] == len(truth["gaps"]) > 0
    assert counts["silver/readings", "dst_repeated_hour"] == truth["dst_repeated_readings"] > 0
    assert counts["silver/readings", "no_negative_consumption"] == 0


def test_fahrenheit_feed_and_registry_constraints_are_counted(built):
    _, datamart, truth, _ = built
    counts = failed(datamart)
    weather = DeltaTable(str(datamart / "silver" / "energy" / "weather")).to_pandas()
    fahrenheit = weather["city"] == truth["fahrenheit_city"]
    assert counts["silver/weather", "temperature_in_fahrenheit"] == fahrenheit.sum() > 0
    converted = weather.loc[fahrenheit, "temperature_c"]
    assert converted.round(1).tolist() == ((weather.loc[fahrenheit, "temperature"] - 32) * 5 / 9).round(1).tolist()
    assert counts["silver/registry", "positive_floor_area"] == len(truth["bad_floor_area"]) == 1
    assert counts["silver/registry", "built_before_recorded"] == len(truth["construction_after_first_reading"])


def test_quarantine_holds_exactly_the_duplicates_and_conflicts(built):
    _, datamart, truth, _ = built
    quarantine = DeltaTable(str(datamart / "silver" / "energy" / "_quarantine")).to_pandas()
    conflicts = sum(d["kind"] == "conflict" for d in truth["duplicates"])
    assert len(quarantine) == len(truth["duplicates"]) + conflicts
    assert set(quarantine["rule"]) == {"one_value_per_reading", "unique_reading"}


def test_exploitation_handles_resets_marks_gaps_and_checks_construction_years(built):
    _, _, truth, report = built
    assert report["consumption"]["counter_resets_handled"] == len(truth["counter_resets"])
    assert report["consumption"]["gap_days"] >= len(truth["gaps"])
    assert report["consumption"]["negative_steps"] == 0
    matches = DeltaTable(str(built[1] / "gold" / "energy" / "building_matches")).to_pandas()
    best = matches[matches["best"]].set_index("building_id")["decision"]
    late = truth["construction_after_first_reading"]
    # the year is checked against the first reading of the buildings the devices are linked to
    assert report["constraints"]["construction_after_first_reading"] == [b for b in late if best.get(b) == "match"]
    assert all(best.get(b) in ("match", "review") for b in late)


def test_entity_resolution_is_scored_against_the_samples_ground_truth(built):
    er = built[3]["entity_resolution"]
    assert er["devices"] == 6  # 5 buildings, one meter replaced mid-period
    assert er["matches"]["precision"] == 1.0 and er["matches_and_reviews"]["recall"] == 1.0


def test_gold_tables_are_outputs_of_the_run_ledger_with_their_fingerprint(built):
    ledger = RunLedger(Datamart(built[1], "energy").runs, domain="energy")
    run = ledger.successful_runs()[-1]
    outputs = {o["table"]: o for o in run["outputs"]}
    assert all(outputs[f"gold/{t}"]["status"] == "written" and outputs[f"gold/{t}"]["fingerprint"] for t in GOLD)
    assert {outputs[f"gold/{t}"]["fingerprint"] for t in GOLD} == {outputs["gold/device_days"]["fingerprint"]}
    assert all(outputs[f"gold/{t}"]["rows_written"] == built[3]["tables"][t]["rows"] > 0 for t in GOLD)


def test_building_days_are_partitioned_by_day_and_matches_are_not(built):
    dm = Datamart(built[1], "energy")
    assert list(delta_io.list_partitions(dm.table("gold", "building_matches"))) == [()]
    days = delta_io.list_partitions(dm.table("gold", "building_days"))
    assert len(days) == 61 and all(isinstance(k[0], str) for k in days)  # 2024-09-01 .. 2024-10-31


def test_analyses_write_the_forecast_against_its_baseline_and_the_load_profiles(built):
    forecast = json.loads(model_file(built[1], "forecast.json").read_text(encoding="utf-8"))
    for who in ("model", "baseline_seasonal_naive"):
        assert set(forecast[who]) == {"mae", "rmse", "mape"} and forecast[who]["mae"] > 0
    assert forecast["train_rows"] > 0 and forecast["test_rows"] > 0
    profiles = json.loads(model_file(built[1], "profiles.json").read_text(encoding="utf-8"))
    assert 2 <= profiles["k"] < profiles["buildings"] and -1 <= profiles["silhouette"] <= 1
    assert model_file(built[1], forecast["plot"]).is_file() and model_file(built[1], profiles["plot"]).is_file()


def test_a_rerun_on_unchanged_data_changes_no_table_and_no_analysis(built):
    _, datamart, _, _ = built
    before = versions(datamart)
    stamps = {n: model_file(datamart, n).stat().st_mtime_ns for n in ("exploitation.json", "forecast.json",
                                                                         "profiles.json")}
    assert build(built[0], datamart) == 0
    assert versions(datamart) == before
    run = RunLedger(Datamart(datamart, "energy").runs, domain="energy").successful_runs()[-1]
    assert {o["status"] for o in run["outputs"]} == {"unchanged"}
    assert {o["table"] for o in run["outputs"]} >= {f"{layer}/{t}" for layer, ts in LAYERS.items() for t in ts}
    assert {n: model_file(datamart, n).stat().st_mtime_ns for n in stamps} == stamps


def test_an_interrupted_gold_build_leaves_every_table_as_it_was(built, monkeypatch):
    from utils.layers import build_gold_builder

    _, datamart, _, _ = built
    before = versions(datamart)
    stage = delta_io.stage_table

    def interrupted(df, path, **options):
        if Path(path).name == "building_days":  # the last table: the first two are staged already
            raise KeyboardInterrupt
        return stage(df, path, **options)

    monkeypatch.setattr(build_gold_builder.delta_io, "stage_table", interrupted)
    assert build(built[0], datamart, "--layers", "gold", "--full-refresh") == 130
    assert versions(datamart) == before
    dm = Datamart(datamart, "energy")
    for t in GOLD:  # the staged files of the aborted writes are gone too
        root = dm.table("gold", t)
        active = {Path(unquote(u.split("://", 1)[-1])).resolve() for u in DeltaTable(str(root)).file_uris()}
        assert {p.resolve() for p in root.rglob("*.parquet")} == active
    runs = RunLedger(dm.runs, domain="energy")
    assert runs.successful_runs()[-1]["outputs"][0]["status"] == "unchanged"  # the last success is still the rerun


def test_train_tracks_the_forecast_in_mlflow_with_its_baseline_and_names_a_champion(built):
    from mlflow.tracking import MlflowClient

    datamart = built[1]
    assert main(["train", "--domain", "energy", "--datamart", str(datamart)]) == 0
    uri = f"sqlite:///{datamart.resolve() / '_mlflow' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    champion = client.get_model_version_by_alias("energy_next_day_kwh", "champion")
    run = client.get_run(champion.run_id)
    assert {f"{who}.test_{m}" for who in ("model", "baseline") for m in ("mae", "rmse", "mape")} <= set(run.data.metrics)
    assert run.data.params["cut"] and run.data.tags["delta.building_days.version"] == "0"
    artefacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "forecast_temperature.png", "predicted_vs_actual.png"} <= artefacts
    from mlflow.models import get_model_info

    assert get_model_info(f"models:/energy_next_day_kwh/{champion.version}").signature is not None


def test_the_build_materialises_each_linked_buildings_latest_day_into_the_online_store(built):
    from utils.serve import online_store

    datamart = built[1]
    with online_store.open_store(online_store.default_url(datamart)) as store:
        info = store.info("energy")
    days = DeltaTable(str(datamart / "gold" / "energy" / "building_days")).to_pandas()
    assert info is not None and info["rows"] == days["building_id"].nunique() > 0
    assert info["as_of"] == str(days["snapshot_date"].max())


KEY = "test-key-of-the-energy-forecast"


def test_the_forecast_is_served_from_the_online_store_as_trained_on_the_offline_row(built, tmp_path):
    """Online rows equal the training rows of the same building and day, and the served
    champion (a regressor) predicts from them what the registered model predicts offline."""
    import httpx
    import mlflow.sklearn
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from utils.domains.energy import forecast
    from utils.serve import online_store
    from utils.serve.api import create_app, serve

    datamart = built[1]
    uri = f"sqlite:///{datamart.resolve() / '_mlflow' / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if not client.search_model_versions("name='energy_next_day_kwh'"):  # this test alone: train first
        assert main(["train", "--domain", "energy", "--datamart", str(datamart)]) == 0
    champion = client.get_model_version_by_alias("energy_next_day_kwh", "champion")
    model = mlflow.sklearn.load_model(client.get_model_version_download_uri("energy_next_day_kwh", champion.version))

    rows = forecast.training_rows(forecast.read_days(datamart))
    day = rows["snapshot_date"].max()  # the last day a training row has
    offline = rows[rows["snapshot_date"] == day].reset_index(drop=True)
    offline_x = forecast.design(offline)
    url = online_store.default_url(tmp_path / "online")
    [summary] = online_store.materialize(datamart, ["energy"], as_of=day, url=url)
    assert summary["table"] == "gold/energy/building_days" and summary["as_of"] == str(day)

    with online_store.open_store(url) as store:
        for i, building in enumerate(offline["building_id"]):
            record = store.get("energy", building)
            assert record["snapshot_date"] == str(day)
            assert list(record["features"]) == list(offline_x.columns)
            online = pd.Series(record["features"], dtype=float)
            pd.testing.assert_series_equal(online, offline_x.iloc[i].rename(None), check_exact=False, rtol=1e-12)

    expected = dict(zip(offline["building_id"], model.predict(offline_x)))
    app = create_app(datamart, online_url=url, api_key=KEY, tracking_uri=uri, reload_seconds=0.5)
    with serve(app) as base, httpx.Client(base_url=base, headers={"X-API-Key": KEY}, timeout=60) as http:
        health = httpx.get(f"{base}/health").json()["domains"]["energy"]
        assert health["predict"] and health["champion"]["kind"] == "regressor"
        assert health["champion"]["version"] == int(champion.version) and health["champion"]["threshold"] is None
        assert httpx.post(f"{base}/predict/energy", json={"entity_id": "B0001"}).status_code == 401

        building = offline["building_id"].iloc[0]
        features = http.get(f"/features/energy/{building}")
        assert features.status_code == 200 and features.json()["snapshot_date"] == str(day)
        for building, kwh in expected.items():
            answer = http.post("/predict/energy", json={"entity_id": building})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["kind"] == "regressor" and body["label"] is None and body["threshold"] is None
            assert body["score"] == pytest.approx(kwh, rel=1e-9) and body["snapshot_date"] == str(day)
            assert body["model"]["name"] == "energy_next_day_kwh" and body["features_from"] == "online_store"
        payload = http.post("/predict/energy", json={"features": features.json()["features"]}).json()
        assert payload["score"] == pytest.approx(expected[offline["building_id"].iloc[0]], rel=1e-9)
        assert http.post("/predict/energy", json={"entity_id": "no-such-building"}).status_code == 404
        bad = http.post("/predict/energy", json={"features": {"kwh_lag_1d": "a lot"}})
        assert bad.status_code == 422 and any("missing feature" in d for d in bad.json()["detail"])


# The tests below change the built datamart (an analysis file, gold versions, the builder): they run last.

ANALYSES = ("exploitation.json", "forecast.json", "profiles.json")


def analysis_stamps(datamart: Path) -> dict[str, int]:
    return {n: model_file(datamart, n).stat().st_mtime_ns for n in ANALYSES}


def recorded(datamart: Path, name: str) -> dict:
    return json.loads(model_file(datamart, name).read_text(encoding="utf-8"))["gold_versions"]


def gold_versions(datamart: Path) -> dict[str, int | None]:
    return {t: v for t, v in ((k.split("/", 1)[1], v) for k, v in versions(datamart).items()
                              if k.startswith("gold/"))}


def test_a_missing_or_unreadable_analysis_is_recomputed_by_the_next_build_and_only_it(built):
    data, datamart, _, _ = built
    before, stamps = versions(datamart), analysis_stamps(datamart)
    assert all(recorded(datamart, n) == gold_versions(datamart) for n in ANALYSES)
    model_file(datamart, "forecast.json").unlink()
    model_file(datamart, "profiles.json").write_text('{"k": 3, "silh', encoding="utf-8")  # cut short by a crash
    assert build(data, datamart) == 0
    assert versions(datamart) == before  # no table written
    after = analysis_stamps(datamart)
    assert after["exploitation.json"] == stamps["exploitation.json"]
    assert after["profiles.json"] != stamps["profiles.json"]
    for name in ("forecast.json", "profiles.json"):
        assert recorded(datamart, name) == gold_versions(datamart)
    assert json.loads(model_file(datamart, "profiles.json").read_text(encoding="utf-8"))["k"] >= 2
    assert not list(model_file(datamart, "x").parent.glob(".*.tmp"))  # no temporary file left


def test_gold_written_outside_main_makes_the_next_build_recompute_every_analysis(built):
    # the gold run alone, as python -m utils.domains.energy.exploitation runs it (forced here: inputs unchanged)
    from utils.lake.config import load_config
    from utils.lake.spark import get_spark
    from utils.layers import pipeline

    data, datamart, _, _ = built
    options = pipeline.RunOptions(data_root=data, datamart=datamart, layers=("gold",), full_refresh=True)
    pipeline.run_pipeline(load_config("energy"), options, get_spark)
    bumped, stamps = versions(datamart), analysis_stamps(datamart)
    assert all(recorded(datamart, n) != gold_versions(datamart) for n in ANALYSES)
    assert build(data, datamart) == 0
    assert versions(datamart) == bumped  # gold unchanged since that run: not rebuilt, only the analyses rerun
    run = RunLedger(Datamart(datamart, "energy").runs, domain="energy").successful_runs()[-1]
    assert {o["status"] for o in run["outputs"]} == {"unchanged"}
    after = analysis_stamps(datamart)
    assert all(after[n] != stamps[n] for n in ANALYSES)
    assert all(recorded(datamart, n) == gold_versions(datamart) for n in ANALYSES)
    assert build(data, datamart) == 0  # untouched: nothing recomputed
    assert analysis_stamps(datamart) == after and versions(datamart) == bumped


def test_a_change_of_the_builders_code_rebuilds_gold_and_an_untouched_rerun_skips_it(built, tmp_path, monkeypatch):
    import yaml

    from utils.lake.config import CONF_DIR

    data, datamart, _, _ = built
    monkeypatch.syspath_prepend(str(tmp_path))
    package = tmp_path / "energy_probe_builder"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    source = "from utils.domains.energy.exploitation import build_gold_tables  # noqa: F401\n"
    (package / "build.py").write_text(source, encoding="utf-8")
    raw = yaml.safe_load((CONF_DIR / "energy.yaml").read_text(encoding="utf-8"))
    raw["gold"]["builder"] = "energy_probe_builder.build:build_gold_tables"
    del raw["gold"]["evaluate"]
    config = tmp_path / "energy.yaml"
    config.write_text(yaml.safe_dump(raw), encoding="utf-8")
    ledger = RunLedger(Datamart(datamart, "energy").runs, domain="energy")

    def gold_run() -> dict[str, int | None]:
        assert build(data, datamart, "--config", str(config), "--layers", "gold") == 0
        return {o["table"]: o["status"] for o in ledger.successful_runs()[-1]["outputs"]}

    start = versions(datamart)
    assert set(gold_run().values()) == {"written"}  # another builder: built
    first = versions(datamart)
    assert all(first[f"gold/{t}"] == start[f"gold/{t}"] + 1 for t in GOLD)
    assert set(gold_run().values()) == {"unchanged"} and versions(datamart) == first  # untouched: skipped
    (package / "build.py").write_text(source + "MATCH_WEIGHT = 0.7  # a change of the builder's code\n",
                                      encoding="utf-8")
    assert set(gold_run().values()) == {"written"}
    second = versions(datamart)
    assert all(second[f"gold/{t}"] == first[f"gold/{t}"] + 1 for t in GOLD)
    assert {k: v for k, v in second.items() if not k.startswith("gold/")} == \
        {k: v for k, v in first.items() if not k.startswith("gold/")}
