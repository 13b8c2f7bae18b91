"""Configuration is validated on load; errors name the file and the dotted key."""

from __future__ import annotations

import pytest
import yaml

from utils.lake.config import CONF_DIR, ConfigError, load_config


def write(tmp_path, raw) -> str:
    path = tmp_path / "domain.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def base() -> dict:
    return yaml.safe_load((CONF_DIR / "loan_default.yaml").read_text())


def test_loan_default_declares_the_four_cs611_sources_with_escape_and_pii():
    config = load_config("loan_default")
    assert list(config.sources) == ["lms_loan_daily", "features_attributes", "features_financials", "feature_clickstream"]
    attrs = config.sources["features_attributes"]
    assert attrs.csv["escape"] == '"' and attrs.personal_data == ("Name", "SSN")
    assert all(s.path == f"{name}.csv" for name, s in config.sources.items())


def test_unknown_key_names_file_and_dotted_key(tmp_path):
    raw = base()
    raw["sources"]["features_attributes"]["date_fromats"] = ["yyyy-MM-dd"]
    path = write(tmp_path, raw)
    with pytest.raises(ConfigError, match=rf"{path}: sources\.features_attributes\.date_fromats: unknown key"):
        load_config(path=path)


def test_wrong_type_names_key_and_expected_type(tmp_path):
    raw = base()
    raw["sources"]["lms_loan_daily"]["date_formats"] = "yyyy-MM-dd"
    with pytest.raises(ConfigError, match=r"sources\.lms_loan_daily\.date_formats: expected a list of non-empty strings, got str"):
        load_config(path=write(tmp_path, raw))


def test_missing_required_key_is_reported(tmp_path):
    raw = base()
    del raw["sources"]["lms_loan_daily"]["date_column"]
    with pytest.raises(ConfigError, match=r"sources\.lms_loan_daily\.date_column: required key is missing"):
        load_config(path=write(tmp_path, raw))


def test_keys_must_be_declared_columns(tmp_path):
    raw = base()
    raw["sources"]["features_attributes"]["personal_data"] = ["Name", "Phone"]
    with pytest.raises(ConfigError, match=r"personal_data: \['Phone'\] not in required_columns"):
        load_config(path=write(tmp_path, raw))


def test_unknown_csv_option_is_refused(tmp_path):
    raw = base()
    raw["sources"]["lms_loan_daily"]["csv"] = {"escpe": "\\"}
    with pytest.raises(ConfigError, match=r"sources\.lms_loan_daily\.csv\.escpe: unknown CSV option"):
        load_config(path=write(tmp_path, raw))


def test_override_sets_a_yaml_value_and_changes_the_source_fingerprint():
    plain = load_config("loan_default")
    dmy = load_config("loan_default", overrides=["sources.features_attributes.date_formats=[d/M/yyyy]"])
    assert dmy.sources["features_attributes"].date_formats == ("d/M/yyyy",)
    assert dmy.sources["features_attributes"].fingerprint() != plain.sources["features_attributes"].fingerprint()
    assert dmy.sources["lms_loan_daily"].fingerprint() == plain.sources["lms_loan_daily"].fingerprint()


def test_override_of_a_spark_key_keeps_its_dots():
    config = load_config("loan_default", overrides=["spark.spark.sql.shuffle.partitions=3"])
    assert config.spark_conf == {"spark.sql.shuffle.partitions": "3"}


def test_override_of_an_unknown_path_is_refused():
    with pytest.raises(ConfigError, match=r"override sources\.nope\.path: no key 'sources\.nope'"):
        load_config("loan_default", overrides=["sources.nope.path=x.csv"])


def test_override_result_is_validated_like_the_file():
    with pytest.raises(ConfigError, match=r"date_formats: expected a list"):
        load_config("loan_default", overrides=["sources.lms_loan_daily.date_formats=5"])


def test_unknown_domain_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"no such configuration file \(domains in conf/: .*loan_default"):
        load_config("churn_typo")


def test_a_declared_rule_may_not_reuse_a_generated_rule_name(tmp_path):
    raw = base()
    raw["silver"]["loan_daily"]["rules"].append({"name": "valid_tenure", "check": "tenure > 0", "severity": "warn"})
    with pytest.raises(ConfigError, match=r"silver\.loan_daily\.rules\[\d+\]\.name: 'valid_tenure' is already"):
        load_config(path=write(tmp_path, raw))
