"""Recommenders of a domain whose label is of kind interactions: trained before one
global cut, evaluated out of time on the label window after it, and a retrieval of a
user's top K as of a time for serving.

    python main.py train --domain recommendation [--datamart DIR] [--cut 2024-10-31]
    python -m utils.ml.recommend --domain recommendation [--datamart DIR] [--out FILE]

The cut D is one month end (``gold.recommend.cut``, default the latest D with labels).
Training: the events of ``gold.recommend.events`` with event time up to the end of D,
each with its declared weight. Truth: the label store's rows of D (the items each user
interacts with in (D, D + days], graded). Evaluated: the users of the feature store's
population at D who have at least one such item; warm when they have a training event,
cold otherwise (every model serves cold users from popularity, and counts them).
Catalogue: the items of the entity table ``gold.recommend.catalogue`` at D, their texts
from the latest silver version known at D.

Output (``<datamart>/_models/<domain>/evaluation.json``, and a copy per run under
``<datamart>/_models/<domain>/<UTC timestamp>/``): per model, segment (all, warm,
cold) and K: precision, recall, ndcg, map, hit_rate, coverage and the users evaluated;
fit and recommend seconds; the leakage alarm (a model above ``gold.recommend.ceiling``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from utils.lake.datamart import Datamart
from utils.lake.paths import PROJECT_ROOT

logger = logging.getLogger(__name__)

DEFAULT_DOMAIN = "recommendation"
SEGMENTS = ("all", "warm", "cold")


class RecommendError(RuntimeError):
    """The datamart cannot give an evaluation (the message says what to do)."""


@dataclass
class RecoData:
    """What the recommenders learn from and are judged on, at one cut."""

    cut: dt.date
    train: pd.DataFrame  # user_id, product_id, event_type, occurred_at, weight
    truth: pd.DataFrame  # user_id, product_id, relevance
    users: list[str]  # evaluated: in the population at the cut, with truth rows
    warm: set[str]
    items: pd.DataFrame  # product_id, title, description, category
    versions: dict[str, int] = field(default_factory=dict)


def _spec(domain: str):
    from utils.lake.config import load_config

    spec = load_config(domain).gold
    if spec is None or spec.recommend is None:
        raise RecommendError(f"conf/{domain}.yaml has no gold.recommend section: nothing to evaluate")
    return spec


def _table(spark, datamart: Path, domain: str, layer: str, name: str):
    from utils.lake import delta_io

    path = Datamart(datamart, domain).table(layer, name)
    if not delta_io.table_exists(path):
        raise RecommendError(f"no {layer}/{name} in {datamart}; run `python main.py --domain {domain} "
                             f"--datamart {datamart}` first")
    return delta_io.read_table(spark, path), delta_io.table_version(path)


def load(spark, datamart: str | Path, domain: str = DEFAULT_DOMAIN, cut: str | dt.date | None = None) -> RecoData:
    """The training events, truth, evaluated users and catalogue at the cut."""
    from pyspark.sql import functions as F

    datamart, spec = Path(datamart), _spec(domain)
    rec = spec.recommend
    label = next(lb for lb in spec.labels if lb.name == rec.label)
    versions: dict[str, int] = {}
    labels, versions["label_store"] = _table(spark, datamart, domain, "gold", "label_store")
    labels = labels.where(F.col("label_def") == rec.label)
    if cut is None:
        cut = rec.cut or labels.agg(F.max("feature_snapshot_date")).first()[0]
        if cut is None:
            raise RecommendError(f"gold/label_store holds no {rec.label} rows: the data end before one window closes")
    cut = cut if isinstance(cut, dt.date) else dt.date.fromisoformat(str(cut))
    truth = labels.where(F.col("feature_snapshot_date") == F.lit(cut)).select(
        F.col(spec.entity).alias("user_id"), F.col(label.item).alias("product_id"), F.col("label").alias("relevance"))
    features, versions["feature_store"] = _table(spark, datamart, domain, "gold", "feature_store")
    population = features.where(F.col("snapshot_date") == F.lit(cut)).select(F.col(spec.entity).alias("user_id"))
    truth = truth.join(population, "user_id").toPandas()
    end = F.lit(cut + dt.timedelta(days=1)).cast("timestamp")
    parts = []
    for table, column, where, weight, kind in rec.events:
        rows, versions[f"silver/{table}"] = _table(spark, datamart, domain, "silver", table)
        rows = rows.where(F.expr(where)) if where else rows
        parts.append(rows.where(F.col(column) < end).select(
            F.col(rec.user).alias("user_id"), F.col(rec.item).alias("product_id"), F.lit(kind).alias("event_type"),
            F.col(column).alias("occurred_at"), F.lit(float(weight)).alias("weight")))
    train = parts[0]
    for part in parts[1:]:
        train = train.unionByName(part)
    train = train.where(F.col("user_id").isNotNull() & F.col("product_id").isNotNull()).toPandas()
    train["occurred_at"] = pd.to_datetime(train["occurred_at"], utc=True)
    items = _catalogue(spark, datamart, domain, spec, cut, versions)
    users = sorted(truth["user_id"].unique())
    warm = set(train["user_id"].unique()) & set(users)
    logger.info("recommendation data at cut %s: %d training events of %d users, %d items in the catalogue, %d "
                "users to evaluate (%d warm, %d cold)", cut, len(train), train["user_id"].nunique(), len(items),
                len(users), len(warm), len(users) - len(warm))
    return RecoData(cut, train, truth, users, warm, items, versions)


def _catalogue(spark, datamart: Path, domain: str, spec, cut: dt.date, versions: dict[str, int]) -> pd.DataFrame:
    """The items of the catalogue table at the cut, with the texts of their latest
    silver version known at the cut (product_id, title, description, category)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    rec = spec.recommend
    sim = next(iter(spec.similarity.values()), None)
    if rec.catalogue is None or sim is None or sim.content is None:
        raise RecommendError("gold.recommend needs a catalogue table and a similarity table with content texts")
    listed, versions[rec.catalogue] = _table(spark, datamart, domain, "gold", rec.catalogue)
    entity = spec.tables[rec.catalogue].entity
    listed = listed.where(F.col("snapshot_date") == F.lit(cut)).select(F.col(entity).alias("product_id"))
    table, column, text, _ = sim.content
    rows, versions[f"silver/{table}"] = _table(spark, datamart, domain, "silver", table)
    known = rows.where(F.col(column) < F.lit(cut + dt.timedelta(days=1)).cast("timestamp"))
    latest = known.withColumn("_n", F.row_number().over(
        Window.partitionBy(sim.item).orderBy(F.desc(column)))).where(F.col("_n") == 1)
    # the content model reads title, description and category: the other text columns
    # (e.g. brand) join the description
    rest = [c for c in text if c not in ("title", "category")]
    texts = latest.select(F.col(sim.item).alias("product_id"),
                          *[(F.col(c) if c in text else F.lit("")).alias(c) for c in ("title", "category")],
                          F.concat_ws(" ", *[F.coalesce(F.col(c).cast("string"), F.lit("")) for c in rest]
                                      ).alias("description"))
    return listed.join(texts, "product_id", "left").fillna("").orderBy("product_id").toPandas()


