"""Hourly meter readings: true heat use per building, cumulative counters per device,
the planted counter faults (resets, stuck values, gaps, duplicates) and the rendering
into the devices' local-time, decimal-comma text lines."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from utils.domains.sample import stream

from . import layout as L

USE, DEFECTS = 5, 6  # stream keys
HOUR = 3600
#: Share of a day's heat in each local hour, per use type (before normalising).
PROFILES = {
    "residential": np.array([2, 2, 2, 2, 2, 3, 6, 8, 7, 5, 4, 4, 4, 4, 4, 4, 5, 6, 8, 8, 7, 5, 4, 3], float),
    "office": np.array([1, 1, 1, 1, 1, 2, 5, 9, 9, 8, 7, 7, 6, 6, 6, 6, 5, 4, 2, 1, 1, 1, 1, 1], float),
    "school": np.array([1, 1, 1, 1, 1, 3, 8, 10, 9, 8, 7, 7, 6, 6, 6, 5, 3, 2, 1, 1, 1, 1, 1, 1], float),
}


def hour_grid(start: dt.date, months: int) -> pd.DataFrame:
    """One row per hour of the local calendar (UTC instants): utc (seconds since epoch),
    local wall-clock text, local date, local hour, local month. The spring-forward hour
    has no row; the fall-back hour has two with the same local text."""
    zone = L.LOCAL_ZONE
    begin = pd.Timestamp(start).tz_localize(zone)
    end = (pd.Timestamp(start) + pd.DateOffset(months=months)).tz_localize(zone)
    utc = pd.date_range(begin.tz_convert("UTC"), end.tz_convert("UTC"), freq="h", inclusive="left")
    local = utc.tz_convert(zone)
    return pd.DataFrame({"utc": utc.asi8 // 10**9, "local": local.strftime(L.LOCAL_FORMAT_PY),
                         "date": local.date, "hour": local.hour, "month": local.strftime("%Y-%m"),
                         "offset": [int(t.utcoffset().total_seconds()) for t in local]})


def daily_heat(buildings: pd.DataFrame, weather: pd.DataFrame, holidays: set, seed: int) -> np.ndarray:
    """kWh per building (rows) per local day (columns): floor area x (hot water + per
    degree-day below the heating base) x activity (weekends, holidays, school breaks) x noise."""
    rng = stream(seed, USE)
    dates = sorted(weather["date"].unique())
    temps = weather.pivot(index="city", columns="date", values="temperature_c")
    weekend = np.array([d.weekday() >= 5 or d.isoformat() in holidays for d in dates])
    summer = np.array([L.SUMMER_BREAK[0] <= d < L.SUMMER_BREAK[1] for d in dates])
    out = np.empty((len(buildings), len(dates)))
    for i, b in enumerate(buildings.itertuples()):
        t = temps.loc[b.city, dates].to_numpy()
        insulation = np.interp(b.construction_year, [1900, 2020], [1.3, 0.6])
        heat = L.HOT_WATER[b.use_type] + L.PER_DEGREE_DAY * insulation * np.maximum(0, L.HEATING_BASE - t)
        activity = np.where(weekend, L.WEEKEND_FACTOR[b.use_type], 1.0)
        if b.use_type == "school":
            activity = np.where(summer, 0.25, activity)
        out[i] = b.floor_area_m2 * heat * activity * rng.lognormal(0, L.NOISE_SIGMA, size=len(dates))
    return out


def true_readings(sites, grid: pd.DataFrame, heat: np.ndarray, seed: int) -> pd.DataFrame:
    """One row per device per hour it was installed: device_id, row of the grid (`slot`),
    the true cumulative counter (kWh). A replaced meter's new device starts near 0."""
    buildings = sites.buildings
    day_index = pd.Index(sorted(grid["date"].unique())).get_indexer(grid["date"])
    hours = grid["hour"].to_numpy()
    swaps = {r["building_id"]: r for r in sites.defects["replaced_devices"]}
    rng = stream(seed, USE, 1)
    frames = []
    for i, b in enumerate(buildings.itertuples()):
        profile = PROFILES[b.use_type] / PROFILES[b.use_type].sum()
        hourly = heat[i, day_index] * profile[hours] + b.floor_area_m2 * L.STANDING_LOSS / 24
        counter = rng.uniform(2_000, 90_000) + np.cumsum(hourly)
        devices = sites.truth.loc[sites.truth["building_id"] == b.building_id, "device_id"].tolist()
        if b.building_id in swaps:
            swap = swaps[b.building_id]
            cut = int(np.searchsorted(grid["date"].to_numpy(), dt.date.fromisoformat(swap["replaced_on"])))
            cut += 10  # the technician came at 10:00
            new = counter[cut:] - counter[cut - 1] + rng.uniform(0, 5)
            frames.append(pd.DataFrame({"device_id": swap["old_device"], "slot": np.arange(cut), "value": counter[:cut]}))
            frames.append(pd.DataFrame({"device_id": swap["new_device"], "slot": np.arange(cut, len(grid)),
                                        "value": new}))
        else:
            frames.append(pd.DataFrame({"device_id": devices[0], "slot": np.arange(len(grid)), "value": counter}))
    return pd.concat(frames, ignore_index=True)


