"""MLflow tracking and registry of training runs (utils/ml/tracking.py), on the shared
sample datamart: a run logs parameters, metrics, the model with its signature, the
training set with the Delta versions it came from, and the champion alias moves only to
a model that is not worse on the same cut. The store is SQLite in a temporary folder,
and a real PostgreSQL on 127.0.0.1 where one is reachable (skipped otherwise)."""

from __future__ import annotations

import copy
import uuid

import pytest
from deltalake import DeltaTable

pytest.importorskip("mlflow")

from utils.ml import tracking, train  # noqa: E402

DOMAIN = "loan_default"


@pytest.fixture(scope="module")
def trained(sample_datamart):
    return train.train(None, sample_datamart, holdout_months=6)


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def test_a_run_logs_params_metrics_model_and_the_delta_versions_of_its_training_set(trained, sample_datamart,
                                                                                      tmp_path):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracked = tracking.log_training(trained, sample_datamart, tracking_uri=uri, artifact_root=tmp_path / "art")
    client = _client(uri)
    run = client.get_run(tracked.run_id)
    assert run.data.params["label_def"] == "30dpd_6mob" and run.data.params["cut"] == trained["metrics"]["split"]["cut"]
    best = trained["metrics"]["best_model"]
    assert run.data.metrics["best.test_auc"] == pytest.approx(trained["metrics"]["models"][best]["test"]["auc"])
    assert {f"{m}.test_pr_auc" for m in trained["metrics"]["models"]} <= set(run.data.metrics)
    for name in ("feature_store", "label_store"):
        version = DeltaTable(str(sample_datamart / "gold" / DOMAIN / name)).version()
        assert run.data.tags[f"delta.{name}.version"] == str(version)
    [dataset] = run.inputs.dataset_inputs
    assert "feature_store@v" in dataset.dataset.source and dataset.dataset.name.startswith("loan_default/")
    # registered, champion, and the registered model predicts like the trained one
    assert (tracked.model_name, tracked.version, tracked.champion) == ("loan_default_30dpd_6mob", 1, 1)
    mlflow.set_registry_uri(uri)
    model = mlflow.sklearn.load_model(f"models:/{tracked.model_name}@champion")
    rows = trained["training_frame"].drop(columns=["label"]).head(20)
    assert model.predict_proba(rows)[:, 1] == pytest.approx(trained["model"].predict_proba(rows)[:, 1])
    info = mlflow.models.get_model_info(f"models:/{tracked.model_name}/1")
    assert info.signature is not None and len(info.signature.inputs.input_names()) == rows.shape[1]
    # the plots beside the metrics: PNG files, the importance chart of the best model's top features
    logged = {a.path: a for a in client.list_artifacts(tracked.run_id)}
    assert {"metrics.json", "roc.png", "importance.png"} <= set(logged)
    png = client.download_artifacts(tracked.run_id, "importance.png", str(tmp_path))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n" and logged["importance.png"].file_size > 5000


def test_champion_moves_only_to_a_model_not_worse_on_the_same_cut(trained, sample_datamart, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    first = tracking.log_training(trained, sample_datamart, tracking_uri=uri, artifact_root=tmp_path / "art")
    worse = copy.copy(trained)
    worse["metrics"] = copy.deepcopy(trained["metrics"])
    worse["metrics"]["models"][worse["metrics"]["best_model"]]["test"]["auc"] -= 0.05
    kept = tracking.log_training(worse, sample_datamart, tracking_uri=uri, artifact_root=tmp_path / "art")
    assert (kept.version, kept.champion) == (2, first.version) and kept.decision.startswith("kept version 1")
    later = copy.copy(worse)
    later["metrics"] = copy.deepcopy(worse["metrics"])
    later["metrics"]["split"]["cut"] = "2099-01-01"
    promoted = tracking.log_training(later, sample_datamart, tracking_uri=uri, artifact_root=tmp_path / "art")
    assert promoted.champion == promoted.version == 3 and "newer cut" in promoted.decision
    assert _client(uri).get_run(kept.run_id).data.tags["champion_decision"] == kept.decision


def test_tracking_into_a_real_postgresql(trained, sample_datamart, tmp_path, postgres_url):
    import psycopg

    base = postgres_url
    admin = psycopg.connect(base, connect_timeout=3, autocommit=True)
    name = f"mlflow_test_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        uri = base.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
        tracked = tracking.log_training(trained, sample_datamart, tracking_uri=uri, artifact_root=tmp_path / "art")
        assert int(_client(uri).get_model_version_by_alias(tracked.model_name, "champion").version) == 1
        assert _client(uri).get_run(tracked.run_id).data.tags["delta.feature_store.version"].isdigit()
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')  # MLflow's pooled connections included
        admin.close()
