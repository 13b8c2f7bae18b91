"""Analysis pipeline (b), load-profile clustering: profiles are shapes (not sizes) and
two made-up kinds of building (offices empty at weekends, homes fuller) fall into two
clusters with a high silhouette (pandas and scikit-learn, no Spark)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from utils.domains.energy.profiles import building_profiles, cluster


def days_table(seed: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(8):
        office, size = b % 2 == 0, 100.0 * (b + 1)
        for d in range(120):
            day = dt.date(2024, 1, 1) + dt.timedelta(days=d)
            weekend = day.weekday() >= 5
            factor = (0.3 if weekend else 1.0) if office else (1.2 if weekend else 1.0)
            rows.append({"building_id": f"BLD-{b}", "snapshot_date": day, "complete": True,
                         "consumption_kwh": size * factor * rng.lognormal(0, 0.03)})
    return pd.DataFrame(rows)


def test_profiles_are_shares_of_each_buildings_mean_day():
    profiles = building_profiles(days_table())
    assert list(profiles.columns[:7]) == [f"weekday_{d}" for d in range(7)] and len(profiles.columns) == 19
    saturday = profiles["weekday_5"]
    assert saturday["BLD-0"] < 0.5 < 1.0 < saturday["BLD-1"]
    assert abs(saturday["BLD-0"] - saturday["BLD-2"]) < 0.05  # same shape, three times the size


def test_two_kinds_of_building_make_two_clusters():
    profiles = building_profiles(days_table())
    labels, metrics = cluster(profiles)
    assert metrics["k"] == 2 and metrics["silhouette"] > 0.8
    assert len(set(labels[::2])) == 1 and len(set(labels[1::2])) == 1 and labels[0] != labels[1]
