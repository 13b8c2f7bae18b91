"""Sanity model on the gold stores: does the datamart carry a signal, out of time?

    python -m utils.ml.train [--datamart DIR] [--label-def 30dpd_6mob] [--holdout-months 6]
                          [--out DIR] [--master local[*]] [--seed 7]

Data: the training set of :func:`utils.ml.feature_store.training_set` for one label
definition, one row per labelled loan (keys, ``label`` 0/1 and every feature of
gold/feature_store at the loan's application month ``feature_snapshot_date``), read at
pinned Delta versions and brought to pandas (it is small: one row per loan).

Split (out of time): the latest ``holdout_months`` application months that have labels
are the test set, every earlier month trains. Preprocessing is fitted on the training
months only: numeric columns get median imputation plus missing indicators, string
columns most-frequent imputation plus one-hot encoding (unknown categories ignored).

Models: a class-balanced logistic regression (standardised inputs, threshold 0.5) and a
histogram gradient boosting classifier (threshold that maximises F1 on the training
months, so the test set never chooses it). Each is scored on the test months (ROC AUC,
precision, recall, F1) and on the training months (AUC); the better test AUC is "best".
Its permutation importances on the test months (ROC AUC, 5 repeats) name the top
features.

Output folder (default ``<datamart>/_models/<label_def>/<UTC timestamp>/``):
``model.pkl`` (the best fitted sklearn pipeline; it takes the raw feature columns as a
pandas DataFrame and unpickles where ``utils.ml.train`` is importable, for
:func:`nulls_to_nan`), ``metrics.json`` (both models, the split, top features, feature
list, the Delta versions of the gold tables read, label_def, seed, timestamp) and
``roc.png`` (test ROC curves of both models).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from utils.lake import delta_io
from utils.lake.datamart import Datamart
from utils.ml.feature_store import (
    DEFAULT_DOMAIN,
    KEY_COLUMNS,
    store_versions,
    training_set,
)

logger = logging.getLogger(__name__)

DATE = "feature_snapshot_date"
LABEL = "label"
ENTITY = "customer_id"
MODEL_NAMES = {"logistic_regression": "LogisticRegression (balanced)",
               "hist_gradient_boosting": "HistGradientBoosting"}
TOP_FEATURES = 15
PERMUTATION_REPEATS = 5


class TrainError(RuntimeError):
    """The datamart cannot give a training run (message is one line, says what to do)."""


# --------------------------------------------------------------------------- split


def split_out_of_time(frame: pd.DataFrame, holdout_months: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Split labelled loans by application month: the latest `holdout_months` distinct
    ``feature_snapshot_date`` values that have a label are the test set, all earlier
    months the training set. Rows without a label or a month are in neither.

    Returns (train, test, info); info holds the months (ISO dates), rows and positive
    rates of each side. Raises TrainError when fewer than ``holdout_months + 1``
    labelled months exist or a side lacks one of the classes.
    """
    if holdout_months < 1:
        raise TrainError(f"holdout_months must be at least 1, got {holdout_months}")
    labelled = frame[frame[LABEL].notna() & frame[DATE].notna()]
    months = sorted(labelled[DATE].unique())
    if len(months) <= holdout_months:
        raise TrainError(
            f"too few labelled cohorts for an out-of-time split: {len(months)} application month(s) "
            f"have labels, need more than --holdout-months {holdout_months}"
        )
    test_months = set(months[-holdout_months:])
    in_test = labelled[DATE].isin(test_months)
    train, test = labelled[~in_test], labelled[in_test]
    for side, part in (("training", train), ("test", test)):
        if part[LABEL].nunique() < 2:
            raise TrainError(
                f"the {side} months hold only label {part[LABEL].iloc[0]!r} ({len(part)} rows); "
                "an AUC needs both classes: change --holdout-months or build more months"
            )

    def iso(values) -> list[str]:
        return [pd.Timestamp(v).date().isoformat() for v in sorted(values)]

    info = {
        "holdout_months": holdout_months,
        "train_months": iso(m for m in months if m not in test_months),
        "test_months": iso(test_months),
        "train_rows": len(train),
        "test_rows": len(test),
        "train_positive_rate": float(train[LABEL].mean()),
        "test_positive_rate": float(test[LABEL].mean()),
        "unlabelled_rows_dropped": int(len(frame) - len(labelled)),
    }
    return train, test, info


# --------------------------------------------------------------------------- models


def nulls_to_nan(X: pd.DataFrame) -> pd.DataFrame:
    """String columns as object with NaN for missing (Spark's nulls arrive as None,
    which SimpleImputer does not count as missing)."""
    X = pd.DataFrame(X).astype(object)
    return X.where(X.notna(), np.nan)


