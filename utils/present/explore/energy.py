"""The energy notebooks' helpers (``notebooks/energy/``): build the datamart when its
exploitation zone is missing, read that zone (``gold/energy/*``, small tables: one row
per building and day at most, read with delta-rs into pandas), and the tables and charts
of the two analysis pipelines of :mod:`utils.domains.energy.forecast` and
:mod:`utils.domains.energy.profiles`.

The build goes through the public command lines: ``python main.py --domain energy``
(``conf/energy.yaml``: bronze, silver, the exploitation zone by its ``gold.builder``
and the analyses of its ``gold.evaluate``) and, only when the build left no
exploitation zone, ``python -m utils.domains.energy.exploitation``. Charts are Figures
not registered with pyplot, as in the rest of this package.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from utils.lake import delta_io
from utils.lake.datamart import Datamart
from utils.lake.paths import PROJECT_ROOT

from .charts import BAR_COLOR, figure, tidy

logger = logging.getLogger(__name__)

DOMAIN = "energy"
EXPLOITATION = ("building_matches", "device_days", "building_days")
CONF = PROJECT_ROOT / "conf" / "energy.yaml"
TRUTH = Path("_truth") / "device_building.csv"
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("J", "F", "M", "A", "M", "J", "J", "A", "S", "O", "N", "D")
MODEL_COLOR, BASELINE_COLOR, ACTUAL_COLOR = BAR_COLOR, "#E69F00", "#333333"


def config_path() -> Path:
    """The energy configuration in use: conf/energy.yaml."""
    return CONF


def has_exploitation(datamart: str | Path) -> bool:
    """True when the three gold/energy tables exist in `datamart`."""
    dm = Datamart(Path(datamart), DOMAIN)
    return all(delta_io.table_exists(dm.table("gold", name)) for name in EXPLOITATION)


def config_builds_gold() -> bool:
    """Whether ``python main.py --domain energy`` builds the exploitation zone itself
    (the configuration declares gold: the generic section or the domain's
    ``gold.builder``), rather than stopping at silver. A configuration that does not
    load raises its ConfigError (naming the file)."""
    from utils.lake.config import load_config

    c = load_config(DOMAIN, path=config_path())
    return c.gold is not None or c.gold_builder is not None


def build_commands(datamart: str | Path, data_root: str | Path, *, master: str = "local[2]") -> list[list[str]]:
    """The argument lists of ``python main.py`` and, where the build stops at silver,
    ``python -m utils.domains.energy.exploitation`` that build `datamart` from `data_root`."""
    dm, data = str(datamart), str(data_root)
    build = ["--domain", DOMAIN, "--data-root", data, "--datamart", dm, "--master", master]
    if not config_builds_gold():
        build += ["--layers", "bronze,silver"]
    exploit = ["--datamart", dm, "--config", str(config_path())]
    if (Path(data_root) / TRUTH).is_file():
        exploit += ["--truth", str(Path(data_root) / TRUTH)]
    return [build, exploit]


def ensure_energy_datamart(datamart: str | Path, data_root: str | Path, *, master: str = "local[2]") -> bool:
    """Build the energy domain into `datamart` from `data_root` when its exploitation zone
    is missing (the sample is generated when `data_root` holds none). True when it built;
    RuntimeError naming the command when a step fails."""
    if has_exploitation(datamart):
        logger.info("%s has the energy exploitation zone; not rebuilding", datamart)
        return False
    from utils import cli
    from utils.domains.energy import ensure_sample
    from utils.domains.energy import exploitation

    ensure_sample(Path(data_root))
    build, exploit = build_commands(datamart, data_root, master=master)
    with warnings.catch_warnings():  # rich's progress bar asks for ipywidgets in Jupyter; text is fine
        warnings.filterwarnings("ignore", message='install "ipywidgets"')
        code = cli.main(build)
    if code != 0:
        raise RuntimeError(f"python main.py {' '.join(build)} failed (exit status {code})")
    if not has_exploitation(datamart):
        code = exploitation.main(exploit)
        if code != 0:
            raise RuntimeError(f"python -m utils.domains.energy.exploitation {' '.join(exploit)} failed ({code})")
    return True


def read_gold(datamart: str | Path, table: str) -> pd.DataFrame:
    """gold/energy/<table> as pandas (the exploitation zone's tables are small)."""
    from deltalake import DeltaTable

    path = Datamart(Path(datamart), DOMAIN).table("gold", table)
    return DeltaTable(str(path)).to_pandas()


# --------------------------------------------------------------------------- the exploitation zone


def zone_summary(days: pd.DataFrame, matches: pd.DataFrame) -> pd.DataFrame:
    """One row of what the exploitation zone holds: buildings, devices linked, days,
    complete days, the first and last day, and the pairs scored by entity resolution."""
    day = pd.to_datetime(days["snapshot_date"])
    best = matches[matches["best"].astype(bool)]
    return pd.DataFrame([{
        "buildings": days["building_id"].nunique(), "building_days": len(days),
        "complete_days": int(days["complete"].astype(bool).sum()),
        "first_day": day.min().date(), "last_day": day.max().date(),
        "pairs_scored": len(matches), "devices": best["device_id"].nunique(),
        "devices_matched": int((best["decision"] == "match").sum()),
    }])


def match_decisions(matches: pd.DataFrame) -> pd.DataFrame:
    """The devices' best pairs per decision and rule, with their score range."""
    best = matches[matches["best"].astype(bool)]
    return (best.groupby(["decision", "rule"]).agg(devices=("device_id", "count"), min_score=("score", "min"),
                                                   max_score=("score", "max"))
            .reset_index().sort_values(["decision", "rule"]).round(3).reset_index(drop=True))


def plot_heat_vs_temperature(days: pd.DataFrame, title: str = "Daily heat use per m² against the temperature"
                             ) -> Figure:
    """Complete days of buildings with a positive floor area: kWh per m² against the city's
    mean temperature, one colour per use type."""
    fig = figure(8, 4)
    ax = fig.subplots()
    done = days[days["complete"].astype(bool) & (days["floor_area_m2"] > 0)]
    for use, part in done.groupby("use_type"):
        ax.scatter(part["temperature_c"], part["consumption_kwh"] / part["floor_area_m2"], s=6, alpha=0.4, label=use)
    ax.set_xlabel("mean temperature (°C)")
    ax.set_ylabel("kWh per m² and day")
    ax.set_title(title)
    ax.legend(title="use type", markerscale=3)
    tidy(ax, "both")
    return fig


# --------------------------------------------------------------------------- (a) next-day forecast


def error_table(metrics: dict) -> pd.DataFrame:
    """MAE, RMSE (kWh) and MAPE (%) of the model and the seasonal-naive baseline, one row each."""
    rows = {"gradient boosting": metrics["model"], "seasonal naive (same weekday, a week before)":
            metrics["baseline_seasonal_naive"]}
    return pd.DataFrame(rows).T.rename(columns=str.upper)[["MAE", "RMSE", "MAPE"]]


def split_summary(rows: pd.DataFrame, cut) -> pd.DataFrame:
    """Rows, buildings and days on each side of the out-of-time cut."""
    day = pd.to_datetime(rows["snapshot_date"])
    side = np.where(day.dt.date < cut, "train (before the cut)", "test (from the cut)")
    return (rows.assign(side=side, day=day.dt.date).groupby("side")
            .agg(rows=("building_id", "size"), buildings=("building_id", "nunique"), first_day=("day", "min"),
                 last_day=("day", "max")))


def predictions_out_of_time(model, rows: pd.DataFrame, cut) -> pd.DataFrame:
    """The test rows (from `cut`) with the model's prediction and the baseline's."""
    from utils.domains.energy.forecast import BASELINE, TARGET, design

    test = rows[pd.to_datetime(rows["snapshot_date"]).dt.date >= cut]
    out = test[["building_id", "snapshot_date", "use_type", TARGET]].copy()
    out["model"] = model.predict(design(test))
    out["seasonal_naive"] = test[BASELINE].to_numpy(float)
    return out.reset_index(drop=True)


def plot_forecast(predictions: pd.DataFrame, building: str | None = None) -> Figure:
    """Actual, model and seasonal-naive daily kWh of one building over the test days."""
    building = building or predictions["building_id"].iloc[0]
    one = predictions[predictions["building_id"] == building].sort_values("snapshot_date")
    fig = figure(9, 3.5)
    ax = fig.subplots()
    day = pd.to_datetime(one["snapshot_date"])
    ax.plot(day, one["consumption_kwh"], color=ACTUAL_COLOR, lw=1.6, label="actual")
    ax.plot(day, one["model"], color=MODEL_COLOR, lw=1.2, label="gradient boosting")
    ax.plot(day, one["seasonal_naive"], color=BASELINE_COLOR, lw=1.0, ls="--", label="seasonal naive")
    ax.set_ylabel("kWh per day")
    ax.set_title(f"{building} ({one['use_type'].iloc[0]}): next-day heat use out of time")
    ax.legend()
    tidy(ax)
    return fig


def plot_errors(metrics: dict) -> Figure:
    """MAE, RMSE and MAPE of the model beside the baseline's."""
    table = error_table(metrics)
    fig = figure(9, 3)
    for ax, column in zip(fig.subplots(1, 3), table.columns):
        ax.bar(["model", "baseline"], table[column], color=[MODEL_COLOR, BASELINE_COLOR])
        for i, v in enumerate(table[column]):
            ax.text(i, v, f"{v:.1f}", ha="center", va="bottom")
        ax.set_title(column + (" (%)" if column == "MAPE" else " (kWh)"))
        tidy(ax)
    fig.suptitle(f"Out of time from {metrics['cut']}: {metrics['test_rows']:,} building-days scored")
    return fig


def importance(model, rows: pd.DataFrame, cut, *, repeats: int = 5, seed: int = 0) -> pd.DataFrame:
    """Permutation importance on the test rows: how much the MAE grows (kWh) when one
    input is shuffled, most important first."""
    from sklearn.inspection import permutation_importance

    from utils.domains.energy.forecast import TARGET, design

    test = rows[pd.to_datetime(rows["snapshot_date"]).dt.date >= cut]
    x = design(test)
    result = permutation_importance(model, x, test[TARGET], scoring="neg_mean_absolute_error", n_repeats=repeats,
                                    random_state=seed)
    table = pd.DataFrame({"input": x.columns, "mae_increase_kwh": result.importances_mean,
                          "std": result.importances_std})
    return table.sort_values("mae_increase_kwh", ascending=False).round(3).reset_index(drop=True)


def plot_importance(table: pd.DataFrame, top: int = 10) -> Figure:
    """The `top` inputs by permutation importance, as horizontal bars."""
    part = table.head(top).iloc[::-1]
    fig = figure(7, 0.35 * len(part) + 1.2)
    ax = fig.subplots()
    ax.barh(part["input"], part["mae_increase_kwh"], xerr=part["std"], color=MODEL_COLOR)
    ax.set_xlabel("MAE increase when shuffled (kWh)")
    ax.set_title("Permutation importance on the test days")
    tidy(ax, "x")
    return fig


# --------------------------------------------------------------------------- (b) load profiles


def silhouette_table(metrics: dict) -> pd.DataFrame:
    """Silhouette per k, the chosen k marked."""
    scores = {int(k): v for k, v in metrics["silhouette_by_k"].items()}
    return pd.DataFrame({"k": list(scores), "silhouette": list(scores.values()),
                         "chosen": [k == metrics["k"] for k in scores]})


def plot_silhouette(metrics: dict) -> Figure:
    """Silhouette of k-means for every k tried; the chosen k in the accent colour."""
    table = silhouette_table(metrics)
    fig = figure(6, 3)
    ax = fig.subplots()
    ax.bar(table["k"].astype(str), table["silhouette"],
           color=[BASELINE_COLOR if c else MODEL_COLOR for c in table["chosen"]])
    for i, v in enumerate(table["silhouette"]):
        ax.text(i, v, f"{v:.3f}", ha="center", va="bottom")
    ax.set_xlabel("k (clusters)")
    ax.set_ylabel("silhouette")
    ax.set_title(f"k = {metrics['k']} has the best silhouette")
    tidy(ax)
    return fig


def cluster_members(profiles: pd.DataFrame, labels: np.ndarray, days: pd.DataFrame) -> pd.DataFrame:
    """One row per building: its cluster and its registry attributes (use, heating, area)."""
    attributes = (days.sort_values("snapshot_date").groupby("building_id")
                  [["use_type", "heating_type", "floor_area_m2"]].last())
    out = pd.DataFrame({"cluster": labels}, index=profiles.index).join(attributes)
    return out.sort_values(["cluster", "use_type"]).reset_index()


def plot_cluster_profiles(profiles: pd.DataFrame, labels: np.ndarray) -> Figure:
    """Mean weekday and month shape of each cluster (share of the building's mean day)."""
    fig = figure(11, 3.8)
    week, year = fig.subplots(1, 2)
    for c in sorted(set(labels)):
        mean = profiles[labels == c].mean()
        size = int((labels == c).sum())
        week.plot(range(7), mean[[f"weekday_{d}" for d in range(7)]], marker="o", label=f"cluster {c} ({size})")
        year.plot(range(1, 13), mean[[f"month_{m}" for m in range(1, 13)]], marker="o", label=f"cluster {c} ({size})")
    week.set_xticks(range(7), WEEKDAYS)
    year.set_xticks(range(1, 13), MONTHS)
    week.set_title("Weekday shape")
    year.set_title("Monthly shape (0: no complete day that month)")
    for ax in (week, year):
        ax.set_ylabel("share of the mean day")
        tidy(ax)
    year.legend(fontsize=8)
    return fig
