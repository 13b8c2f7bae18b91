"""Domain configuration: `conf/<domain>.yaml`, validated on load.

The YAML declares each source (file, CSV options, date column and accepted formats,
keys, personal-data columns) and the Spark settings of the domain. Validation is
strict: an unknown key, a missing required key or a value of the wrong type raises
:class:`ConfigError` naming the file and the dotted key, e.g.
``conf/loan_default.yaml: sources.features_attributes.date_formats: expected a list of
strings, got int``. Overrides (``--set key=value``) are applied before validation, so
they are checked the same way.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = PROJECT_ROOT / "conf"

#: CSV options of the parser; anything else is refused. Files are read as UTF-8 (a
#: byte-order mark is tolerated); `comment` skips lines that start with that character.
CSV_OPTIONS = {"sep", "quote", "escape", "comment"}
DEFAULT_CSV_OPTIONS = {"sep": ",", "quote": '"', "escape": '"'}


class ConfigError(ValueError):
    """The configuration is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class Source:
    """One raw source: a CSV file whose rows land in `bronze/<name>`."""

    name: str
    path: str
    date_column: str
    date_formats: tuple[str, ...]
    required_columns: tuple[str, ...]
    keys: tuple[str, ...] = ()
    personal_data: tuple[str, ...] = ()
    csv: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CSV_OPTIONS))
    description: str = ""

    def resolve(self, data_root: Path) -> Path:
        """The file's location: an absolute `path` as is, else under `data_root`."""
        p = Path(self.path).expanduser()
        return p if p.is_absolute() else Path(data_root) / p

    def fingerprint(self) -> str:
        """Hash of everything that decides how the file is read into bronze."""
        body = {
            "date_column": self.date_column,
            "date_formats": list(self.date_formats),
            "csv": self.csv,
            "required_columns": list(self.required_columns),
        }
        return _hash(body)


@dataclass(frozen=True)
class DomainConfig:
    """A validated domain: its sources and Spark settings."""

    domain: str
    file: Path
    description: str
    sources: dict[str, Source]
    spark_conf: dict[str, str]
    raw: dict[str, Any]

    @property
    def config_hash(self) -> str:
        return _hash(self.raw)


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- schema

_SOURCE_KEYS: dict[str, tuple[str, bool]] = {
    # key: (kind, required)
    "path": ("str", True),
    "format": ("str", False),
    "description": ("str", False),
    "csv": ("dict", False),
    "date_column": ("str", True),
    "date_formats": ("list[str]", True),
    "required_columns": ("list[str]", True),
    "keys": ("list[str]", False),
    "personal_data": ("list[str]", False),
}
_TOP_KEYS: dict[str, tuple[str, bool]] = {
    "domain": ("str", True),
    "description": ("str", False),
    "sources": ("dict", True),
    "spark": ("dict", False),
}


def _kind_ok(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str) and value != ""
    if kind == "dict":
        return isinstance(value, dict)
    if kind == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) and v for v in value)
    raise AssertionError(kind)


def _check_keys(file: Path, where: str, data: Any, spec: dict[str, tuple[str, bool]]) -> None:
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: {where or 'top level'}: expected a mapping, got {type(data).__name__}")
    prefix = f"{where}." if where else ""
    for key in data:
        if key not in spec:
            raise ConfigError(
                f"{file}: {prefix}{key}: unknown key (allowed: {', '.join(sorted(spec))})"
            )
    for key, (kind, required) in spec.items():
        if key not in data:
            if required:
                raise ConfigError(f"{file}: {prefix}{key}: required key is missing")
            continue
        if not _kind_ok(data[key], kind):
            got = type(data[key]).__name__
            what = {"str": "a non-empty string", "dict": "a mapping", "list[str]": "a list of non-empty strings"}[kind]
            raise ConfigError(f"{file}: {prefix}{key}: expected {what}, got {got} {data[key]!r}")


def _validate(file: Path, raw: dict[str, Any]) -> DomainConfig:
    _check_keys(file, "", raw, _TOP_KEYS)
    if not raw["sources"]:
        raise ConfigError(f"{file}: sources: declare at least one source")
    sources: dict[str, Source] = {}
    for name, body in raw["sources"].items():
        where = f"sources.{name}"
        _check_keys(file, where, body, _SOURCE_KEYS)
        if body.get("format", "csv") != "csv":
            raise ConfigError(f"{file}: {where}.format: only 'csv' is supported, got {body['format']!r}")
        csv_opts = dict(DEFAULT_CSV_OPTIONS)
        for key, value in (body.get("csv") or {}).items():
            if key not in CSV_OPTIONS:
                raise ConfigError(f"{file}: {where}.csv.{key}: unknown CSV option (allowed: {', '.join(sorted(CSV_OPTIONS))})")
            if not isinstance(value, str):
                raise ConfigError(f"{file}: {where}.csv.{key}: expected a string, got {type(value).__name__}")
            csv_opts[key] = value
        required = body["required_columns"]
        for key in ("date_column",):
            if body[key] not in required:
                raise ConfigError(f"{file}: {where}.{key}: {body[key]!r} must be one of required_columns")
        for key in ("keys", "personal_data"):
            unknown = [c for c in body.get(key, []) if c not in required]
            if unknown:
                raise ConfigError(f"{file}: {where}.{key}: {unknown} not in required_columns")
        sources[name] = Source(
            name=name,
            path=body["path"],
            date_column=body["date_column"],
            date_formats=tuple(body["date_formats"]),
            required_columns=tuple(required),
            keys=tuple(body.get("keys", [])),
            personal_data=tuple(body.get("personal_data", [])),
            csv=csv_opts,
            description=body.get("description", ""),
        )
    spark_conf = raw.get("spark") or {}
    bad = [k for k, v in spark_conf.items() if not isinstance(v, (str, int, float, bool))]
    if bad:
        raise ConfigError(f"{file}: spark.{bad[0]}: expected a scalar value")
    return DomainConfig(
        domain=raw["domain"],
        file=file,
        description=raw.get("description", ""),
        sources=sources,
        spark_conf={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in spark_conf.items()},
        raw=raw,
    )


# --------------------------------------------------------------------------- loading


def apply_override(raw: dict[str, Any], assignment: str, file: Path) -> None:
    """Apply one ``dotted.key=value`` override in place; the value is parsed as YAML."""
    key, sep, text = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{file}: override {assignment!r}: expected KEY=VALUE")
    parts = key.strip().split(".")
    node = raw
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"{file}: override {key}: no key {'.'.join(parts[: i + 1])!r} in the configuration")
        node = node[part]
    if not isinstance(node, dict):
        raise ConfigError(f"{file}: override {key}: {'.'.join(parts[:-1])!r} is not a mapping")
    node[parts[-1]] = yaml.safe_load(text)


def load_config(
    domain: str = "loan_default",
    *,
    path: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
) -> DomainConfig:
    """Load and validate `conf/<domain>.yaml` (or `path`), with ``key=value`` overrides."""
    file = Path(path) if path else CONF_DIR / f"{domain}.yaml"
    if not file.is_file():
        known = sorted(p.stem for p in CONF_DIR.glob("*.yaml"))
        raise ConfigError(f"{file}: no such configuration file (domains in conf/: {', '.join(known) or 'none'})")
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: not valid YAML: {exc}".replace("\n", " ")) from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: top level: expected a mapping")
    raw = copy.deepcopy(raw)
    for assignment in overrides:
        apply_override(raw, assignment, file)
    return _validate(file, raw)
