"""The Dagster definitions (utils.orchestrate): generated from conf/, they build the same
tables as main.py, a `fail` rule blocks what is downstream, a flaky collector succeeds on
retry. Every run is in-process on the suite's one Spark session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

dg = pytest.importorskip("dagster", reason="dagster is needed for the orchestration (pip install -r requirements.txt)")

from utils.lake.config import load_config  # noqa: E402
from utils.lake.datamart import Datamart  # noqa: E402
from utils.orchestrate.checks import ACCOUNTING  # noqa: E402
from utils.orchestrate.definitions import build_definitions  # noqa: E402
from utils.orchestrate.settings import Settings  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PII_KEY = "0" * 64
MONTHS = ("2023-01-01", "2023-02-01")  # two partitions, built in one run (single-run backfill)
RANGE_TAGS = {"dagster/asset_partition_range_start": MONTHS[0], "dagster/asset_partition_range_end": MONTHS[1]}
#: lineage that differs between two builds of the same data (run ids, times, landing folders)
LINEAGE = {"_run_id", "_ingested_at", "_source_file"}


def loan_settings(datamart: Path, conf_dir: Path = PROJECT_ROOT / "conf") -> Settings:
    return Settings(datamart=datamart, conf_dir=conf_dir, data_root=PROJECT_ROOT / "data", domains=("loan_default",),
                    master="local[2]", pii_key=PII_KEY.encode())


def table_frame(datamart: Path, layer: str, name: str):
    from deltalake import DeltaTable

    frame = DeltaTable(str(Datamart(datamart, "loan_default").table(layer, name))).to_pandas()
    frame = frame.drop(columns=[c for c in frame.columns if c in LINEAGE])
    return frame.sort_values(list(frame.columns)[:3] + ["snapshot_date"]).reset_index(drop=True).astype(str)


def test_definitions_have_an_asset_per_source_table_and_model_of_every_domain():
    defs = build_definitions(Settings())
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    for domain in sorted(p.stem for p in (PROJECT_ROOT / "conf").glob("*.yaml")):
        config = load_config(domain)
        for source in config.sources:
            assert {f"{domain}/landing/{source}", f"{domain}/bronze/{source}"} <= keys
        assert {f"{domain}/silver/{t}" for t in config.silver} <= keys
        if config.gold is not None:
            assert {f"{domain}/gold/{t}" for t in config.gold.table_names} <= keys
            assert any(k.startswith(f"{domain}/model/") for k in keys)
        if config.gold_builder is not None:  # energy: the domain's own gold tables, after all its inputs
            assert f"{domain}/model/forecast" in keys
            for t in config.gold_builder.table_names:
                parents = defs.resolve_asset_graph().get(dg.AssetKey([domain, "gold", t])).parent_keys
                assert {k.to_user_string() for k in parents} == {
                    f"{domain}/silver/{s}" for s in config.gold_builder.inputs}
        job = defs.resolve_job_def(f"build_{domain}")
        assert job.executor_def.name == "in_process"
        assert job.partitions_def.get_partition_keys()[0].endswith("-01")  # monthly partitions
    graph = defs.resolve_asset_graph()
    silver = graph.get(dg.AssetKey(["loan_default", "silver", "loan_daily"]))
    assert {k.to_user_string() for k in silver.parent_keys} == {
        "loan_default/bronze/lms_loan_daily", "loan_default/silver/attributes"}
    checks = {(c.asset_key.path[-1], c.name): c for a in defs.assets for c in getattr(a, "check_specs", ())
              if c.asset_key.path[0] == "loan_default"}
    assert checks[("attributes", "valid_customer_id")].blocking  # severity fail
    assert not checks[("attributes", "unique_customer_id")].blocking  # severity drop
    assert checks[("attributes", ACCOUNTING)].blocking


@pytest.fixture(scope="module")
def dagster_build(spark, tmp_path_factory) -> Path:
    """loan_default collected and built for two months by the Dagster jobs (in-process);
    the datamart."""
    datamart = tmp_path_factory.mktemp("dagster_dm")
    defs = build_definitions(loan_settings(datamart))
    instance = dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def("collect_loan_default").execute_in_process(instance=instance).success
    result = defs.resolve_job_def("build_loan_default").execute_in_process(instance=instance, tags=RANGE_TAGS)
    assert result.success
    from pyspark.sql import SparkSession

    assert SparkSession.getActiveSession() is spark  # the run used the suite's session, no second JVM
    return datamart


def test_two_partitions_materialised_by_dagster_equal_main_py(dagster_build, spark, tmp_path, monkeypatch):
    from utils.cli import main

    monkeypatch.setenv("LAKEHOUSE_PII_KEY", PII_KEY)
    reference = tmp_path / "cli_dm"
    assert main(["--domain", "loan_default", "--data-root", str(PROJECT_ROOT / "data"), "--datamart", str(reference),
                 "--start", MONTHS[0][:7], "--end", MONTHS[1][:7]]) == 0
    config = load_config("loan_default")
    tables = ([("bronze", s) for s in config.sources] + [("silver", t) for t in [*config.silver, "_quarantine"]]
              + [("gold", t) for t in config.gold.table_names])
    rows = 0
    for layer, name in tables:
        ours, theirs = table_frame(dagster_build, layer, name), table_frame(reference, layer, name)
        assert list(ours.columns) == list(theirs.columns), f"{layer}/{name}"
        assert ours.equals(theirs), f"{layer}/{name} differs from main.py's"
        rows += len(ours)
    assert rows > 1000
    months = table_frame(dagster_build, "silver", "clickstream")["snapshot_date"].unique()
    assert sorted(months) == list(MONTHS)


def test_failing_fail_rule_fails_its_check_and_gold_does_not_run(dagster_build, spark, tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    raw = yaml.safe_load((PROJECT_ROOT / "conf" / "loan_default.yaml").read_text(encoding="utf-8"))
    rules = raw["silver"]["clickstream"]["rules"]
    rules[[r["name"] for r in rules].index("valid_customer_id")]["check"] = "customer_id rlike '^NOBODY$'"
    (conf / "loan_default.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    datamart = tmp_path / "dm"
    shutil.copytree(dagster_build, datamart)
    defs = build_definitions(loan_settings(datamart, conf))
    gold_before = Datamart(datamart, "loan_default").table("gold", "feature_store")
    version_before = sorted(p.name for p in (gold_before / "_delta_log").glob("*.json"))

    result = defs.resolve_job_def("build_loan_default").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), partition_key=MONTHS[0], raise_on_error=False)
    assert not result.success
    evaluations = {(e.asset_key.path[-1], e.check_name): e for e in result.get_asset_check_evaluations()}
    failed = evaluations[("clickstream", "valid_customer_id")]
    assert not failed.passed and "valid_customer_id" in failed.metadata["error"].value
    materialised = {e.asset_key.path[1] for e in result.get_asset_materialization_events()}
    assert "gold" not in materialised and "silver" not in materialised
    assert sorted(p.name for p in (gold_before / "_delta_log").glob("*.json")) == version_before
    failures = Datamart(datamart).logs / "dagster-failures.jsonl"
    lines = [json.loads(line) for line in failures.read_text(encoding="utf-8").splitlines()]
    assert any(x["kind"] == "step" and "valid_customer_id" in x["error"] for x in lines)


def test_flaky_collector_succeeds_on_retry_and_the_retry_is_in_the_event_log(tmp_path):
    from utils.ingest import demo_api, landing

    records = [{"id": f"T{i:03d}", "updated_at": f"2024-01-{1 + i % 28:02d}T10:00:00Z", "text": f"t{i}"}
               for i in range(25)]
    # requests 1-3 fail: the collector's own 2 attempts give up, Dagster retries the step
    faults = demo_api.Faults(burst_5xx=3, burst_every=1000)
    with demo_api.serve(demo_api.create_app({"shop/tickets": records}, faults)) as url:
        conf = tmp_path / "conf"
        conf.mkdir()
        (conf / "shop.yaml").write_text(yaml.safe_dump({"domain": "shop", "sources": {"tickets": {
            "format": "json", "date_column": "updated_at", "date_formats": ["yyyy-MM-dd'T'HH:mm:ssX"],
            "required_columns": ["id", "updated_at", "text"], "keys": ["id"],
            "api": {"url": f"{url}/shop/tickets", "records": "data", "pagination": "page", "page_size": 10,
                    "timeout_s": 2, "max_attempts": 2},
        }}}), encoding="utf-8")
        settings = Settings(datamart=tmp_path / "dm", conf_dir=conf, data_root=tmp_path, domains=("shop",),
                            collect_retries=3, collect_retry_delay=0.1)
        result = build_definitions(settings).resolve_job_def("collect_shop").execute_in_process(
            instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success
    kinds = [e.event_type_value for e in result.all_events]
    assert kinds.count("STEP_UP_FOR_RETRY") >= 1 and kinds.count("STEP_RESTARTED") >= 1
    deliveries = landing.deliveries(Datamart(tmp_path / "dm", "shop").landing(), "tickets")
    assert sum(d.records for d in deliveries) == len(records)


def test_webserver_on_loopback_shows_the_asset_graph_of_every_domain(tmp_path):
    import httpx

    from utils.orchestrate.server import webserver

    expected = {k.to_user_string() for k in build_definitions(Settings()).resolve_asset_graph().get_all_asset_keys()}
    with webserver(home=tmp_path / "dagster_home", env={"LAKEHOUSE_DATAMART": str(tmp_path / "dm")}) as url:
        assert url.startswith("http://127.0.0.1:")
        answer = httpx.post(f"{url}/graphql", json={"query": "{ assetNodes { assetKey { path } } }"}, timeout=60)
    shown = {"/".join(n["assetKey"]["path"]) for n in answer.json()["data"]["assetNodes"]}
    assert shown == expected


def test_the_model_asset_trains_evaluates_and_registers_the_recommenders(spark, reco_sample, tmp_path):
    """The model asset of a domain, on a copy of the shared small recommendation build:
    `python main.py train` in the run's process and Spark session, the evaluation written
    and the best recommender registered as champion in the datamart's MLflow store."""
    from mlflow.tracking import MlflowClient

    from utils.ml.tracking import default_tracking_uri
    from utils.orchestrate.resources import SparkResource

    datamart = tmp_path / "dm"
    shutil.copytree(reco_sample[1], datamart)
    evaluation = Datamart(datamart, "recommendation").models / "evaluation.json"
    before = evaluation.stat().st_mtime_ns
    defs = build_definitions(Settings(datamart=datamart, domains=("recommendation",), master="local[2]"))
    key = dg.AssetKey(["recommendation", "model", "recommenders"])
    result = dg.materialize([defs.get_assets_def(key)], resources={"spark": SparkResource(master="local[2]")},
                            instance=dg.DagsterInstance.ephemeral())
    assert result.success and [e.asset_key for e in result.get_asset_materialization_events()] == [key]
    assert evaluation.stat().st_mtime_ns > before
    report = json.loads(evaluation.read_text(encoding="utf-8"))
    uri = default_tracking_uri(datamart)
    champion = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias(
        "recommendation_interactions_30d", "champion")
    assert int(champion.version) == report["mlflow"]["version"] == 1
