"""Documentation: the generated parts are current, complete and versioned; links resolve.

No Spark: the catalogue comes from the YAML, coverage from a tiny Delta table written
with deltalake.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from utils.present import docs
from utils.lake.config import load_config

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DOCS = PROJECT_ROOT / "docs"
CONFIG = PROJECT_ROOT / "conf" / "loan_default.yaml"


@pytest.fixture(scope="module")
def config():
    return load_config(path=CONFIG)


def catalogue_names(text: str) -> list[str]:
    """Label and feature names: the first cell of every row of the Labels and Features tables."""
    body = text.split("## Labels", 1)[1].split("## Lineage columns", 1)[0]
    return re.findall(r"^\| `([a-z0-9_]+)` \|", body, flags=re.MULTILINE)


def test_committed_catalogue_and_source_tables_are_up_to_date(config):
    problems = docs.check(config, DOCS / "feature_catalogue.md", DOCS / "problem_formulation.md", CONFIG)
    assert problems == [], "\n".join(problems)


def test_check_command_exits_0_when_current(capsys):
    assert docs.main(["--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_every_feature_and_label_in_the_config_is_in_the_catalogue_once(config):
    names = catalogue_names((DOCS / "feature_catalogue.md").read_text(encoding="utf-8"))
    expected = [label.name for label in config.gold.labels] + [f.name for f in config.gold.features]
    assert sorted(names) == sorted(expected)
    assert len(config.gold.features) == 119  # the for_each entries are expanded


def test_catalogue_row_shows_description_source_and_version(config):
    text = docs.render_catalogue(config, CONFIG)
    f = next(f for f in config.gold.features if f.name == "fe_3_mean_6m")
    row = next(line for line in text.splitlines() if line.startswith("| `fe_3_mean_6m` |"))
    assert f.description in row and docs.feature_version(f, config.gold) in row
    assert "months_between(D, snapshot_date) < 6" in row
    assert "### clickstream (silver/clickstream, snapshot_date <= D" in text


def _with_feature_change(tmp_path: Path, name: str, **changes) -> Path:
    """A copy of the YAML where the (non-expanded) feature `name` has `changes`."""
    raw = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    entry = next(f for f in raw["gold"]["features"] if f["name"] == name)
    entry.update(changes)
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _versions(config) -> dict[str, str]:
    return {f.name: docs.feature_version(f, config.gold) for f in config.gold.features}


def test_changing_a_features_definition_changes_its_version_only(config, tmp_path):
    before = _versions(config)
    after = _versions(load_config(path=_with_feature_change(tmp_path, "debt_to_income",
                                                            expr="outstanding_debt / annual_income")))
    assert after["debt_to_income"] != before["debt_to_income"]
    assert {n: v for n, v in after.items() if n != "debt_to_income"} == {
        n: v for n, v in before.items() if n != "debt_to_income"}


def test_changing_a_window_or_the_declared_version_changes_the_version(config, tmp_path):
    before = _versions(config)
    window = _versions(load_config(path=_with_feature_change(tmp_path, "{col}_mean_3m", months=4)))
    assert window["fe_1_mean_3m"] != before["fe_1_mean_3m"] and window["fe_20_mean_3m"] != before["fe_20_mean_3m"]
    declared = _versions(load_config(path=_with_feature_change(tmp_path, "age", version=2)))
    assert declared["age"].startswith("v2-") and declared["age"] != before["age"]


def test_rewording_a_description_keeps_the_version(config, tmp_path):
    reworded = load_config(path=_with_feature_change(tmp_path, "age", description="Age of the applicant"))
    assert _versions(reworded)["age"] == _versions(config)["age"]


def test_check_reports_a_catalogue_out_of_date_with_the_yaml(config, tmp_path, capsys):
    out = tmp_path / "catalogue.md"
    docs.write(config, out, None, CONFIG)
    assert docs.check(config, out, None, CONFIG) == []
    changed = _with_feature_change(tmp_path, "age", expr="age + 1")
    assert docs.main(["--config", str(changed), "--out", str(out), "--formulation", str(tmp_path / "none.md"),
                      "--check"]) == 1
    err = capsys.readouterr().err
    assert "out of date" in err and "python -m utils.present.docs" in err
    assert docs.main(["--config", str(changed), "--out", str(out), "--formulation", str(tmp_path / "none.md")]) == 0
    assert docs.main(["--config", str(changed), "--out", str(out), "--formulation", str(tmp_path / "none.md"),
                      "--check"]) == 0


def test_check_reports_a_stale_sources_block(config, tmp_path):
    out = tmp_path / "catalogue.md"
    docs.write(config, out, None, CONFIG)
    formulation = tmp_path / "formulation.md"
    formulation.write_text("intro\n<!-- generated:sources:start -->\nold\n<!-- generated:sources:end -->\nend\n")
    assert any("sources block" in p for p in docs.check(config, out, formulation, CONFIG))
    docs.write(config, out, formulation, CONFIG)
    assert docs.check(config, out, formulation, CONFIG) == []
    text = formulation.read_text()
    assert text.startswith("intro\n") and text.endswith("end\n") and "| Name | - | - | personal data" in text


def _tiny_feature_store(datamart: Path) -> None:
    from deltalake import write_deltalake

    jan, feb = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
    table = pa.table({
        "customer_id": ["a", "b", "c", "d"],
        "age": [30, None, 40, None],
        "fe_1_last": [None, None, 5, 6],
        "snapshot_date": [jan, jan, feb, feb],
    })
    write_deltalake(str(datamart / "gold" / "loan_default" / "feature_store"), table, partition_by=["snapshot_date"])


def test_coverage_reads_null_rates_and_months_from_the_feature_store(tmp_path):
    _tiny_feature_store(tmp_path)
    cov = docs.feature_coverage(tmp_path, ["age", "fe_1_last", "not_there"])
    assert (cov["rows"], cov["months"], cov["version"]) == (4, 2, 0)
    assert cov["features"]["age"] == {"nulls": 2, "null_rate": 0.5, "months_with_data": 2}
    assert cov["features"]["fe_1_last"] == {"nulls": 2, "null_rate": 0.5, "months_with_data": 1}
    assert cov["features"]["not_there"]["nulls"] is None


def test_data_section_is_ignored_by_check(config, tmp_path):
    _tiny_feature_store(tmp_path)
    out = tmp_path / "catalogue.md"
    docs.write(config, out, None, CONFIG, datamart=tmp_path)
    text = out.read_text()
    assert docs.DATA_MARKER in text and "| `fe_1_last` | 50.0 % | 1 / 2 |" in text
    assert "| `fe_2_last` | not in the table | - |" in text
    assert docs.check(config, out, None, CONFIG) == []


def test_coverage_without_a_feature_store_is_one_clear_error(config, tmp_path, capsys):
    assert docs.main(["--out", str(tmp_path / "c.md"), "--formulation", str(tmp_path / "none.md"),
                      "--datamart", str(tmp_path)]) == 1
    assert "no gold/feature_store" in capsys.readouterr().err


LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", sorted(p.name for p in DOCS.glob("*.md")))
def test_relative_links_point_to_existing_files(page):
    text = (DOCS / page).read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # code blocks hold no links
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (DOCS / path).exists():
            broken.append(target)
    assert broken == [], f"docs/{page}: links to missing files {broken}"


def test_relative_link_anchors_name_existing_headings():
    def anchors(md: Path) -> set[str]:
        heads = re.findall(r"^#+ (.+)$", md.read_text(encoding="utf-8"), flags=re.MULTILINE)
        return {re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-") for h in heads}

    broken, checked = [], 0
    for page in DOCS.glob("*.md"):
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if "#" not in target or re.match(r"[a-z]+:", target):
                continue
            checked += 1
            path, anchor = target.split("#", 1)
            md = page if not path else DOCS / path
            if md.suffix == ".md" and md.exists() and anchor not in anchors(md):
                broken.append(f"{page.name}: {target}")
    assert checked and broken == []
