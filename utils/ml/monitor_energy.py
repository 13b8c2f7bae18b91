"""Monitoring of the energy domain's next-day consumption forecast: drift of its inputs,
realised MAE, RMSE and MAPE per month against the seasonal-naive baseline, alerts, and
retraining.

    python main.py monitor --domain energy [--no-retrain]

One run (one ``run_id``), like :mod:`utils.ml.monitor` for the classifiers:

1. **Champion.** ``energy_next_day_kwh`` under the alias ``champion``
   (:mod:`utils.domains.energy.train`), loaded from the registry, not refitted: its cut
   (the first day it did not train on), its test MAE (metric ``model.test_mae``) and the
   Delta version of gold/energy/building_days its run read.
2. **Cohorts.** The usable rows (:func:`utils.domains.energy.forecast.training_rows`: a
   complete day with both consumption lags, so its actual exists) of the latest
   building_days from the cut on, grouped by month; a cohort's ``snapshot_date`` is its
   first scored day (the cut, or the first of the month).
3. **Drift** -> ``_meta/drift``: every numeric input of the forecast
   (:data:`~utils.domains.energy.forecast.NUMERIC`) per cohort against the champion's
   training rows (the days before its cut at the version its run read), PSI and KS as for
   the classifiers.
4. **Performance** -> ``_meta/performance``: per cohort MAE, RMSE and MAPE of the champion
   and of the seasonal-naive baseline (the same weekday a week before) on the same rows
   (columns ``mae`` ... ``baseline_mape``, added to the table on the first run).
5. **Alerts** -> ``_meta/alerts``: the ``monitoring:`` rules of conf/energy.yaml: drift PSI
   on the latest cohort; on the latest labelled cohort ``performance.beat_baseline`` (the
   champion's MAE above the baseline's) and ``performance.max_mae_increase`` (its MAE more
   than this share above its test MAE).
6. **Retraining**, when an alert's kind is in ``retrain_on``: a challenger trained by
   :mod:`utils.domains.energy.train` with the cut at the latest labelled cohort W (so
   trained on every day before W and scored on W, which it did not see, the rows the
   champion was just scored on), logged and registered without moving the alias; it
   becomes champion only when its MAE on W is lower. The decision and both MAEs: a row of
   ``_meta/alerts`` (rule ``retraining``) and tags ``monitor.*`` on the challenger's run.

No Spark: the table is small and read with delta-rs.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from utils.lake import delta_io
from utils.lake.config_monitor import MonitoringSpec
from utils.lake.datamart import Datamart
from utils.ml.monitor import (ALERTS_SCHEMA, CHAMPION, DRIFT_SCHEMA, PERFORMANCE_SCHEMA, MonitorError,
                              NoChampionError)
from utils.ml.monitor_stats import drift_rows, raise_alert

logger = logging.getLogger(__name__)

#: `_meta/performance` with a forecast's columns (nullable; empty for the other domains).
ERRORS = ("mae", "rmse", "mape")
ENERGY_PERFORMANCE_SCHEMA = pa.schema([*PERFORMANCE_SCHEMA,
                                       *[pa.field(name, pa.float64()) for name in ERRORS],
                                       *[pa.field(f"baseline_{name}", pa.float64()) for name in ERRORS]])


@dataclass(frozen=True)
class ForecastChampion:
    """The champion forecast and what its MLflow run says about its training."""

    model_name: str
    version: int
    run_id: str
    model: object
    cut: dt.date
    test_mae: float | None
    table_version: int | None


def load_champion(tracking_uri: str) -> ForecastChampion:
    """The model under the alias ``champion`` of ``energy_next_day_kwh`` and its run's cut,
    test MAE and Delta version; NoChampionError when there is none."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from utils.domains.energy.train import MODEL_NAME, TABLE

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except MlflowException:
        raise NoChampionError(f"no champion model {MODEL_NAME} in the MLflow store; run `python main.py train "
                              f"--domain energy` first") from None
    run = client.get_run(version.run_id)
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    if "cut" not in params:
        raise MonitorError(f"{MODEL_NAME} version {version.version}: its run {run.info.run_id} logged no cut; "
                           f"retrain with `python main.py train --domain energy`")
    mlflow.set_registry_uri(tracking_uri)
    model = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/{version.version}")
    table_version = tags.get(f"delta.{TABLE}.version")
    return ForecastChampion(MODEL_NAME, int(version.version), run.info.run_id, model,
                            dt.date.fromisoformat(params["cut"]), metrics.get("model.test_mae"),
                            None if table_version is None else int(table_version))


