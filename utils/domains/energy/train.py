"""``python main.py train --domain energy``: the next-day consumption model of
:mod:`.forecast` trained out of time on gold/energy/building_days (read at the Delta
version current when training starts, the very version the run records), tracked in
MLflow like the other domains' models and registered.

One MLflow run in the experiment ``lakehouse/energy``: parameters (cut, seed, the
model's settings, its inputs, the rows on each side of the cut), the point-in-time
model's (issued at 00:00 of the day, no weather of that day), its ex-post variant's (with
the day's observed weather, an upper bound) and the seasonal-naive baseline's MAE, RMSE
and MAPE on the days from the cut, the model's skill
over the baseline (``skill_mae`` = 1 - MAE / baseline MAE, higher is better), the
training rows as an MLflow dataset tagged with the Delta table and version, the model
with its signature and an input example, metrics.json and two plots (the partial
dependence on the temperature, predicted against actual use). The model is registered as
``energy_next_day_kwh``; the alias ``champion`` moves to the new version unless the
champion has a higher skill on the same cut.

    python main.py train --domain energy [--datamart DIR] [--cut 2024-10-01] [--tracking-uri URI]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from utils.lake import delta_io
from utils.lake.datamart import Datamart

from . import forecast
from .exploitation import DOMAIN

logger = logging.getLogger(__name__)
MODEL_NAME = f"{DOMAIN}_next_day_kwh"
TABLE = "building_days"


class TrainError(RuntimeError):
    """The model cannot be trained; the message says why in one line."""


def train(datamart: Path, cut: dt.date | None = None, *, seed: int = 0) -> dict:
    """The fitted model, the training and test rows, and the metrics of
    :func:`forecast.fit_and_score` with the table's Delta version and the skill."""
    path = Datamart(Path(datamart), DOMAIN).table("gold", TABLE)
    if not delta_io.table_exists(path):
        raise TrainError(f"gold/{DOMAIN}/{TABLE} does not exist in {datamart}; build it first: "
                         f"python main.py --domain {DOMAIN}")
    version = delta_io.table_version(path)
    rows = forecast.training_rows(forecast.read_days(Path(datamart), version))  # exactly the version recorded
    cut = cut or forecast.default_cut(rows)
    try:
        model, metrics = forecast.fit_and_score(rows, cut, seed=seed)
    except ValueError as exc:
        raise TrainError(str(exc)) from exc
    day = pd.to_datetime(rows["snapshot_date"]).dt.date
    metrics |= {"domain": DOMAIN, "seed": seed, "table_versions": {TABLE: version},
                "skill_mae": round(1 - metrics["model"]["mae"] / metrics["baseline_seasonal_naive"]["mae"], 4)
                if metrics["baseline_seasonal_naive"]["mae"] else None,
                "timestamp": dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")}
    return {"model": model, "metrics": metrics, "train": rows[day < cut], "test": rows[day >= cut]}


def _actual_figure(model, test: pd.DataFrame):
    """Predicted against actual daily use on the test days (one point per building day)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    actual, predicted = test[forecast.TARGET].to_numpy(float), model.predict(forecast.design(test))
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(actual, predicted, s=6, alpha=0.5, label="model")
    ax.scatter(actual, test[forecast.BASELINE].to_numpy(float), s=6, alpha=0.3, label="same weekday last week")
    top = float(np.nanmax([actual.max(), predicted.max()])) if len(actual) else 1.0
    ax.plot([0, top], [0, top], color="grey", linewidth=1)
    ax.set_xlabel("actual kWh")
    ax.set_ylabel("predicted kWh")
    ax.set_title("Next-day heat use, days after the cut")
    ax.legend()
    fig.tight_layout()
    return fig


def log_training(result: dict, datamart: Path, *, tracking_uri: str | None = None, promote: bool = True) -> dict:
    """Log `result` (:func:`train`) to MLflow, register the model and move the champion
    alias unless worse (see the module; with `promote` False the alias is left where it
    is, for a challenger that monitoring compares); what was logged, as a dict."""
    import matplotlib.pyplot as plt
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.tracking import MlflowClient

    from utils.ml.tracking import _experiment, _own_types, default_tracking_uri, promote_unless_worse

    metrics, model = result["metrics"], result["model"]
    datamart = Path(datamart).resolve()
    uri = tracking_uri or default_tracking_uri(datamart)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = f"lakehouse/{DOMAIN}"
    experiment_id = _experiment(client, experiment, datamart / "_mlflow" / "artifacts" / DOMAIN)
    version_read = metrics["table_versions"][TABLE]
    tags = {f"delta.{TABLE}.version": str(version_read), f"delta.{TABLE}.path": f"gold/{DOMAIN}/{TABLE}"}
    train_x = forecast.design(result["train"])
    with mlflow.start_run(experiment_id=experiment_id, run_name=f"next-day kWh {metrics['timestamp']}") as run:
        mlflow.set_tags({"domain": DOMAIN, "target": forecast.TARGET, "issue_time": forecast.ISSUE_TIME, **tags})
        mlflow.log_params({"cut": metrics["cut"], "seed": metrics["seed"], "model": type(model).__name__,
                           "max_iter": model.max_iter, "learning_rate": model.learning_rate,
                           "baseline": "seasonal naive (same weekday a week before)",
                           "features": ",".join(train_x.columns), "train_rows": metrics["train_rows"],
                           "test_rows": metrics["test_rows"], "buildings": metrics["buildings"]})
        flat = {f"{who}.test_{k}": v for who, key in (("model", "model"), ("model_ex_post_weather",
                                                                          "model_ex_post_weather"),
                                                      ("baseline", "baseline_seasonal_naive"))
                for k, v in metrics[key].items()}
        if metrics["skill_mae"] is not None:
            flat["skill_mae"] = metrics["skill_mae"]
        mlflow.log_metrics(flat)
        frame = result["train"][[forecast.TARGET]].join(train_x)
        mlflow.log_input(mlflow.data.from_pandas(frame, source=f"gold/{DOMAIN}/{TABLE}@v{version_read}",
                                                 targets=forecast.TARGET, name=f"{DOMAIN} training days"),
                         context="training", tags=tags)
        example = train_x.head(5)
        info = mlflow.sklearn.log_model(model, name="model", signature=infer_signature(example, model.predict(example)),
                                        input_example=example, registered_model_name=MODEL_NAME,
                                        serialization_format="skops", skops_trusted_types=_own_types(model))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True, default=str) + "\n",
                                                     encoding="utf-8")
            mlflow.log_artifact(str(Path(tmp) / "metrics.json"))
            forecast.plot_temperature(model, pd.concat([result["train"], result["test"]]),
                                      Path(tmp) / "forecast_temperature.png")
            mlflow.log_artifact(str(Path(tmp) / "forecast_temperature.png"))
        figure = _actual_figure(model, result["test"])
        mlflow.log_figure(figure, "predicted_vs_actual.png")
        plt.close(figure)
        version = int(info.registered_model_version)
        score = metrics["skill_mae"] if metrics["skill_mae"] is not None else -metrics["model"]["mae"]
        if promote:
            champion, decision = promote_unless_worse(client, MODEL_NAME, version, cut=metrics["cut"], score=score,
                                                      metric="skill_mae", words="skill over the baseline (MAE)")
        else:
            champion, decision = None, f"registered as a challenger (version {version}); the alias was not moved"
        mlflow.set_tag("champion_decision", decision)
    logger.info("MLflow: run %s in %s; %s version %d (champion: %s; %s)", run.info.run_id, experiment,
                MODEL_NAME, version, "unchanged" if champion is None else f"version {champion}", decision)
    return {"run_id": run.info.run_id, "experiment": experiment, "model_name": MODEL_NAME, "version": version,
            "champion": champion, "decision": decision}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python main.py train --domain energy", description=__doc__.split("\n")[0])
    p.add_argument("--domain", default=DOMAIN, choices=[DOMAIN])
    p.add_argument("--datamart", type=Path, default=None, help="the datamart (default: datamart/ of the project)")
    p.add_argument("--cut", type=dt.date.fromisoformat, default=None,
                   help=f"first day scored out of time (default {forecast.DEFAULT_CUT} when the data spans it)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tracking-uri", default=None, help="MLflow store (default: SQLite under <datamart>/_mlflow/)")
    p.add_argument("--track", action="store_true", help="log to MLflow (python main.py train always does)")
    args = p.parse_args(argv)
    from utils.lake import logs
    from utils.lake.paths import PROJECT_ROOT

    logs.configure()  # no-op when the command line configured logging already

    datamart = (args.datamart or PROJECT_ROOT / "datamart").resolve()
    try:
        result = train(datamart, args.cut, seed=args.seed)
    except TrainError as exc:
        logger.error("%s", exc)
        return 1
    m = result["metrics"]
    logger.info("energy forecast, cut %s, issued at 00:00 of the day: model MAE %.2f RMSE %.2f MAPE %.1f%%; ex-post "
                "weather (upper bound) MAE %.2f RMSE %.2f MAPE %.1f%%; seasonal naive MAE %.2f RMSE %.2f MAPE %.1f%%",
                m["cut"], *m["model"].values(), *m["model_ex_post_weather"].values(),
                *m["baseline_seasonal_naive"].values())
    if args.track or args.tracking_uri:
        log_training(result, datamart, tracking_uri=args.tracking_uri)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