def evaluate_models(data: RecoData, spec, spark, names: tuple[str, ...] | None = None,
                    models: dict[str, Any] | None = None) -> dict:
    """Fit every model on `data.train`, recommend for the evaluated users, score them.
    `models`: name -> a model object to use instead of the configured ones; an empty
    dict is filled with the configured models (`names`, default all), so the caller
    keeps the fitted models."""
    from utils.ml import rank_metrics, recommenders

    rec = spec.recommend
    ks, kmax = tuple(rec.ks), max(rec.ks)
    models = {} if models is None else models
    if not models:
        models.update({n: recommenders.make(n, spark=spark, **rec.models.get(n, {}))
                       for n in names or recommenders.MODELS})
    segments = {"all": data.users, "warm": sorted(data.warm), "cold": sorted(set(data.users) - data.warm)}
    out: dict[str, Any] = {}
    for name, model in models.items():
        began = time.perf_counter()
        model.fit(data.train, data.items)
        fitted = time.perf_counter()
        recs = model.recommend(data.users, kmax)
        done = time.perf_counter()
        scores = {seg: _keyed(rank_metrics.evaluate(recs, data.truth, ks=ks, catalog_size=len(data.items),
                                                    users=users)) for seg, users in segments.items()}
        out[name] = {"params": getattr(model, "params", {}), "fit_seconds": round(fitted - began, 3),
                     "recommend_seconds": round(done - fitted, 3),
                     "fallback_users": int(getattr(model, "last_fallback_users", 0)), "metrics": scores}
        at10 = scores["all"].get("10", {})
        logger.info("%-12s fit %.1f s, recommend %.1f s: NDCG@10 %.4f (warm %.4f, cold %.4f), P@10 %.4f, "
                    "fallback users %d", name, fitted - began, done - fitted, at10.get("ndcg", float("nan")),
                    scores["warm"].get("10", {}).get("ndcg", float("nan")),
                    scores["cold"].get("10", {}).get("ndcg", float("nan")), at10.get("precision", float("nan")),
                    out[name]["fallback_users"])
    return out


def _keyed(metrics: dict) -> dict:
    """{k: {...}} with string keys (JSON)."""
    return {str(k): v for k, v in metrics.items()}


def leakage_alarms(results: dict, ceiling: dict[str, float]) -> list[dict]:
    """The (model, metric, value, ceiling) above the declared ceiling: a recommender
    this good on the next window has seen it."""
    alarms = []
    for name, result in results.items():
        for key, limit in ceiling.items():
            metric, _, k = key.rpartition("_at_")
            value = result["metrics"]["all"].get(k, {}).get(metric)
            if value is not None and value > limit:
                alarms.append({"model": name, "metric": key, "value": value, "ceiling": limit})
                logger.warning("LEAKAGE ALARM: %s scores %s = %.3f (> %.2f) out of time; check that no feature or "
                               "training event reads the label window", name, key, value, limit)
    return alarms


