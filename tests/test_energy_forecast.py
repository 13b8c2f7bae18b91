"""Analysis pipeline (a), next-day consumption: the metrics, the rows it may use and an
out-of-time fit on a small made-up table where heat follows the temperature (pandas and
scikit-learn, no Spark)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from utils.domains.energy.forecast import EX_POST_WEATHER, design, errors, fit_and_score, read_days, training_rows


def test_errors_are_mae_rmse_and_mape_over_positive_actuals():
    got = errors(np.array([10.0, 20.0, 0.0]), np.array([12.0, 16.0, 1.0]))
    assert got == {"mae": pytest.approx(7 / 3, abs=1e-3), "rmse": pytest.approx(np.sqrt(21 / 3), abs=1e-3),
                   "mape": pytest.approx(20.0)}


def days_table(buildings: int = 4, days: int = 365, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    noise = np.zeros(days)
    for d in range(1, days):  # weather systems lasting a few days (AR(1)), as in the sample's generator
        noise[d] = 0.75 * noise[d - 1] + rng.normal(0, 1.6)
    for b in range(buildings):
        area = 500.0 * (b + 1)
        for d in range(days):
            day = dt.date(2024, 1, 1) + dt.timedelta(days=d)
            temp = 10 - 9 * np.cos(2 * np.pi * (d - 15) / 365) + noise[d]
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
    by_building = frame.groupby("building_id")
    for column in ("temperature_c", "heating_degree_days", "humidity", "wind_speed", "precipitation"):
        frame[f"{column}_lag_2d"] = by_building[column].shift(2)  # the latest weather published at 00:00 of T
    frame["temperature_c_lag_3d"] = by_building["temperature_c"].shift(3)
    frame["heating_degree_days_lag_3d"] = by_building["heating_degree_days"].shift(3)
    return frame


def test_training_rows_need_a_complete_day_and_known_lags():
    frame = days_table()
    rows = training_rows(frame)
    assert rows["complete"].all() and rows["kwh_lag_1d"].notna().all() and rows["kwh_lag_7d"].notna().all()
    assert len(rows) < len(frame)


def test_model_trained_before_the_cut_beats_the_seasonal_naive_baseline_after_it():
    _, metrics = fit_and_score(training_rows(days_table()), dt.date(2024, 10, 1))
    assert metrics["train_rows"] > 0 and metrics["test_rows"] > 0
    assert metrics["model"]["mae"] < metrics["baseline_seasonal_naive"]["mae"]
    assert metrics["model_beats_baseline_on_mae"] is True


def test_metrics_report_the_issue_time_the_features_and_the_ex_post_weather_upper_bound():
    _, metrics = fit_and_score(training_rows(days_table()), dt.date(2024, 10, 1))
    assert "00:00" in metrics["issue_time"]
    assert not set(EX_POST_WEATHER) & set(metrics["features"]) and "temperature_c_lag_2d" in metrics["features"]
    assert set(metrics["model_ex_post_weather"]) == {"mae", "rmse", "mape"}
    # the synthetic heat follows T's own temperature: knowing it (ex post) can only help
    assert metrics["model_ex_post_weather"]["mae"] < metrics["model"]["mae"]


def test_the_point_in_time_model_ignores_the_weather_observed_on_the_forecast_day():
    rows = training_rows(days_table())
    model, _ = fit_and_score(rows, dt.date(2024, 10, 1))
    changed = rows.copy()
    changed["temperature_c"] = -20.0
    changed["heating_degree_days"] = 36.0
    changed[["humidity", "wind_speed", "precipitation"]] = 99.0
    pd.testing.assert_frame_equal(design(rows), design(changed))
    np.testing.assert_array_equal(model.predict(design(rows)), model.predict(design(changed)))
    assert not design(rows, ex_post_weather=True).equals(design(changed, ex_post_weather=True))


def test_a_cut_outside_the_data_is_refused():
    with pytest.raises(ValueError, match="pick a cut inside the data"):
        fit_and_score(training_rows(days_table()), dt.date(2030, 1, 1))


def test_read_days_reads_the_delta_version_asked_for(tmp_path):
    """train records the table's version and reads that version, not a later one."""
    from deltalake import write_deltalake

    path = str(tmp_path / "gold" / "energy" / "building_days")
    write_deltalake(path, pd.DataFrame({"building_id": ["BLD-0"]}))
    write_deltalake(path, pd.DataFrame({"building_id": ["BLD-1"]}), mode="append")
    assert list(read_days(tmp_path, 0)["building_id"]) == ["BLD-0"]
    assert sorted(read_days(tmp_path)["building_id"]) == ["BLD-0", "BLD-1"]