def feature_kinds(frame: pd.DataFrame, features: list[str]) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns by pandas dtype; booleans count as numeric,
    strings as categorical. Columns of any other type are left out (and logged)."""
    numeric, categorical = [], []
    for name in features:
        dtype = frame[name].dtype
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            numeric.append(name)
        elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            categorical.append(name)
        else:
            logger.warning("feature %s has type %s; left out of the model", name, dtype)
    return numeric, categorical


def build_models(numeric: list[str], categorical: list[str], seed: int) -> dict[str, Any]:
    """Unfitted pipelines by name: the same preprocessing (median imputation + missing
    indicators for `numeric`, most-frequent imputation + one-hot for `categorical`)
    before a balanced logistic regression (on standardised inputs) and a histogram
    gradient boosting classifier. Both take a DataFrame of the raw feature columns."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    def preprocess() -> ColumnTransformer:
        strings = Pipeline([
            ("nulls", FunctionTransformer(nulls_to_nan, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ])
        return ColumnTransformer(
            [("numeric", SimpleImputer(strategy="median", add_indicator=True), numeric),
             ("categorical", strings, categorical)],
            remainder="drop", sparse_threshold=0.0,
        )

    return {
        "logistic_regression": Pipeline([
            ("prep", preprocess()),
            ("scale", StandardScaler()),
            ("model", LogisticRegression(max_iter=5000, class_weight="balanced", random_state=seed)),
        ]),
        "hist_gradient_boosting": Pipeline([
            ("prep", preprocess()),
            ("model", HistGradientBoostingClassifier(random_state=seed)),
        ]),
    }


def best_f1_threshold(y: pd.Series, scores: np.ndarray) -> float:
    """The probability threshold that maximises F1 of `scores` against `y`."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, scores)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(thresholds[int(np.argmax(f1[:-1]))])  # the last point has no threshold


def evaluate(model, X: pd.DataFrame, y: pd.Series, threshold: float) -> dict:
    """Scores of a fitted pipeline on (X, y): ROC AUC of the predicted probability, and
    precision, recall, F1 of ``probability >= threshold``; plus rows and rates."""
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

    scores = model.predict_proba(X)[:, 1]
    predicted = (scores >= threshold).astype(int)
    return {
        "auc": float(roc_auc_score(y, scores)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "threshold": float(threshold),
        "rows": len(y),
        "positive_rate": float(np.mean(y)),
        "predicted_positive_rate": float(predicted.mean()),
    }


# --------------------------------------------------------------------------- run


def fit_and_score(models: dict, X_train: pd.DataFrame, y_train: pd.Series,
                  X_test: pd.DataFrame, y_test: pd.Series) -> tuple[dict, dict]:
    """Fit every pipeline on the training months and score it on both sides.

    The logistic regression (class-balanced) cuts at 0.5; any other model at the
    threshold that maximises F1 on the training months. Returns (metrics by model,
    test ROC curves by model as (fpr, tpr, auc)).
    """
    from sklearn.metrics import roc_curve

    results, curves = {}, {}
    for name, model in models.items():
        model.fit(X_train, y_train)
        train_scores = model.predict_proba(X_train)[:, 1]
        threshold = 0.5 if name == "logistic_regression" else best_f1_threshold(y_train, train_scores)
        on_train = evaluate(model, X_train, y_train, threshold)
        on_test = evaluate(model, X_test, y_test, threshold)
        results[name] = {"train_auc": on_train["auc"], "threshold": threshold, "test": on_test, "train": on_train}
        fpr, tpr, _ = roc_curve(y_test, model.predict_proba(X_test)[:, 1])
        curves[name] = (fpr, tpr, on_test["auc"])
        logger.info("%s: train AUC %.3f, test AUC %.3f, precision %.3f, recall %.3f, F1 %.3f (threshold %.3f)",
                    name, on_train["auc"], on_test["auc"], on_test["precision"], on_test["recall"],
                    on_test["f1"], threshold)
    return results, curves


def top_features(model, X: pd.DataFrame, y: pd.Series, seed: int, n: int = TOP_FEATURES) -> list[dict]:
    """The `n` raw feature columns whose permutation lowers the ROC AUC of `model` on
    (X, y) the most (mean and std over 5 repeats), largest drop first."""
    from sklearn.inspection import permutation_importance

    importance = permutation_importance(
        model, X, y, scoring="roc_auc", n_repeats=PERMUTATION_REPEATS, random_state=seed,
    )
    order = np.argsort(-importance.importances_mean)[:n]
    return [{"feature": X.columns[i], "importance_mean": float(importance.importances_mean[i]),
             "importance_std": float(importance.importances_std[i])} for i in order]


def check_datamart(datamart: str | Path) -> dict[str, int]:
    """The current Delta versions of gold/feature_store and gold/label_store; TrainError
    when either table is missing."""
    versions = store_versions(datamart)
    missing = [f"gold/{name}" for name, v in versions.items() if v is None]
    if missing:
        raise TrainError(f"no {' or '.join(missing)} in {datamart}; run `python main.py --datamart {datamart}` first")
    return versions


def model_features(datamart: str | Path, version: int) -> list[str]:
    """Every feature column of gold/feature_store at `version`: all columns but the key,
    the partition, ``_``-prefixed lineage and the ``has_<source>`` flags that sit beside
    an ``_asof_<source>`` column (loan-type flags such as ``has_auto_loan`` are features)."""
    columns = [f.name for f in delta_io.view(Datamart(Path(datamart), DEFAULT_DOMAIN).table("gold", "feature_store"), version=version).schema]
    flags = {f"has_{c[len('_asof_'):]}" for c in columns if c.startswith("_asof_")}
    return [c for c in columns if c not in (ENTITY, "snapshot_date") and not c.startswith("_") and c not in flags]


def check_label_def(spark, datamart: str | Path, label_def: str, version: int) -> None:
    """TrainError naming the known label definitions when `label_def` is not one of them."""
    labels = delta_io.read_table(spark, Datamart(Path(datamart), DEFAULT_DOMAIN).table("gold", "label_store"), version=version,
                                  columns=["label_def"])
    known = sorted(r["label_def"] for r in labels.distinct().collect())
    if label_def not in known:
        raise TrainError(f"unknown label def {label_def!r}; gold/label_store has {', '.join(known) or 'no labels'}")


def train(spark, datamart: str | Path, label_def: str = "30dpd_6mob", holdout_months: int = 6, seed: int = 7) -> dict:
    """Fit both models on the out-of-time training months of `label_def` and score them.

    Returns ``{"metrics": <JSON-ready dict for metrics.json>, "model": <best fitted
    pipeline>, "curves": {model: (fpr, tpr, test AUC)}}``.
    """
    from threadpoolctl import threadpool_limits

    datamart = Path(datamart)
    timestamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    versions = check_datamart(datamart)
    check_label_def(spark, datamart, label_def, versions["label_store"])
    wanted = model_features(datamart, versions["feature_store"])
    frame = training_set(spark, datamart, label_def=label_def, features=wanted, versions=versions).toPandas()
    logger.info("training set %s: %d labelled loans, %d features (feature_store v%s, label_store v%s)",
                label_def, len(frame), len(wanted), versions["feature_store"], versions["label_store"])

    train_rows, test_rows, split = split_out_of_time(frame, holdout_months)
    logger.info("train: %d months %s..%s, %d rows, positive rate %.3f",
                len(split["train_months"]), split["train_months"][0], split["train_months"][-1],
                split["train_rows"], split["train_positive_rate"])
    logger.info("test:  %d months %s..%s, %d rows, positive rate %.3f",
                len(split["test_months"]), split["test_months"][0], split["test_months"][-1],
                split["test_rows"], split["test_positive_rate"])

    features = [c for c in frame.columns if c not in KEY_COLUMNS]
    numeric, categorical = feature_kinds(frame, features)
    used = numeric + categorical
    X_train, y_train = train_rows[used], train_rows[LABEL].astype(int)
    X_test, y_test = test_rows[used], test_rows[LABEL].astype(int)

    models = build_models(numeric, categorical, seed)
    # One OpenMP thread: on a few thousand rows the gain of more is small, and OpenMP's
    # spin-waiting beside a busy CPU (the Spark JVM, a parallel test run) made the
    # gradient boosting 10-50x slower on a 2-core machine.
    with threadpool_limits(limits=1, user_api="openmp"):
        results, curves = fit_and_score(models, X_train, y_train, X_test, y_test)
        best = max(results, key=lambda n: results[n]["test"]["auc"])
        top = top_features(models[best], X_test, y_test, seed)
    logger.info("best model: %s; top features: %s", best, ", ".join(t["feature"] for t in top[:5]))

    metrics = {
        "label_def": label_def,
        "seed": seed,
        "timestamp": timestamp.isoformat().replace("+00:00", "Z"),
        "datamart": str(datamart.resolve()),
        "table_versions": versions,
        "split": split,
        "features": {"numeric": numeric, "categorical": categorical},
        "models": results,
        "best_model": best,
        "top_features": top,
    }
    return {"metrics": metrics, "model": models[best], "curves": curves}


def default_out_dir(datamart: str | Path, label_def: str, timestamp: str) -> Path:
    """``<datamart>/_models/<label_def>/<timestamp as YYYYMMDDTHHMMSSZ>``."""
    stamp = dt.datetime.fromisoformat(timestamp).strftime("%Y%m%dT%H%M%SZ")
    return Path(datamart) / "_models" / label_def / stamp


def roc_figure(curves: dict[str, tuple], label_def: str):
    """ROC curves of the models on the test months, as a matplotlib Figure (no pyplot,
    so no backend is switched: notebooks display it, scripts save it)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 6))
    ax = fig.add_subplot()
    for name, (fpr, tpr, auc) in curves.items():
        ax.plot(fpr, tpr, linewidth=2, label=f"{MODEL_NAMES.get(name, name)} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="chance (AUC 0.5)")
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title(f"ROC on out-of-time test months, label {label_def}")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_roc(curves: dict[str, tuple], label_def: str, path: Path) -> None:
    """ROC curves of the models on the test months, as a PNG at `path`."""
    roc_figure(curves, label_def).savefig(path, dpi=120)


def save(result: dict, out_dir: str | Path) -> Path:
    """Write model.pkl, metrics.json and roc.png of a :func:`train` result to `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "model.pkl").open("wb") as fh:
        pickle.dump(result["model"], fh)
    (out / "metrics.json").write_text(json.dumps(result["metrics"], indent=2) + "\n", encoding="utf-8")
    plot_roc(result["curves"], result["metrics"]["label_def"], out / "roc.png")
    logger.info("saved model, metrics and ROC plot to %s", out)
    return out


# --------------------------------------------------------------------------- command line


def summary(metrics: dict) -> str:
    """The human summary the command line prints: one line per model, then top features."""
    lines = [f"{'model':<24} {'train AUC':>9} {'test AUC':>9} {'precision':>9} {'recall':>9} {'F1':>9}"]
    for name, m in metrics["models"].items():
        t = m["test"]
        mark = " *" if name == metrics["best_model"] else ""
        lines.append(f"{name:<24} {m['train_auc']:>9.3f} {t['auc']:>9.3f} {t['precision']:>9.3f} "
                     f"{t['recall']:>9.3f} {t['f1']:>9.3f}{mark}")
    split = metrics["split"]
    lines.append(f"(* best; test = {split['test_months'][0]}..{split['test_months'][-1]}, "
                 f"{split['test_rows']} loans, positive rate {split['test_positive_rate']:.3f})")
    lines.append("")
    lines.append(f"top features of {metrics['best_model']} (permutation importance, test ROC AUC drop):")
    for i, t in enumerate(metrics["top_features"], 1):
        lines.append(f"{i:>3}. {t['feature']:<28} {t['importance_mean']:+.4f} ± {t['importance_std']:.4f}")
    return "\n".join(lines)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from utils.lake.spark import PROJECT_ROOT

    p = argparse.ArgumentParser(
        prog="python -m utils.ml.train",
        description="Sanity model on the gold stores: out-of-time split, logistic regression and "
                    "gradient boosting, metrics, top features, ROC plot.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--datamart", type=Path, default=PROJECT_ROOT / "datamart", help="folder of the Delta tables")
    p.add_argument("--label-def", default="30dpd_6mob", help="label definition in gold/label_store")
    p.add_argument("--holdout-months", type=_positive_int, default=6,
                   help="latest labelled application months held out as the test set")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: <datamart>/_models/<label_def>/<UTC timestamp>)")
    p.add_argument("--master", default="local[*]", help="Spark master URL")
    p.add_argument("--seed", type=int, default=7, help="random seed of the models and the permutations")
    return p


def main(argv: list[str] | None = None) -> int:
    """Train, save, print the summary. 0 on success, 1 with one line on stderr when the
    datamart cannot give a run, 2 for wrong options."""
    from pyspark.sql import SparkSession

    from utils.lake.spark import SparkSettings, get_spark

    args = build_parser().parse_args(argv)
    datamart = args.datamart.resolve()
    own_session = None  # stopped at the end only when this call started it
    try:
        check_datamart(datamart)  # before starting Spark: a missing datamart fails in a second
        started_here = SparkSession.getActiveSession() is None
        spark = get_spark(SparkSettings(master=args.master, app_name="lakehouse-train"))
        own_session = spark if started_here else None
        result = train(spark, datamart, label_def=args.label_def, holdout_months=args.holdout_months, seed=args.seed)
        out = args.out or default_out_dir(datamart, args.label_def, result["metrics"]["timestamp"])
        save(result, out)
    except (TrainError, delta_io.DeltaIOError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if own_session is not None:
            own_session.stop()
    print(summary(result["metrics"]))
    print(f"\nsaved: {Path(out).resolve()}")
    return 0


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure()
    sys.exit(main())
