"""conf/schema.json is the JSON Schema of the domain YAML, generated from the pydantic models."""

from __future__ import annotations

import json

import pytest
import yaml

from utils.lake import config
from utils.lake.config import CONF_DIR, SCHEMA_FILE, json_schema

REGENERATE = "python -m utils.lake.config --write-schema"


def test_committed_schema_is_the_one_the_models_generate():
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == json_schema(), f"conf/schema.json is out of date; run `{REGENERATE}` and commit it"


def test_loan_default_yaml_points_editors_at_the_schema():
    first = (CONF_DIR / "loan_default.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=schema.json"


def test_loan_default_yaml_validates_against_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    raw = yaml.safe_load((CONF_DIR / "loan_default.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(json.loads(json.dumps(raw, default=str)), json_schema())  # YAML dates are text to an editor


def test_the_schema_refuses_an_unknown_key_as_the_loader_does():
    jsonschema = pytest.importorskip("jsonschema")
    raw = json.loads(json.dumps(yaml.safe_load((CONF_DIR / "loan_default.yaml").read_text()), default=str))
    raw["sources"]["features_attributes"]["date_fromats"] = ["yyyy-MM-dd"]
    with pytest.raises(jsonschema.ValidationError, match="date_fromats"):
        jsonschema.validate(raw, json_schema())


def test_every_key_of_the_schema_has_a_description_for_editors():
    schema = json_schema()
    models = {"DomainModel": schema, **schema["$defs"]}
    missing = [f"{model}.{key}" for model, body in models.items()
               for key, prop in body["properties"].items() if not prop.get("description")]
    assert missing == []


def test_check_schema_exits_1_when_the_file_is_out_of_date(tmp_path, monkeypatch):
    monkeypatch.setattr(config, "SCHEMA_FILE", tmp_path / "schema.json")
    assert config.main(["--check-schema"]) == 1
    assert config.main(["--write-schema"]) == 0
    assert config.main(["--check-schema"]) == 0


def test_schema_command_prints_the_schema(capsys):
    assert config.main(["--schema"]) == 0
    assert json.loads(capsys.readouterr().out) == json_schema()
