"""Analysis pipeline (a), next-day consumption: the metrics, the rows it may use and an
out-of-time fit on a small made-up table where heat follows the temperature (pandas and
scikit-learn, no Spark)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from utils.domains.energy.forecast import errors, fit_and_score, training_rows


def test_errors_are_mae_rmse_and_mape_over_positive_actuals():
    got = errors(np.array([10.0, 20.0, 0.0]), np.array([12.0, 16.0, 1.0]))
    assert got == {"mae": pytest.approx(7 / 3, abs=1e-3), "rmse": pytest.approx(np.sqrt(21 / 3), abs=1e-3),
                   "mape": pytest.approx(20.0)}


def days_table(buildings: int = 4, days: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(buildings):
        area = 500.0 * (b + 1)
        for d in range(days):
            day = dt.date(2024, 1, 1) + dt.timedelta(days=d)
            temp = 10 - 9 * np.cos(2 * np.pi * (d - 15) / 365) + rng.normal(0, 3)
            kwh = area * (0.02 + 0.012 * max(0.0, 16 - temp)) * (0.6 if day.weekday() >= 5 else 1.0)
            rows.append({"building_id": f"BLD-{b}", "snapshot_date": day, "consumption_kwh": round(kwh, 1),
                         "complete": d % 37 != 5, "temperature_c": temp, "heating_degree_days": max(0.0, 16 - temp),
                         "humidity": 70.0, "wind_speed": 3.0, "precipitation": 0.0, "floor_area_m2": area,
                         "construction_year": 1980, "day_of_week": (day.weekday() + 1) % 7 + 1,
                         "month": day.month, "is_weekend": day.weekday() >= 5, "is_holiday": False,
                         "use_type": "office", "heating_type": "gas"})
    frame = pd.DataFrame(rows)
    usable = frame["consumption_kwh"].where(frame["complete"])
    frame["kwh_lag_1d"] = usable.groupby(frame["building_id"]).shift(1)
    frame["kwh_lag_7d"] = usable.groupby(frame["building_id"]).shift(7)
    return frame


def test_training_rows_need_a_complete_day_and_known_lags():
    frame = days_table()
    rows = training_rows(frame)
    assert rows["complete"].all() and rows["kwh_lag_1d"].notna().all() and rows["kwh_lag_7d"].notna().all()
    assert len(rows) < len(frame)


def test_model_trained_before_the_cut_beats_the_seasonal_naive_baseline_after_it():
    _, metrics = fit_and_score(training_rows(days_table()), dt.date(2024, 6, 1))
    assert metrics["train_rows"] > 0 and metrics["test_rows"] > 0
    assert metrics["model"]["mae"] < metrics["baseline_seasonal_naive"]["mae"]
    assert metrics["model_beats_baseline_on_mae"] is True


def test_a_cut_outside_the_data_is_refused():
    with pytest.raises(ValueError, match="pick a cut inside the data"):
        fit_and_score(training_rows(days_table()), dt.date(2030, 1, 1))
