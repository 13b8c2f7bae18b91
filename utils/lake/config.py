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
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from utils.lake.paths import PROJECT_ROOT  # noqa: E402  (resolved once, in utils.lake.paths)
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


SILVER_TYPES = ("string", "int", "long", "double", "boolean", "date", "array<string>")
SEVERITIES = ("warn", "drop", "fail")


@dataclass(frozen=True)
class ColumnSpec:
    """How one silver column is made from one bronze column (see conf/ comments)."""

    name: str
    source_column: str
    type: str = "string"
    trim: bool = True
    null_tokens: tuple[str, ...] = ()
    strip: str | None = None
    mapping: dict[str, str | None] | None = None
    parse: str | None = None  # duration_months | list
    date_formats: tuple[str, ...] = ("yyyy-MM-dd",)
    valid_range: tuple[float | None, float | None] | None = None
    fit_k: float | None = None  # Tukey fence factor of a fitted range
    pattern: str | None = None
    vocabulary: tuple[str, ...] | None = None
    on_invalid: str = "null"  # null | quarantine
    flag: str | None = None
    mask: str | None = None  # hmac_sha256
    description: str = ""

    @property
    def validated(self) -> bool:
        """Whether a present raw value can be judged unusable (and so needs a flag)."""
        return (
            self.type != "string" or self.valid_range is not None or self.fit_k is not None
            or self.pattern is not None or self.mapping is not None or self.vocabulary is not None
        )

    @property
    def flag_column(self) -> str:
        return self.flag or f"{self.name}_invalid"


@dataclass(frozen=True)
class RuleSpec:
    """A named quality rule with a severity (warn | drop | fail)."""

    name: str
    severity: str
    check: str | None = None
    unique: tuple[str, ...] | None = None
    references: tuple[str, tuple[str, ...]] | None = None  # (silver table, columns)
    description: str = ""


@dataclass(frozen=True)
class SilverTable:
    """A silver table: its bronze source, column recipes and rules."""

    name: str
    source: str
    columns: tuple[ColumnSpec, ...]
    rules: tuple[RuleSpec, ...]
    description: str = ""
    fit_window: tuple[str, str] | None = None
    fit_version: int = 1
    raw: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        return _hash(self.raw)


@dataclass(frozen=True)
class LabelDef:
    """A label: `dpd`+ days past due at month on book `mob`; features belong to the
    month `mob` months before the label's month (the application month)."""

    dpd: int
    mob: int
    description: str = ""

    @property
    def name(self) -> str:
        return f"{self.dpd}dpd_{self.mob}mob"


@dataclass(frozen=True)
class FeatureDef:
    """One feature: a SQL expression over an as-of source row, or a window aggregate."""

    name: str
    source: str
    description: str
    version: int = 1
    expr: str | None = None
    aggregate: str | None = None  # months | last | mean | slope
    column: str | None = None
    months: int | None = None


@dataclass(frozen=True)
class GoldSpec:
    """Population, point-in-time sources, labels, features and leakage settings."""

    population_table: str
    entity: str
    population_where: str | None
    sources: dict[str, tuple[str, str]]  # name -> (silver table, cutoff "<=" | "<")
    labels: tuple[LabelDef, ...]
    features: tuple[FeatureDef, ...]
    replay_cut: str | None
    max_single_feature_auc: float
    raw: dict[str, Any] = field(default_factory=dict)

    def fingerprint(self) -> str:
        return _hash(self.raw)


@dataclass(frozen=True)
class DomainConfig:
    """A validated domain: its sources, silver tables and Spark settings."""

    domain: str
    file: Path
    description: str
    sources: dict[str, Source]
    spark_conf: dict[str, str]
    raw: dict[str, Any]
    silver: dict[str, SilverTable] = field(default_factory=dict)
    gold: GoldSpec | None = None

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
    "silver": ("dict", False),
    "gold": ("dict", False),
}
_GOLD_KEYS: dict[str, tuple[str, bool]] = {
    "population": ("dict", True),
    "sources": ("dict", True),
    "labels": ("list", True),
    "features": ("list", True),
    "leakage": ("dict", False),
}
_FEATURE_KEYS: dict[str, tuple[str, bool]] = {
    "name": ("str", True),
    "source": ("str", True),
    "description": ("str", True),
    "version": ("int", False),
    "expr": ("str", False),
    "aggregate": ("str", False),
    "column": ("str", False),
    "months": ("int", False),
    "for_each": ("dict", False),
}
_SILVER_KEYS: dict[str, tuple[str, bool]] = {
    "source": ("str", True),
    "description": ("str", False),
    "columns": ("dict", True),
    "rules": ("list", False),
    "fit_window": ("dict", False),
    "fit_version": ("int", False),
}
_COLUMN_KEYS: dict[str, tuple[str, bool]] = {
    "from": ("str", False),
    "type": ("str", False),
    "trim": ("bool", False),
    "null_tokens": ("list[str]", False),
    "strip": ("str", False),
    "map": ("dict", False),
    "parse": ("str", False),
    "date_formats": ("list[str]", False),
    "valid_range": ("list", False),
    "fit_range": ("dict", False),
    "pattern": ("str", False),
    "vocabulary": ("list[str]", False),
    "on_invalid": ("str", False),
    "flag": ("str", False),
    "mask": ("str", False),
    "description": ("str", False),
}
_RULE_KEYS: dict[str, tuple[str, bool]] = {
    "name": ("str", True),
    "severity": ("str", True),
    "check": ("str", False),
    "unique": ("list[str]", False),
    "references": ("dict", False),
    "description": ("str", False),
}


