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


# --------------------------------------------------------------------------- sources: formats, globs, APIs


def load_with_source(tmp_path, **body):
    """loan_default plus a source `events` (event_id, updated_at) whose body is updated with `body`."""
    raw = base()
    events = {"path": "events.csv", "date_column": "updated_at", "date_formats": ["yyyy-MM-dd"],
              "required_columns": ["event_id", "updated_at"]}
    events.update(body)
    raw["sources"]["events"] = {k: v for k, v in events.items() if v is not None}
    return load_config(path=write(tmp_path, raw))


API = {"url": "demo://churn/events", "records": "data", "page_size": 50}


def test_a_glob_path_stands_for_every_dated_drop_under_the_data_root(tmp_path):
    source = load_with_source(tmp_path, path="crm/events_*.csv").sources["events"]
    assert source.is_glob and source.resolve(tmp_path) == tmp_path / "crm" / "events_*.csv"
    assert not load_config("loan_default").sources["lms_loan_daily"].is_glob


@pytest.mark.parametrize("pagination", ["none", "page", "offset", "cursor", "link"])
def test_an_api_source_accepts_each_pagination(tmp_path, pagination):
    config = load_with_source(tmp_path, path=None, format="json", api={**API, "pagination": pagination})
    source = config.sources["events"]
    assert source.path is None and source.format == "json"
    assert (source.api.url, source.api.pagination, source.api.page_size) == ("demo://churn/events", pagination, 50)


def test_an_unknown_pagination_names_the_key_and_the_choices(tmp_path):
    expected = r"sources\.events\.api\.pagination: 'pages' not one of none, page, offset, cursor, link"
    with pytest.raises(ConfigError, match=expected):
        load_with_source(tmp_path, path=None, format="json", api={**API, "pagination": "pages"})


def test_an_api_secret_is_named_by_its_environment_variable_never_given(tmp_path):
    api = {**API, "auth": {"env": "CHURN_API_TOKEN", "prefix": "Bearer "},
           "incremental": {"param": "updated_since", "field": "updated_at"}, "params": {"status": "open"}}
    got = load_with_source(tmp_path, path=None, format="json", api=api).sources["events"].api
    assert (got.auth_header, got.auth_env, got.auth_prefix) == ("Authorization", "CHURN_API_TOKEN", "Bearer ")
    assert (got.incremental_param, got.incremental_field) == ("updated_since", "updated_at")
    assert got.params == {"status": "open"}
    expected = r"sources\.events\.api\.auth\.token: unknown key \(allowed: env, header, prefix\)"
    with pytest.raises(ConfigError, match=expected):
        load_with_source(tmp_path, path=None, format="json", api={**API, "auth": {"env": "X", "token": "s3cret"}})


def test_an_api_url_is_http_or_the_demo_server(tmp_path):
    with pytest.raises(ConfigError, match=r"sources\.events\.api\.url: expected http\(s\)://\.\.\. or demo://"):
        load_with_source(tmp_path, path=None, format="json", api={**API, "url": "ftp://example.com/x"})


def test_an_api_source_is_read_as_json(tmp_path):
    with pytest.raises(ConfigError, match=r"sources\.events\.format: an api source lands JSON pages: set format: json"):
        load_with_source(tmp_path, path=None, api=API)


def test_a_source_with_both_path_and_api_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"sources\.events: give exactly one of path, api"):
        load_with_source(tmp_path, format="json", api=API)


def test_a_source_with_neither_path_nor_api_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"sources\.events: give exactly one of path, api"):
        load_with_source(tmp_path, path=None)


def test_a_headerless_csv_is_named_by_its_columns(tmp_path):
    config = load_with_source(tmp_path, csv={"header": False, "columns": ["event_id", "updated_at", "kind"]})
    source = config.sources["events"]
    assert (source.header, source.columns) == (False, ("event_id", "updated_at", "kind"))


def test_a_headerless_csv_without_columns_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"sources\.events\.csv\.columns: required when header is false"):
        load_with_source(tmp_path, csv={"header": False})


def test_required_columns_of_a_headerless_csv_must_be_among_its_columns(tmp_path):
    with pytest.raises(ConfigError, match=r"sources\.events\.required_columns: \['updated_at'\] not in csv\.columns"):
        load_with_source(tmp_path, csv={"header": False, "columns": ["event_id", "kind"]})


def test_an_unknown_encoding_names_the_key_and_the_codec(tmp_path):
    with pytest.raises(ConfigError, match=r"sources\.events\.csv\.encoding: unknown codec 'utf-9'"):
        load_with_source(tmp_path, csv={"encoding": "utf-9"})


def test_csv_reading_options_are_exposed_and_the_string_options_stay_in_csv(tmp_path):
    config = load_with_source(tmp_path, csv={"sep": ";", "encoding": "latin-1", "whitespace": True, "multiline": True})
    source = config.sources["events"]
    assert (source.encoding, source.whitespace, source.multiline) == ("latin-1", True, True)
    assert source.csv == {"sep": ";", "quote": '"', "escape": '"'}


