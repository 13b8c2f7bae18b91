"""What monitoring measures and how it judges, as pure functions of arrays and rows
(:mod:`utils.ml.monitor` reads the tables, applies them and writes the results).

Drift of one feature between the training reference and a snapshot: the population
stability index (PSI) over bins of the reference, and the two-sample Kolmogorov-Smirnov
test. PSI = sum over bins of (a - e) * ln(a / e), with e and a the shares of the reference
and of the snapshot in each bin (the formula of :func:`utils.quality.report.drift.psi`,
shared with the quality report).
- Numbers: 10 quantile bins of the reference (edges at its deciles, linear interpolation,
  duplicate edges merged, so a feature with many equal values has fewer bins), open at
  both ends: ``(-inf, q10], (q10, q20], ..., (q90, +inf)``. Missing values are one more
  bin when either side has any, so a feature that starts arriving empty drifts too.
- Strings: one bin per category of either side, missing values one more.
- An empty bin counts as a share of :data:`PSI_EPSILON` (1e-4), not 0: ln(0) is undefined,
  and a bin that empties or fills from nothing should weigh a lot but not infinitely: a
  bin holding 10 % of the reference and none of the snapshot adds
  (1e-4 - 0.1) * ln(1e-4 / 0.1) = 0.69.
Reading PSI: < 0.1 stable, 0.1-0.25 moderate, >= 0.25 significant (common practice).
KS: the largest distance between the two empirical distribution functions of the
non-missing numbers, and its p-value (``scipy.stats.ks_2samp``, two-sided, exact for small
samples). Not defined for strings (NaN).

Rows: :func:`drift_rows` (`_meta/drift`), :func:`performance_rows` (`_meta/performance`:
the model's scores of a snapshot, with ROC AUC and F1 once its labels exist) and
:func:`judge` (the `_meta/alerts` rows of a domain's rules, with a WARNING line each).
"""

from __future__ import annotations

import datetime as dt
import logging
import math

import numpy as np
import pandas as pd

from utils.lake.config_monitor import MonitoringSpec
from utils.ml import train
from utils.quality.report.drift import PSI_EPSILON, psi

logger = logging.getLogger(__name__)

BINS = 10
MISSING = "(missing)"
RULE_KINDS = {"drift_psi": "drift", "performance_min_auc": "performance", "performance_max_drop": "performance",
              "performance_min_ndcg": "performance", "performance_mae_increase": "performance",
              "performance_above_baseline": "performance", "prediction_rate_shift": "prediction_rate"}
#: What a WARNING line tells the reader to do, per alert kind.
ADVICE = {
    "drift": "check the feature's sources and silver rules for a unit, format or pipeline change; if the shift is "
             "real, retrain (python main.py train --domain {domain})",
    "performance": "the model no longer ranks this cohort as it did out of time: look at the drift of its top "
                   "features and retrain (python main.py train --domain {domain})",
    "prediction_rate": "the model flags a different share of rows than in training: check the population and the "
                       "drift of the features before acting on its predictions",
}




