"""Analysis pipeline (b): load-profile clustering of buildings, read only from the
exploitation zone (gold/energy/building_days). Each building's profile is its mean
consumption per weekday (Monday..Sunday) and per month, each divided by the building's
own mean (so size does not count, only shape); k-means for k = 2..6, k chosen by the
best silhouette; metrics in ``<datamart>/_models/energy/profiles.json`` and the cluster
profiles as a PNG beside it::

    python -m utils.domains.energy.profiles --datamart datamart

(``python main.py --domain energy`` runs it after a build that wrote gold.)
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from deltalake import DeltaTable

logger = logging.getLogger(__name__)
K_RANGE = range(2, 7)


def building_profiles(days: pd.DataFrame) -> pd.DataFrame:
    """One row per building: 7 weekday shares then 12 month shares (mean kWh of complete
    days in that weekday or month / the building's mean); months without data are 0."""
    usable = days[days["complete"].astype(bool)].copy()
    day = pd.to_datetime(usable["snapshot_date"])
    usable["weekday"], usable["month"] = day.dt.weekday, day.dt.month
    mean = usable.groupby("building_id")["consumption_kwh"].transform("mean")
    usable["share"] = usable["consumption_kwh"] / mean.where(mean > 0)
    weekly = usable.pivot_table(index="building_id", columns="weekday", values="share", aggfunc="mean")
    monthly = usable.pivot_table(index="building_id", columns="month", values="share", aggfunc="mean")
    weekly = weekly.reindex(columns=range(7)).add_prefix("weekday_")
    monthly = monthly.reindex(columns=range(1, 13)).add_prefix("month_")
    return weekly.join(monthly).fillna(0.0).sort_index()


def cluster(profiles: pd.DataFrame, *, seed: int = 0) -> tuple[np.ndarray, dict]:
    """(labels, metrics): k-means for every k in K_RANGE (below the number of buildings),
    the k with the best silhouette kept."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    x = profiles.to_numpy(float)
    scores, fits = {}, {}
    for k in K_RANGE:
        if k >= len(x):
            break
        fit = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x)
        scores[k], fits[k] = float(silhouette_score(x, fit.labels_)), fit
    if not scores:
        raise ValueError(f"{len(x)} buildings: need at least 3 to cluster")
    k = max(scores, key=scores.get)
    labels = fits[k].labels_
    return labels, {"k": k, "silhouette": round(scores[k], 4), "silhouette_by_k": {str(a): round(b, 4)
                                                                                   for a, b in scores.items()},
                    "buildings": len(x), "sizes": {str(c): int((labels == c).sum()) for c in range(k)}}


def plot_profiles(profiles: pd.DataFrame, labels: np.ndarray, path: Path) -> Path:
    """Mean weekday and month shares of each cluster (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (week, year) = plt.subplots(1, 2, figsize=(10, 4))
    for c in sorted(set(labels)):
        mean = profiles[labels == c].mean()
        n = int((labels == c).sum())
        week.plot(range(7), mean[[f"weekday_{d}" for d in range(7)]], marker="o", label=f"cluster {c} ({n})")
        year.plot(range(1, 13), mean[[f"month_{m}" for m in range(1, 13)]], marker="o", label=f"cluster {c} ({n})")
    week.set_xticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    week.set_title("Weekday profile (share of the mean day)")
    year.set_title("Monthly profile (share of the mean day)")
    year.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(datamart: Path, *, days: pd.DataFrame | None = None) -> dict:
    """Read gold/energy/building_days (or take `days`), cluster, write profiles.json and
    the plot."""
    if days is None:
        days = DeltaTable(str(datamart / "gold" / "energy" / "building_days")).to_pandas()
    profiles = building_profiles(days)
    labels, metrics = cluster(profiles)
    out = datamart / "_models" / "energy"
    out.mkdir(parents=True, exist_ok=True)
    metrics["clusters"] = {b: int(c) for b, c in zip(profiles.index, labels)}
    metrics["plot"] = plot_profiles(profiles, labels, out / "profiles.png").name
    (out / "profiles.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    logger.info("profiles: k %d, silhouette %.3f", metrics["k"], metrics["silhouette"])
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m utils.domains.energy.profiles", description=__doc__.split("\n")[0])
    p.add_argument("--datamart", type=Path, default=Path("datamart"))
    run(p.parse_args(argv).datamart.resolve())
    return 0


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure()
    raise SystemExit(main())