def test_csv_options_are_only_for_format_csv(tmp_path):
    with pytest.raises(ConfigError, match=r"sources\.events\.csv: only with format csv \(format is parquet\)"):
        load_with_source(tmp_path, format="parquet", csv={"sep": ";"})


def test_json_fields_flatten_declared_nested_fields_into_bronze_columns(tmp_path):
    json_options = {"record_path": "items", "fields": {"event_id": "id", "updated_at": "meta.updated_at"}}
    source = load_with_source(tmp_path, path="events/*.jsonl", format="jsonl", json=json_options).sources["events"]
    assert (source.format, source.json_record_path) == ("jsonl", "items")
    assert source.json_fields == {"event_id": "id", "updated_at": "meta.updated_at"}
    with pytest.raises(ConfigError, match=r"sources\.events\.required_columns: \['updated_at'\] not in json\.fields"):
        load_with_source(tmp_path, format="json", json={"fields": {"event_id": "id"}})
    with pytest.raises(ConfigError, match=r"sources\.events\.json: only with format json or jsonl \(format is csv\)"):
        load_with_source(tmp_path, json={"record_path": "items"})


def test_reading_options_at_their_defaults_leave_the_fingerprint_unchanged(tmp_path):
    plain = load_with_source(tmp_path).sources["events"]
    defaults = {"header": True, "encoding": "utf-8", "multiline": False}
    spelled_out = load_with_source(tmp_path, format="csv", csv=defaults)
    assert spelled_out.sources["events"].fingerprint() == plain.fingerprint()
    assert load_with_source(tmp_path, csv={"multiline": True}).sources["events"].fingerprint() != plain.fingerprint()


def test_loan_default_source_fingerprints_are_those_of_existing_datamarts():
    config = load_config("loan_default")
    assert config.sources["lms_loan_daily"].fingerprint() == "42d0bd682a4e0559"
    assert config.sources["features_attributes"].fingerprint() == "ced499aa5ba084b5"


def test_a_list_index_is_part_of_the_dotted_key(tmp_path):
    raw = base()
    raw["silver"]["attributes"]["rules"][1]["unique"] = ["customer_id", ""]
    expected = r"silver\.attributes\.rules\[1\]\.unique: expected a list of non-empty strings"
    with pytest.raises(ConfigError, match=expected):
        load_config(path=write(tmp_path, raw))


# --------------------------------------------------------------------------- silver: future dates


def test_future_dates_are_warned_about_unless_the_table_says_otherwise(tmp_path):
    raw = base()
    raw["silver"]["loan_daily"]["future_dates"] = "drop"
    config = load_config(path=write(tmp_path, raw))
    assert config.silver["loan_daily"].future_dates == "drop" and config.silver["attributes"].future_dates == "warn"


def test_an_unknown_future_dates_severity_is_refused(tmp_path):
    raw = base()
    raw["silver"]["loan_daily"]["future_dates"] = "ignore"
    with pytest.raises(ConfigError, match=r"silver\.loan_daily\.future_dates: 'ignore' not one of warn, drop, fail"):
        load_config(path=write(tmp_path, raw))


def test_not_future_date_is_a_reserved_rule_name(tmp_path):
    raw = base()
    raw["silver"]["loan_daily"]["rules"].append({"name": "not_future_date", "check": "true", "severity": "warn"})
    with pytest.raises(ConfigError, match=r"silver\.loan_daily\.rules\[\d+\]\.name: 'not_future_date' is already"):
        load_config(path=write(tmp_path, raw))


def test_a_silver_column_without_recipe_is_the_same_named_bronze_column_as_text(tmp_path):
    raw = base()
    raw["sources"]["feature_clickstream"]["required_columns"].append("channel")
    raw["silver"]["clickstream"]["columns"]["channel"] = None
    spec = next(c for c in load_config(path=write(tmp_path, raw)).silver["clickstream"].columns if c.name == "channel")
    assert (spec.source_column, spec.type, spec.validated) == ("channel", "string", False)


def test_rule_where_applies_to_check_and_references_only(tmp_path):
    raw = base()
    raw["silver"]["attributes"]["rules"][1]["where"] = "age > 18"  # unique_customer_id
    with pytest.raises(ConfigError, match=r"silver\.attributes\.rules\[1\] \(unique_customer_id\)\.where: applies to "
                                          r"check and references rules, not unique"):
        load_config(path=write(tmp_path, raw))
    raw = base()
    raw["silver"]["financials"]["rules"][2]["where"] = "annual_income > 0"  # known_customer
    raw["silver"]["financials"]["rules"][2]["references"]["where"] = "age >= 18"
    rule = next(r for r in load_config(path=write(tmp_path, raw)).silver["financials"].rules if r.name == "known_customer")
    assert (rule.where, rule.reference_where) == ("annual_income > 0", "age >= 18")