def quantile_edges(reference: np.ndarray, bins: int = BINS) -> np.ndarray:
    """The inner bin edges: the reference's 1/bins, ..., (bins-1)/bins quantiles
    (missing values ignored), duplicates merged; empty without values."""
    values = np.asarray(reference, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        return np.array([])
    return np.unique(np.quantile(values, np.arange(1, bins) / bins))


def numeric_counts(values: np.ndarray, edges: np.ndarray, *, missing_bin: bool) -> np.ndarray:
    """Rows per bin ``(-inf, e0], (e0, e1], ..., (e_last, +inf)`` and, with `missing_bin`,
    the missing values last."""
    values = np.asarray(values, dtype=float)
    present = values[~np.isnan(values)]
    counts = np.bincount(np.searchsorted(edges, present, side="left"), minlength=len(edges) + 1).astype(float)
    return np.append(counts, np.isnan(values).sum()) if missing_bin else counts


def psi_numeric(reference, current, bins: int = BINS, epsilon: float = PSI_EPSILON) -> float:
    """PSI of numbers `current` against `reference` over the reference's quantile bins
    (see the module); NaN when either side is empty."""
    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    if ref.size == 0 or cur.size == 0:
        return float("nan")
    edges = quantile_edges(ref, bins)
    missing = bool(np.isnan(ref).any() or np.isnan(cur).any())
    return psi(numeric_counts(ref, edges, missing_bin=missing), numeric_counts(cur, edges, missing_bin=missing),
               epsilon)


def psi_categorical(reference, current, epsilon: float = PSI_EPSILON) -> float:
    """PSI of categories `current` against `reference`, one bin per category of either
    side (missing values one category); NaN when either side is empty."""
    ref = pd.Series(reference, dtype=object).where(lambda s: s.notna(), MISSING).astype(str)
    cur = pd.Series(current, dtype=object).where(lambda s: s.notna(), MISSING).astype(str)
    if ref.empty or cur.empty:
        return float("nan")
    categories = sorted(set(ref) | set(cur))
    return psi(ref.value_counts().reindex(categories, fill_value=0).to_numpy(),
               cur.value_counts().reindex(categories, fill_value=0).to_numpy(), epsilon)


def ks(reference, current) -> tuple[float, float]:
    """(statistic, p-value) of the two-sample Kolmogorov-Smirnov test on the non-missing
    numbers; (NaN, NaN) when a side has none."""
    from scipy.stats import ks_2samp

    ref, cur = np.asarray(reference, dtype=float), np.asarray(current, dtype=float)
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if ref.size == 0 or cur.size == 0:
        return float("nan"), float("nan")
    result = ks_2samp(ref, cur)
    return float(result.statistic), float(result.pvalue)


def drift_of(reference: pd.Series, current: pd.Series, numeric: bool) -> dict[str, float]:
    """{psi, ks, ks_pvalue} of one feature (KS NaN for a categorical feature)."""
    if numeric:
        ref = pd.to_numeric(reference, errors="coerce").astype(float).to_numpy()
        cur = pd.to_numeric(current, errors="coerce").astype(float).to_numpy()
        statistic, pvalue = ks(ref, cur)
        return {"psi": psi_numeric(ref, cur), "ks": statistic, "ks_pvalue": pvalue}
    return {"psi": psi_categorical(reference, current), "ks": math.nan, "ks_pvalue": math.nan}


# --------------------------------------------------------------------------- measures


def drift_rows(reference: pd.DataFrame, frames: dict[dt.date, pd.DataFrame], numeric: list[str],
               categorical: list[str], stamp: dict) -> list[dict]:
    """One `_meta/drift` row per feature per snapshot (`stamp`: run_id, domain, model, ...)."""
    out = []
    for day, frame in frames.items():
        for name in [*numeric, *categorical]:
            values = drift_of(reference[name], frame[name], numeric=name in numeric)
            out.append({**stamp, "feature": name, "snapshot_date": day, **values, "rows": len(frame),
                        "reference_rows": len(reference)})
    return out


def cohort_scores(model, threshold: float, X: pd.DataFrame, y: pd.Series | None) -> dict:
    """auc, f1, positive_rate (None without two classes), predicted_positive_rate, labelled_rows."""
    scores = model.predict_proba(X)[:, 1]
    out = {"predicted_positive_rate": float(np.mean(scores >= threshold)) if len(X) else None,
           "labelled_rows": 0 if y is None else len(y), "auc": None, "f1": None, "positive_rate": None}
    if y is not None and len(y) and y.nunique() == 2:
        metrics = train.score_metrics(y.astype(int), scores, threshold)
        out |= {"auc": metrics["auc"], "f1": metrics["f1"], "positive_rate": metrics["positive_rate"]}
    elif y is not None and len(y):
        out["positive_rate"] = float(y.astype(int).mean())
    return out


def performance_rows(model, threshold: float, frames: dict[dt.date, pd.DataFrame], labelled: pd.DataFrame,
                     features: list[str], stamp: dict) -> list[dict]:
    """One `_meta/performance` row per snapshot in `frames`: its feature rows scored, and
    its labelled rows (`labelled`, by feature_snapshot_date) when there are any."""
    out = []
    cohorts = {pd.Timestamp(d).date(): rows for d, rows in labelled.groupby(train.DATE)}
    for day, frame in frames.items():
        rows = cohorts.get(day)
        scores = cohort_scores(model, threshold, frame[features], None)
        if rows is not None:
            scores |= {k: v for k, v in cohort_scores(model, threshold, rows[features],
                                                      rows[train.LABEL]).items() if k != "predicted_positive_rate"}
        out.append({**stamp, "snapshot_date": day, "rows": len(frame), "threshold": threshold, **scores})
    return out


# --------------------------------------------------------------------------- alerts


def raise_alert(spec: MonitoringSpec, rule: str, subject: str, day: dt.date, value: float, threshold: float,
                detail: str, *, domain: str, run_id: str, retrain: bool) -> dict:
    """The `_meta/alerts` row of one broken rule, logged as a WARNING that says what to
    do; its action is ``retrain`` (or ``retrain_disabled``) for a kind in ``retrain_on``."""
    kind = RULE_KINDS[rule]
    action = ("retrain" if retrain else "retrain_disabled") if kind in spec.retrain_on else "notify"
    logger.warning("ALERT %s %s %s at %s: %s; %s%s", domain, rule, subject, day, detail,
                   ADVICE[kind].format(domain=domain), "; a challenger is trained now" if action == "retrain" else "")
    return {"run_id": run_id, "domain": domain, "rule": rule, "subject": subject, "snapshot_date": day,
            "value": float(value), "threshold": float(threshold), "action": action, "detail": detail,
            "raised_at": dt.datetime.now(dt.timezone.utc)}


def judge(spec: MonitoringSpec, drift: list[dict], performance: list[dict], *, model_name: str,
          test_auc: float | None, expected_rate: float, domain: str, run_id: str, retrain: bool) -> list[dict]:
    """The `_meta/alerts` rows of the rules in `spec`, on the latest snapshot (drift,
    predicted positive rate against `expected_rate`) and the latest labelled cohort
    (performance)."""
    alerts = []

    def raise_(rule: str, subject: str, day: dt.date, value: float, threshold: float, detail: str) -> None:
        alerts.append(raise_alert(spec, rule, subject, day, value, threshold, detail, domain=domain, run_id=run_id,
                                  retrain=retrain))

    latest = max((r["snapshot_date"] for r in performance), default=None)
    if spec.psi is not None and latest is not None:
        judged = set(spec.features) if spec.features is not None else None
        for r in drift:
            if (r["snapshot_date"] == latest and (judged is None or r["feature"] in judged)
                    and r["rows"] >= spec.drift_min_rows and r["psi"] >= spec.psi):
                ks_text = "n/a" if math.isnan(r["ks"]) else f"{r['ks']:.3f}, p {r['ks_pvalue']:.2g}"
                raise_("drift_psi", r["feature"], latest, r["psi"], spec.psi,
                       f"PSI {r['psi']:.3f} >= {spec.psi} against {r['reference_rows']} training rows (KS {ks_text})")
    last = next((r for r in performance if r["snapshot_date"] == latest), None)
    if spec.max_rate_shift is not None and last is not None and last["rows"] >= spec.rate_min_rows:
        shift = last["predicted_positive_rate"] - expected_rate
        if abs(shift) > spec.max_rate_shift:
            raise_("prediction_rate_shift", model_name, latest, shift, spec.max_rate_shift,
                   f"predicted positive rate {last['predicted_positive_rate']:.3f} vs {expected_rate:.3f} "
                   f"expected ({shift:+.3f})")
    cohort = max((r for r in performance if r["auc"] is not None), key=lambda r: r["snapshot_date"], default=None)
    if cohort is not None and cohort["labelled_rows"] >= spec.performance_min_rows:
        auc, day = cohort["auc"], cohort["snapshot_date"]
        if spec.min_auc is not None and auc < spec.min_auc:
            raise_("performance_min_auc", model_name, day, auc, spec.min_auc,
                   f"ROC AUC {auc:.3f} < {spec.min_auc} on {cohort['labelled_rows']} labelled rows")
        if spec.max_drop is not None and test_auc is not None and test_auc - auc > spec.max_drop:
            raise_("performance_max_drop", model_name, day, test_auc - auc, spec.max_drop,
                   f"ROC AUC {auc:.3f} is {test_auc - auc:.3f} below the test ROC AUC "
                   f"{test_auc:.3f} (max drop {spec.max_drop})")
    return alerts
