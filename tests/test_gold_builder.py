"""gold.builder: a domain whose gold SQL in YAML cannot say names its own builder, its
silver inputs and its output tables; the configuration checks them like every key (the
energy domain's gold is declared this way; its end-to-end build is test_energy_build)."""

from __future__ import annotations

import json

import pytest
import yaml

from utils.lake.config import CONF_DIR, ConfigError, json_schema, load_config


def energy_raw() -> dict:
    return yaml.safe_load((CONF_DIR / "energy.yaml").read_text(encoding="utf-8"))


def load(tmp_path, raw: dict):
    path = tmp_path / "energy.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return load_config(path=path)


def test_energy_gold_is_its_builder_not_a_feature_store():
    config = load_config("energy")
    assert config.gold is None  # no feature or label store: online store, monitoring and training skip it
    assert config.gold_builder.builder == "utils.domains.energy.exploitation:build_gold_tables"
    assert config.gold_builder.table_names == ("building_matches", "device_days", "building_days")
    assert not config.gold_builder.outputs["building_matches"].partitioned
    assert set(config.gold_builder.inputs) <= set(config.silver)


def test_energy_yaml_points_editors_at_the_schema_and_validates_against_it():
    jsonschema = pytest.importorskip("jsonschema")
    assert (CONF_DIR / "energy.yaml").read_text(encoding="utf-8").splitlines()[0] == \
        "# yaml-language-server: $schema=schema.json"
    jsonschema.validate(json.loads(json.dumps(energy_raw(), default=str)), json_schema())


def test_the_schema_asks_for_builder_and_outputs_or_the_generic_keys():
    jsonschema = pytest.importorskip("jsonschema")
    raw = json.loads(json.dumps(energy_raw(), default=str))
    del raw["gold"]["outputs"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, json_schema())


def test_builder_without_outputs_names_the_key(tmp_path):
    raw = energy_raw()
    del raw["gold"]["outputs"]
    with pytest.raises(ConfigError, match=r"gold\.outputs: required with builder"):
        load(tmp_path, raw)


def test_builder_with_a_generic_key_is_refused(tmp_path):
    raw = energy_raw()
    raw["gold"]["labels"] = []
    with pytest.raises(ConfigError, match=r"gold\.labels: not with builder"):
        load(tmp_path, raw)


def test_builder_input_must_be_a_silver_table(tmp_path):
    raw = energy_raw()
    raw["gold"]["inputs"] = ["readings", "meters"]
    with pytest.raises(ConfigError, match=r"gold\.inputs\[1\]: no silver table 'meters'"):
        load(tmp_path, raw)


def test_builder_reference_is_module_colon_function(tmp_path):
    raw = energy_raw()
    raw["gold"]["builder"] = "utils.domains.energy.exploitation.build_gold_tables"
    with pytest.raises(ConfigError, match=r"gold\.builder: expected package\.module:function"):
        load(tmp_path, raw)


def test_generic_gold_without_population_still_names_the_missing_key(tmp_path):
    raw = yaml.safe_load((CONF_DIR / "churn.yaml").read_text(encoding="utf-8"))
    del raw["gold"]["population"]
    path = tmp_path / "churn.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"gold\.population: required key is missing"):
        load_config(path=path)


def test_a_builder_that_cannot_be_imported_fails_with_the_yaml_key():
    from utils.layers.build_gold_builder import resolve_function
    from utils.layers.run import PipelineError

    with pytest.raises(PipelineError, match="gold.builder: cannot load utils.domains.energy.nowhere:build"):
        resolve_function("utils.domains.energy.nowhere:build", "conf/energy.yaml: gold.builder")


def make_package(root, name: str) -> None:
    """A builder package `name` under `root`: its module re-exports the energy builder."""
    (root / name / "helpers").mkdir(parents=True)
    (root / name / "__init__.py").write_text("", encoding="utf-8")
    (root / name / "helpers" / "__init__.py").write_text("WEIGHT = 1.0\n", encoding="utf-8")
    (root / name / "build.py").write_text(
        "from utils.domains.energy.exploitation import build_gold_tables  # noqa: F401\n", encoding="utf-8")


def test_the_builders_fingerprint_covers_its_package_sources_and_not_the_config_hash(tmp_path, monkeypatch):
    from utils.lake.gold_spec import source_files, source_hash

    monkeypatch.syspath_prepend(str(tmp_path))
    make_package(tmp_path, "probe_builder_pkg")
    raw = energy_raw()
    raw["gold"]["builder"] = "probe_builder_pkg.build:build_gold_tables"
    config = load(tmp_path, raw)
    folder, files = source_files(config.gold_builder.builder)
    assert [p.relative_to(folder).as_posix() for p in files] == ["__init__.py", "build.py", "helpers/__init__.py"]
    before, config_hash, yaml_fp = (config.gold_builder.code_fingerprint(), config.config_hash,
                                    config.gold_builder.fingerprint())
    assert source_hash(config.gold_builder.builder) == before  # stable
    (tmp_path / "probe_builder_pkg" / "helpers" / "__init__.py").write_text("WEIGHT = 2.0\n", encoding="utf-8")
    assert config.gold_builder.code_fingerprint() != before  # a subpackage's file counts too
    reloaded = load(tmp_path, raw)
    assert (reloaded.config_hash, reloaded.gold_builder.fingerprint()) == (config_hash, yaml_fp)


def test_a_builder_whose_module_cannot_be_found_is_a_value_error():
    from utils.lake.gold_spec import source_hash

    with pytest.raises(ValueError, match="utils.domains.nowhere.build:f"):
        source_hash("utils.domains.nowhere.build:f")


def test_the_generic_gold_fingerprints_do_not_read_code():
    # only builder domains hash code: the feature-store domains keep their YAML-only fingerprints
    from utils.lake.gold_spec import stable_hash

    for domain in ("churn", "loan_default"):
        config = load_config(domain)
        assert config.gold_builder is None and config.gold.fingerprint() == stable_hash(config.gold.raw)
