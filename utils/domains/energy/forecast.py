"""Analysis pipeline (a): next-day heat consumption per building, read only from the
exploitation zone (gold/energy/building_days). A gradient-boosting model against the
seasonal-naive baseline (the same weekday a week before), out of time: trained on the
days before one cut, scored on the days from it. Metrics MAE, RMSE and MAPE in
``<datamart>/_models/energy/forecast.json``; the partial dependence of the model on the
latest known temperature as a PNG beside it::

    python -m utils.domains.energy.forecast --datamart datamart --cut 2024-10-01

(``python main.py --domain energy`` runs it after a build that wrote gold.)

Point in time: the forecast for day T is issued at 00:00 (local) of T, when the reading
that closes T-1 arrives. The headline model (``model``) uses only what is known then:
the consumption lags, the calendar of T, the registry, and the latest published weather,
the observed weather of T-2 (a day's weather is published the next morning, so T-1's is
not out yet) and the temperature of T-3. The observed weather of T is never an input of
it. ``model_ex_post_weather`` adds T's observed weather: an ex-post upper bound (a
perfect day-ahead weather forecast), reported beside it, never the headline.

The table is small (one row per building and day), so it is read with delta-rs into
pandas; scikit-learn and matplotlib only."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from deltalake import DeltaTable

logger = logging.getLogger(__name__)

#: The forecast for T is issued at 00:00 (local) of T.
ISSUE_TIME = "00:00 local time of the forecast day T (when the reading closing T-1 arrives)"
#: Inputs known at the issue time (point in time): lags, calendar, registry, and the latest
#: published weather (T-2; T-3's temperature).
NUMERIC = ["kwh_lag_1d", "kwh_lag_7d", "temperature_c_lag_2d", "heating_degree_days_lag_2d", "humidity_lag_2d",
           "wind_speed_lag_2d", "precipitation_lag_2d", "temperature_c_lag_3d", "heating_degree_days_lag_3d",
           "floor_area_m2", "construction_year", "day_of_week", "month"]
#: The observed weather of T, published on the morning of T+1: only in the ex-post variant.
EX_POST_WEATHER = ["temperature_c", "heating_degree_days", "humidity", "wind_speed", "precipitation"]
#: The temperature input of the headline model (its partial dependence is plotted).
TEMPERATURE = "temperature_c_lag_2d"
FLAGS = ["is_weekend", "is_holiday"]
CATEGORIES = ["use_type", "heating_type"]
TARGET, BASELINE = "consumption_kwh", "kwh_lag_7d"
#: The out-of-time cut of the default sample (2024): nine months to train, three to score.
DEFAULT_CUT = dt.date(2024, 10, 1)


def training_rows(days: pd.DataFrame) -> pd.DataFrame:
    """The rows a model may learn from and be scored on: a complete day (the target)
    whose previous day and same weekday of last week are known (complete)."""
    usable = days[days["complete"].astype(bool) & days["kwh_lag_1d"].notna() & days[BASELINE].notna()]
    return usable.sort_values(["snapshot_date", "building_id"], kind="stable").reset_index(drop=True)


def design(rows: pd.DataFrame, *, ex_post_weather: bool = False) -> pd.DataFrame:
    """The model's inputs: numbers, flags as 0/1, categories one-hot (a fixed vocabulary).
    Point in time (known at 00:00 of T) unless `ex_post_weather`, which adds the observed
    weather of T (not known at the issue time: an upper bound only)."""
    numeric = NUMERIC + (EX_POST_WEATHER if ex_post_weather else [])
    x = rows[numeric].astype(float).copy()
    for flag in FLAGS:
        x[flag] = rows[flag].astype(bool).astype(float)
    vocab = {"use_type": ("residential", "office", "school"), "heating_type": ("district", "gas", "heat_pump", "oil")}
    for column in CATEGORIES:
        for value in vocab[column]:
            x[f"{column}_{value}"] = (rows[column] == value).astype(float)
    return x


def errors(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE, RMSE (kWh) and MAPE (%, over days with a positive actual)."""
    diff = predicted - actual
    positive = actual > 0
    return {"mae": round(float(np.mean(np.abs(diff))), 3), "rmse": round(float(np.sqrt(np.mean(diff ** 2))), 3),
            "mape": round(float(np.mean(np.abs(diff[positive]) / actual[positive]) * 100), 3)}


