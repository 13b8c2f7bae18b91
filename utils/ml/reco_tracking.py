"""MLflow tracking and registry of the recommenders' evaluations (:mod:`utils.ml.recommend`).

    python main.py train --domain recommendation        # evaluates, logs, registers

One run per evaluation in the experiment ``lakehouse/<domain>``: parameters (cut, every
model's parameters, event weights, users), metrics ``<model>.<segment>.<metric>_at_<k>``
for every model, segment (all, warm, cold) and K, the fit and recommend seconds,
evaluation.json as an artefact, and the training events as an MLflow dataset tagged with
the Delta tables and versions they were read from.

The best model (highest NDCG@10 on warm users) is logged as an MLflow pyfunc model whose
input is a frame of ``user_id`` (and optionally ``k``) and whose output is the ranked
recommendations, and registered as ``<domain>_<label_def>``. The alias ``champion`` moves
to it unless the champion scored a higher warm NDCG@10 on the same cut, as for the
classifiers (:mod:`utils.ml.tracking`). A fitted ALS keeps its factors as numpy arrays
and drops its Spark session before it is pickled, so the served model needs no Spark.
"""

from __future__ import annotations

import copy
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from utils.ml import plots
from utils.ml.tracking import Tracked, _experiment, default_tracking_uri, promote_unless_worse

logger = logging.getLogger(__name__)

#: What decides the best model and the champion.
SCORE = ("warm", "10", "ndcg")


def _pyfunc_class():
    import mlflow.pyfunc

    class RecommenderModel(mlflow.pyfunc.PythonModel):
        """A fitted recommender: input user_id and k (the first row's), output the ranked lists."""

        def __init__(self, recommender) -> None:
            self.recommender = recommender

        def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
            k = int(model_input["k"].iloc[0]) if "k" in model_input else int((params or {}).get("k", 10))
            return self.recommender.recommend(list(model_input["user_id"]), k)

    return RecommenderModel


def _champion_version(client, model_name: str) -> int | None:
    """The version under the alias champion, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return int(client.get_model_version_by_alias(model_name, "champion").version)
    except MlflowException:
        return None


def _score(result: dict) -> float:
    segment, k, metric = SCORE
    value = result["metrics"][segment].get(k, {}).get(metric)
    return float("nan") if value is None else float(value)


def _flat_metrics(report: dict) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, result in report["models"].items():
        for segment, by_k in result["metrics"].items():
            for k, metrics in by_k.items():
                for metric, value in metrics.items():
                    if metric != "users" and value is not None and value == value:
                        out[f"{name}.{segment}.{metric}_at_{k}"] = float(value)
        out[f"{name}.fit_seconds"] = float(result["fit_seconds"])
        out[f"{name}.recommend_seconds"] = float(result["recommend_seconds"])
    return out


def log_evaluation(report: dict, train: pd.DataFrame, models: dict[str, Any], datamart: str | Path, *,
                   tracking_uri: str | None = None, promote: bool = True) -> Tracked:
    """Log an evaluation (:func:`utils.ml.recommend.run`'s report, its training events and
    fitted models) to MLflow; register the best model and move the champion alias when it
    is not worse on the same cut (with `promote`; else the alias stays where it is)."""
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    datamart = Path(datamart).resolve()
    domain, label, cut = report["domain"], report["label_def"], report["cut"]
    uri = tracking_uri or default_tracking_uri(datamart)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = f"lakehouse/{domain}"
    experiment_id = _experiment(client, experiment, datamart / "_mlflow" / "artifacts" / domain)
    model_name = f"{domain}_{label}"
    best = max(report["models"], key=lambda n: (_score(report["models"][n]), n))
    versions = report["table_versions"]
    tags = {f"delta.{name}.version": str(v) for name, v in versions.items()}
    tags |= {f"delta.{name}.path": f"silver/{domain}/{name[7:]}" if name.startswith("silver/") else
             f"gold/{domain}/{name}" for name in versions}
    params: dict[str, Any] = {"domain": domain, "label_def": label, "cut": cut, "best_model": best,
                              "train_events": report["train_events"], "catalogue_items": report["catalogue_items"],
                              **{f"users_{k}": v for k, v in report["users"].items()}}
    for name, result in report["models"].items():
        params.update({f"{name}.{k}": v for k, v in result.get("params", {}).items()})
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{label} cut {cut}") as run:
        mlflow.set_tags({"domain": domain, "label_def": label, "kind": "recommender", **tags})
        mlflow.log_params(params)
        mlflow.log_metrics(_flat_metrics(report))
        mlflow.log_metric("best.warm_ndcg_at_10", _score(report["models"][best]))
        events = train.assign(occurred_at=train["occurred_at"].astype(str))
        dataset = mlflow.data.from_pandas(events, source=";".join(f"{k}@v{v}" for k, v in versions.items()),
                                          name=f"{domain}/{label} training events up to {cut}")
        mlflow.log_input(dataset, context="training", tags=tags)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "evaluation.json").write_text(json.dumps(report, indent=2, default=str) + "\n",
                                                       encoding="utf-8")
            mlflow.log_artifact(str(Path(tmp) / "evaluation.json"))
        for artefact, figure in plots.ranking_figures(report).items():
            mlflow.log_figure(figure, artefact)
        fitted = copy.copy(models[best])
        if hasattr(fitted, "spark"):
            fitted.spark = None  # the factors are numpy: no Spark needed to serve
        example = pd.DataFrame({"user_id": sorted(train["user_id"].unique())[:3], "k": 10})
        wrapper = _pyfunc_class()(fitted)
        signature = infer_signature(example, wrapper.predict(None, example))
        info = mlflow.pyfunc.log_model(name="model", python_model=wrapper, signature=signature,
                                       input_example=example, registered_model_name=model_name)
        version = int(info.registered_model_version)
        if promote:
            champion, decision = promote_unless_worse(client, model_name, version, cut=cut,
                                                      score=_score(report["models"][best]),
                                                      metric="best.warm_ndcg_at_10", words="warm NDCG@10")
        else:
            current = _champion_version(client, model_name)
            champion, decision = current, f"registered as a challenger (champion: version {current})"
        mlflow.set_tag("champion_decision", decision)
    logger.info("MLflow: run %s in %s; %s version %d = %s (champion: version %s; %s)", run.info.run_id, experiment,
                model_name, version, best, champion, decision)
    return Tracked(run.info.run_id, experiment, model_name, version, champion, decision)
