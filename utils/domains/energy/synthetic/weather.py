"""Daily weather per city (what the demo API serves for source ``weather``; one city's
feed in degrees F) and the public-holiday calendar."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from utils.domains.sample import stream

from . import layout as L

WEATHER = 4  # stream key


def make_weather(seed: int, start: dt.date, days: int) -> pd.DataFrame:
    """One row per city and day: date, temperature_c (the truth), temperature as the
    feed reports it (degrees F for :data:`L.FAHRENHEIT_CITY`), humidity (%), wind_speed
    (m/s), precipitation (mm)."""
    frames = []
    dates = pd.date_range(start, periods=days, freq="D")
    doy = dates.dayofyear.to_numpy()
    for k, (city, (_, mean, amplitude)) in enumerate(L.CITIES.items()):
        rng = stream(seed, WEATHER, k)
        noise = np.empty(days)
        noise[0] = rng.normal(0, 2.5)
        shocks = rng.normal(0, 1.6, size=days)
        for t in range(1, days):  # AR(1) weather systems lasting a few days
            noise[t] = 0.75 * noise[t - 1] + shocks[t]
        temp_c = np.round(mean - amplitude * np.cos(2 * np.pi * (doy - 18) / 365.25) + noise, 1)
        wet = rng.random(days) < 0.38
        frames.append(pd.DataFrame({
            "city": city, "date": dates.date, "temperature_c": temp_c,
            "temperature": np.round(temp_c * 9 / 5 + 32, 1) if city == L.FAHRENHEIT_CITY else temp_c,
            "humidity": np.clip(np.round(78 - 0.9 * (temp_c - mean) + rng.normal(0, 7, days) + 8 * wet), 25, 100),
            "wind_speed": np.round(rng.gamma(2.2, 1.6, size=days), 1),
            "precipitation": np.round(np.where(wet, rng.gamma(0.8, 4.5, size=days), 0.0), 1),
        }))
    return pd.concat(frames, ignore_index=True)


def weather_records(weather: pd.DataFrame) -> list[str]:
    """The API's records as JSON lines, sorted by (updated_at, id): published the next
    day at 06:00 UTC."""
    out = []
    for r in weather.itertuples():
        published = r.date + dt.timedelta(days=1)
        out.append((f"{published.isoformat()}T06:00:00Z", f"{r.city.lower()}-{r.date.isoformat()}", r))
    out.sort(key=lambda x: (x[0], x[1]))
    return [json.dumps({"id": i, "city": r.city, "date": r.date.isoformat(), "temperature": float(r.temperature),
                        "humidity": float(r.humidity), "wind_speed": float(r.wind_speed),
                        "precipitation": float(r.precipitation), "updated_at": u}, separators=(",", ":"))
            for u, i, r in out]


def easter(year: int) -> dt.date:
    """Easter Sunday of `year` (Gregorian calendar, the anonymous algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return dt.date(year, month, day + 1)


def holidays(years: range) -> pd.DataFrame:
    """France's public holidays of `years`: date, name, scope (national)."""
    rows = []
    for y in years:
        e = easter(y)
        for day, name in ((dt.date(y, 1, 1), "New Year's Day"), (e + dt.timedelta(days=1), "Easter Monday"),
                          (dt.date(y, 5, 1), "Labour Day"), (dt.date(y, 5, 8), "Victory in Europe Day"),
                          (e + dt.timedelta(days=39), "Ascension Day"), (e + dt.timedelta(days=50), "Whit Monday"),
                          (dt.date(y, 7, 14), "Bastille Day"), (dt.date(y, 8, 15), "Assumption of Mary"),
                          (dt.date(y, 11, 1), "All Saints' Day"), (dt.date(y, 11, 11), "Armistice Day"),
                          (dt.date(y, 12, 25), "Christmas Day")):
            rows.append({"date": day.isoformat(), "name": name, "scope": "national"})
    return pd.DataFrame(rows, columns=L.HOLIDAY_COLUMNS).sort_values("date", kind="stable").reset_index(drop=True)