def _days(rows: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(rows["snapshot_date"]).dt.date


def cohorts(rows: pd.DataFrame, cut: dt.date) -> dict[dt.date, pd.DataFrame]:
    """The usable rows from `cut` on by month, keyed by the cohort's first scored day."""
    day = _days(rows)
    later = rows[day >= cut]
    month = _days(later).map(lambda d: d.replace(day=1))
    return {max(m, cut): frame for m, frame in later.groupby(month, sort=True)}


def cohort_row(model, rows: pd.DataFrame, stamp: dict, day: dt.date) -> dict:
    """The `_meta/performance` row of one cohort: the champion's and the baseline's errors."""
    from utils.domains.energy import forecast

    actual = rows[forecast.TARGET].to_numpy(float)
    ours = forecast.errors(actual, model.predict(forecast.design(rows)))
    base = forecast.errors(actual, rows[forecast.BASELINE].to_numpy(float))
    return {**stamp, "snapshot_date": day, "rows": len(rows), "labelled_rows": len(rows), "auc": None, "f1": None,
            "threshold": None, "positive_rate": None, "predicted_positive_rate": None,
            **{k: float(v) for k, v in ours.items()}, **{f"baseline_{k}": float(v) for k, v in base.items()}}


def judge_forecast(spec: MonitoringSpec, drift: list[dict], performance: list[dict], champion: ForecastChampion, *,
                   run_id: str, retrain: bool, domain: str = "energy") -> list[dict]:
    """The `_meta/alerts` rows: drift PSI on the latest cohort, and on the latest labelled
    cohort the champion's MAE against the baseline's and against its test MAE."""
    alerts = []
    latest = max((r["snapshot_date"] for r in drift), default=None)
    if spec.psi is not None and latest is not None:
        judged = set(spec.features) if spec.features is not None else None
        for r in drift:
            if (r["snapshot_date"] == latest and (judged is None or r["feature"] in judged)
                    and r["rows"] >= spec.drift_min_rows and r["psi"] >= spec.psi):
                ks_text = "n/a" if math.isnan(r["ks"]) else f"{r['ks']:.3f}, p {r['ks_pvalue']:.2g}"
                alerts.append(raise_alert(spec, "drift_psi", r["feature"], latest, r["psi"], spec.psi,
                                          f"PSI {r['psi']:.3f} >= {spec.psi} against {r['reference_rows']} training "
                                          f"rows (KS {ks_text})", domain=domain, run_id=run_id, retrain=retrain))
    cohort = max(performance, key=lambda r: r["snapshot_date"], default=None)
    if cohort is None or cohort["labelled_rows"] < spec.performance_min_rows:
        return alerts
    mae, base, day, n = cohort["mae"], cohort["baseline_mae"], cohort["snapshot_date"], cohort["labelled_rows"]
    if spec.beat_baseline and mae > base:
        alerts.append(raise_alert(spec, "performance_above_baseline", champion.model_name, day, mae, base,
                                  f"MAE {mae:.3f} kWh > the seasonal-naive baseline's {base:.3f} on {n} building "
                                  f"days", domain=domain, run_id=run_id, retrain=retrain))
    if spec.max_mae_increase is not None and champion.test_mae:
        increase = mae / champion.test_mae - 1
        if increase > spec.max_mae_increase:
            alerts.append(raise_alert(spec, "performance_mae_increase", champion.model_name, day, increase,
                                      spec.max_mae_increase,
                                      f"MAE {mae:.3f} kWh is {increase:.1%} above its test MAE {champion.test_mae:.3f} "
                                      f"(max increase {spec.max_mae_increase:.0%}) on {n} building days",
                                      domain=domain, run_id=run_id, retrain=retrain))
    return alerts


def retrain_challenger(datamart: Path, champion: ForecastChampion, window: dt.date, champion_mae: float, *,
                       tracking_uri: str, run_id: str, domain: str = "energy") -> dict:
    """Train and register a challenger cut at `window` (alias not moved), and move the
    alias to it only when its MAE on the days from `window` is lower than `champion_mae`.
    The `_meta/alerts` row of the decision."""
    from mlflow.tracking import MlflowClient

    from utils.domains.energy import train

    result = train.train(datamart, window)
    tracked = train.log_training(result, datamart, tracking_uri=tracking_uri, promote=False)
    mae = float(result["metrics"]["model"]["mae"])
    rows = int(result["metrics"]["test_rows"])
    promoted = mae < champion_mae
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    if promoted:
        client.set_registered_model_alias(champion.model_name, CHAMPION, str(tracked["version"]))
        decision = (f"challenger version {tracked['version']} (cut {window}) replaces champion version "
                    f"{champion.version}: MAE {mae:.3f} < {champion_mae:.3f} kWh on cohort {window} ({rows} "
                    f"building days)")
    else:
        decision = (f"champion version {champion.version} kept: challenger version {tracked['version']} (cut "
                    f"{window}) MAE {mae:.3f} >= {champion_mae:.3f} kWh on cohort {window} ({rows} building days)")
    for key, value in {"monitor.run_id": run_id, "monitor.window": window.isoformat(),
                       "monitor.champion_version": champion.version, "monitor.champion_mae": f"{champion_mae:.6f}",
                       "monitor.challenger_mae": f"{mae:.6f}", "monitor.promoted": str(promoted).lower(),
                       "monitor.decision": decision, "champion_decision": decision}.items():
        client.set_tag(tracked["run_id"], key, str(value))
    logger.warning("RETRAINED %s: %s", champion.model_name, decision)
    return {"run_id": run_id, "domain": domain, "rule": "retraining", "subject": champion.model_name,
            "snapshot_date": window, "value": mae, "threshold": champion_mae, "action": "retrained",
            "detail": decision, "raised_at": dt.datetime.now(dt.timezone.utc),
            "challenger_version": tracked["version"], "challenger_run_id": tracked["run_id"], "promoted": promoted}


def monitor_forecast(datamart: str | Path, domain: str = "energy", *, tracking_uri: str | None = None,
                     retrain: bool = True, spec: MonitoringSpec | None = None) -> dict:
    """Monitor the champion forecast of the energy domain (see the module). Returns the
    same keys as :func:`utils.ml.monitor.monitor`."""
    from utils.domains.energy import forecast
    from utils.domains.energy.train import TABLE
    from utils.lake.config import load_config
    from utils.layers.run import new_run_id
    from utils.ml.tracking import default_tracking_uri

    datamart = Path(datamart).resolve()
    spec = spec or load_config(domain).monitoring or MonitoringSpec()
    uri = tracking_uri or default_tracking_uri(datamart)
    path = Datamart(datamart, domain).table("gold", TABLE)
    if not delta_io.table_exists(path):
        raise MonitorError(f"gold/{domain}/{TABLE} does not exist; build it first: python main.py --domain {domain}")
    champion = load_champion(uri)
    unknown = sorted(set(spec.features or ()) - set(forecast.NUMERIC))
    if unknown:
        raise MonitorError(f"monitoring.drift.features: {unknown} are not numeric inputs of {champion.model_name}")
    run_id = new_run_id()
    stamp = {"run_id": run_id, "domain": domain, "model": champion.model_name, "model_version": champion.version,
             "checked_at": dt.datetime.now(dt.timezone.utc)}
    reference = forecast.training_rows(forecast.read_days(datamart, champion.table_version))
    reference = reference[_days(reference) < champion.cut]
    if reference.empty:
        raise MonitorError(f"gold/{domain}/{TABLE} holds no usable rows before the champion's cut {champion.cut}")
    current = forecast.training_rows(forecast.read_days(datamart))
    drift, performance = [], []
    for day, rows in cohorts(current, champion.cut).items():
        drift += drift_rows(reference, {day: rows}, forecast.NUMERIC, [], stamp)
        performance.append(cohort_row(champion.model, rows, stamp, day))
    alerts = judge_forecast(spec, drift, performance, champion, run_id=run_id, retrain=retrain, domain=domain)
    meta = Datamart(datamart).meta
    delta_io.append_rows(meta("drift"), drift, DRIFT_SCHEMA)
    delta_io.append_rows(meta("performance"), performance, ENERGY_PERFORMANCE_SCHEMA, merge_schema=True)
    delta_io.append_rows(meta("alerts"), alerts, ALERTS_SCHEMA)
    decision = None
    if retrain and any(a["action"] == "retrain" for a in alerts):
        if not performance:
            logger.warning("%s: no labelled cohort after the champion's cut to compare a challenger on; none trained",
                           champion.model_name)
        else:
            last = max(performance, key=lambda r: r["snapshot_date"])
            decision = retrain_challenger(datamart, champion, last["snapshot_date"], last["mae"], tracking_uri=uri,
                                          run_id=run_id, domain=domain)
            delta_io.append_rows(meta("alerts"), [decision], ALERTS_SCHEMA)
    logger.info("monitor %s: %s version %d (cut %s), %d cohorts after the cut, %d alert(s)%s", run_id,
                champion.model_name, champion.version, champion.cut, len(performance), len(alerts),
                f"; {decision['detail']}" if decision else "")
    return {"run_id": run_id, "model": champion.model_name, "champion_version": champion.version,
            "reference_rows": len(reference), "reference_what": "building days before the cut",
            "reference_end": champion.cut - dt.timedelta(days=1),
            "reference_exact": champion.table_version is not None,
            "expected_predicted_positive_rate": None, "drift": drift, "performance": performance,
            "alerts": alerts, "retraining": decision,
            "champion": decision["challenger_version"] if decision and decision["promoted"] else champion.version}
