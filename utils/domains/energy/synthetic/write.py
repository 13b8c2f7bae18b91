"""Simulate, dirty, render and write the energy sample, its manifest and its ground
truth; the command line (``python -m utils.domains.energy.synthetic``)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from utils.domains.sample import calendar_days, month_arg, rows_per_table, write_csv, write_lines

from . import layout as L
from .buildings import make_sites
from .readings import daily_heat, dst_truth, hour_grid, plant_defects, render, true_readings
from .weather import holidays, make_weather, weather_records

logger = logging.getLogger(__name__)

DESCRIPTION = "Deterministic synthetic sample of the energy domain (heat meters, weather, building registry)."


@dataclass
class Manifest:
    """What :func:`generate` wrote: its parameters, records per file (data lines: a
    header is not a record), rows per table and the count of each planted defect.
    Written as `_generated.json`; same arguments, same bytes. The defects themselves
    (which device, when, which values) are in `_truth/truth.json`."""

    buildings: int
    seed: int
    start: str
    months: int
    files: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    dirt: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def generate(out: Path, buildings: int = L.DEFAULT_BUILDINGS, seed: int = L.DEFAULT_SEED, *,
             start: dt.date = L.DEFAULT_START, months: int = L.DEFAULT_MONTHS) -> Manifest:
    """Write the energy sample for `buildings` metered buildings over `months` months
    from `start` (the first of a month) into `out`: readings/, devices/, registry/,
    calendar/, api/ (the weather the demo API serves), _truth/ (the planted defects and
    the true device -> building matches) and `_generated.json`. Deterministic."""
    if buildings < 1 or months < 1 or start.day != 1:
        raise ValueError(f"need buildings >= 1, months >= 1 and a first-of-month start "
                         f"(got {buildings}, {months}, {start})")
    out = Path(out)
    began = time.perf_counter()
    days = calendar_days(start, months)
    sites = make_sites(buildings, seed, start, months)
    weather = make_weather(seed, start, days)
    calendar = holidays(range(start.year, (start + dt.timedelta(days=days - 1)).year + 1))
    grid = hour_grid(start, months)
    heat = daily_heat(sites.buildings, weather, set(calendar["date"]), seed)
    swapped = {d for r in sites.defects["replaced_devices"] for d in (r["old_device"], r["new_device"])}
    written, defects = plant_defects(true_readings(sites, grid, heat, seed), grid, swapped, seed)

    manifest = Manifest(buildings=buildings, seed=seed, start=start.isoformat(), months=months)
    month = grid["month"].to_numpy()[written["slot"].to_numpy()]
    for (device, ym), part in written.groupby([written["device_id"], month], sort=True):
        path = L.readings_file(device, dt.date.fromisoformat(f"{ym}-01"))
        manifest.files[path] = write_lines(out / path, render(part)) - 1
    manifest.files[L.DEVICES_FILE] = write_csv(out / L.DEVICES_FILE, sites.devices)
    manifest.files[L.REGISTRY_FILE] = write_csv(out / L.REGISTRY_FILE, sites.registry)
    manifest.files[L.HOLIDAYS_FILE] = write_csv(out / L.HOLIDAYS_FILE, calendar)
    manifest.files[L.WEATHER_FILE] = write_lines(out / L.WEATHER_FILE, weather_records(weather))
    manifest.rows.update(rows_per_table(manifest.files, {
        "readings": f"{L.READINGS_DIR}/", "devices": L.DEVICES_FILE, "registry": L.REGISTRY_FILE,
        "holidays": L.HOLIDAYS_FILE, "weather": L.WEATHER_FILE}))

    truth = {**sites.defects, **defects, **dst_truth(grid, written),
             "fahrenheit_city": L.FAHRENHEIT_CITY, "local_zone": L.LOCAL_ZONE,
             "renamed_street": {"registry": L.RENAMED_STREET[0], "devices": L.RENAMED_STREET[1]},
             "address_variants": sites.truth["address_variant"].value_counts().sort_index().to_dict(),
             "building_refs": sites.truth["building_ref"].value_counts().sort_index().to_dict(),
             "registry_without_device": int(len(sites.registry) - sites.truth["building_id"].nunique())}
    write_csv(out / L.MATCHES_FILE, sites.truth)
    (out / L.TRUTH_FILE).write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    manifest.dirt = dict(sorted({
        "counter_resets": len(defects["counter_resets"]), "stuck_values": len(defects["stuck_values"]),
        "gaps": len(defects["gaps"]),
        "duplicate_readings": sum(d["kind"] == "exact" for d in defects["duplicates"]),
        "conflicting_readings": sum(d["kind"] == "conflict" for d in defects["duplicates"]),
        "dst_missing_hours": len(truth["dst_missing_hours"]), "dst_repeated_hours": len(truth["dst_repeated_hours"]),
        "replaced_devices": len(sites.defects["replaced_devices"]),
        "fahrenheit_cities": 1, "bad_floor_area": len(sites.defects["bad_floor_area"]),
        "construction_after_first_reading": len(sites.defects["construction_after_first_reading"]),
        "mismatched_addresses": int((sites.truth["address_variant"] != "exact").sum()),
        "mismatched_refs": int((sites.truth["building_ref"] != "ok").sum()),
    }.items()))
    (out / L.MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
    logger.info("energy sample: %d buildings, %s in %s (%.1f s)", buildings,
                ", ".join(f"{k} {v:,}" for k, v in manifest.rows.items()), out, time.perf_counter() - began)
    return manifest


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the sample the options ask for into --out; 0."""
    p = argparse.ArgumentParser(prog="python -m utils.domains.energy.synthetic", description=DESCRIPTION)
    p.add_argument("--buildings", type=int, default=L.DEFAULT_BUILDINGS, help="metered buildings (default %(default)s)")
    p.add_argument("--seed", type=int, default=L.DEFAULT_SEED, help="random seed (default %(default)s)")
    p.add_argument("--out", type=Path, default=Path("data/energy"), help="output folder (default %(default)s)")
    p.add_argument("--start", type=month_arg, default=L.DEFAULT_START, help="first month, YYYY-MM (default 2024-01)")
    p.add_argument("--months", type=int, default=L.DEFAULT_MONTHS, help="number of months (default %(default)s)")
    args = p.parse_args(argv)
    if args.buildings < 1 or args.months < 1:
        p.error("--buildings and --months must be >= 1")
    manifest = generate(args.out, args.buildings, args.seed, start=args.start, months=args.months)
    logger.info("wrote %s (manifest %s, truth %s)", args.out, args.out / L.MANIFEST_FILE, args.out / L.TRUTH_FILE)
    logger.info("dirt: %s", ", ".join(f"{k} {v}" for k, v in manifest.dirt.items()))
    return 0