def _window(slots: np.ndarray, busy: np.ndarray, length: int, lo: float, hi: float, forbidden: np.ndarray,
            rng: np.random.Generator) -> int:
    """The position (index into `slots`) of a run of `length` rows starting between the
    fractions lo and hi of the series, a day away from any forbidden slot (DST days)
    and from the rows another defect took (`busy`)."""
    n = len(slots)

    def free(p: int) -> bool:
        a, b = max(0, p - 26), p + length + 26
        return not forbidden[slots[a:b]].any() and not busy[a:b].any()

    candidates = [p for p in range(max(1, int(lo * n)), max(2, int(hi * n))) if p + length < n and free(p)]
    if not candidates:
        candidates = [p for p in range(1, n - length - 1) if free(p)]
    return int(rng.choice(candidates))


def plant_defects(readings: pd.DataFrame, grid: pd.DataFrame, skip: set[str], seed: int) -> tuple[pd.DataFrame, dict]:
    """The readings as written: counter resets, stuck runs and gaps in the devices not
    in `skip`, then duplicated lines (half of them with a different value). Returns
    (rows in file order with `local` and `duplicate` columns, truth of each defect)."""
    rng = stream(seed, DEFECTS)
    dst_days = set(grid.loc[grid["offset"].ne(grid["offset"].shift()) & (grid.index > 0), "date"])
    forbidden = grid["date"].isin(dst_days).to_numpy()
    pool = [d for d in sorted(readings["device_id"].unique()) if d not in skip] or sorted(readings["device_id"].unique())
    order = rng.permutation(len(pool))
    pick = iter(pool[k] for k in np.resize(order, L.COUNTER_RESETS + L.STUCK_EPISODES + L.GAP_EPISODES))
    keep = np.ones(len(readings), dtype=bool)
    busy = np.zeros(len(readings), dtype=bool)
    values = readings["value"].to_numpy().copy()
    truth = {"counter_resets": [], "stuck_values": [], "gaps": []}
    local = grid["local"].to_numpy()
    for kind, count, (lo, hi) in (("stuck_values", L.STUCK_EPISODES, (0.05, 0.2)),
                                  ("gaps", L.GAP_EPISODES, (0.35, 0.5)),
                                  ("counter_resets", L.COUNTER_RESETS, (0.6, 0.75))):
        for _ in range(count):
            device = next(pick)
            rows = np.flatnonzero(readings["device_id"].to_numpy() == device)
            slots = readings["slot"].to_numpy()[rows]
            if kind == "counter_resets":
                p = _window(slots, busy[rows], 1, lo, hi, forbidden, rng)
                busy[rows[p]] = True
                drop = values[rows[p - 1]]
                values[rows[p:]] -= drop
                truth[kind].append({"device_id": device, "timestamp": local[slots[p]], "counter_before": round(drop, 1)})
                continue
            length = int(rng.integers(*(L.STUCK_HOURS if kind == "stuck_values" else L.GAP_HOURS)))
            p = _window(slots, busy[rows], length, lo, hi, forbidden, rng)
            span = rows[p:p + length]
            busy[span] = True
            if kind == "stuck_values":
                values[span] = values[rows[p - 1]]
            else:
                keep[span] = False
            truth[kind].append({"device_id": device, "first": local[slots[p]], "last": local[slots[p + length - 1]],
                                "hours": length})
    written = readings.assign(value=np.round(values, 1), local=local[readings["slot"].to_numpy()])[keep]
    near = np.convolve(busy.astype(int), np.ones(25, dtype=int), mode="same")[keep] > 0
    written = written.reset_index(drop=True)
    # duplicated lines, away from the DST days (their repeated hour is not a duplicate) and
    # from the other defects (a copy inside a stuck run would lengthen it)
    eligible = np.flatnonzero(~forbidden[written["slot"].to_numpy()] & ~near)
    n_dup = max(2, int(round(len(written) * L.DUPLICATE_SHARE)))
    chosen = np.sort(rng.choice(eligible, size=min(n_dup, len(eligible)), replace=False))
    conflict = rng.random(len(chosen)) < L.CONFLICT_SHARE
    conflict[0], conflict[-1] = False, True  # at least one of each
    copies = written.iloc[chosen].copy()
    copies["value"] = np.round(copies["value"].to_numpy() + np.where(conflict, rng.uniform(0.5, 9.0, len(chosen)), 0), 1)
    copies["duplicate"] = np.where(conflict, "conflict", "exact")
    written["duplicate"] = ""
    position = np.concatenate([np.arange(len(written)), chosen]).astype(float)
    position[len(written):] += 0.5  # the copy right after its original
    both = pd.concat([written, copies], ignore_index=True)
    both = both.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)
    truth["duplicates"] = [{"device_id": r.device_id, "timestamp": r.local, "kind": r.duplicate,
                            "first_value": round(float(o), 1), "second_value": round(float(r.value), 1)}
                           for r, o in zip(copies.itertuples(), written["value"].to_numpy()[chosen])]
    return both, truth


