"""The buildings with a meter, the registry (with rows of other suppliers' buildings) and
the devices list, with the registry's addresses and ids written differently from the
devices' (abbreviations, typos, a renamed street, stale or missing references)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from utils.domains.sample import stream

from . import layout as L

BUILDINGS, REGISTRY, DEVICES = 1, 2, 3  # stream keys


@dataclass
class Sites:
    """`buildings`: one row per metered building (index = building number; its true
    registry id, address parts, use, heating, area, year); `registry`: the registry CSV
    rows; `devices`: the devices CSV rows; `truth`: one row per device with its true
    building_id and how its registry row differs."""

    buildings: pd.DataFrame
    registry: pd.DataFrame
    devices: pd.DataFrame
    truth: pd.DataFrame
    defects: dict


def _streets(rng: np.random.Generator) -> list[tuple[str, str, str]]:
    """(city, kind, name) of 6 streets per city, distinct within a city."""
    out = []
    for city in L.CITIES:
        names = rng.choice(len(L.STREET_NAMES), size=6, replace=False)
        kinds = rng.choice(len(L.STREET_KINDS), size=6, p=[0.45, 0.2, 0.12, 0.08, 0.07, 0.04, 0.04])
        out += [(city, L.STREET_KINDS[k], L.STREET_NAMES[n]) for k, n in zip(kinds, names)]
    return out


def _postcode(city: str, street: int) -> str:
    return f"{L.CITIES[city][0]}{street % 9 + 1:02d}"


def abbreviate(street: str) -> str:
    """The street as a registry clerk writes it: R. des Lilas, Bd Voltaire, Av. St-Martin."""
    kind, _, rest = street.partition(" ")
    for word in ("Sainte-", "Saint-"):
        rest = rest.replace(word, L.ABBREVIATIONS[word])
    return f"{L.ABBREVIATIONS.get(kind, kind)} {rest}"


def typo(text: str, rng: np.random.Generator) -> str:
    """One letter of the street's name swapped with the next, or dropped."""
    letters = [i for i in range(len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha() and i > 3]
    i = int(rng.choice(letters))
    if rng.random() < 0.5 and text[i] != text[i + 1]:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text[:i] + text[i + 1:]


def make_sites(n: int, seed: int, start: dt.date, months: int) -> Sites:
    """`n` metered buildings, their registry rows and devices (one more device for each
    building whose meter is replaced mid-year)."""
    rng = stream(seed, BUILDINGS)
    streets = _streets(rng)
    street = rng.integers(0, len(streets), size=n)
    renamed = int(rng.integers(0, n))  # this building's street is the renamed one
    ids = rng.choice(np.arange(1000, 10000), size=n + int(np.ceil(n * L.EXTRA_REGISTRY_SHARE)), replace=False)
    rows = []
    for b in range(n):
        city, kind, name = streets[street[b]]
        device_street = f"{kind} {name}" if b != renamed else L.RENAMED_STREET[1]
        rows.append({
            "building": b, "building_id": f"BLD-{ids[b]}", "number": int(rng.integers(1, 120)),
            "street": device_street, "street_index": int(street[b]), "city": city,
            "postcode": _postcode(city, int(street[b])),
            "use_type": str(rng.choice(L.USE_TYPES, p=L.USE_WEIGHTS)),
            "heating_type": str(rng.choice(L.HEATING_TYPES, p=L.HEATING_WEIGHTS)),
            "floor_area_m2": round(float(np.exp(rng.uniform(*np.log(L.FLOOR_AREA)))), 1),
            "construction_year": int(rng.integers(L.CONSTRUCTION_YEARS[0], L.CONSTRUCTION_YEARS[1] + 1)),
        })
    buildings = pd.DataFrame(rows)
    registry, variants, defects = _registry(buildings, streets, ids[n:], renamed, seed, start)
    devices, refs, replaced = _devices(buildings, ids, seed, start, months)
    truth = devices[["device_id"]].assign(
        building_id=buildings["building_id"].to_numpy()[devices["building"].to_numpy()],
        address_variant=[variants[b] for b in devices["building"]], building_ref=refs)
    defects["replaced_devices"] = replaced
    return Sites(buildings, registry, devices.drop(columns="building"), truth, defects)


def _registry(buildings: pd.DataFrame, streets: list, extra_ids: np.ndarray, renamed: int, seed: int,
              start: dt.date) -> tuple[pd.DataFrame, list[str], dict]:
    """The registry rows (metered buildings with their clerk's address, then buildings
    without a device, half of them next door to a metered one), sorted by building_id;
    the address variant of each metered building; the registry's own defects."""
    rng = stream(seed, REGISTRY)
    rows, variants = [], []
    for b in buildings.itertuples():
        street = b.street
        if b.building == renamed:
            street, variant = L.RENAMED_STREET[0], "renamed"
        else:
            u = rng.random()
            if u < L.ABBREVIATED_SHARE and abbreviate(street) != street:
                street, variant = abbreviate(street), "abbreviated"
            elif u < L.ABBREVIATED_SHARE + L.TYPO_SHARE:
                street, variant = typo(street, rng), "typo"
            else:
                variant = "exact"
        variants.append(variant)
        rows.append({"building_id": b.building_id, "address": f"{b.number} {street}", "postcode": b.postcode,
                     "city": b.city, "floor_area_m2": b.floor_area_m2, "construction_year": b.construction_year,
                     "heating_type": b.heating_type, "use_type": b.use_type})
    for k, bid in enumerate(extra_ids):
        if k % 2 == 0:  # next door to a metered building, on its street
            near = buildings.iloc[int(rng.integers(0, len(buildings)))]
            city, number = near["city"], max(1, int(near["number"]) + int(rng.choice([-4, -2, 2, 4])))
            s = int(near["street_index"])
            street = near["street"] if int(near["building"]) != renamed else L.RENAMED_STREET[0]
        else:
            s = int(rng.integers(0, len(streets)))
            city, kind, name = streets[s]
            street, number = f"{kind} {name}", int(rng.integers(1, 120))
        rows.append({"building_id": f"BLD-{bid}", "address": f"{number} {street}", "postcode": _postcode(city, s),
                     "city": city, "floor_area_m2": round(float(np.exp(rng.uniform(*np.log(L.FLOOR_AREA)))), 1),
                     "construction_year": int(rng.integers(*L.CONSTRUCTION_YEARS)),
                     "heating_type": str(rng.choice(L.HEATING_TYPES)), "use_type": str(rng.choice(L.USE_TYPES))})
    registry = pd.DataFrame(rows)
    # the day each row was last edited, in the two years before the calendar
    registry["updated_on"] = [(start - dt.timedelta(days=int(d))).isoformat()
                              for d in rng.integers(1, 730, size=len(registry))]
    # denial-constraint violations of metered buildings: no floor area, built after the first reading
    picks = rng.choice(len(buildings), size=min(len(buildings), L.BAD_FLOOR_AREAS + L.LATE_CONSTRUCTION),
                       replace=False)
    bad_area, late = picks[:L.BAD_FLOOR_AREAS], picks[L.BAD_FLOOR_AREAS:]
    registry.loc[bad_area, "floor_area_m2"] = 0.0
    registry.loc[late, "construction_year"] = start.year + 1
    defects = {"bad_floor_area": sorted(registry.loc[bad_area, "building_id"]),
               "construction_after_first_reading": sorted(registry.loc[late, "building_id"])}
    registry = registry.sort_values("building_id", kind="stable").reset_index(drop=True)[L.REGISTRY_COLUMNS]
    return registry, variants, defects


def _devices(buildings: pd.DataFrame, ids: np.ndarray, seed: int, start: dt.date,
             months: int) -> tuple[pd.DataFrame, list[str], list[dict]]:
    """One device per metered building (installed before the calendar), plus the new
    device of each replaced meter (the old one removed that day); building_ref as the
    installer wrote it: the registry number, nothing, or a stale number."""
    rng = stream(seed, DEVICES)
    numbers = rng.choice(np.arange(1000, 10000), size=len(buildings) + L.REPLACED_DEVICES, replace=False)
    rows, refs, replaced = [], [], []
    days = (pd.Timestamp(start) + pd.DateOffset(months=months) - pd.Timestamp(start)).days
    swapped = rng.choice(len(buildings), size=min(L.REPLACED_DEVICES, len(buildings)), replace=False)
    for b in buildings.itertuples():
        installed = start - dt.timedelta(days=int(rng.integers(200, 3000)))
        u = rng.random()
        if u < L.MISSING_REF_SHARE:
            ref, kind = "", "missing"
        elif u < L.MISSING_REF_SHARE + L.WRONG_REF_SHARE and len(ids) > 1:
            other = ids[(b.building + 1 + int(rng.integers(0, len(ids) - 1))) % len(ids)]
            ref, kind = str(other), "stale"
        else:
            ref, kind = str(ids[b.building]), "ok"
        base = {"building": b.building, "building_ref": ref, "address": f"{b.number} {b.street}",
                "postcode": b.postcode, "city": b.city}
        if b.building in swapped:
            day = start + dt.timedelta(days=int(rng.integers(days // 3, 2 * days // 3)))
            old, new = f"M{numbers[b.building]}", f"M{numbers[len(buildings) + len(replaced)]}"
            rows.append({**base, "device_id": old, "installed_on": installed.isoformat(), "removed_on": day.isoformat()})
            rows.append({**base, "device_id": new, "installed_on": day.isoformat(), "removed_on": ""})
            refs += [kind, kind]
            replaced.append({"building_id": b.building_id, "old_device": old, "new_device": new,
                             "replaced_on": day.isoformat()})
        else:
            rows.append({**base, "device_id": f"M{numbers[b.building]}", "installed_on": installed.isoformat(),
                         "removed_on": ""})
            refs.append(kind)
    devices = pd.DataFrame(rows)
    order = np.argsort(devices["device_id"].to_numpy(), kind="stable")
    return (devices.iloc[order].reset_index(drop=True)[["building", *L.DEVICE_COLUMNS]],
            [refs[i] for i in order], replaced)
