"""The champion model of each domain, from the MLflow registry, reloaded when its alias moves.

    champions = Champions(tracking_uri, reload_seconds=5.0)
    champion = champions.get("churn")        # None when the domain has no champion
    champion.problems({"tenure_days": 12, ...})    # [] or what is wrong with a payload
    champion.score(champion.frame(features))       # probabilities of label 1

A domain's models are registered by :mod:`utils.ml.tracking` as ``<domain>_<label_def>``
for each classification label of ``conf/<domain>.yaml`` (kinds other than
``interactions``); the alias ``champion`` names the served version. When a domain has
several labels, the first one (in the configuration's order) that has a champion is
served. A recommendation domain's champion is its registered recommender
(:func:`recommender_names`, :class:`ServedRecommender`: the fitted model of
:mod:`utils.ml.reco_tracking`), reloaded the same way.

Reload: :meth:`Champions.get` re-resolves the alias at most every `reload_seconds`; when
it names another version, that version is loaded by number (its artefacts downloaded
from the registry, the sklearn model read from its skops file with the types its MLmodel
trusts; by number, so an alias moved again meanwhile cannot pair one version's model with
another's metadata) and replaces the served one in a single assignment, so a request scores with either the old or the new model, never a
mix. Only one thread checks a domain at a time; the others keep serving the current
champion meanwhile. A registry that cannot be reached, or a version that cannot be
loaded, leaves the current champion in place (logged); an alias that was deleted
stops the domain's predictions (no champion).

What a champion needs to score, all read from the registered version:

- its input columns and their types: the signature MLflow logged with the model
  (:func:`utils.ml.tracking.log_training` infers it from the training rows);
- its decision threshold: the best model's ``threshold`` in the run's ``metrics.json``
  artefact (chosen on the training rows by :mod:`utils.ml.train`), else 0.5;
  :attr:`Champion.threshold_source` says which. A regressor (no ``predict_proba``, e.g.
  energy's forecast) has none: its score is the predicted value.

MLflow is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import logging
import math
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from utils.ml.tracking import CHAMPION

logger = logging.getLogger(__name__)

# A feature that was null in every training row is dropped by the median imputer, which
# says so on every transform: once per request here. Trained that way on purpose (the
# column may fill later), so the warning is noise in a server's log.
warnings.filterwarnings("ignore", message="Skipping features without any observed values", category=UserWarning)

DEFAULT_THRESHOLD = 0.5
#: MLflow signature types the API takes as JSON numbers (booleans also as true/false)
NUMBER_TYPES = {"double", "float", "long", "integer", "boolean"}


@dataclass(frozen=True)
class Feature:
    """One input column of a model: its name and what JSON value it takes."""

    name: str
    kind: str  # "number" or "string"
    mlflow_type: str


@dataclass(frozen=True)
class Champion:
    """A loaded champion: the registered version and what scoring it needs."""

    domain: str
    name: str
    version: int
    run_id: str
    model: Any = field(repr=False)
    features: tuple[Feature, ...]
    threshold: float | None
    threshold_source: str | None
    loaded_at: str

    @property
    def kind(self) -> str:
        """``classifier`` (scores are probabilities of label 1, cut by the threshold) or
        ``regressor`` (scores are predicted values, e.g. energy's next-day kWh)."""
        return "classifier" if hasattr(self.model, "predict_proba") else "regressor"

    def describe(self) -> dict:
        """The champion as JSON: name, version, run, kind, threshold and where it came from."""
        return {"name": self.name, "version": self.version, "run_id": self.run_id, "kind": self.kind,
                "threshold": self.threshold, "threshold_source": self.threshold_source,
                "features": len(self.features), "loaded_at": self.loaded_at}

    def problems(self, values: Mapping[str, Any]) -> list[str]:
        """What keeps `values` (a full feature payload) from being scored, one line per
        problem: features missing, features the model does not take, values of the wrong
        type. Null is a value (the model imputes it); numbers must be finite."""
        wanted = {f.name: f for f in self.features}
        out = [f"missing feature {name!r}" for name in wanted if name not in values]
        out += [f"unknown feature {name!r}" for name in values if name not in wanted]
        for name, value in values.items():
            spec = wanted.get(name)
            if spec is None or value is None:
                continue
            if spec.kind == "string":
                if not isinstance(value, str):
                    out.append(f"feature {name!r} takes a string, got {type(value).__name__}")
            elif isinstance(value, bool) and spec.mlflow_type != "boolean":
                out.append(f"feature {name!r} takes a number, got bool")
            elif not isinstance(value, (int, float)):
                out.append(f"feature {name!r} takes a number, got {type(value).__name__}")
            elif not _finite(value):
                out.append(f"feature {name!r} takes a finite number, got {value!r}")
        return out

    def frame(self, values: Mapping[str, Any]) -> pd.DataFrame:
        """One row of the model's input columns, in its order: numbers as float64 (NaN for
        null), strings as object (NaN for null). Raises ValueError when a value is not of
        its column's kind (values from the online store are converted, e.g. Decimal)."""
        columns = {}
        for f in self.features:
            value = values.get(f.name)
            if f.kind == "number":
                columns[f.name] = pd.Series([np.nan if value is None else _number(f.name, value)], dtype="float64")
            else:
                columns[f.name] = pd.Series([np.nan if value is None else str(value)], dtype=object)
        return pd.DataFrame(columns)

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """The probability of label 1 of each row of `frame` (a classifier), or its
        predicted value (a regressor)."""
        if self.kind == "regressor":
            return np.asarray(self.model.predict(frame), dtype=float)
        return self.model.predict_proba(frame)[:, 1]


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int too large for a float
        return False


def _number(name: str, value: Any) -> float:
    if isinstance(value, (bool, int, float, decimal.Decimal, np.number)):
        number = float(value)
        if math.isfinite(number):
            return number
    raise ValueError(f"feature {name!r}: {value!r} is not a finite number")


@lru_cache(maxsize=None)
def model_names(domain: str) -> tuple[str, ...]:
    """The registered model names of `domain`'s classification labels, in the
    configuration's order (``<domain>_<label_def>``); for a domain whose gold is its
    builder's, the model its ``serving`` module names (energy: ``energy_next_day_kwh``,
    :mod:`utils.domains.energy.serving`); () for an unknown domain or one without such
    models (e.g. recommendation)."""
    from utils.lake.config import ConfigError, load_config

    try:
        gold = load_config(domain).gold
    except ConfigError:
        return ()
    if gold is None:
        from utils.serve.online_store import serving_module

        module = serving_module(domain)
        return () if module is None else (module.MODEL_NAME,)
    return tuple(f"{domain}_{label.name}" for label in gold.labels if label.kind != "interactions")


@lru_cache(maxsize=None)
def recommender_names(domain: str) -> tuple[str, ...]:
    """The registered model names of `domain`'s interactions labels (its recommenders,
    :mod:`utils.ml.reco_tracking`); () for an unknown domain or one without them."""
    from utils.lake.config import ConfigError, load_config

    try:
        gold = load_config(domain).gold
    except ConfigError:
        return ()
    if gold is None:
        return ()
    return tuple(f"{domain}_{label.name}" for label in gold.labels if label.kind == "interactions")


@dataclass(frozen=True)
class ServedRecommender:
    """A loaded champion recommender: the registered version and its fitted model, which
    ranks from the events up to its cut (it is not refitted while served)."""

    domain: str
    name: str
    version: int
    run_id: str
    recommender: Any = field(repr=False)
    best: str
    cut: str
    loaded_at: str

    def describe(self) -> dict:
        """The champion as JSON: name, version, run, which recommender and its cut."""
        return {"name": self.name, "version": self.version, "run_id": self.run_id, "recommender": self.best,
                "cut": self.cut, "loaded_at": self.loaded_at}


def load_recommender(domain: str, name: str, version: int, run_id: str, tracking_uri: str) -> ServedRecommender:
    """Version `version` of registered recommender `name` (an MLflow pyfunc wrapping a
    fitted :class:`utils.ml.recommenders.Recommender`) and its run's cut."""
    import mlflow.artifacts
    import mlflow.pyfunc

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    source = client.get_model_version_download_uri(name, str(version))
    with tempfile.TemporaryDirectory(prefix="recommender-") as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=tmp, tracking_uri=tracking_uri)
        recommender = mlflow.pyfunc.load_model(local).unwrap_python_model().recommender
    params = client.get_run(run_id).data.params
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return ServedRecommender(domain, name, int(version), run_id, recommender, params.get("best_model", "?"),
                             params.get("cut", "?"), stamp)


