"""End to end: the energy sample built into bronze and silver by the command line (the
draft configuration utils/domains/energy/energy.yaml), then the exploitation zone; row
accounting balances and every planted defect is counted by its named rule or step as
often as the generator's ground truth says. One small sample (3 buildings, two months
holding the autumn change of clocks), on the session's Spark."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from deltalake import DeltaTable

from utils.cli import main
from utils.domains.energy import synthetic
from utils.domains.energy.exploitation import build_exploitation, reading_zone
from utils.lake.config import load_config
from utils.lake.datamart import Datamart

CONFIG = Path(__file__).resolve().parents[1] / "utils" / "domains" / "energy" / "energy.yaml"


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory):
    """(data root, datamart, truth, exploitation report)."""
    root = tmp_path_factory.mktemp("energy")
    data, datamart = root / "data", root / "dm"
    synthetic.generate(data, 3, 3, start=dt.date(2024, 9, 1), months=2)
    assert main(["--config", str(CONFIG), "--data-root", str(data), "--datamart", str(datamart),
                 "--layers", "bronze,silver"]) == 0
    truth = json.loads((data / synthetic.TRUTH_FILE).read_text(encoding="utf-8"))
    matches = spark.read.csv(str(data / synthetic.MATCHES_FILE), header=True)
    report = build_exploitation(spark, Datamart(datamart), zone=reading_zone(load_config(path=CONFIG)), truth=matches)
    return data, datamart, truth, report


def meta(datamart: Path, name: str):
    return DeltaTable(str(datamart / "_meta" / name)).to_pandas()


def failed(datamart: Path) -> dict[tuple[str, str], int]:
    quality = meta(datamart, "quality")
    return quality.groupby(["table", "rule"])["rows_failed"].sum().astype(int).to_dict()


def test_every_partition_balances_bronze_with_silver_and_quarantine(built):
    accounting = meta(built[1], "accounting")
    assert len(accounting) > 0 and accounting["balanced"].all()
    assert (accounting["bronze_rows"] == accounting["silver_rows"] + accounting["quarantined_rows"]).all()


def test_each_planted_reading_defect_is_counted_by_its_rule(built):
    _, datamart, truth, _ = built
    counts = failed(datamart)
    conflicts = sum(d["kind"] == "conflict" for d in truth["duplicates"])
    assert counts["silver/readings", "one_value_per_reading"] == 2 * conflicts > 0
    assert counts["silver/readings", "unique_reading"] == len(truth["duplicates"])
    assert counts["silver/readings", "counter_reset"] == len(truth["counter_resets"]) > 0
    assert counts["silver/readings", "stuck_counter"] == sum(s["hours"] - 7 for s in truth["stuck_values"]) > 0
    assert counts["silver/readings", "reading_gap"] == len(truth["gaps"]) > 0
    assert counts["silver/readings", "dst_repeated_hour"] == truth["dst_repeated_readings"] > 0
    assert counts["silver/readings", "no_negative_consumption"] == 0


def test_fahrenheit_feed_and_registry_constraints_are_counted(built):
    _, datamart, truth, _ = built
    counts = failed(datamart)
    weather = DeltaTable(str(datamart / "silver" / "energy" / "weather")).to_pandas()
    fahrenheit = weather["city"] == truth["fahrenheit_city"]
    assert counts["silver/weather", "temperature_in_fahrenheit"] == fahrenheit.sum() > 0
    converted = weather.loc[fahrenheit, "temperature_c"]
    assert converted.round(1).tolist() == ((weather.loc[fahrenheit, "temperature"] - 32) * 5 / 9).round(1).tolist()
    assert counts["silver/registry", "positive_floor_area"] == len(truth["bad_floor_area"]) == 1
    assert counts["silver/registry", "built_before_recorded"] == len(truth["construction_after_first_reading"])


def test_quarantine_holds_exactly_the_duplicates_and_conflicts(built):
    _, datamart, truth, _ = built
    quarantine = DeltaTable(str(datamart / "silver" / "energy" / "_quarantine")).to_pandas()
    conflicts = sum(d["kind"] == "conflict" for d in truth["duplicates"])
    assert len(quarantine) == len(truth["duplicates"]) + conflicts
    assert set(quarantine["rule"]) == {"one_value_per_reading", "unique_reading"}


def test_exploitation_handles_resets_marks_gaps_and_checks_construction_years(built):
    _, _, truth, report = built
    assert report["consumption"]["counter_resets_handled"] == len(truth["counter_resets"])
    assert report["consumption"]["gap_days"] >= len(truth["gaps"])
    assert report["consumption"]["negative_steps"] == 0
    matches = DeltaTable(str(built[1] / "gold" / "energy" / "building_matches")).to_pandas()
    best = matches[matches["best"]].set_index("building_id")["decision"]
    late = truth["construction_after_first_reading"]
    # the year is checked against the first reading of the buildings the devices are linked to
    assert report["constraints"]["construction_after_first_reading"] == [b for b in late if best.get(b) == "match"]
    assert all(best.get(b) in ("match", "review") for b in late)


def test_entity_resolution_links_devices_to_their_buildings(built):
    er = built[3]["entity_resolution"]
    assert er["matches"]["precision"] == 1.0 and er["matches_and_reviews"]["recall"] == 1.0
