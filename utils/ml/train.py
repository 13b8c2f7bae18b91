"""Models on the gold stores of any domain, trained and evaluated out of time.

    python -m utils.ml.train [--domain loan_default] [--datamart DIR] [--label-def NAME]
                          [--holdout-months 6] [--baseline FEATURE] [--out DIR] [--seed 7]

Data: the training set of :func:`utils.ml.feature_store.training_set` for one label
definition (default: the domain's first), one row per label (keys, ``label`` 0/1 and
every feature of gold/feature_store at the label's ``feature_snapshot_date``), read at
pinned Delta versions into pandas (no Spark: the training frame lives on the driver).

Split (out of time, one global cut): the latest ``holdout_months`` decision dates
(``feature_snapshot_date``) that have labels are the test set; the cut is the first of
them. The training rows are those decided before the cut whose label was also observed
before it (``label_date`` < cut): a row decided before the cut but observed after it
would teach the model about the test period, so it is dropped (counted in
``embargo_rows_dropped``). Preprocessing is fitted on the training rows only: numeric
columns get median imputation plus missing indicators, string columns most-frequent
imputation plus one-hot encoding (unknown categories ignored).

Models: a class-balanced logistic regression (standardised inputs, threshold 0.5), a
random forest and a histogram gradient boosting classifier (thresholds that maximise
F1 on the training rows, so the test set never chooses them). Each is scored on the test
months (accuracy, precision, recall, F1, ROC AUC, PR AUC) and on the training rows; the
best test ROC AUC is "best". The baseline ranks by one feature alone (``--baseline``, or
the domain's ``gold.baseline``; its direction chosen on the training rows) and is scored
the same way, so a model is shown to beat it. Permutation importances of the best model
on the test months (ROC AUC, 5 repeats) name the top features.

Output folder (default ``<datamart>/_models/<label_def>/<UTC timestamp>/``):
``model.pkl`` (the best fitted sklearn pipeline; it takes the raw feature columns as a
pandas DataFrame and unpickles where ``utils.ml.train`` is importable, for
:func:`nulls_to_nan`), ``metrics.json`` (every model and the baseline, the split, top features, feature
list, the Delta versions of the gold tables read, label_def, seed, timestamp) and
``roc.png`` (test ROC curves of the models).
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
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
    KEY_COLUMNS,  # noqa: F401  (re-exported: the notebooks import it from here)
    feature_columns,
    store_versions,
    training_set,
)

logger = logging.getLogger(__name__)

DATE = "feature_snapshot_date"
LABEL_DATE = "label_date"
LABEL = "label"
ENTITY = "customer_id"
MODEL_NAMES = {"logistic_regression": "LogisticRegression (balanced)",
               "random_forest": "RandomForest",
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

    With a ``label_date`` column (when the label was observed), a row decided before
    the cut (the first test month) trains only when its label was observed before the
    cut too; the others are dropped (``embargo_rows_dropped``): one global cut.

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
    cut = min(test_months)
    in_test = labelled[DATE].isin(test_months)
    train, test = labelled[~in_test], labelled[in_test]
    embargoed = 0
    if LABEL_DATE in labelled.columns:
        observed = pd.to_datetime(train[LABEL_DATE]) < pd.Timestamp(cut)
        embargoed = int((~observed).sum())
        train = train[observed.to_numpy()]
        if train.empty:
            raise TrainError(f"no training row has its label observed before the cut {pd.Timestamp(cut).date()}: "
                             "build more months or lower --holdout-months")
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
        "cut": iso([cut])[0],
        "train_months": iso(set(train[DATE])),
        "test_months": iso(test_months),
        "train_rows": len(train),
        "test_rows": len(test),
        "train_positive_rate": float(train[LABEL].mean()),
        "test_positive_rate": float(test[LABEL].mean()),
        "unlabelled_rows_dropped": int(len(frame) - len(labelled)),
        "embargo_rows_dropped": embargoed,
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
    before a balanced logistic regression (on standardised inputs), a random forest and
    a histogram gradient boosting classifier. Each takes a DataFrame of the raw feature
    columns."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
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
        "random_forest": Pipeline([
            ("prep", preprocess()),
            # leaves of 20 rows at least: smoother probabilities, and a model file of a few MB
            ("model", RandomForestClassifier(n_estimators=200, min_samples_leaf=20, class_weight="balanced_subsample",
                                             n_jobs=1, random_state=seed)),
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
    """Scores of a fitted pipeline on (X, y) (see :func:`score_metrics`)."""
    return score_metrics(y, model.predict_proba(X)[:, 1], threshold)


def score_metrics(y: pd.Series, scores: np.ndarray, threshold: float) -> dict:
    """ROC AUC and PR AUC (average precision) of `scores`, and accuracy, precision,
    recall, F1 of ``score >= threshold``; plus rows and rates."""
    from sklearn.metrics import (
        accuracy_score,
        average_precision_score,
        f1_score,
        precision_score,
        recall_score,
        roc_auc_score,
    )

    scores = np.asarray(scores, dtype=float)
    predicted = (scores >= threshold).astype(int)
    return {
        "auc": float(roc_auc_score(y, scores)),
        "pr_auc": float(average_precision_score(y, scores)),
        "accuracy": float(accuracy_score(y, predicted)),
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


def baseline_scores(frame: pd.DataFrame, feature: str, direction: int, missing_high: bool = False) -> np.ndarray:
    """The baseline's score of each row: `feature` times `direction` (+1 or -1); missing
    values rank above every value when `missing_high`, else below."""
    values = pd.to_numeric(frame[feature], errors="coerce").astype(float) * direction
    if not values.notna().any():
        return np.zeros(len(values))
    fill = values.max() + 1 if missing_high else values.min() - 1
    return values.fillna(fill).to_numpy()


def score_baseline(feature: str, train_rows: pd.DataFrame, test_rows: pd.DataFrame) -> dict:
    """The one-feature baseline: ranks by `feature` alone, in the direction (and with the
    rank of missing values) that gives the highest ROC AUC on the training rows, cut at
    the threshold that maximises F1 there; scored on both sides like the models."""
    from sklearn.metrics import roc_auc_score

    if feature not in train_rows.columns:
        raise TrainError(f"baseline feature {feature!r} is not in the training set")
    if not pd.api.types.is_numeric_dtype(train_rows[feature]):
        raise TrainError(f"baseline feature {feature!r} is not numeric")
    y_train, y_test = train_rows[LABEL].astype(int), test_rows[LABEL].astype(int)
    direction, missing_high = max(
        ((d, m) for d in (1, -1) for m in (False, True)),
        key=lambda dm: roc_auc_score(y_train, baseline_scores(train_rows, feature, *dm)))
    train_scores = baseline_scores(train_rows, feature, direction, missing_high)
    threshold = best_f1_threshold(y_train, train_scores)
    on_train = score_metrics(y_train, train_scores, threshold)
    on_test = score_metrics(y_test, baseline_scores(test_rows, feature, direction, missing_high), threshold)
    logger.info("baseline %s (%s is riskier, missing ranked %s): train AUC %.3f, test AUC %.3f", feature,
                "higher" if direction > 0 else "lower", "riskiest" if missing_high else "safest",
                on_train["auc"], on_test["auc"])
    return {"feature": feature, "direction": "higher" if direction > 0 else "lower",
            "missing": "riskiest" if missing_high else "safest", "train_auc": on_train["auc"],
            "threshold": threshold, "test": on_test, "train": on_train}


def check_datamart(datamart: str | Path, domain: str = DEFAULT_DOMAIN) -> dict[str, int]:
    """The current Delta versions of the domain's gold/feature_store and
    gold/label_store; TrainError when either table is missing."""
    versions = store_versions(datamart, domain=domain)
    missing = [f"gold/{domain}/{name}" for name, v in versions.items() if v is None]
    if missing:
        raise TrainError(f"no {' or '.join(missing)} in {datamart}; "
                         f"run `python main.py --domain {domain} --datamart {datamart}` first")
    return versions


def model_features(datamart: str | Path, version: int, domain: str = DEFAULT_DOMAIN) -> list[str]:
    """Every feature column of the domain's gold/feature_store at `version`: all columns
    but the entity (the first column), the partition and the lineage columns
    (``_asof_<source>`` and its ``has_<source>``; loan-type flags such as
    ``has_auto_loan`` are features)."""
    table = Datamart(Path(datamart), domain).table("gold", "feature_store")
    columns = [f.name for f in delta_io.view(table, version=version).schema]
    return feature_columns(columns, columns[0])


def label_defs(datamart: str | Path, version: int, domain: str = DEFAULT_DOMAIN) -> list[str]:
    """The label definitions of the domain's gold/label_store at `version`, sorted."""
    from deltalake import DeltaTable

    path = Datamart(Path(datamart), domain).table("gold", "label_store")
    column = DeltaTable(str(path), version=version).to_pyarrow_table(columns=["label_def"])["label_def"]
    return sorted({v for v in column.to_pylist() if v is not None})