def run(spark, datamart: str | Path, domain: str = DEFAULT_DOMAIN, *, cut: str | None = None,
        out: str | Path | None = None, track: bool = False, tracking_uri: str | None = None,
        promote: bool = True) -> dict:
    """Load, evaluate every model, check the ceiling and write the evaluation JSON;
    with `track`, log it to MLflow and register the best model (utils.ml.reco_tracking),
    which becomes champion unless worse on the same cut (never with `promote` False: a
    challenger of monitoring). Returns the evaluation."""
    spec = _spec(domain)
    data = load(spark, datamart, domain, cut)
    fitted: dict[str, Any] = {}
    results = evaluate_models(data, spec, spark, models=fitted)
    report = {
        "domain": domain, "label_def": spec.recommend.label, "cut": data.cut.isoformat(),
        "trained_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "train_events": len(data.train), "train_users": int(data.train["user_id"].nunique()),
        "catalogue_items": len(data.items), "users": {"all": len(data.users), "warm": len(data.warm),
                                                      "cold": len(data.users) - len(data.warm)},
        "ks": list(spec.recommend.ks), "table_versions": data.versions, "models": results,
        "leakage_alarms": leakage_alarms(results, spec.recommend.ceiling),
        "ceiling": spec.recommend.ceiling,
    }
    if track:
        from utils.ml import reco_tracking

        tracked = reco_tracking.log_evaluation(report, data.train, fitted, datamart, tracking_uri=tracking_uri,
                                                 promote=promote)
        report["mlflow"] = {"run_id": tracked.run_id, "model": tracked.model_name, "version": tracked.version,
                            "champion": tracked.champion, "decision": tracked.decision}
    write(report, Path(datamart), domain, out)
    return report


def write(report: dict, datamart: Path, domain: str, out: str | Path | None = None) -> Path:
    """The evaluation as JSON: `out`, or the datamart's latest and a copy per run."""
    text = json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"
    targets = [Path(out)] if out else [
        Datamart(datamart, domain).models / "evaluation.json",
        Datamart(datamart, domain).models / report["trained_at"].replace("-", "").replace(":", "") / "evaluation.json"]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".json.partial")
        partial.write_text(text, encoding="utf-8")
        partial.replace(target)  # readers never see half a file
    logger.info("evaluation written to %s", targets[0])
    return targets[0]


def summary(report: dict) -> str:
    """A plain table of NDCG@10 / P@10 / recall@10 / coverage@10 per model and segment."""
    lines = [f"Recommenders of {report['domain']} at cut {report['cut']} ({report['users']['all']} users: "
             f"{report['users']['warm']} warm, {report['users']['cold']} cold)",
             f"{'model':<14}{'segment':<8}{'NDCG@10':>9}{'P@10':>8}{'R@10':>8}{'HR@10':>8}{'cov@10':>8}"
             f"{'fit s':>8}{'rec s':>8}"]
    for name, result in report["models"].items():
        for seg in SEGMENTS:
            m = result["metrics"][seg].get("10", {})
            lines.append(f"{name:<14}{seg:<8}{m.get('ndcg', 0):>9.4f}{m.get('precision', 0):>8.4f}"
                         f"{m.get('recall', 0):>8.4f}{m.get('hit_rate', 0):>8.4f}{m.get('coverage', 0):>8.4f}"
                         f"{result['fit_seconds']:>8.1f}{result['recommend_seconds']:>8.1f}")
    for alarm in report["leakage_alarms"]:
        lines.append(f"LEAKAGE ALARM: {alarm['model']} {alarm['metric']} = {alarm['value']:.3f} > {alarm['ceiling']}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m utils.ml.recommend", description=__doc__.split("\n\n")[0])
    p.add_argument("--domain", default=DEFAULT_DOMAIN, help="a domain with gold.recommend (default %(default)s)")
    p.add_argument("--datamart", type=Path, default=PROJECT_ROOT / "datamart", help="folder of the Delta tables")
    p.add_argument("--cut", help="the global cut D, a month end with labels (default: gold.recommend.cut, else "
                   "the latest)")
    p.add_argument("--out", type=Path, help="write the JSON here (default: <datamart>/_models/<domain>/)")
    p.add_argument("--track", action="store_true", help="log to MLflow and register the best model (python main.py "
                   "train does)")
    p.add_argument("--tracking-uri", help="MLflow tracking and registry store (default with --track: sqlite under "
                   "<datamart>/_mlflow)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Command line; 0 when evaluated, 1 when the datamart cannot give an evaluation."""
    from utils.lake import logs
    from utils.lake.spark import get_spark

    logs.configure()
    args = build_parser().parse_args(argv)
    spark = get_spark()
    try:
        report = run(spark, args.datamart.resolve(), args.domain, cut=args.cut, out=args.out,
                     track=args.track or args.tracking_uri is not None, tracking_uri=args.tracking_uri)
    except RecommendError as exc:
        logger.error("%s", exc)
        return 1
    logger.info("\n%s", summary(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