def _kind_ok(value: Any, kind: str) -> bool:
    if kind == "str":
        return isinstance(value, str) and value != ""
    if kind == "dict":
        return isinstance(value, dict)
    if kind == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) and v for v in value)
    if kind == "list":
        return isinstance(value, list)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
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
            what = {
                "str": "a non-empty string", "dict": "a mapping", "list[str]": "a list of non-empty strings",
                "list": "a list", "bool": "true or false", "int": "an integer", "float": "a number",
            }[kind]
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
    silver = {
        name: _validate_silver(file, name, body, sources) for name, body in (raw.get("silver") or {}).items()
    }
    for table in silver.values():
        for rule in table.rules:
            if rule.references and rule.references[0] not in silver:
                raise ConfigError(
                    f"{file}: silver.{table.name}.rules.{rule.name}.references.table: "
                    f"no silver table {rule.references[0]!r}"
                )
    gold = _validate_gold(file, raw["gold"], silver) if raw.get("gold") else None
    return DomainConfig(
        gold=gold,
        silver=silver,
        domain=raw["domain"],
        file=file,
        description=raw.get("description", ""),
        sources=sources,
        spark_conf={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in spark_conf.items()},
        raw=raw,
    )


def _validate_silver(file: Path, name: str, body: Any, sources: dict[str, Source]) -> SilverTable:
    where = f"silver.{name}"
    _check_keys(file, where, body, _SILVER_KEYS)
    if body["source"] not in sources:
        raise ConfigError(f"{file}: {where}.source: no source {body['source']!r} (declared: {', '.join(sources)})")
    source = sources[body["source"]]
    columns = []
    for col, spec in body["columns"].items():
        columns.append(_validate_column(file, f"{where}.columns.{col}", col, spec or {}, source))
    names = [c.name for c in columns] + [c.flag_column for c in columns if c.validated]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{file}: {where}.columns: column name(s) {dupes} produced twice (flags included)")
    rules = []
    generated = {"well_formed_row", "valid_snapshot_date"}
    for c in columns:  # the cleaning rules a column generates (see utils.layers.silver.table_rules)
        generated |= {f"null_token_{c.name}"} if c.null_tokens else set()
        generated |= {f"decorated_{c.name}"} if c.strip else set()
        generated |= {f"valid_{c.name}"} if c.validated else set()
    for i, rule in enumerate(body.get("rules") or []):
        rules.append(_validate_rule(file, f"{where}.rules[{i}]", rule, [c.name for c in columns]))
        if rules[-1].name in generated or rules[-1].name in [r.name for r in rules[:-1]]:
            raise ConfigError(
                f"{file}: {where}.rules[{i}].name: {rules[-1].name!r} is already the name of another rule "
                "(built-in, generated from a column, or declared); rule names must be unique per table"
            )
    window = body.get("fit_window")
    if window is not None:
        if set(window) != {"start", "end"}:
            raise ConfigError(f"{file}: {where}.fit_window: expected keys start and end")
        window = (str(window["start"]), str(window["end"]))
    if any(c.fit_k is not None for c in columns) and window is None:
        raise ConfigError(f"{file}: {where}.fit_window: required when a column has fit_range")
    return SilverTable(
        name=name, source=body["source"], columns=tuple(columns), rules=tuple(rules),
        description=body.get("description", ""), fit_window=window,
        fit_version=body.get("fit_version", 1), raw=body,
    )