def check_label_def(spark, datamart: str | Path, label_def: str, version: int, domain: str = DEFAULT_DOMAIN) -> None:
    """TrainError naming the known label definitions when `label_def` is not one of them
    (`spark` is not used; kept for the notebooks that pass one)."""
    _check_known(label_def, label_defs(datamart, version, domain))


def _check_known(label_def: str, known: list[str]) -> None:
    if label_def not in known:
        raise TrainError(f"unknown label def {label_def!r}; gold/label_store has {', '.join(known) or 'no labels'}")


def train(spark, datamart: str | Path, label_def: str | None = None, holdout_months: int = 6, seed: int = 7, *,
          domain: str = DEFAULT_DOMAIN, baseline: str | None = None) -> dict:
    """Fit the models on the out-of-time training rows of `label_def` (default: the
    store's first label definition) and score them, with the one-feature `baseline`
    when one is named. `spark` is not needed (the stores are read with delta-rs).

    Returns ``{"metrics": <JSON-ready dict for metrics.json>, "model": <best fitted
    pipeline>, "curves": {model: (fpr, tpr, test AUC)}, "training_frame": <the training
    rows: feature columns and label>}``.
    """
    from threadpoolctl import threadpool_limits

    datamart = Path(datamart)
    timestamp = dt.datetime.now(dt.UTC).replace(microsecond=0)
    versions = check_datamart(datamart, domain)
    known = label_defs(datamart, versions["label_store"], domain)  # read once: the default and the check
    if label_def is None and not known:
        raise TrainError(f"gold/{domain}/label_store holds no labels")
    label_def = label_def or known[0]
    _check_known(label_def, known)
    wanted = model_features(datamart, versions["feature_store"], domain)
    frame = training_set(None, datamart, domain=domain, label=label_def, features=wanted, versions=versions)
    for name in wanted:  # decimal columns arrive as objects holding Decimal: numbers, not categories
        values = frame[name].dropna()
        if frame[name].dtype == object and len(values) and all(isinstance(v, decimal.Decimal) for v in values.head(100)):
            frame[name] = frame[name].astype(float)
    logger.info("training set %s/%s: %d labelled rows, %d features (feature_store v%s, label_store v%s)",
                domain, label_def, len(frame), len(wanted), versions["feature_store"], versions["label_store"])

    train_rows, test_rows, split = split_out_of_time(frame, holdout_months)
    logger.info("cut %s: train %d rows (%d decision months, %d dropped: label observed after the cut), "
                "positive rate %.3f", split["cut"], split["train_rows"], len(split["train_months"]),
                split["embargo_rows_dropped"], split["train_positive_rate"])
    logger.info("test: %d months %s..%s, %d rows, positive rate %.3f",
                len(split["test_months"]), split["test_months"][0], split["test_months"][-1],
                split["test_rows"], split["test_positive_rate"])

    numeric, categorical = feature_kinds(frame, wanted)
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
        "domain": domain,
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
    if baseline is not None:
        metrics["baseline"] = score_baseline(baseline, train_rows, test_rows)
        metrics["best_beats_baseline"] = results[best]["test"]["auc"] > metrics["baseline"]["test"]["auc"]
    training_frame = train_rows[[*used, LABEL]].reset_index(drop=True)
    return {"metrics": metrics, "model": models[best], "curves": curves, "training_frame": training_frame}


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
    """The human summary the command line prints: one line per model (and the baseline),
    the split, then the top features."""
    lines = [f"{'model':<32} {'train AUC':>9} {'test AUC':>9} {'PR AUC':>7} {'accuracy':>8} {'precision':>9} "
             f"{'recall':>7} {'F1':>6}"]
    rows = list(metrics["models"].items())
    if "baseline" in metrics:
        rows.append((f"baseline: {metrics['baseline']['feature']}", metrics["baseline"]))
    for name, m in rows:
        t = m["test"]
        mark = " *" if name == metrics["best_model"] else ""
        lines.append(f"{name:<32} {m['train_auc']:>9.3f} {t['auc']:>9.3f} {t.get('pr_auc', float('nan')):>7.3f} "
                     f"{t.get('accuracy', float('nan')):>8.3f} {t['precision']:>9.3f} {t['recall']:>7.3f} "
                     f"{t['f1']:>6.3f}{mark}")
    split = metrics["split"]
    lines.append(f"(* best; cut {split.get('cut', split['test_months'][0])}: train "
                 f"{split['train_months'][0]}..{split['train_months'][-1]} ({split['train_rows']} rows), test "
                 f"{split['test_months'][0]}..{split['test_months'][-1]} ({split['test_rows']} rows, positive rate "
                 f"{split['test_positive_rate']:.3f}))")
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
        description="Models on a domain's gold stores: one global out-of-time cut, logistic regression, random "
                    "forest and gradient boosting against a one-feature baseline; metrics, top features, ROC plot.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--domain", default=DEFAULT_DOMAIN, help="the domain whose gold stores are read")
    p.add_argument("--datamart", type=Path, default=PROJECT_ROOT / "datamart", help="folder of the Delta tables")
    p.add_argument("--label-def", default=None, help="label definition in gold/label_store (default: its first)")
    p.add_argument("--baseline", default=None,
                   help="feature that alone ranks the rows, the baseline (default: the domain's gold.baseline)")
    p.add_argument("--holdout-months", type=_positive_int, default=6,
                   help="latest labelled application months held out as the test set")
    p.add_argument("--out", type=Path, default=None,
                   help="output folder (default: <datamart>/_models/<label_def>/<UTC timestamp>)")
    p.add_argument("--master", default=None, help="ignored (the stores are read without Spark); kept for old scripts")
    p.add_argument("--seed", type=int, default=7, help="random seed of the models and the permutations")
    p.add_argument("--track", action="store_true",
                   help="log the run to MLflow and register the best model (python main.py train does by default)")
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking and registry store (default with --track: sqlite under <datamart>/_mlflow)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Train, save, print the summary. 0 on success, 1 with one line on stderr when the
    datamart cannot give a run, 2 for wrong options."""
    from utils.lake.config import ConfigError, load_config

    args = build_parser().parse_args(argv)
    datamart = args.datamart.resolve()
    try:
        baseline = args.baseline
        if baseline is None:
            config = load_config(args.domain)
            baseline = config.gold.baseline if config.gold is not None else None
        result = train(None, datamart, label_def=args.label_def, holdout_months=args.holdout_months, seed=args.seed,
                       domain=args.domain, baseline=baseline)
        out = args.out or default_out_dir(datamart, result["metrics"]["label_def"], result["metrics"]["timestamp"])
        save(result, out)
        tracked = None
        if args.track or args.tracking_uri:
            from utils.ml.tracking import log_training

            tracked = log_training(result, datamart, tracking_uri=args.tracking_uri, out_dir=out)
    except (TrainError, ConfigError, delta_io.DeltaIOError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary(result["metrics"]))
    print(f"\nsaved: {Path(out).resolve()}")
    if tracked is not None:
        print(f"MLflow: run {tracked.run_id} in {tracked.experiment}; registered {tracked.model_name} version "
              f"{tracked.version}; champion: version {tracked.champion} ({tracked.decision})")
    return 0


if __name__ == "__main__":
    from utils.lake import logs
    from utils.ml import train as _module  # run the imported module: pickled models then name
    # utils.ml.train.nulls_to_nan, not __main__.nulls_to_nan (which no other process can load)

    logs.configure()
    sys.exit(_module.main())
