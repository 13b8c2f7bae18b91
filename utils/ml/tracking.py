"""MLflow tracking and registry of the training runs of :mod:`utils.ml.train`.

    python main.py train --domain churn                      # trains, logs, registers
    python main.py train --domain churn --tracking-uri postgresql://user@host/db

One MLflow experiment per domain (``lakehouse/<domain>``); one run per training with:
parameters (label, seed, holdout, cut, features, baseline), the test and training metrics
of every model and of the baseline, the best model as an MLflow sklearn model with its
signature and an input example, metrics.json, roc.png and importance.png (utils.ml.plots) as artefacts, and the training set
as an MLflow dataset whose tags name the Delta tables and versions it was read from.

The best model is registered as ``<domain>_<label_def>``. The alias ``champion`` moves to
the new version when there is no champion yet or the new one's test ROC AUC is at least
the champion's on the same cut; otherwise it stays, and the run records why
(``champion_decision``). Comparing on the latest labelled window as labels mature is the
monitoring's job.

Default store, embedded: ``sqlite:///<datamart>/_mlflow/mlflow.db`` with artefacts in
``<datamart>/_mlflow/artifacts/``. MLflow is imported only here (and inside the functions of
:mod:`utils.ml.monitor`), so the rest of the package does not pay its start-up time.
"""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from utils.ml import plots

logger = logging.getLogger(__name__)

CHAMPION = "champion"


@dataclass(frozen=True)
class Tracked:
    """What a tracked training left behind."""

    run_id: str
    experiment: str
    model_name: str
    version: int
    champion: int
    decision: str


def default_tracking_uri(datamart: str | Path) -> str:
    """The embedded store of a datamart: SQLite in ``<datamart>/_mlflow/``."""
    folder = Path(datamart).resolve() / "_mlflow"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}"