def _validate_column(file: Path, where: str, name: str, spec: Any, source: Source) -> ColumnSpec:
    _check_keys(file, where, spec, _COLUMN_KEYS)
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ConfigError(f"{file}: {where}: silver column names are lower snake_case")
    src = spec.get("from", name)
    if src not in source.required_columns:
        raise ConfigError(f"{file}: {where}.from: {src!r} is not a column of source {source.name}")
    ctype = spec.get("type", "string")
    if ctype not in SILVER_TYPES:
        raise ConfigError(f"{file}: {where}.type: {ctype!r} not one of {', '.join(SILVER_TYPES)}")
    parse = spec.get("parse")
    if parse not in (None, "duration_months", "list"):
        raise ConfigError(f"{file}: {where}.parse: {parse!r} not one of duration_months, list")
    if (parse == "list") != (ctype == "array<string>"):
        raise ConfigError(f"{file}: {where}: parse: list and type: array<string> go together")
    valid_range = spec.get("valid_range")
    if valid_range is not None:
        ok = len(valid_range) == 2 and all(v is None or isinstance(v, (int, float)) for v in valid_range)
        if not ok:
            raise ConfigError(f"{file}: {where}.valid_range: expected [min, max] numbers (null = open)")
        valid_range = tuple(valid_range)
    fit = spec.get("fit_range")
    if fit is not None and (set(fit) != {"k"} or not isinstance(fit["k"], (int, float))):
        raise ConfigError(f"{file}: {where}.fit_range: expected {{k: <number>}}")
    on_invalid = spec.get("on_invalid", "null")
    if on_invalid not in ("null", "quarantine"):
        raise ConfigError(f"{file}: {where}.on_invalid: {on_invalid!r} not one of null, quarantine")
    mask = spec.get("mask")
    if mask not in (None, "hmac_sha256"):
        raise ConfigError(f"{file}: {where}.mask: {mask!r} not one of hmac_sha256")
    mapping = spec.get("map")
    if mapping is not None:
        mapping = {str(k): (None if v is None else str(v)) for k, v in mapping.items()}
    if spec.get("pattern") is not None:
        try:
            re.compile(spec["pattern"])
        except re.error as exc:
            raise ConfigError(f"{file}: {where}.pattern: not a regular expression: {exc}") from exc
    return ColumnSpec(
        name=name, source_column=src, type=ctype, trim=spec.get("trim", True),
        null_tokens=tuple(spec.get("null_tokens", ())), strip=spec.get("strip"), mapping=mapping,
        parse=parse, date_formats=tuple(spec.get("date_formats", ("yyyy-MM-dd",))),
        valid_range=valid_range, fit_k=None if fit is None else float(fit["k"]),
        pattern=spec.get("pattern"),
        vocabulary=tuple(spec["vocabulary"]) if spec.get("vocabulary") else None,
        on_invalid=on_invalid, flag=spec.get("flag"), mask=mask, description=spec.get("description", ""),
    )


def _validate_gold(file: Path, body: Any, silver: dict[str, SilverTable]) -> GoldSpec:
    _check_keys(file, "gold", body, _GOLD_KEYS)
    pop = body["population"]
    _check_keys(file, "gold.population", pop, {
        "table": ("str", True), "entity": ("str", True), "where": ("str", False), "description": ("str", False)})
    if pop["table"] not in silver:
        raise ConfigError(f"{file}: gold.population.table: no silver table {pop['table']!r}")
    sources: dict[str, tuple[str, str]] = {}
    for name, src in body["sources"].items():
        where = f"gold.sources.{name}"
        _check_keys(file, where, src, {"table": ("str", True), "cutoff": ("str", False)})
        if src["table"] not in silver:
            raise ConfigError(f"{file}: {where}.table: no silver table {src['table']!r}")
        cutoff = src.get("cutoff", "<=")
        if cutoff not in ("<=", "<"):
            raise ConfigError(f"{file}: {where}.cutoff: {cutoff!r} not one of '<=', '<'")
        sources[name] = (src["table"], cutoff)
    labels = []
    for i, label in enumerate(body["labels"]):
        where = f"gold.labels[{i}]"
        _check_keys(file, where, label, {"dpd": ("int", True), "mob": ("int", True), "description": ("str", False)})
        if label["dpd"] <= 0 or label["mob"] <= 0:
            raise ConfigError(f"{file}: {where}: dpd and mob must be positive")
        labels.append(LabelDef(label["dpd"], label["mob"], label.get("description", "")))
    features: list[FeatureDef] = []
    for i, feat in enumerate(body["features"]):
        where = f"gold.features[{i}]"
        _check_keys(file, where, feat, _FEATURE_KEYS)
        for expanded in _expand(file, where, feat):
            features.append(_validate_feature(file, f"{where} ({expanded['name']})", expanded, sources))
    names = [f.name for f in features]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{file}: gold.features: duplicate feature name(s) {dupes}")
    leakage = body.get("leakage") or {}
    _check_keys(file, "gold.leakage", leakage, {
        "replay_cut": ("str", False), "max_single_feature_auc": ("float", False)})
    return GoldSpec(
        population_table=pop["table"], entity=pop["entity"], population_where=pop.get("where"),
        sources=sources, labels=tuple(labels), features=tuple(features),
        replay_cut=str(leakage["replay_cut"]) if leakage.get("replay_cut") else None,
        max_single_feature_auc=float(leakage.get("max_single_feature_auc", 0.95)), raw=body,
    )


