"""The energy domain's deck, companion document and notebooks, on one small datamart built
once (5 buildings, 2024-09 and 2024-10, forecast cut 2024-10-01) by the public commands:
the deck is eight 16:9 pages whose text names the datamart's real numbers, the companion
is at most five A4 pages and names them too, a datamart without the energy domain is one
clear error, and both notebooks run top to bottom on it and draw their figures."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from deltalake import DeltaTable

from utils.domains.energy import forecast, profiles, synthetic
from utils.present import deck
from utils.present.deck import companion
from utils.present.deck.energy_facts import gather_energy
from utils.present.deck.format import n
from utils.present.deck.slides_energy import SLIDES, num
from utils.present.explore import energy as ex

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CUT = "2024-10-01"
SAMPLE = {"buildings": 5, "seed": 5, "start": dt.date(2024, 9, 1), "months": 2}
NOTEBOOK_FIGURES = {"01_next_day_forecast.ipynb": 5, "02_load_profiles.ipynb": 2}

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdfinfo") is None,
                                reason="pdftotext and pdfinfo (poppler-utils) are needed to read the PDFs")


@pytest.fixture(scope="module")
def built(spark, tmp_path_factory) -> tuple[Path, Path]:
    """(data root, datamart): the small sample built into every zone, then both pipelines run."""
    root = tmp_path_factory.mktemp("energy_deck")
    data, datamart = root / "data", root / "dm"
    synthetic.generate(data, SAMPLE["buildings"], SAMPLE["seed"], start=SAMPLE["start"], months=SAMPLE["months"])
    ex.ensure_energy_datamart(datamart, data, master="local[2]")
    models = datamart / "_models" / "energy"
    if not (models / "forecast.json").is_file():
        assert forecast.main(["--datamart", str(datamart), "--cut", CUT]) == 0
    if not (models / "profiles.json").is_file():
        assert profiles.main(["--datamart", str(datamart)]) == 0
    return data, datamart


def pdf_info(path: Path) -> dict[str, str]:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return dict(line.split(":", 1) for line in out.splitlines() if ":" in line)


def pdf_text(path: Path) -> str:
    """The PDF's text, white space (and no-break spaces) folded to single spaces."""
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return re.sub(r"\s+", " ", text.replace("\u00a0", " "))


def quality_failed(datamart: Path, rule: str) -> int:
    quality = DeltaTable(str(datamart / "_meta" / "quality")).to_pandas()
    return int(quality.loc[quality["rule"] == rule, "rows_failed"].sum())


def rows(datamart: Path, layer: str, table: str) -> int:
    return DeltaTable(str(datamart / layer / "energy" / table)).to_pyarrow_table(columns=[]).num_rows


