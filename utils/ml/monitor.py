"""Monitoring of the champion model of a classifier domain (churn, loan_default): drift
of its inputs, its realised performance as labels mature, alerts, and retraining.

    python -m utils.ml.monitor --domain churn [--datamart DIR] [--tracking-uri URI] [--no-retrain]

One run (one ``run_id``) does, with no Spark (the stores are read with delta-rs, one
feature snapshot at a time):

1. **Champion and reference.** The registered model ``<domain>_<label>`` under the alias
   ``champion`` (the MLflow store of :mod:`utils.ml.tracking`), and the rows it was trained
   on, rebuilt exactly: the training set at the Delta versions its run logged
   (``delta.<table>.version`` tags), split at the run's ``holdout_months`` like
   :func:`utils.ml.train.split_out_of_time` (the rows decided and observed before the
   ``cut``), checked against the digest of the training dataset the run logged.
2. **Drift** -> ``_meta/drift``: per model feature and per ``snapshot_date`` of the current
   gold/feature_store, PSI and KS against the reference (:mod:`utils.ml.monitor_stats`).
3. **Performance** -> ``_meta/performance``: per snapshot after the reference's last cohort,
   the champion's scores of the feature rows: the predicted positive rate at its threshold
   (metrics.json of its run, else 0.5) and, once the cohort's labels exist
   (``feature_snapshot_date``), ROC AUC, F1 and the positive rate. The rate expected of
   new rows is the champion's on its own out-of-time test cohorts (metrics.json; its
   scores of its training rows are in-sample), else on the reference.
4. **Alerts** -> ``_meta/alerts`` and a WARNING line that says what to do: the rules of the
   domain's ``monitoring:`` section (:mod:`utils.lake.config_monitor`), judged on the newest
   data: the latest snapshot (drift, predicted positive rate) and the latest labelled
   cohort (performance). Earlier snapshots were judged by the runs that saw them new; all
   stay in the tables for the plots of the quality report. An alert's ``action``:
   ``notify``, or for a kind in ``retrain_on`` ``retrain`` (``retrain_disabled`` with
   ``--no-retrain``).
5. **Retraining**, when an alert's kind is in ``retrain_on``: a challenger trained by
   :func:`utils.ml.train.train` on the current stores with the latest labelled cohort held
   out (the comparison window, out of time), registered without moving the alias. It
   becomes champion only when its ROC AUC on that window is higher than the champion's.
   The decision and both scores: a row of ``_meta/alerts`` (rule ``retraining``, action
   ``retrained``, value the challenger's ROC AUC, threshold the champion's;
   ``retrain_failed`` when no challenger could be trained) and tags ``monitor.*`` on the
   challenger's run. Caveat: train picks its best of three models on its test cohorts,
   which include the window, so the comparison leans towards the challenger by the spread
   of the three models' ROC AUC there.

Rows of the three tables carry ``domain`` (DESIGN §10). Exit status of the command line:
0, also when alerts fire; 1 with one line on stderr when there is nothing to monitor.
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import json
import logging
import math
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pds

from utils.lake import delta_io
from utils.lake.config_monitor import MonitoringSpec
from utils.lake.datamart import Datamart
from utils.ml import feature_store, train
from utils.ml.monitor_stats import cohort_scores, drift_rows, judge, performance_rows

logger = logging.getLogger(__name__)

CHAMPION = "champion"
STAMP = pa.timestamp("us", tz="UTC")
_COMMON = [("run_id", pa.string()), ("domain", pa.string()), ("model", pa.string()), ("model_version", pa.int64())]
DRIFT_SCHEMA = pa.schema([*_COMMON, ("feature", pa.string()), ("snapshot_date", pa.date32()), ("psi", pa.float64()),
                          ("ks", pa.float64()), ("ks_pvalue", pa.float64()), ("rows", pa.int64()),
                          ("reference_rows", pa.int64()), ("checked_at", STAMP)])
PERFORMANCE_SCHEMA = pa.schema([*_COMMON, ("snapshot_date", pa.date32()), ("rows", pa.int64()),
                                ("labelled_rows", pa.int64()), ("auc", pa.float64()), ("f1", pa.float64()),
                                ("threshold", pa.float64()), ("positive_rate", pa.float64()),
                                ("predicted_positive_rate", pa.float64()), ("checked_at", STAMP),
                                # a recommender's cohorts (utils.ml.monitor_reco); empty for a classifier
                                ("ndcg_at_10", pa.float64()), ("precision_at_10", pa.float64()),
                                ("recall_at_10", pa.float64()), ("warm_users", pa.int64()),
                                ("warm_ndcg_at_10", pa.float64())])
ALERTS_SCHEMA = pa.schema([("run_id", pa.string()), ("domain", pa.string()), ("rule", pa.string()),
                           ("subject", pa.string()), ("snapshot_date", pa.date32()), ("value", pa.float64()),
                           ("threshold", pa.float64()), ("action", pa.string()), ("detail", pa.string()),
                           ("raised_at", STAMP)])


class MonitorError(RuntimeError):
    """Nothing to monitor (message is one line and says what to do)."""


class NoChampionError(MonitorError):
    """The domain has no champion model yet."""


@dataclass(frozen=True)
class Champion:
    """The champion model and what its MLflow run says about its training."""

    model_name: str
    version: int
    run_id: str
    model: object
    label: str
    threshold: float
    test_auc: float | None
    holdout_months: int
    cut: str
    seed: int
    versions: dict[str, int]
    dataset_digest: str | None
    test_rate: float | None  # predicted positive rate on its out-of-time test cohorts (metrics.json)


# --------------------------------------------------------------------------- champion and reference


def load_champion(domain: str, label: str, tracking_uri: str) -> Champion:
    """The model under the alias ``champion`` of ``<domain>_<label>`` and its run's
    params, Delta versions, threshold and test ROC AUC; MonitorError when there is none."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    name = f"{domain}_{label}"
    try:
        version = client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        raise NoChampionError(f"no champion model {name} in the MLflow store; run `python main.py train --domain "
                           f"{domain}` first") from None
    run = client.get_run(version.run_id)
    tags, params = run.data.tags, run.data.params
    versions = {t: int(tags[f"delta.{t}.version"]) for t in feature_store.STORES if f"delta.{t}.version" in tags}
    if len(versions) != len(feature_store.STORES) or "holdout_months" not in params:
        raise MonitorError(f"{name} version {version.version}: its run {run.info.run_id} logged no Delta versions or "
                           f"holdout; retrain with `python main.py train --domain {domain}`")
    mlflow.set_registry_uri(tracking_uri)
    model = mlflow.sklearn.load_model(f"models:/{name}/{version.version}")
    threshold, test_rate = 0.5, None
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = client.download_artifacts(run.info.run_id, "metrics.json", tmp)
            best = json.loads(Path(local).read_text(encoding="utf-8"))
        best = best["models"][best["best_model"]]
        threshold, test_rate = float(best["threshold"]), best["test"].get("predicted_positive_rate")
    except (MlflowException, OSError, KeyError, ValueError):
        logger.info("%s version %s: no threshold in metrics.json; 0.5", name, version.version)
    digests = [d.dataset.digest for d in run.inputs.dataset_inputs]
    return Champion(name, int(version.version), run.info.run_id, model, label, threshold,
                    run.data.metrics.get("best.test_auc"), int(params["holdout_months"]), params.get("cut", ""),
                    int(params.get("seed", 7)), versions, digests[0] if digests else None, test_rate)


def numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame`, changed in place: columns of Decimal objects as floats (as
    :func:`utils.ml.train.train` reads them: numbers, not categories)."""
    for name in frame.columns:
        values = frame[name].dropna()
        if frame[name].dtype == object and len(values) and all(isinstance(v, decimal.Decimal) for v in values.head(100)):
            frame[name] = frame[name].astype(float)
    return frame


def reference_rows(datamart: Path, domain: str, champion: Champion) -> tuple[pd.DataFrame, list[str], list[str], bool]:
    """(the champion's training rows, numeric features, categorical features, whether
    they hash to the digest of the dataset its run logged): the training set at the
    run's Delta versions, split as train split it."""
    import mlflow

    wanted = train.model_features(datamart, champion.versions["feature_store"], domain)
    frame = numbers(feature_store.training_set(None, datamart, domain=domain, label=champion.label, features=wanted,
                                               versions=champion.versions))
    rows, _, split = train.split_out_of_time(frame, champion.holdout_months)
    if champion.cut and split["cut"] != champion.cut:
        raise MonitorError(f"{champion.model_name} version {champion.version}: its training rows do not rebuild "
                           f"(cut {split['cut']}, the run logged {champion.cut}); was a gold version vacuumed?")
    numeric, categorical = train.feature_kinds(frame, wanted)
    logged = rows[[*numeric, *categorical, train.LABEL]].reset_index(drop=True)
    digest = mlflow.data.from_pandas(logged, targets=train.LABEL).digest
    if digest != champion.dataset_digest:
        logger.warning("%s version %d: the rebuilt training rows hash to %s, its run logged %s", champion.model_name,
                       champion.version, digest, champion.dataset_digest)
    return rows.reset_index(drop=True), numeric, categorical, digest == champion.dataset_digest


def snapshots(datamart: Path, domain: str, version: int | None) -> list[dt.date]:
    """The snapshot dates of gold/feature_store at `version`, from its Delta log."""
    path = Datamart(datamart, domain).table("gold", "feature_store")
    return sorted(dt.date.fromisoformat(k[0]) for k in delta_io.list_partitions(path, version) if k[0])


def snapshot_rows(datamart: Path, domain: str, day: dt.date, features: list[str], version: int | None) -> pd.DataFrame:
    """The feature rows of one snapshot (its partition only) at `version`."""
    path = Datamart(datamart, domain).table("gold", "feature_store")
    table = feature_store.read_arrow(path, version, columns=features,
                                     partitions=pds.field("snapshot_date") == pa.scalar(day, pa.date32()))
    return numbers(table.to_pandas())


# --------------------------------------------------------------------------- retraining


def retrain_challenger(datamart: Path, domain: str, champion: Champion, window: dt.date, rows: pd.DataFrame,
                       champion_auc: float, spec: MonitoringSpec, *, tracking_uri: str, baseline: str | None,
                       run_id: str) -> dict:
    """Train a challenger with the latest labelled cohort `window` held out, register it
    without moving the alias, score both on `rows` (the window's labelled rows) and move
    the alias only when the challenger's ROC AUC is higher. The `_meta/alerts` row of the
    decision, with both scores."""
    from mlflow.tracking import MlflowClient

    from utils.ml import tracking

    result = train.train(None, datamart, label_def=champion.label, holdout_months=spec.holdout_months,
                         seed=champion.seed, domain=domain, baseline=baseline)
    split = result["metrics"]["split"]
    if window.isoformat() not in split["test_months"] or window.isoformat() in split["train_months"]:
        raise MonitorError(f"the challenger's split {split['cut']} does not hold out the window {window}")
    tracked = tracking.log_training(result, datamart, tracking_uri=tracking_uri, promote=False)
    used = [c for c in result["training_frame"].columns if c != train.LABEL]
    challenger_auc = cohort_scores(result["model"], 0.5, rows[used], rows[train.LABEL])["auc"]
    promoted = challenger_auc > champion_auc
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    if promoted:
        client.set_registered_model_alias(champion.model_name, CHAMPION, str(tracked.version))
        decision = (f"challenger version {tracked.version} replaces champion version {champion.version}: ROC AUC "
                    f"{challenger_auc:.4f} > {champion_auc:.4f} on cohort {window} ({len(rows)} rows)")
    else:
        decision = (f"champion version {champion.version} kept: challenger version {tracked.version} ROC AUC "
                    f"{challenger_auc:.4f} <= {champion_auc:.4f} on cohort {window} ({len(rows)} rows)")
    for key, value in {"monitor.run_id": run_id, "monitor.window": window.isoformat(),
                       "monitor.champion_version": champion.version, "monitor.champion_auc": f"{champion_auc:.6f}",
                       "monitor.challenger_auc": f"{challenger_auc:.6f}", "monitor.promoted": str(promoted).lower(),
                       "monitor.decision": decision, "champion_decision": decision}.items():
        client.set_tag(tracked.run_id, key, str(value))
    logger.warning("RETRAINED %s: %s", champion.model_name, decision)
    return {"run_id": run_id, "domain": domain, "rule": "retraining", "subject": champion.model_name,
            "snapshot_date": window, "value": challenger_auc, "threshold": champion_auc, "action": "retrained",
            "detail": decision, "raised_at": dt.datetime.now(dt.timezone.utc),
            "challenger_version": tracked.version, "challenger_run_id": tracked.run_id, "promoted": promoted}


# --------------------------------------------------------------------------- the run


def _spec_of(domain: str) -> tuple[MonitoringSpec, str | None, str | None]:
    """(the domain's monitoring rules, its first label, its baseline feature)."""
    from utils.lake.config import load_config

    config = load_config(domain)
    if config.gold is None or not config.gold.labels:
        raise MonitorError(f"{config.file}: no gold labels, so no classifier to monitor")
    spec = config.monitoring or MonitoringSpec()
    if config.monitoring is None:
        logger.info("%s: no monitoring: section in %s; measures only, no alert rule", domain, config.file.name)
    return spec, config.gold.labels[0].name, config.gold.baseline


def monitor(datamart: str | Path, domain: str, *, tracking_uri: str | None = None, retrain: bool = True,
            spec: MonitoringSpec | None = None, spark=None) -> dict:
    """Monitor the champion of `domain` (see the module; a recommender's: see
    :mod:`utils.ml.monitor_reco`, which calls `spark()` for a session only to retrain; the
    energy forecast's: see :mod:`utils.ml.monitor_energy`);
    `spec` replaces the domain's ``monitoring:`` rules. Returns {run_id, model, champion_version, reference_rows,
    drift, performance, alerts (lists of table rows), retraining (the decision row or
    None), champion (the alias's version after the run)}."""
    from utils.layers.run import new_run_id
    from utils.ml.tracking import default_tracking_uri

    from utils.lake.config import load_config

    config = load_config(domain)
    if config.gold is None and config.gold_builder is not None:
        if not config.gold_builder.builder.startswith("utils.domains.energy."):
            raise MonitorError(f"{config.file}: its gold builder makes no model to monitor")
        from utils.ml.monitor_energy import monitor_forecast

        return monitor_forecast(datamart, domain, tracking_uri=tracking_uri, retrain=retrain, spec=spec)
    if (gold := config.gold) is not None and gold.recommend is not None:
        from utils.ml.monitor_reco import monitor_recommender

        return monitor_recommender(datamart, domain, tracking_uri=tracking_uri, retrain=retrain, spec=spec,
                                   spark=spark)
    datamart = Path(datamart).resolve()
    own, first_label, baseline = _spec_of(domain)
    spec = spec or own
    uri = tracking_uri or default_tracking_uri(datamart)
    current = train.check_datamart(datamart, domain)
    champion = load_champion(domain, spec.label or first_label, uri)
    run_id = new_run_id()
    stamp = {"run_id": run_id, "domain": domain, "model": champion.model_name, "model_version": champion.version,
             "checked_at": dt.datetime.now(dt.timezone.utc)}
    reference, numeric, categorical, exact = reference_rows(datamart, domain, champion)
    features = [*numeric, *categorical]
    unknown = sorted(set(spec.features or ()) - set(features))
    if unknown:
        raise MonitorError(f"monitoring.drift.features: {unknown} are not features of {champion.model_name}")
    ref_end = pd.Timestamp(reference[train.DATE].max()).date()
    labelled = numbers(feature_store.training_set(None, datamart, domain=domain, label=champion.label,
                                                  features=features, versions=current,
                                                  start=ref_end + dt.timedelta(days=1)))
    labelled = labelled[labelled[train.LABEL].notna()]
    drift, performance = [], []
    days = snapshots(datamart, domain, current["feature_store"])
    for day in days:  # one snapshot in memory at a time
        frame = {day: snapshot_rows(datamart, domain, day, features, current["feature_store"])}
        drift += drift_rows(reference, frame, numeric, categorical, stamp)
        if day > ref_end:
            performance += performance_rows(champion.model, champion.threshold, frame, labelled, features, stamp)
    # the rate expected of new rows: the champion's on its test cohorts (its scores of its own
    # training rows are in-sample, a forest's more extreme), else on the reference
    expected_rate = champion.test_rate
    if expected_rate is None:
        expected_rate = cohort_scores(champion.model, champion.threshold, reference[features], None)[
            "predicted_positive_rate"]
    alerts = judge(spec, drift, performance, model_name=champion.model_name, test_auc=champion.test_auc,
                   expected_rate=expected_rate, domain=domain, run_id=run_id, retrain=retrain)
    meta = Datamart(datamart).meta
    delta_io.append_rows(meta("drift"), drift, DRIFT_SCHEMA)
    delta_io.append_rows(meta("performance"), performance, PERFORMANCE_SCHEMA, merge_schema=True)
    delta_io.append_rows(meta("alerts"), alerts, ALERTS_SCHEMA)
    decision = None
    scored = [r for r in performance if r["auc"] is not None]
    if retrain and any(a["action"] == "retrain" for a in alerts):
        if not scored:
            logger.warning("%s: no labelled cohort after the champion's training rows to compare a challenger on; "
                           "none trained", champion.model_name)
        else:
            window = max(r["snapshot_date"] for r in scored)
            rows = labelled[pd.to_datetime(labelled[train.DATE]).dt.date == window]
            champion_auc = next(r["auc"] for r in scored if r["snapshot_date"] == window)
            try:
                decision = retrain_challenger(datamart, domain, champion, window, rows, champion_auc, spec,
                                              tracking_uri=uri, baseline=baseline, run_id=run_id)
            except (train.TrainError, MonitorError) as exc:
                logger.error("%s: no challenger: %s", champion.model_name, exc)
                decision = {"run_id": run_id, "domain": domain, "rule": "retraining", "subject": champion.model_name,
                            "snapshot_date": window, "value": math.nan, "threshold": champion_auc,
                            "action": "retrain_failed", "detail": str(exc), "promoted": False,
                            "raised_at": dt.datetime.now(dt.timezone.utc)}
            delta_io.append_rows(meta("alerts"), [decision], ALERTS_SCHEMA)
    logger.info("monitor %s: %s version %d, %d training rows, %d snapshots, %d labelled cohorts after %s, "
                "%d alert(s)%s", run_id, champion.model_name, champion.version, len(reference), len(days),
                sum(r["auc"] is not None for r in performance), ref_end, len(alerts),
                f"; {decision['detail']}" if decision else "")
    return {"run_id": run_id, "model": champion.model_name, "champion_version": champion.version,
            "reference_rows": len(reference), "reference_end": ref_end, "reference_exact": exact,
            "expected_predicted_positive_rate": expected_rate, "drift": drift,
            "performance": performance, "alerts": alerts, "retraining": decision,
            "champion": decision["challenger_version"] if decision and decision["promoted"] else champion.version}


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    from utils.lake.paths import PROJECT_ROOT

    p = argparse.ArgumentParser(prog="python -m utils.ml.monitor",
                                description="Drift, realised performance and alerts of a domain's champion model; "
                                            "an alert can train a challenger, promoted only when better out of time.",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--domain", default=feature_store.DEFAULT_DOMAIN, help="the domain whose champion is monitored")
    p.add_argument("--datamart", type=Path, default=PROJECT_ROOT / "datamart", help="folder of the Delta tables")
    p.add_argument("--tracking-uri", default=None, help="MLflow store (default: sqlite under <datamart>/_mlflow)")
    p.add_argument("--retrain", action=argparse.BooleanOptionalAction, default=True,
                   help="train a challenger when an alert of a retrain_on kind fires")
    return p


def summary(result: dict) -> str:
    """What the command line prints: the champion, the worst drifts of the latest
    snapshot, the labelled cohorts' scores, the alerts and the retraining decision."""
    perf = result["performance"]
    lines = [f"monitor run {result['run_id']}: {result['model']} version {result['champion_version']} "
             f"({result['reference_rows']} {result.get('reference_what', 'training rows')} up to "
             f"{result['reference_end']})"]
    latest = max((r["snapshot_date"] for r in result["drift"]), default=None)
    top = sorted((r for r in result["drift"] if r["snapshot_date"] == latest and not math.isnan(r["psi"])),
                 key=lambda r: -r["psi"])[:5]
    lines += [f"  drift {latest}: " + ", ".join(f"{r['feature']} PSI {r['psi']:.3f}" for r in top)] if top else []
    for r in perf:
        if r.get("mae") is not None:  # a forecast's cohort (utils.ml.monitor_energy)
            lines.append(f"  cohort {r['snapshot_date']}: {r['rows']} rows; MAE {r['mae']:.3f} RMSE {r['rmse']:.3f} "
                         f"MAPE {r['mape']:.1f}% (seasonal naive MAE {r['baseline_mae']:.3f})")
            continue
        if r.get("ndcg_at_10") is not None:
            warm = "" if r["warm_ndcg_at_10"] is None else f", warm {r['warm_ndcg_at_10']:.3f} ({r['warm_users']} users)"
            lines.append(f"  cohort {r['snapshot_date']}: {r['labelled_rows']} users with interactions; NDCG@10 "
                         f"{r['ndcg_at_10']:.3f}{warm}, P@10 {r['precision_at_10']:.3f}, R@10 {r['recall_at_10']:.3f}")
            continue
        if r["predicted_positive_rate"] is None:
            lines.append(f"  cohort {r['snapshot_date']}: {r['rows']} rows; labels pending")
            continue
        auc = "labels pending" if r["auc"] is None else f"ROC AUC {r['auc']:.3f}, F1 {r['f1']:.3f}"
        lines.append(f"  cohort {r['snapshot_date']}: {r['rows']} rows, predicted positive "
                     f"{r['predicted_positive_rate']:.3f}; {auc}")
    lines += [f"  ALERT {a['rule']} {a['subject']} {a['snapshot_date']}: {a['detail']} -> {a['action']}"
              for a in result["alerts"]] or ["  no alert"]
    if result["retraining"]:
        lines.append(f"  retraining: {result['retraining']['detail']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Monitor, print the summary. 0 on success (alerts included), 1 with one line on
    stderr when there is nothing to monitor, 2 for wrong options."""
    from utils.lake.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        result = monitor(args.datamart, args.domain, tracking_uri=args.tracking_uri, retrain=args.retrain)
    except (MonitorError, train.TrainError, ConfigError, delta_io.DeltaIOError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary(result))
    return 0


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure()
    sys.exit(main())