def _expand(file: Path, where: str, feat: dict) -> list[dict]:
    """A feature with `for_each: {key: [values...], ...}` stands for one feature per
    position, with {key} replaced in its name, expr, column and description."""
    loops = feat.get("for_each")
    if not loops:
        return [feat]
    lengths = {len(v) for v in loops.values() if isinstance(v, list)}
    if len(lengths) != 1 or not all(isinstance(v, list) for v in loops.values()):
        raise ConfigError(f"{file}: {where}.for_each: expected lists of equal length")
    out = []
    for i in range(lengths.pop()):
        values = {k: str(v[i]) for k, v in loops.items()}
        item = {k: v for k, v in feat.items() if k != "for_each"}
        for key in ("name", "expr", "column", "description"):
            if isinstance(item.get(key), str):
                item[key] = item[key].format(**values)
        out.append(item)
    return out


def _validate_feature(file: Path, where: str, feat: dict, sources: dict) -> FeatureDef:
    if feat["source"] not in sources:
        raise ConfigError(f"{file}: {where}.source: {feat['source']!r} not in gold.sources")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", feat["name"]):
        raise ConfigError(f"{file}: {where}.name: feature names are lower snake_case")
    if ("expr" in feat) == ("aggregate" in feat):
        raise ConfigError(f"{file}: {where}: give exactly one of expr, aggregate")
    aggregate = feat.get("aggregate")
    if aggregate is not None:
        if aggregate not in ("months", "last", "mean", "slope"):
            raise ConfigError(f"{file}: {where}.aggregate: {aggregate!r} not one of months, last, mean, slope")
        if aggregate != "months" and "column" not in feat:
            raise ConfigError(f"{file}: {where}.column: required with aggregate {aggregate}")
        if aggregate in ("mean", "slope") and not feat.get("months"):
            raise ConfigError(f"{file}: {where}.months: required with aggregate {aggregate}")
    return FeatureDef(
        name=feat["name"], source=feat["source"], description=feat["description"],
        version=feat.get("version", 1), expr=feat.get("expr"), aggregate=aggregate,
        column=feat.get("column"), months=feat.get("months"),
    )


def _validate_rule(file: Path, where: str, rule: Any, columns: list[str]) -> RuleSpec:
    _check_keys(file, where, rule, _RULE_KEYS)
    where = f"{where} ({rule['name']})"
    if rule["severity"] not in SEVERITIES:
        raise ConfigError(f"{file}: {where}.severity: {rule['severity']!r} not one of {', '.join(SEVERITIES)}")
    kinds = [k for k in ("check", "unique", "references") if k in rule]
    if len(kinds) != 1:
        raise ConfigError(f"{file}: {where}: give exactly one of check, unique, references")
    known = set(columns) | {"snapshot_date"}
    for key in ("unique",):
        bad = [c for c in rule.get(key, []) if c not in known]
        if bad:
            raise ConfigError(f"{file}: {where}.{key}: unknown column(s) {bad}")
    references = None
    if "references" in rule:
        ref = rule["references"]
        if set(ref) != {"table", "columns"} or not _kind_ok(ref["columns"], "list[str]"):
            raise ConfigError(f"{file}: {where}.references: expected {{table: <silver table>, columns: [...]}}")
        bad = [c for c in ref["columns"] if c not in known]
        if bad:
            raise ConfigError(f"{file}: {where}.references.columns: unknown column(s) {bad}")
        references = (ref["table"], tuple(ref["columns"]))
    return RuleSpec(
        name=rule["name"], severity=rule["severity"], check=rule.get("check"),
        unique=tuple(rule["unique"]) if "unique" in rule else None, references=references,
        description=rule.get("description", ""),
    )


# --------------------------------------------------------------------------- loading


def apply_override(raw: dict[str, Any], assignment: str, file: Path) -> None:
    """Apply one ``dotted.key=value`` override in place; the value is parsed as YAML."""
    key, sep, text = assignment.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{file}: override {assignment!r}: expected KEY=VALUE")
    parts = key.strip().split(".")
    if parts[0] == "spark" and len(parts) > 2:  # Spark's own keys hold dots: spark.spark.sql.x=1
        parts = ["spark", ".".join(parts[1:])]
        raw.setdefault("spark", {})
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