def _experiment(client, name: str, artifacts: Path) -> str:
    """The id of experiment `name`, created with its artefacts under `artifacts`."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    return client.create_experiment(name, artifact_location=artifacts.resolve().as_uri())


def _flat_metrics(metrics: dict) -> dict[str, float]:
    """test_/train_ metrics of every model and of the baseline, as MLflow metric names."""
    out: dict[str, float] = {}
    rows = dict(metrics["models"])
    if "baseline" in metrics:
        rows["baseline"] = metrics["baseline"]
    for name, m in rows.items():
        for side in ("test", "train"):
            for key, value in m[side].items():
                if isinstance(value, (int, float)) and key not in ("rows",):
                    out[f"{name}.{side}_{key}"] = float(value)
    best = metrics["models"][metrics["best_model"]]["test"]
    out["best.test_auc"] = float(best["auc"])
    out["best.test_pr_auc"] = float(best.get("pr_auc", float("nan")))
    return out


def _params(metrics: dict) -> dict[str, Any]:
    split = metrics["split"]
    return {
        "domain": metrics.get("domain", ""), "label_def": metrics["label_def"], "seed": metrics["seed"],
        "holdout_months": split["holdout_months"], "cut": split.get("cut", ""),
        "train_rows": split["train_rows"], "test_rows": split["test_rows"],
        "embargo_rows_dropped": split.get("embargo_rows_dropped", 0),
        "features": len(metrics["features"]["numeric"]) + len(metrics["features"]["categorical"]),
        "best_model": metrics["best_model"],
        "baseline": metrics.get("baseline", {}).get("feature", ""),
    }


def log_training(result: dict, datamart: str | Path, *, tracking_uri: str | None = None,
                 out_dir: str | Path | None = None, artifact_root: str | Path | None = None,
                 promote: bool = True) -> Tracked:
    """Log a :func:`utils.ml.train.train` result to MLflow, register its best model and
    move the champion alias when it is not worse (see the module); with ``promote=False``
    (a challenger of :mod:`utils.ml.monitor`) the alias stays where it is."""
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    metrics = result["metrics"]
    domain, label = metrics.get("domain") or "loan_default", metrics["label_def"]
    datamart = Path(datamart).resolve()
    uri = tracking_uri or default_tracking_uri(datamart)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = f"lakehouse/{domain}"
    artifacts = Path(artifact_root) if artifact_root is not None else datamart / "_mlflow" / "artifacts"
    experiment_id = _experiment(client, experiment, artifacts / domain)
    model_name = f"{domain}_{label}"
    frame = result["training_frame"]
    features = frame.drop(columns=["label"])
    versions = metrics["table_versions"]
    delta_tags = {f"delta.{name}.version": str(v) for name, v in versions.items()}
    delta_tags |= {f"delta.{name}.path": f"gold/{domain}/{name}" for name in versions}
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"{label} {metrics['timestamp']}") as run:
        mlflow.set_tags({"domain": domain, "label_def": label, **delta_tags})
        mlflow.log_params(_params(metrics))
        mlflow.log_metrics(_flat_metrics(metrics))
        dataset = mlflow.data.from_pandas(
            frame, source=f"gold/{domain}/feature_store@v{versions.get('feature_store')}+"
                          f"gold/{domain}/label_store@v{versions.get('label_store')}",
            targets="label", name=f"{domain}/{label} training rows")
        mlflow.log_input(dataset, context="training", tags=delta_tags)
        example = features.head(5)
        signature = infer_signature(example, result["model"].predict_proba(example)[:, 1])
        info = mlflow.sklearn.log_model(result["model"], name="model", signature=signature, input_example=example,
                                        registered_model_name=model_name, serialization_format="skops",
                                        skops_trusted_types=_own_types(result["model"]))
        if out_dir is not None and (Path(out_dir) / "metrics.json").is_file():
            mlflow.log_artifact(str(Path(out_dir) / "metrics.json"))
        else:
            with tempfile.TemporaryDirectory() as tmp:
                (Path(tmp) / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
                mlflow.log_artifact(str(Path(tmp) / "metrics.json"))
        for artefact, figure in plots.classifier_figures(result).items():
            mlflow.log_figure(figure, artefact)
        version = int(info.registered_model_version)
        champion, decision = (_promote(client, model_name, version, metrics) if promote
                              else (_champion_version(client, model_name), "challenger: the alias is not moved"))
        mlflow.set_tag("champion_decision", decision)
    logger.info("MLflow: run %s in %s; %s version %d (champion: version %d; %s)", run.info.run_id, experiment,
                model_name, version, champion, decision)
    return Tracked(run.info.run_id, experiment, model_name, version, champion, decision)


def _own_types(model) -> list[str]:
    """The types skops does not trust by default in `model` (e.g. a gradient-boosting
    tree predictor, our nulls_to_nan): trusted here because this process has just
    trained the model; a model file from elsewhere must be reviewed instead."""
    import skops.io

    return skops.io.get_untrusted_types(data=skops.io.dumps(model))


def _champion_version(client, model_name: str) -> int:
    """The version the champion alias names (0: none)."""
    from mlflow.exceptions import MlflowException

    try:
        return int(client.get_model_version_by_alias(model_name, CHAMPION).version)
    except MlflowException:
        return 0


def _promote(client, model_name: str, version: int, metrics: dict) -> tuple[int, str]:
    """Move the champion alias to `version` when there is none or it is not worse on the
    same cut (test ROC AUC); returns (champion version, decision in words)."""
    auc = float(metrics["models"][metrics["best_model"]]["test"]["auc"])
    return promote_unless_worse(client, model_name, version, cut=metrics["split"].get("cut", ""), score=auc,
                                metric="best.test_auc", words="test ROC AUC")


def promote_unless_worse(client, model_name: str, version: int, *, cut: str, score: float, metric: str,
                         words: str) -> tuple[int, str]:
    """Move the champion alias to `version` unless the champion's run logged a higher
    `metric` on the same `cut` (its ``cut`` parameter); a newer cut always wins. Returns
    (champion version, decision in words)."""
    from mlflow.exceptions import MlflowException

    try:
        current = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        current = None
    if current is None:
        client.set_registered_model_alias(model_name, CHAMPION, str(version))
        return version, f"first champion ({words} {score:.4f})"
    run = client.get_run(current.run_id)
    old, old_cut = run.data.metrics.get(metric), run.data.params.get("cut", "")
    if old_cut == cut and old is not None and score < old:
        return int(current.version), (f"kept version {current.version}: {words} {score:.4f} < {old:.4f} "
                                      f"on the same cut {cut}")
    client.set_registered_model_alias(model_name, CHAMPION, str(version))
    reason = (f"{words} {score:.4f} >= {old:.4f} on the same cut {cut}" if old_cut == cut and old is not None
              else f"a newer cut ({cut}, was {old_cut or 'unknown'})")
    return version, f"promoted over version {current.version}: {reason}"
