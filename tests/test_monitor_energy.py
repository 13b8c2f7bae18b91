"""Monitoring of the energy forecast (utils.ml.monitor_energy) on a small generated sample
(5 buildings, September to December, built by the command line as in
tests/test_energy_build.py): the champion trained with the cut at November scores the
November and December cohorts beside the seasonal-naive baseline; a December shifted in
temperature and consumption raises PSI alerts and a performance alert that trains a
challenger, which becomes champion exactly when its MAE on December is lower."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from utils.cli import main
from utils.domains.energy import forecast, synthetic
from utils.domains.energy import train as energy_train
from utils.lake.config import load_config
from utils.ml import monitor, monitor_energy

CUT = dt.date(2024, 11, 1)
DECEMBER = dt.date(2024, 12, 1)


def tracking(datamart: Path) -> str:
    from utils.ml.tracking import default_tracking_uri

    return default_tracking_uri(datamart)


@pytest.fixture(scope="module")
def trained(spark, tmp_path_factory):
    """(datamart, tracking URI, champion version) after a build and a training cut at November."""
    root = tmp_path_factory.mktemp("energy_monitor")
    data, datamart = root / "data", root / "dm"
    synthetic.generate(data, 5, 3, start=dt.date(2024, 9, 1), months=4)
    assert main(["--domain", "energy", "--data-root", str(data), "--datamart", str(datamart), "--master",
                 "local[2]"]) == 0
    uri = tracking(datamart)
    logged = energy_train.log_training(energy_train.train(datamart, CUT), datamart, tracking_uri=uri)
    assert logged["champion"] == logged["version"]
    return datamart, uri, logged["version"]


def champion_version(uri: str) -> int:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return int(client.get_model_version_by_alias(energy_train.MODEL_NAME, monitor.CHAMPION).version)


def shift_december(datamart: Path) -> None:
    """December 8 degrees colder in the published weather and its use doubled (lags included)."""
    path = str(datamart / "gold" / "energy" / "building_days")
    table = DeltaTable(path)
    arrow = table.to_pyarrow_table()
    frame = arrow.to_pandas()
    dec = pd.to_datetime(frame["snapshot_date"]).dt.date >= DECEMBER
    for column in ("temperature_c_lag_2d", "temperature_c_lag_3d"):
        frame.loc[dec, column] = frame.loc[dec, column] - 8.0
    for column in ("consumption_kwh", "kwh_lag_1d", "kwh_lag_7d"):
        frame.loc[dec, column] = frame.loc[dec, column] * 2.0
    write_deltalake(path, pa.Table.from_pandas(frame, schema=arrow.schema, preserve_index=False), mode="overwrite",
                    partition_by=table.metadata().partition_columns or None)


def test_energy_monitoring(trained, capsys):
    datamart, uri, first = trained
    spec = load_config("energy").monitoring
    # 1. as built: the champion from the registry scores November and December beside the baseline
    before = monitor.monitor(datamart, "energy", tracking_uri=uri, retrain=False)
    assert before["champion_version"] == first and before["retraining"] is None
    assert [r["snapshot_date"] for r in before["performance"]] == [CUT, DECEMBER]
    for r in before["performance"]:
        assert r["rows"] > 100 and r["mae"] > 0 and r["baseline_mae"] > 0 and r["rmse"] >= r["mae"]
    psi_before = {r["feature"]: r["psi"] for r in before["drift"] if r["snapshot_date"] == DECEMBER}
    assert set(psi_before) == set(forecast.NUMERIC)
    # 2. December shifted: PSI alerts on the temperature and the use, a performance alert, a challenger
    shift_december(datamart)
    after = monitor.monitor(datamart, "energy", tracking_uri=uri, retrain=True)
    psi_after = {r["feature"]: r["psi"] for r in after["drift"] if r["snapshot_date"] == DECEMBER}
    with capsys.disabled():
        print(f"PSI December before/after the shift: temperature_c_lag_2d {psi_before['temperature_c_lag_2d']:.3f}/"
              f"{psi_after['temperature_c_lag_2d']:.3f}, kwh_lag_1d {psi_before['kwh_lag_1d']:.3f}/"
              f"{psi_after['kwh_lag_1d']:.3f}")
    # December is already colder than the training months (the sample's season): the shift adds to it
    assert psi_after["temperature_c_lag_2d"] > psi_before["temperature_c_lag_2d"]
    assert psi_after["kwh_lag_1d"] > psi_before["kwh_lag_1d"]
    assert psi_after["temperature_c_lag_2d"] >= spec.psi and psi_after["kwh_lag_1d"] >= spec.psi
    drifted = {a["subject"] for a in after["alerts"] if a["rule"] == "drift_psi"}
    assert {"temperature_c_lag_2d", "kwh_lag_1d"} <= drifted
    assert all(a["action"] == "notify" for a in after["alerts"] if a["rule"] == "drift_psi")
    dec = after["performance"][-1]
    assert dec["snapshot_date"] == DECEMBER
    performance = [a for a in after["alerts"] if a["rule"].startswith("performance_")]
    assert performance and all(a["action"] == "retrain" for a in performance)
    decision = after["retraining"]
    assert decision is not None and decision["snapshot_date"] == DECEMBER
    with capsys.disabled():
        print(f"champion MAE {dec['mae']:.3f} (baseline {dec['baseline_mae']:.3f}), challenger MAE "
              f"{decision['value']:.3f} on December; promoted {decision['promoted']}")
    assert decision["threshold"] == pytest.approx(dec["mae"])
    assert decision["promoted"] == (decision["value"] < dec["mae"])
    assert champion_version(uri) == (decision["challenger_version"] if decision["promoted"] else first)
    assert after["champion"] == champion_version(uri)
    # the tables: nullable forecast columns in _meta/performance, the decision in _meta/alerts
    perf = DeltaTable(str(datamart / "_meta" / "performance")).to_pandas()
    assert {"mae", "rmse", "mape", "baseline_mae", "baseline_rmse", "baseline_mape"} <= set(perf.columns)
    alerts = DeltaTable(str(datamart / "_meta" / "alerts")).to_pandas()
    row = alerts[alerts["rule"] == "retraining"].iloc[-1]
    assert f"{decision['value']:.3f}" in row["detail"] and f"{dec['mae']:.3f}" in row["detail"]
    # the command line prints the cohorts
    assert monitor.main(["--domain", "energy", "--datamart", str(datamart), "--tracking-uri", uri,
                         "--no-retrain"]) == 0
    assert "seasonal naive MAE" in capsys.readouterr().out


def test_challenger_replaces_the_champion_only_with_a_lower_mae(trained):
    datamart, uri, _ = trained
    champion = monitor_energy.load_champion(uri)
    kept = monitor_energy.retrain_challenger(datamart, champion, DECEMBER, 0.0, tracking_uri=uri, run_id="t-kept")
    assert not kept["promoted"] and champion_version(uri) == champion.version
    won = monitor_energy.retrain_challenger(datamart, dataclasses.replace(champion), DECEMBER, 1e9, tracking_uri=uri,
                                            run_id="t-won")
    assert won["promoted"] and champion_version(uri) == won["challenger_version"] != champion.version
