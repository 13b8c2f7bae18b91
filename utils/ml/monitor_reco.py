"""Monitoring of the champion recommender of a domain whose label is of kind
interactions (recommendation): drift of the users' features, realised NDCG@10 per
cohort as the label windows close, alerts, and retraining.

    python main.py monitor --domain recommendation [--no-retrain]

One run (one ``run_id``), like :mod:`utils.ml.monitor` for the classifiers:

1. **Champion.** The registered model ``<domain>_<label_def>`` under the alias
   ``champion`` (:mod:`utils.ml.reco_tracking`): a fitted recommender, the cut D0 it was
   trained up to and its NDCG@10 over all evaluated users on the window after D0 (metric
   ``<model>.all.ndcg_at_10`` of its run), which is what ``max_drop`` compares with.
2. **Drift** -> ``_meta/drift``: every numeric feature of ``gold/feature_store`` per
   snapshot against the population at D0 (the feature store at the Delta version the
   champion's run read), PSI and KS as for the classifiers.
3. **Performance** -> ``_meta/performance``: per snapshot D after D0, once its label
   window has closed (``label_store`` rows at D): the champion's top 10 for the users of
   the population at D who interact with an item in the window, scored against those
   interactions (graded): NDCG@10, precision@10 and recall@10 over all of them, and
   NDCG@10 over the warm ones (known to the model; the others get its popularity
   fallback). The model is not refitted: this is how the served model ages.
4. **Alerts** -> ``_meta/alerts``: the domain's ``monitoring:`` rules: drift PSI on the
   latest snapshot, and on the latest labelled cohort ``performance.min_ndcg`` and
   ``performance.max_drop`` (NDCG@10 more than this below the champion's own).
5. **Retraining**, when an alert's kind is in ``retrain_on``: the recommenders are
   evaluated again with the cut at the latest labelled cohort W (trained on the events up
   to W, scored on W's window, which is out of time for them and is the window the
   champion was just scored on, over the same users), logged and registered without
   moving the alias. The challenger becomes champion only when its NDCG@10 there is
   higher than the champion's. The decision and both scores: a row of ``_meta/alerts``
   (rule ``retraining``) and tags ``monitor.*`` on the challenger's run. Caveat: the best
   of the recommenders is picked on W's warm users, so the comparison leans towards the
   challenger by the spread of the models' scores there.

Needs Spark only to retrain (the recommenders read the stores with Spark and ALS fits in
Spark); `spark` is a callable that starts or returns the session, called only then.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc

from utils.lake import delta_io
from utils.lake.config_monitor import MonitoringSpec
from utils.lake.datamart import Datamart
from utils.ml import feature_store
from utils.ml.monitor import (ALERTS_SCHEMA, CHAMPION, DRIFT_SCHEMA, PERFORMANCE_SCHEMA, MonitorError,
                              NoChampionError, numbers, snapshot_rows, snapshots)
from utils.ml.monitor_stats import drift_rows, judge, raise_alert

logger = logging.getLogger(__name__)

K = 10


@dataclass(frozen=True)
class RecoChampion:
    """The champion recommender and what its MLflow run says about its training."""

    model_name: str
    version: int
    run_id: str
    recommender: object  # a fitted utils.ml.recommenders.Recommender
    best: str
    cut: dt.date
    score: float | None  # NDCG@10 over all evaluated users on the window after the cut
    versions: dict[str, int]


def load_champion(domain: str, label: str, tracking_uri: str) -> RecoChampion:
    """The recommender under the alias ``champion`` of ``<domain>_<label>`` and its run's
    cut, score and Delta versions; NoChampionError when there is none."""
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
    params, tags, metrics = run.data.params, run.data.tags, run.data.metrics
    if "cut" not in params or "best_model" not in params:
        raise MonitorError(f"{name} version {version.version}: its run {run.info.run_id} logged no cut or best "
                           f"model; retrain with `python main.py train --domain {domain}`")
    versions = {key[len("delta."):-len(".version")]: int(value) for key, value in tags.items()
                if key.startswith("delta.") and key.endswith(".version")}
    mlflow.set_registry_uri(tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version.version}")
    best = params["best_model"]
    return RecoChampion(name, int(version.version), run.info.run_id, model.unwrap_python_model().recommender, best,
                        dt.date.fromisoformat(params["cut"]), metrics.get(f"{best}.all.ndcg_at_{K}"), versions)


def label_rows(datamart: Path, domain: str, label: str, entity: str, item: str,
               version: int | None = None) -> pd.DataFrame:
    """user_id, product_id, relevance, cohort (its feature_snapshot_date): the rows of
    `label` in gold/label_store (read with delta-rs; the table is partitioned by the end of
    the window, so the cohorts are filtered in memory)."""
    path = Datamart(datamart, domain).table("gold", "label_store")
    table = feature_store.read_arrow(path, version, columns=[entity, item, "label", "label_def",
                                                             feature_store.FEATURE_DATE])
    table = table.filter(pc.equal(table["label_def"], label))
    return pd.DataFrame({"user_id": table[entity].to_pylist(), "product_id": table[item].to_pylist(),
                         "relevance": table["label"].to_pylist(),
                         "cohort": table[feature_store.FEATURE_DATE].to_pylist()})


def cohort_row(recommender, truth: pd.DataFrame, population: set[str], stamp: dict, day: dt.date) -> dict:
    """The `_meta/performance` row of one cohort: the champion's top K for the users of
    `population` who have truth rows, scored against them."""
    from utils.ml import rank_metrics

    truth = truth[truth["user_id"].isin(population) & (truth["relevance"] > 0)]
    users = sorted(truth["user_id"].unique())
    row = {**stamp, "snapshot_date": day, "rows": len(population), "labelled_rows": len(users), "auc": None,
           "f1": None, "threshold": None, "positive_rate": len(users) / len(population) if population else None,
           "predicted_positive_rate": None, "ndcg_at_10": None, "precision_at_10": None, "recall_at_10": None,
           "warm_users": None, "warm_ndcg_at_10": None}
    if not users:
        return row
    recs = recommender.recommend(users, K)
    items = getattr(recommender, "_items", None)
    catalog = max(0 if items is None else len(items), 1)
    every = rank_metrics.evaluate(recs, truth, ks=(K,), catalog_size=catalog)[K]
    warm = [u for u in users if u in getattr(recommender, "_known", set())]
    warm_scores = rank_metrics.evaluate(recs, truth, ks=(K,), catalog_size=catalog, users=warm)[K]
    row.update(ndcg_at_10=every["ndcg"], precision_at_10=every["precision"], recall_at_10=every["recall"],
               warm_users=len(warm), warm_ndcg_at_10=None if math.isnan(warm_scores["ndcg"]) else warm_scores["ndcg"])
    return row


def judge_ranking(spec: MonitoringSpec, drift: list[dict], performance: list[dict], champion: RecoChampion, *,
                  domain: str, run_id: str, retrain: bool) -> list[dict]:
    """The `_meta/alerts` rows: drift on the latest snapshot (the classifiers' rule), and
    NDCG@10 on the latest labelled cohort against min_ndcg and max_drop."""
    latest = max((r["snapshot_date"] for r in drift), default=None)
    # the drift rule of the classifiers, judged on the latest snapshot; no rate rule here
    alerts = judge(MonitoringSpec(psi=spec.psi, features=spec.features, drift_min_rows=spec.drift_min_rows,
                                  retrain_on=spec.retrain_on),
                   drift, [{"snapshot_date": latest, "auc": None}] if latest else [], model_name=champion.model_name,
                   test_auc=None, expected_rate=0.0, domain=domain, run_id=run_id, retrain=retrain)
    cohort = max((r for r in performance if r["ndcg_at_10"] is not None), key=lambda r: r["snapshot_date"],
                 default=None)
    if cohort is None or cohort["labelled_rows"] < spec.performance_min_rows:
        return alerts
    ndcg, day, n = cohort["ndcg_at_10"], cohort["snapshot_date"], cohort["labelled_rows"]
    if spec.min_ndcg is not None and ndcg < spec.min_ndcg:
        alerts.append(raise_alert(spec, "performance_min_ndcg", champion.model_name, day, ndcg, spec.min_ndcg,
                                  f"NDCG@10 {ndcg:.4f} < {spec.min_ndcg} over {n} users", domain=domain,
                                  run_id=run_id, retrain=retrain))
    if spec.max_drop is not None and champion.score is not None and champion.score - ndcg > spec.max_drop:
        alerts.append(raise_alert(spec, "performance_max_drop", champion.model_name, day, champion.score - ndcg,
                                  spec.max_drop, f"NDCG@10 {ndcg:.4f} is {champion.score - ndcg:.4f} below its "
                                  f"{champion.score:.4f} at its cut {champion.cut} (max drop {spec.max_drop})",
                                  domain=domain, run_id=run_id, retrain=retrain))
    return alerts


def retrain_challenger(spark: Callable, datamart: Path, domain: str, champion: RecoChampion, window: dt.date,
                       champion_score: float, *, tracking_uri: str, run_id: str) -> dict:
    """Evaluate the recommenders with the cut at `window`, register the best without
    moving the alias, and move it only when its NDCG@10 on the window (all evaluated
    users) is higher than the champion's. The `_meta/alerts` row of the decision."""
    from mlflow.tracking import MlflowClient

    from utils.ml import recommend

    out = Datamart(datamart, domain).models / "challengers" / f"{run_id}.json"
    report = recommend.run(spark(), datamart, domain, cut=window.isoformat(), out=out, track=True,
                           tracking_uri=tracking_uri, promote=False)
    tracked = report["mlflow"]
    best = max(report["models"], key=lambda n: (report["models"][n]["metrics"]["warm"].get(str(K), {}).get("ndcg")
                                                 or 0.0, n))
    score = float(report["models"][best]["metrics"]["all"][str(K)]["ndcg"])
    promoted = score > champion_score
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    users = report["users"]["all"]
    if promoted:
        client.set_registered_model_alias(champion.model_name, CHAMPION, str(tracked["version"]))
        decision = (f"challenger version {tracked['version']} ({best}, cut {window}) replaces champion version "
                    f"{champion.version}: NDCG@10 {score:.4f} > {champion_score:.4f} on cohort {window} "
                    f"({users} users)")
    else:
        decision = (f"champion version {champion.version} kept: challenger version {tracked['version']} ({best}) "
                    f"NDCG@10 {score:.4f} <= {champion_score:.4f} on cohort {window} ({users} users)")
    for key, value in {"monitor.run_id": run_id, "monitor.window": window.isoformat(),
                       "monitor.champion_version": champion.version, "monitor.champion_ndcg": f"{champion_score:.6f}",
                       "monitor.challenger_ndcg": f"{score:.6f}", "monitor.promoted": str(promoted).lower(),
                       "monitor.decision": decision, "champion_decision": decision}.items():
        client.set_tag(tracked["run_id"], key, str(value))
    logger.warning("RETRAINED %s: %s", champion.model_name, decision)
    return {"run_id": run_id, "domain": domain, "rule": "retraining", "subject": champion.model_name,
            "snapshot_date": window, "value": score, "threshold": champion_score, "action": "retrained",
            "detail": decision, "raised_at": dt.datetime.now(dt.timezone.utc),
            "challenger_version": tracked["version"], "challenger_run_id": tracked["run_id"], "promoted": promoted}


def monitor_recommender(datamart: str | Path, domain: str, *, tracking_uri: str | None = None, retrain: bool = True,
                        spec: MonitoringSpec | None = None, spark: Callable | None = None) -> dict:
    """Monitor the champion recommender of `domain` (see the module). Returns the same
    keys as :func:`utils.ml.monitor.monitor`."""
    from utils.lake.config import load_config
    from utils.layers.run import new_run_id
    from utils.ml import train
    from utils.ml.tracking import default_tracking_uri

    datamart = Path(datamart).resolve()
    gold = load_config(domain).gold
    rec = gold.recommend
    label = next(lb for lb in gold.labels if lb.name == rec.label)
    spec = spec or load_config(domain).monitoring or MonitoringSpec()
    uri = tracking_uri or default_tracking_uri(datamart)
    current = train.check_datamart(datamart, domain)
    champion = load_champion(domain, rec.label, uri)
    run_id = new_run_id()
    stamp = {"run_id": run_id, "domain": domain, "model": champion.model_name, "model_version": champion.version,
             "checked_at": dt.datetime.now(dt.timezone.utc)}
    fs_path = Datamart(datamart, domain).table("gold", "feature_store")
    columns = feature_store._schema(fs_path, current["feature_store"]).names
    candidates = feature_store.feature_columns(columns, gold.entity)
    reference = snapshot_rows(datamart, domain, champion.cut, [gold.entity, *candidates],
                              champion.versions.get("feature_store", current["feature_store"]))
    if reference.empty:
        raise MonitorError(f"gold/feature_store holds no rows at the champion's cut {champion.cut}")
    numeric = [c for c in candidates if pd.api.types.is_numeric_dtype(numbers(reference)[c])
               and not pd.api.types.is_bool_dtype(reference[c])]
    unknown = sorted(set(spec.features or ()) - set(numeric))
    if unknown:
        raise MonitorError(f"monitoring.drift.features: {unknown} are not numeric features of gold/feature_store")
    labels = label_rows(datamart, domain, rec.label, gold.entity, label.item, current["label_store"])
    cohorts = set(labels["cohort"])
    drift, performance = [], []
    for day in snapshots(datamart, domain, current["feature_store"]):
        frame = snapshot_rows(datamart, domain, day, [gold.entity, *numeric], current["feature_store"])
        drift += drift_rows(reference, {day: frame}, numeric, [], stamp)
        if day > champion.cut:
            truth = labels[labels["cohort"] == day]
            row = cohort_row(champion.recommender, truth, set(frame[gold.entity].astype(str)), stamp, day)
            if day not in cohorts:
                row["labelled_rows"] = 0
            performance.append(row)
    alerts = judge_ranking(spec, drift, performance, champion, domain=domain, run_id=run_id, retrain=retrain)
    meta = Datamart(datamart).meta
    delta_io.append_rows(meta("drift"), drift, DRIFT_SCHEMA)
    delta_io.append_rows(meta("performance"), performance, PERFORMANCE_SCHEMA, merge_schema=True)
    delta_io.append_rows(meta("alerts"), alerts, ALERTS_SCHEMA)
    decision = None
    scored = [r for r in performance if r["ndcg_at_10"] is not None]
    if retrain and any(a["action"] == "retrain" for a in alerts):
        if not scored:
            logger.warning("%s: no labelled cohort after the champion's cut to compare a challenger on; none "
                           "trained", champion.model_name)
        else:
            last = max(scored, key=lambda r: r["snapshot_date"])
            if spark is None:
                from utils.lake.spark import SparkSettings, get_spark

                def spark():
                    return get_spark(SparkSettings(app_name=f"lakehouse-monitor-{domain}"))
            decision = retrain_challenger(spark, datamart, domain, champion, last["snapshot_date"],
                                          last["ndcg_at_10"], tracking_uri=uri, run_id=run_id)
            delta_io.append_rows(meta("alerts"), [decision], ALERTS_SCHEMA)
    logger.info("monitor %s: %s version %d (%s, cut %s), %d snapshots, %d labelled cohorts after the cut, "
                "%d alert(s)%s", run_id, champion.model_name, champion.version, champion.best, champion.cut,
                len({r['snapshot_date'] for r in drift}), len(scored), len(alerts),
                f"; {decision['detail']}" if decision else "")
    return {"run_id": run_id, "model": champion.model_name, "champion_version": champion.version,
            "reference_rows": len(reference), "reference_what": f"users ({champion.best})", "reference_end": champion.cut,
            "reference_exact": "feature_store" in champion.versions,
            "expected_predicted_positive_rate": None, "drift": drift, "performance": performance,
            "alerts": alerts, "retraining": decision,
            "champion": decision["challenger_version"] if decision and decision["promoted"] else champion.version}