@pytest.fixture(scope="module")
def deck_pdf(built, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("energy_pdf") / "energy_deck.pdf"
    assert deck.main(["--datamart", str(built[1]), "--domain", "energy", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def companion_pdf(built, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("energy_pdf") / "companion.pdf"
    assert deck.main(["--datamart", str(built[1]), "--domain", "energy", "--companion", "--out", str(out)]) == 0
    return out


def report(datamart: Path, name: str) -> dict:
    import json

    return json.loads((datamart / "_models" / "energy" / f"{name}.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the deck


def test_energy_deck_is_eight_16_9_pages(deck_pdf):
    info = pdf_info(deck_pdf)
    assert int(info["Pages"]) == len(SLIDES) == 8
    assert info["Page size"].split("pts")[0].split() == ["960", "x", "540"]


def test_energy_deck_names_the_datamarts_numbers(built, deck_pdf):
    datamart = built[1]
    text = pdf_text(deck_pdf)
    fc, pr, ex_report = report(datamart, "forecast"), report(datamart, "profiles"), report(datamart, "exploitation")
    quarantine = rows(datamart, "silver", "_quarantine")
    bronze = sum(rows(datamart, "bronze", t) for t in ("readings", "devices", "registry", "holidays", "weather"))
    expected = [
        n(bronze), n(quarantine), n(rows(datamart, "gold", "building_days")),
        num(fc["model"]["mae"]), num(fc["baseline_seasonal_naive"]["mae"]), num(fc["model"]["mape"]),
        f"k = {pr['k']}", num(pr["silhouette"], 3), n(ex_report["consumption"]["device_days"]),
        n(quality_failed(datamart, "one_value_per_reading")), n(quality_failed(datamart, "dst_repeated_hour")),
    ]
    missing = [value for value in expected if value not in text]
    assert not missing, (missing, text[:2000])
    assert str(datamart) not in text  # no absolute path on a slide


def test_energy_deck_facts_balance_bronze_with_silver_and_quarantine(built):
    f = gather_energy(built[1])
    q = f.quality
    assert q.partitions > 0 and q.balanced_partitions == q.partitions
    assert q.bronze_rows == q.silver_rows + q.accounted_quarantine
    assert q.quarantined_rows == rows(built[1], "silver", "_quarantine")
    assert f.rule("readings", "counter_reset") == quality_failed(built[1], "counter_reset") > 0


def test_a_datamart_without_the_energy_domain_is_one_clear_error(tmp_path, capsys):
    assert deck.main(["--datamart", str(tmp_path), "--domain", "energy", "--out", str(tmp_path / "x.pdf")]) == 1
    assert capsys.readouterr().err.startswith("error: ")
    assert deck.main(["--datamart", str(tmp_path), "--companion", "--out", str(tmp_path / "x.pdf")]) == 1


# --------------------------------------------------------------------------- the companion


def test_companion_is_at_most_five_a4_pages(companion_pdf):
    info = pdf_info(companion_pdf)
    assert 1 <= int(info["Pages"]) <= companion.MAX_PAGES
    assert "(A4)" in info["Page size"]


def test_companion_explains_each_choice_with_the_measured_numbers(built, companion_pdf):
    datamart = built[1]
    text = pdf_text(companion_pdf)
    fc, pr = report(datamart, "forecast"), report(datamart, "profiles")
    for topic in ("formatted zone", "denial constraint", "counter reset", "gap", "Europe/Paris", "blocked on "
                  "postcode", "review band", "out of time", "seasonal naive", "silhouette"):
        assert topic in text, topic
    for value in (num(fc["model"]["mae"], 2), num(fc["baseline_seasonal_naive"]["mae"], 2), f"k = {pr['k']}",
                  n(quality_failed(datamart, "reading_gap")), n(rows(datamart, "silver", "_quarantine"))):
        assert value in text, value


def test_committed_pdfs_are_small_and_within_their_page_limits():
    for path, pages in ((PROJECT_ROOT / "deck" / "energy_deck.pdf", len(SLIDES)),
                        (PROJECT_ROOT / "docs" / "energy" / "companion.pdf", companion.MAX_PAGES)):
        if not path.is_file():
            pytest.skip(f"{path.name} is not generated yet")
        assert path.stat().st_size < 1_000_000, path.name
        assert 1 <= int(pdf_info(path)["Pages"]) <= pages, path.name


# --------------------------------------------------------------------------- the notebooks


@pytest.mark.parametrize("name", list(NOTEBOOK_FIGURES))
def test_energy_notebook_runs_on_the_exploitation_zone_and_draws_its_figures(name, built, tmp_path, monkeypatch):
    from conftest import run_notebook

    data, datamart = built
    env = {"LAKEHOUSE_DATAMART": str(datamart), "LAKEHOUSE_DATA_ROOT": str(data), "LAKEHOUSE_SPARK_MASTER": "local[2]",
           "LAKEHOUSE_ENERGY_CUT": CUT}
    code, figures = run_notebook("energy", name, env, tmp_path, monkeypatch)
    assert all(c.execution_count is not None for c in code)
    assert figures >= NOTEBOOK_FIGURES[name]


def test_the_real_configuration_builds_gold_and_the_build_commands_do_not_stop_at_silver(tmp_path):
    # conf/energy.yaml declares gold.builder (no generic gold section): main.py builds the zone and its analyses
    assert ex.config_path() == PROJECT_ROOT / "conf" / "energy.yaml"
    assert ex.config_builds_gold() is True
    (tmp_path / "data" / "_truth").mkdir(parents=True)
    (tmp_path / "data" / "_truth" / "device_building.csv").write_text("device_id,building_id\n", encoding="utf-8")
    build, exploit = ex.build_commands(tmp_path / "dm", tmp_path / "data")
    assert build == ["--domain", "energy", "--data-root", str(tmp_path / "data"), "--datamart", str(tmp_path / "dm"),
                     "--master", "local[2]"]
    assert exploit[-2:] == ["--truth", str(tmp_path / "data" / "_truth" / "device_building.csv")]


def test_build_commands_stop_at_silver_when_the_configuration_has_no_gold(tmp_path, monkeypatch):
    import yaml

    raw = yaml.safe_load((PROJECT_ROOT / "conf" / "energy.yaml").read_text(encoding="utf-8"))
    del raw["gold"]
    silver_only = tmp_path / "energy.yaml"
    silver_only.write_text(yaml.safe_dump(raw), encoding="utf-8")
    monkeypatch.setattr(ex, "CONF", silver_only)
    assert ex.config_builds_gold() is False
    build, _ = ex.build_commands(tmp_path / "dm", tmp_path / "data")
    assert build[-2:] == ["--layers", "bronze,silver"]


def test_a_configuration_that_does_not_load_is_an_error_naming_the_file(tmp_path, monkeypatch):
    from utils.lake.config import ConfigError

    broken = tmp_path / "energy.yaml"
    broken.write_text("gold: [\n", encoding="utf-8")
    monkeypatch.setattr(ex, "CONF", broken)
    with pytest.raises(ConfigError, match=re.escape(str(broken))):
        ex.config_builds_gold()
