"""The energy sample generator: determinism, the file contract (semicolons, decimal
commas, local timestamps), and every planted defect the truth file declares is in the
files, found here from the files themselves. Pure pandas on a small sample (no Spark)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from utils.domains import energy
from utils.domains.energy import synthetic

BUILDINGS, SEED, START, MONTHS = 8, 3, dt.date(2024, 3, 1), 8  # March .. October: both DST changes
LINE = re.compile(r"^M\d{4};\d{2}\.\d{2}\.\d{4} \d{2}:\d{2};\d+,\d$")


def generate(out: Path, seed: int = SEED) -> synthetic.Manifest:
    return synthetic.generate(out, BUILDINGS, seed, start=START, months=MONTHS)


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, synthetic.Manifest, float]:
    out = tmp_path_factory.mktemp("energy")
    began = time.perf_counter()
    manifest = generate(out)
    return out, manifest, time.perf_counter() - began


@pytest.fixture(scope="module")
def truth(sample) -> dict:
    return json.loads((sample[0] / synthetic.TRUTH_FILE).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def readings(sample) -> pd.DataFrame:
    """Every reading line in file order: device_id, timestamp (text), meter_kwh (float), file."""
    frames = []
    for path in sorted((sample[0] / "readings").glob("*/*.txt")):
        frame = pd.read_csv(path, sep=";", dtype=str)
        frames.append(frame.assign(file=str(path.relative_to(sample[0]))))
    frame = pd.concat(frames, ignore_index=True)
    frame["value"] = frame["meter_kwh"].str.replace(",", ".", regex=False).astype(float)
    frame["at"] = pd.to_datetime(frame["timestamp"], format="%d.%m.%Y %H:%M")
    return frame


def csv(sample, name: str) -> pd.DataFrame:
    return pd.read_csv(sample[0] / name, dtype=str, keep_default_na=False)


def test_same_arguments_write_the_same_bytes_and_another_seed_differs(sample, tmp_path):
    generate(tmp_path / "again")
    assert digest(tmp_path / "again") == digest(sample[0])
    generate(tmp_path / "other", seed=SEED + 1)
    assert digest(tmp_path / "other") != digest(sample[0])


def test_sample_is_small_and_fast(sample):
    size = sum(p.stat().st_size for p in sample[0].rglob("*") if p.is_file())
    assert sample[2] < 10 and size < 5_000_000


def test_readings_are_semicolon_separated_with_decimal_commas_and_local_times(sample):
    files = sorted((sample[0] / "readings").glob("*/*.txt"))
    assert files
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0] == "device_id;timestamp;meter_kwh"
        assert all(LINE.match(line) for line in lines[1:]), path
        device, month = path.stem.split("_")
        assert path.parent.name == device and all(line.startswith(device + ";") for line in lines[1:])


def test_manifest_counts_the_records_of_each_file(sample, readings):
    manifest = sample[1]
    assert manifest.rows["readings"] == len(readings)
    counted = readings.groupby("file").size().to_dict()
    assert {k: v for k, v in manifest.files.items() if k.startswith("readings/")} == counted
    assert manifest.rows["registry"] == len(csv(sample, synthetic.REGISTRY_FILE))


def test_spring_forward_hour_is_missing_and_fall_back_hour_is_written_twice(readings, truth):
    assert truth["dst_missing_hours"] == ["31.03.2024 02:00"]
    assert truth["dst_repeated_hours"] == ["27.10.2024 02:00"]
    assert not readings["timestamp"].eq("31.03.2024 02:00").any()
    repeated = readings[readings["timestamp"].eq("27.10.2024 02:00")]
    assert len(repeated) == truth["dst_repeated_readings"] > 0
    for _, pair in repeated.groupby("device_id"):
        assert len(pair) == 2 and pair["value"].iloc[1] > pair["value"].iloc[0]  # summer time first


def _device(readings: pd.DataFrame, device: str) -> pd.DataFrame:
    return readings[readings["device_id"] == device].reset_index(drop=True)


def test_counter_resets_drop_to_near_zero_where_the_truth_says(readings, truth):
    assert len(truth["counter_resets"]) >= 1
    for reset in truth["counter_resets"]:
        rows = _device(readings, reset["device_id"])
        k = int(np.flatnonzero(rows["timestamp"].eq(reset["timestamp"]))[0])
        assert rows["value"][k - 1] == pytest.approx(reset["counter_before"], abs=0.1)
        assert rows["value"][k] < 100 < rows["value"][k - 1]


def test_counters_only_fall_at_resets_and_after_conflicting_duplicates(readings, truth):
    resets = {(r["device_id"], r["timestamp"]) for r in truth["counter_resets"]}
    conflicts = {(d["device_id"], d["timestamp"]) for d in truth["duplicates"] if d["kind"] == "conflict"}
    seen = set()
    for device, rows in readings.groupby("device_id", sort=False):
        stamps = rows["timestamp"].to_numpy()
        for k in np.flatnonzero(rows["value"].diff().to_numpy() < 0):
            seen.add((device, stamps[k]))
            assert (device, stamps[k]) in resets or (device, stamps[k - 1]) in conflicts, (device, stamps[k])
    assert resets <= seen


def test_stuck_values_repeat_the_last_reading_then_catch_up(readings, truth):
    assert len(truth["stuck_values"]) >= 1
    for stuck in truth["stuck_values"]:
        rows = _device(readings, stuck["device_id"]).drop_duplicates("timestamp").reset_index(drop=True)
        first = int(np.flatnonzero(rows["timestamp"].eq(stuck["first"]))[0])
        last = int(np.flatnonzero(rows["timestamp"].eq(stuck["last"]))[0])
        assert last - first + 1 == stuck["hours"]
        assert rows["value"][first - 1:last + 1].nunique() == 1
        assert rows["value"][last + 1] > rows["value"][last]


def test_gaps_have_no_readings_between_their_first_and_last_hour(readings, truth):
    assert len(truth["gaps"]) >= 1
    for gap in truth["gaps"]:
        rows = _device(readings, gap["device_id"])
        first = pd.to_datetime(gap["first"], format="%d.%m.%Y %H:%M")
        last = pd.to_datetime(gap["last"], format="%d.%m.%Y %H:%M")
        assert not rows["at"].between(first, last).any()
        before, after = rows[rows["at"] < first]["at"].max(), rows[rows["at"] > last]["at"].min()
        assert (after - before) / pd.Timedelta(hours=1) == gap["hours"] + 1


def test_duplicates_are_written_twice_next_to_each_other(readings, truth):
    kinds = {d["kind"] for d in truth["duplicates"]}
    assert kinds == {"exact", "conflict"}
    for dup in truth["duplicates"]:
        rows = _device(readings, dup["device_id"])
        at = np.flatnonzero(rows["timestamp"].eq(dup["timestamp"]))
        assert len(at) == 2 and at[1] == at[0] + 1
        assert list(rows["value"][at]) == [dup["first_value"], dup["second_value"]]
        assert (dup["first_value"] == dup["second_value"]) == (dup["kind"] == "exact")


def test_replaced_meter_hands_over_to_a_new_device_at_the_same_address(sample, readings, truth):
    devices = csv(sample, synthetic.DEVICES_FILE).set_index("device_id")
    assert len(truth["replaced_devices"]) == 1
    for swap in truth["replaced_devices"]:
        old, new = devices.loc[swap["old_device"]], devices.loc[swap["new_device"]]
        assert old["address"] == new["address"] and old["removed_on"] == new["installed_on"] == swap["replaced_on"]
        old_rows, new_rows = _device(readings, swap["old_device"]), _device(readings, swap["new_device"])
        assert old_rows["at"].max() < new_rows["at"].min()
        assert new_rows["at"].min().date().isoformat() == swap["replaced_on"]
        assert new_rows["value"][0] < 100 < old_rows["value"].iloc[-1]


def test_one_city_reports_its_weather_in_fahrenheit(sample, truth):
    weather = pd.read_json(sample[0] / synthetic.WEATHER_FILE, lines=True)
    summer = weather[pd.to_datetime(weather["date"]).dt.month.isin([6, 7, 8])]
    means = summer.groupby("city")["temperature"].mean()
    assert means.idxmax() == truth["fahrenheit_city"] and means.max() > 55 > means.drop(means.idxmax()).max()
    assert len(weather) == weather["id"].nunique() == len(synthetic.layout.CITIES) * (START.replace(month=11) - START).days


def test_registry_breaks_the_floor_area_and_construction_year_constraints_named_in_the_truth(sample, truth):
    registry = csv(sample, synthetic.REGISTRY_FILE).set_index("building_id")
    area = registry["floor_area_m2"].astype(float)
    assert sorted(area[area <= 0].index) == truth["bad_floor_area"]
    late = registry["construction_year"].astype(int) > START.year
    assert sorted(registry.index[late]) == truth["construction_after_first_reading"]


def test_registry_addresses_differ_from_the_devices_as_the_truth_says(sample, truth):
    devices = csv(sample, synthetic.DEVICES_FILE).set_index("device_id")
    registry = csv(sample, synthetic.REGISTRY_FILE).set_index("building_id")
    matches = csv(sample, synthetic.MATCHES_FILE)
    assert set(matches["device_id"]) == set(devices.index)
    assert {"abbreviated", "typo", "renamed"} <= set(matches["address_variant"])
    for m in matches.itertuples():
        device, building = devices.loc[m.device_id], registry.loc[m.building_id]
        assert (device["address"] == building["address"]) == (m.address_variant == "exact")
        assert device["city"] == building["city"] and device["postcode"] == building["postcode"]
        if m.address_variant == "renamed":
            assert truth["renamed_street"]["registry"] in building["address"]
            assert truth["renamed_street"]["devices"] in device["address"]
        ref = device["building_ref"]
        assert m.building_ref == ("missing" if ref == "" else "ok" if f"BLD-{ref}" == m.building_id else "stale")
    assert len(registry) - matches["building_id"].nunique() == truth["registry_without_device"] > 0


def test_holidays_hold_easter_monday_and_fixed_days(sample):
    days = csv(sample, synthetic.HOLIDAYS_FILE).set_index("date")["name"]
    assert days["2024-04-01"] == "Easter Monday" and days["2024-07-14"] == "Bastille Day"


def test_ensure_sample_generates_once_and_never_overwrites(tmp_path, monkeypatch):
    root = tmp_path / "energy"
    monkeypatch.setattr(energy, "generate", lambda out, buildings, seed: generate(out, seed))
    assert energy.ensure_sample(root) is True and (root / "readings").is_dir()
    marker = root / synthetic.MANIFEST_FILE
    marker.write_text("kept", encoding="utf-8")
    assert energy.ensure_sample(root) is False and marker.read_text(encoding="utf-8") == "kept"