def _features(model_info, model) -> tuple[Feature, ...]:
    """Input columns from the signature; from the fitted model's feature_names_in_
    (all taken as numbers) when a version was logged without one."""
    signature = model_info.signature
    if signature is not None and signature.inputs is not None:
        out = []
        for spec in signature.inputs.inputs:
            kind = getattr(spec.type, "name", str(spec.type))
            out.append(Feature(spec.name, "number" if kind in NUMBER_TYPES else "string", kind))
        return tuple(out)
    names = getattr(model, "feature_names_in_", None)
    if names is None:
        raise ValueError("the model has neither a signature nor feature names")
    return tuple(Feature(str(n), "number", "double") for n in names)


def _threshold(run_id: str, tracking_uri: str, folder: Path) -> tuple[float, str]:
    """(threshold, source): the best model's threshold in the run's metrics.json, else 0.5."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    try:
        local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="metrics.json", dst_path=str(folder),
                                                    tracking_uri=tracking_uri)
        metrics = json.loads(Path(local).read_text(encoding="utf-8"))
        best = metrics["best_model"]
        return float(metrics["models"][best]["threshold"]), f"metrics.json of run {run_id}: {best}"
    except (MlflowException, OSError, KeyError, TypeError, ValueError) as exc:
        logger.info("run %s: no threshold in metrics.json (%s); using %.2f", run_id, exc, DEFAULT_THRESHOLD)
        return DEFAULT_THRESHOLD, "default 0.5 (no metrics.json threshold in the run)"


def load_champion(domain: str, name: str, version: int, run_id: str, tracking_uri: str) -> Champion:
    """Version `version` of registered model `name`: the sklearn model, its input columns
    and its decision threshold, downloaded from the registry at `tracking_uri`."""
    import mlflow.artifacts
    import mlflow.models
    import mlflow.sklearn

    from mlflow.tracking import MlflowClient

    # the artefacts' own URI: a models:/ URI would be resolved against the process-wide registry
    source = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri).get_model_version_download_uri(
        name, str(version))
    with tempfile.TemporaryDirectory(prefix="champion-") as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=source, dst_path=tmp, tracking_uri=tracking_uri)
        model = mlflow.sklearn.load_model(local)
        info = mlflow.models.Model.load(local)
        if hasattr(model, "predict_proba"):
            threshold, source = _threshold(run_id, tracking_uri, Path(tmp) / "run")
        else:  # a regressor: its score is the predicted value, not cut into labels
            threshold, source = None, None
    features = _features(info, model)
    stamp = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return Champion(domain, name, int(version), run_id, model, features, threshold, source, stamp)


def _missing(exc: Exception) -> bool:
    """Whether an MLflow error says the model or alias does not exist."""
    return getattr(exc, "error_code", "") in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


class Champions:
    """The served champion of each domain, re-resolved at most every `reload_seconds`."""

    def __init__(self, tracking_uri: str, *, reload_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from mlflow.tracking import MlflowClient

        self.tracking_uri = tracking_uri
        self.reload_seconds = reload_seconds
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self._clock = clock
        self._current: dict[str, Champion | None] = {}
        self._checked: dict[str, float] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def get(self, domain: str) -> Champion | None:
        """The champion of `domain` (None when it has none), re-resolving its alias when
        the last check is older than `reload_seconds`."""
        current = self._current.get(domain)
        if self._clock() - self._checked.get(domain, -math.inf) < self.reload_seconds:
            return current
        lock = self._lock(domain)
        # a first load waits for the thread doing it; a reload does not: the current one serves meanwhile
        if not lock.acquire(blocking=domain not in self._checked):
            return current
        try:
            if self._clock() - self._checked.get(domain, -math.inf) >= self.reload_seconds:
                self._refresh(domain)
        finally:
            lock.release()
        return self._current.get(domain)

    def _lock(self, domain: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(domain, threading.Lock())

    def _resolve(self, domain: str):
        """The model version the champion alias names for `domain`'s first label that has
        one, or None. Raises on registry errors other than "not found"."""
        from mlflow.exceptions import MlflowException

        for name in model_names(domain) or recommender_names(domain):
            try:
                return self._client.get_model_version_by_alias(name, CHAMPION)
            except MlflowException as exc:
                if not _missing(exc):
                    raise
        return None

    def _refresh(self, domain: str) -> None:
        current = self._current.get(domain)
        try:
            found = self._resolve(domain)
            if found is None:
                if current is not None:
                    logger.warning("%s: the champion alias of %s is gone; no champion served", domain, current.name)
                self._current[domain] = None
            elif current is None or (current.name, current.version) != (found.name, int(found.version)):
                load = load_recommender if found.name in recommender_names(domain) else load_champion
                loaded = load(domain, found.name, int(found.version), found.run_id, self.tracking_uri)
                self._current[domain] = loaded  # the swap: one assignment
                logger.info("%s: serving %s%s", domain, loaded.describe(),
                            f"; was version {current.version}" if current is not None else "")
        except Exception:  # the registry or a model file: keep serving what we have
            logger.exception("%s: could not resolve or load the champion; %s", domain,
                             f"still serving version {current.version}" if current is not None else "none served")
        self._checked[domain] = self._clock()
