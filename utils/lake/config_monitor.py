"""The `monitoring:` section of `conf/<domain>.yaml`: the alert rules that
:mod:`utils.ml.monitor` applies to the champion model of a classifier domain, and what
an alert may trigger (a challenger trained and compared out of time).

    monitoring:
      drift: {psi: 0.25, features: all}                  # PSI of a feature vs the training reference
      performance: {min_auc: 0.65, max_drop: 0.05}       # realised ROC AUC of a labelled cohort
      prediction_rate: {max_shift: 0.10}                 # share of rows predicted positive
      retrain_on: [performance]                          # alert kinds that train a challenger

A section left out is a rule that never fires; the tables `_meta/drift` and
`_meta/performance` are written either way. :class:`MonitoringModel` validates (strict,
like every model of :mod:`utils.lake.config_schema`); :meth:`MonitoringModel.spec` gives
the frozen :class:`MonitoringSpec` the code uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Union

from pydantic import Field, Strict, model_validator

from utils.lake.config_types import Flag, PositiveCount, Text, _choice, _kind, _Model, _NonEmpty, _problem

#: The alert kinds, which are also the sections that declare their rules.
ALERT_KINDS = ("drift", "performance", "prediction_rate")

_Share = _kind(Annotated[float, Strict(), Field(gt=0, le=1)], "a number in (0, 1]")
_Auc = _kind(Annotated[float, Strict(), Field(ge=0, le=1)], "a number in [0, 1]")
_PositiveNumber = _kind(Annotated[float, Strict(), Field(gt=0)], "a positive number")
_Features = _kind(Union[Literal["all"], Annotated[list[_NonEmpty], Field(min_length=1)]],
                  "all, or a non-empty list of feature names")


class DriftRuleModel(_Model):
    """Feature drift: the population stability index (PSI) of a feature at a snapshot
    against the champion's training rows (10 quantile bins of the reference for numbers,
    the categories for strings; an empty bin counts as a share of 0.0001)."""

    psi: _PositiveNumber = Field(0.25, description="Alert when a feature's PSI is at least this (0.1: moderate "
                                 "shift, 0.25: significant).")
    features: _Features = Field("all", description="The features judged: all (every feature of the model) or a "
                                "list of their names.")
    min_rows: PositiveCount = Field(50, description="A snapshot with fewer rows is not judged (its PSI is still "
                                    "recorded).")


class PerformanceRuleModel(_Model):
    """Realised performance of the champion on a cohort (feature_snapshot_date) whose
    labels have matured: at least one of min_auc (classifiers), min_ndcg (recommenders),
    max_drop."""

    min_auc: _Auc = Field(None, description="Alert when the cohort's ROC AUC is below this (a classifier).")
    min_ndcg: _Auc = Field(None, description="Alert when the cohort's NDCG@10 is below this (a recommender: a "
                           "domain whose label is of kind interactions).")
    max_drop: _Share = Field(None, description="Alert when the cohort's ROC AUC (a recommender's NDCG@10) is more "
                             "than this below the champion's own out-of-time score.")
    max_mae_increase: _PositiveNumber = Field(None, description="Alert when the cohort's MAE is more than this "
                                              "share above the champion's out-of-time test MAE (a forecast: 0.25 = "
                                              "25 % worse).")
    beat_baseline: Flag = Field(None, description="Alert when the cohort's MAE is above the seasonal-naive "
                                "baseline's MAE on the same rows (a forecast).")
    min_rows: PositiveCount = Field(50, description="A cohort with fewer labelled rows (or one class only) is not "
                                    "judged.")

    @model_validator(mode="after")
    def _a_rule(self) -> PerformanceRuleModel:
        if (self.min_auc is None and self.min_ndcg is None and self.max_drop is None
                and self.max_mae_increase is None and not self.beat_baseline):
            raise _problem("", "give min_auc (or min_ndcg for a recommender), max_drop or both; for a forecast "
                               "max_mae_increase or beat_baseline")
        return self


class PredictionRateModel(_Model):
    """The share of rows the champion predicts positive at its threshold, before labels
    exist: an early sign that the population or the model's inputs changed."""

    max_shift: _Share = Field(description="Alert when a snapshot's predicted positive rate differs by more than "
                              "this (absolute, e.g. 0.10 = 10 points) from the champion's rate on its out-of-time "
                              "test cohorts (else on its training rows).")
    min_rows: PositiveCount = Field(50, description="A snapshot with fewer rows is not judged.")


class MonitoringModel(_Model):
    """How `python -m utils.ml.monitor` judges the domain's champion model: drift of its
    inputs, its realised performance and its predicted positive rate, each against the
    rows it was trained on; and which alerts train a challenger."""

    label: Text = Field(None, description="The label_def whose champion (<domain>_<label>) is monitored "
                        "(default: the domain's first label).")
    drift: DriftRuleModel = Field(None, description="Feature drift rule (PSI per feature and snapshot).")
    performance: PerformanceRuleModel = Field(None, description="Realised performance rule (ROC AUC per labelled "
                                              "cohort).")
    prediction_rate: PredictionRateModel = Field(None, description="Predicted positive rate rule (per snapshot).")
    retrain_on: list[_choice(*ALERT_KINDS)] = Field([], description="Alert kinds that train a challenger; it "
                                                    "replaces the champion only when its ROC AUC on the latest "
                                                    "labelled cohort, which it did not train on, is higher.")
    holdout_months: PositiveCount = Field(1, description="Latest labelled cohorts the challenger holds out of its "
                                          "training (the comparison window, the latest, is always among them).")

    @model_validator(mode="after")
    def _rules_exist(self) -> MonitoringModel:
        for i, kind in enumerate(self.retrain_on):
            if getattr(self, kind) is None:
                raise _problem(f".retrain_on[{i}]", f"no {kind}: section declares when a {kind} alert is raised")
        return self

    def spec(self) -> MonitoringSpec:
        """The frozen settings the monitoring code uses."""
        drift, perf, rate = self.drift, self.performance, self.prediction_rate
        return MonitoringSpec(
            label=self.label,
            psi=drift and drift.psi,
            features=None if drift is None or drift.features == "all" else tuple(drift.features),
            drift_min_rows=drift.min_rows if drift else DriftRuleModel.model_fields["min_rows"].default,
            min_auc=perf and perf.min_auc,
            min_ndcg=perf and perf.min_ndcg,
            max_drop=perf and perf.max_drop,
            max_mae_increase=perf and perf.max_mae_increase,
            beat_baseline=bool(perf and perf.beat_baseline),
            performance_min_rows=perf.min_rows if perf else PerformanceRuleModel.model_fields["min_rows"].default,
            max_rate_shift=rate and rate.max_shift,
            rate_min_rows=rate.min_rows if rate else PredictionRateModel.model_fields["min_rows"].default,
            retrain_on=tuple(dict.fromkeys(self.retrain_on)),
            holdout_months=self.holdout_months,
        )


@dataclass(frozen=True)
class MonitoringSpec:
    """The alert rules of a domain (None: that rule never fires). `features` None: all."""

    label: str | None = None
    psi: float | None = None
    features: tuple[str, ...] | None = None
    drift_min_rows: int = 50
    min_auc: float | None = None
    min_ndcg: float | None = None
    max_drop: float | None = None
    max_mae_increase: float | None = None
    beat_baseline: bool = False
    performance_min_rows: int = 50
    max_rate_shift: float | None = None
    rate_min_rows: int = 50
    retrain_on: tuple[str, ...] = ()
    holdout_months: int = 1