def fit_and_score(rows: pd.DataFrame, cut: dt.date, *, seed: int = 0):
    """(model, metrics): the point-in-time model trained on the rows before `cut`, and the
    metrics on the rows from `cut` on of it (``model``), of the same model given the
    observed weather of T as well (``model_ex_post_weather``, an upper bound: a perfect
    day-ahead weather forecast) and of the seasonal-naive baseline."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    day = pd.to_datetime(rows["snapshot_date"]).dt.date
    train, test = rows[day < cut], rows[day >= cut]
    if train.empty or test.empty:
        raise ValueError(f"cut {cut}: {len(train)} training and {len(test)} test rows; pick a cut inside the data")
    actual = test[TARGET].to_numpy(float)
    scored = {}
    for ex_post in (False, True):
        fitted = HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, random_state=seed)
        fitted.fit(design(train, ex_post_weather=ex_post), train[TARGET])
        scored[ex_post] = fitted, errors(actual, fitted.predict(design(test, ex_post_weather=ex_post)))
    model = scored[False][0]
    metrics = {"cut": cut.isoformat(), "train_rows": len(train), "test_rows": len(test),
               "buildings": int(rows["building_id"].nunique()), "issue_time": ISSUE_TIME,
               "features": list(design(test.head(1)).columns),
               "model": scored[False][1],
               "model_ex_post_weather": scored[True][1],
               "ex_post_weather_features": EX_POST_WEATHER,
               "ex_post_weather_note": "upper bound, not a forecast: adds the weather observed on T, published "
                                       "the morning of T+1 (a perfect day-ahead weather forecast)",
               "baseline_seasonal_naive": errors(actual, test[BASELINE].to_numpy(float))}
    metrics["model_beats_baseline_on_mae"] = metrics["model"]["mae"] < metrics["baseline_seasonal_naive"]["mae"]
    return model, metrics


def temperature_figure(model, rows: pd.DataFrame):
    """Partial dependence of the point-in-time model's prediction on the latest known
    temperature (T-2), as a matplotlib Figure not registered with pyplot (for gradient
    boosting an effect up to a constant: the curve's shape and drop are what count)."""
    from matplotlib.figure import Figure
    from sklearn.inspection import PartialDependenceDisplay

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    PartialDependenceDisplay.from_estimator(model, design(rows), [TEMPERATURE], ax=ax)
    fig.axes[-1].set_xlabel("temperature of T-2 (°C), the latest published at 00:00 of T")
    fig.axes[-1].set_ylabel("effect on predicted kWh per day")
    fig.suptitle("Next-day heat use vs the latest known temperature")
    fig.tight_layout()
    return fig


def plot_temperature(model, rows: pd.DataFrame, path: Path) -> Path:
    """:func:`temperature_figure` as a PNG at `path`."""
    temperature_figure(model, rows).savefig(path, dpi=110)
    return path


def read_days(datamart: Path, version: int | None = None) -> pd.DataFrame:
    """gold/energy/building_days of the datamart at `datamart` (its latest version, or
    `version`), as pandas."""
    return DeltaTable(str(datamart / "gold" / "energy" / "building_days"), version=version).to_pandas()


def default_cut(rows: pd.DataFrame) -> dt.date:
    """DEFAULT_CUT when the usable rows hold days on both sides of it, else the first day
    after three quarters of their distinct days (a smaller sample's own out-of-time split)."""
    days = sorted(pd.to_datetime(rows["snapshot_date"]).dt.date.unique())
    if not days:
        raise ValueError("no usable building day (complete, with both lags) to forecast")
    if days[0] < DEFAULT_CUT <= days[-1]:
        return DEFAULT_CUT
    return days[min(len(days) - 1, max(1, (3 * len(days)) // 4))]


def run(datamart: Path, cut: dt.date | None = None, *, days: pd.DataFrame | None = None) -> dict:
    """Read gold/energy/building_days (or take `days`), fit, score out of time at `cut`
    (None: :func:`default_cut`), write forecast.json and the plot."""
    days = read_days(datamart) if days is None else days
    rows = training_rows(days)
    model, metrics = fit_and_score(rows, cut or default_cut(rows))
    out = datamart / "_models" / "energy"
    out.mkdir(parents=True, exist_ok=True)
    metrics["plot"] = plot_temperature(model, rows, out / "forecast_temperature.png").name
    (out / "forecast.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    logger.info("forecast issued at 00:00 of T: model %s, ex-post weather (upper bound) %s, seasonal naive %s",
                metrics["model"], metrics["model_ex_post_weather"], metrics["baseline_seasonal_naive"])
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m utils.domains.energy.forecast", description=__doc__.split("\n")[0])
    p.add_argument("--datamart", type=Path, default=Path("datamart"))
    p.add_argument("--cut", type=dt.date.fromisoformat, default=None,
                   help=f"first day scored out of time (default {DEFAULT_CUT} when the data spans it)")
    args = p.parse_args(argv)
    run(args.datamart.resolve(), args.cut)
    return 0


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure()
    raise SystemExit(main())