def dst_truth(grid: pd.DataFrame, readings: pd.DataFrame) -> dict:
    """The local hours that do not exist (spring forward) and those that occur twice
    (fall back), and the readings written at a repeated hour."""
    counts = grid["local"].value_counts()
    repeated = sorted(counts[counts > 1].index, key=lambda s: grid.index[grid["local"] == s][0])
    gaps = []
    for prev, nxt in zip(grid.itertuples(), grid.iloc[1:].itertuples()):
        if nxt.offset > prev.offset:  # clocks jump forward: the hour after prev is skipped
            skipped = (dt.datetime.strptime(prev.local, L.LOCAL_FORMAT_PY) + dt.timedelta(hours=1))
            gaps.append(skipped.strftime(L.LOCAL_FORMAT_PY))
    at_repeat = readings[readings["local"].isin(repeated) & readings["duplicate"].eq("")]
    return {"dst_missing_hours": gaps, "dst_repeated_hours": repeated, "dst_repeated_readings": len(at_repeat)}


def render(rows: pd.DataFrame) -> list[str]:
    """The text lines of a readings file: a header, then device;dd.MM.yyyy HH:mm;12345,6."""
    values = rows["value"].map("{:.1f}".format).str.replace(".", ",", regex=False)
    lines = rows["device_id"] + L.READING_SEPARATOR + rows["local"] + L.READING_SEPARATOR + values
    return [L.READING_SEPARATOR.join(L.READING_COLUMNS), *lines.tolist()]
