"""Domain configuration: `conf/<domain>.yaml`, validated on load.

The YAML declares each source (a file, a glob of dated drops or a REST API; its format
and reading options; date column and accepted formats; keys; personal-data columns),
the silver recipes and rules, the gold population, features and labels, and the Spark
settings of the domain. Its schema is :mod:`utils.lake.config_schema` (pydantic models,
also written as `conf/schema.json` for editors). Validation is strict: an unknown key, a
missing required key, a value of the wrong type or an inconsistent combination raises
:class:`ConfigError` with one line naming the file, the dotted key and the problem, e.g.
``conf/loan_default.yaml: sources.features_attributes.date_formats: expected a list of
non-empty strings, got str 'yyyy-MM-dd'``. Overrides (``--set key=value``) are applied
before validation, so they are checked the same way.

:func:`load_config` returns the frozen dataclasses below, which the rest of the code uses
(and builds directly in tests). Hashes (``config_hash``, ``fingerprint()``) are computed
from the YAML's own dicts, so they do not depend on how this module validates. The schema
file is regenerated or checked with::

    python -m utils.lake.config --schema | --write-schema | --check-schema
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from utils.lake.config_schema import (  # noqa: F401  (the constants are re-exported)
    FORMATS, PAGINATIONS, SEVERITIES, SILVER_TYPES, ColumnModel, CsvModel, DomainModel, GoldModel, LeakageModel,
    RuleModel, SilverModel, SourceModel, first_problem, json_schema,
)
from utils.lake.config_monitor import MonitoringSpec
from utils.lake.gold_spec import (  # noqa: F401  (re-exported: the code imports them from here)
    BuiltTable, FeatureDef, GoldBuilderSpec, GoldSpec, LabelDef, RecommendSpec, SimilaritySpec, gold_builder_spec,
    gold_spec, stable_hash as _hash)
from utils.lake.paths import PROJECT_ROOT  # noqa: E402  (resolved once, in utils.lake.paths)
CONF_DIR = PROJECT_ROOT / "conf"
SCHEMA_FILE = CONF_DIR / "schema.json"

log = logging.getLogger(__name__)

#: The string options of the CSV parser, kept in `Source.csv`; `comment` skips lines that
#: start with that character. Other CSV keys (header, encoding, ...) are `Source` fields.
CSV_OPTIONS = {"sep", "quote", "escape", "comment"}
DEFAULT_CSV_OPTIONS = {"sep": ",", "quote": '"', "escape": '"'}
#: Rules every silver table has, whose names a declared rule may not take.
BUILTIN_RULES = ("well_formed_row", "valid_snapshot_date", "not_future_date")


class ConfigError(ValueError):
    """The configuration is invalid; the message names the file and the key."""


# --------------------------------------------------------------------------- what the code uses


@dataclass(frozen=True)
class ApiSource:
    """A REST endpoint whose JSON pages are landed byte for byte (DESIGN §11)."""

    url: str  # http(s)://... or demo://<domain>/<source>
    records: str = "data"
    pagination: str = "none"  # none | page | offset | cursor | link
    page_size: int = 100
    params: dict[str, str] = field(default_factory=dict)
    incremental_param: str | None = None
    incremental_field: str | None = None
    auth_header: str | None = None
    auth_env: str | None = None
    auth_prefix: str = ""
    timeout_s: float = 10.0
    max_attempts: int = 6


#: Reading options of a source and their defaults; a fingerprint holds only those that differ.
_READ_DEFAULTS: dict[str, Any] = {
    "format": "csv", "header": True, "columns": None, "encoding": "utf-8", "whitespace": False,
    "multiline": False, "json_record_path": "", "json_fields": {}, "snapshot_grain": "day",
}


@dataclass(frozen=True)
class Source:
    """One raw source: a file, a glob of dated drops or a REST API whose records land, as
    text, in `bronze/<name>`; `path` is None exactly when `api` is set."""

    name: str
    path: str | None
    date_column: str
    date_formats: tuple[str, ...]
    required_columns: tuple[str, ...]
    keys: tuple[str, ...] = ()
    personal_data: tuple[str, ...] = ()
    csv: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_CSV_OPTIONS))
    description: str = ""
    format: str = "csv"  # csv | jsonl | json | parquet
    api: ApiSource | None = None
    header: bool = True
    columns: tuple[str, ...] | None = None  # the field names of a file without header line
    encoding: str = "utf-8"
    whitespace: bool = False  # fields separated by runs of spaces/tabs (sep ignored)
    multiline: bool = False  # quoted fields may span lines
    json_record_path: str = ""
    json_fields: dict[str, str] = field(default_factory=dict)  # bronze column -> dotted path
    optional_columns: tuple[str, ...] = ()  # held by some deliveries only (schema drift)
    snapshot_grain: str = "day"  # day | month (snapshot_date truncated to the first of its month)

    @property
    def is_glob(self) -> bool:
        """Whether `path` is a pattern of several files (holds * ? or [)."""
        return self.path is not None and any(ch in self.path for ch in "*?[")

    def resolve(self, data_root: Path) -> Path:
        """The file's (or glob's) location: an absolute `path` as is, else under `data_root`."""
        if self.path is None:
            raise ValueError(f"source {self.name} is read from an API, not a path")
        p = Path(self.path).expanduser()
        return p if p.is_absolute() else Path(data_root) / p

    def fingerprint(self) -> str:
        """Hash of everything that decides how the file is read into bronze; reading options
        at their defaults are left out, so adding an option never changes older hashes."""
        body: dict[str, Any] = {
            "date_column": self.date_column,
            "date_formats": list(self.date_formats),
            "csv": self.csv,
            "required_columns": list(self.required_columns),
        }
        for key, default in _READ_DEFAULTS.items():
            value = getattr(self, key)
            if value != default:
                body[key] = list(value) if isinstance(value, tuple) else value
        if self.api is not None:
            body["api_records"] = self.api.records
        return _hash(body)


@dataclass(frozen=True)
class ColumnSpec:
    """How one silver column is made from one bronze column (see conf/ comments)."""

    name: str
    source_column: str
    type: str = "string"
    fallback_columns: tuple[str, ...] = ()  # read when source_column holds no value (renamed in later deliveries)
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
    derive: str | None = None  # SQL over the cleaned value (the column's name) and snapshot_date; replaces it
    description: str = ""
    decimal_separator: str = "."  # numeric text written 12345,6 when ","
    time_zone: str | None = None  # timestamp text is wall-clock time of this zone (converted to UTC)
    repeated_hour: tuple[str, ...] = ()  # series columns: a repeated local hour's 2nd row is the later instant

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
    where: str | None = None  # the rows the rule applies to (check, references)
    reference_where: str | None = None  # the referenced rows that count


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
    future_dates: str = "warn"  # severity of the built-in rule not_future_date

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
    gold: GoldSpec | None = None  # the generic engine's feature and label stores
    monitoring: MonitoringSpec | None = None  # the monitoring: section (None: no alert rules)
    #: gold.builder: the domain's own gold tables (then `gold` is None: no feature or label store)
    gold_builder: GoldBuilderSpec | None = None

    @property
    def config_hash(self) -> str:
        return _hash(self.raw)



# --------------------------------------------------------------------------- building


def _source(name: str, doc: SourceModel) -> Source:
    """The source `name` as bronze sees it; `csv` keeps the four string options as before."""
    csv = doc.csv or CsvModel()
    given = doc.csv.model_dump(include=CSV_OPTIONS, exclude_unset=True) if doc.csv else {}
    api = None
    if doc.api is not None:
        a, inc, auth = doc.api, doc.api.incremental, doc.api.auth
        api = ApiSource(
            url=a.url, records=a.records, pagination=a.pagination, page_size=a.page_size, params=dict(a.params),
            incremental_param=inc and inc.param, incremental_field=inc and inc.field,
            auth_header=auth and auth.header, auth_env=auth and auth.env, auth_prefix=auth.prefix if auth else "",
            timeout_s=a.timeout_s, max_attempts=a.max_attempts,
        )
    return Source(
        name=name, path=doc.path, date_column=doc.date_column, date_formats=tuple(doc.date_formats),
        required_columns=tuple(doc.required_columns), keys=tuple(doc.keys), personal_data=tuple(doc.personal_data),
        csv={**DEFAULT_CSV_OPTIONS, **given}, description=doc.description or "", format=doc.format, api=api,
        header=csv.header, columns=tuple(csv.columns) if csv.columns else None, encoding=csv.encoding,
        whitespace=csv.whitespace, multiline=csv.multiline,
        # an API source's landed pages hold their records where the API puts them
        json_record_path=(doc.json_options.record_path if doc.json_options and doc.json_options.record_path
                          else (api.records if api is not None else "")),
        json_fields=dict(doc.json_options.fields) if doc.json_options else {},
        optional_columns=tuple(doc.optional_columns), snapshot_grain=doc.snapshot_grain,
    )


def _first(names: str | list[str] | None) -> str | None:
    return names[0] if isinstance(names, list) else names


def _column(name: str, doc: ColumnModel) -> ColumnSpec:
    """The silver column `name` as the cleaning code sees it (map keys and values as text)."""
    mapping = None if doc.mapping is None else {str(k): None if v is None else str(v) for k, v in doc.mapping.items()}
    return ColumnSpec(
        name=name, source_column=_first(doc.source_column) or name, type=doc.type, trim=doc.trim,
        fallback_columns=tuple(doc.source_column[1:]) if isinstance(doc.source_column, list) else (),
        null_tokens=tuple(doc.null_tokens), strip=doc.strip, mapping=mapping, parse=doc.parse,
        date_formats=tuple(doc.date_formats), valid_range=None if doc.valid_range is None else tuple(doc.valid_range),
        fit_k=None if doc.fit_range is None else float(doc.fit_range.k), pattern=doc.pattern,
        vocabulary=tuple(doc.vocabulary) if doc.vocabulary else None, on_invalid=doc.on_invalid,
        flag=doc.flag, mask=doc.mask, derive=doc.derive, description=doc.description or "",
        decimal_separator=doc.decimal_separator, time_zone=doc.time_zone, repeated_hour=tuple(doc.repeated_hour or ()),
    )


def denial_check(equal: list[str], different: list[str]) -> str:
    """The SQL predicate of a denial constraint "no two rows with equal `equal` and
    different `different`": true when the row's group holds one distinct value (a
    window over the rows evaluated together)."""
    def quote(c: str) -> str:
        return "`" + c.replace("`", "``") + "`"
    values = ", ".join(quote(c) for c in different)
    return f"size(collect_set(struct({values})) over (partition by {', '.join(quote(c) for c in equal)})) <= 1"


def _rule(doc: RuleModel) -> RuleSpec:
    ref = doc.references
    if doc.denial is not None:  # evaluated as the check it stands for
        equal, different = list(doc.denial.equal), list(doc.denial.different)
        return RuleSpec(name=doc.name, severity=doc.severity, check=denial_check(equal, different), where=doc.where,
                        description=doc.description or (f"two rows with the same {', '.join(equal)} and different "
                                                        f"{', '.join(different)}"))
    return RuleSpec(
        name=doc.name, severity=doc.severity, check=doc.check, unique=None if doc.unique is None else tuple(doc.unique),
        references=None if ref is None else (ref.table, tuple(ref.columns)), description=doc.description or "",
        where=doc.where, reference_where=None if ref is None else ref.where,
    )


def _silver(file: Path, name: str, doc: SilverModel, raw: dict[str, Any]) -> SilverTable:
    """The silver table `name`; `raw` (its YAML) is what its fingerprint hashes. Checked here,
    as they need the built columns: no output column (flags included) is produced twice, and
    no declared rule takes the name of a built-in rule, a column's generated rule or another."""
    where = f"{file}: silver.{name}"
    columns = [_column(col, spec) for col, spec in doc.columns.items()]
    names = [c.name for c in columns] + [c.flag_column for c in columns if c.validated]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{where}.columns: column name(s) {dupes} produced twice (flags included)")
    taken = set(BUILTIN_RULES)
    for c in columns:  # the cleaning rules a column generates (see utils.layers.silver.table_rules)
        taken |= {f"null_token_{c.name}"} if c.null_tokens else set()
        taken |= {f"decorated_{c.name}"} if c.strip else set()
        taken |= {f"valid_{c.name}"} if c.validated else set()
    for i, rule in enumerate(doc.rules):
        if rule.name in taken:
            raise ConfigError(f"{where}.rules[{i}].name: {rule.name!r} is already the name of another rule (built-in, "
                              "generated from a column, or declared); rule names must be unique per table")
        taken.add(rule.name)
    window = doc.fit_window
    return SilverTable(
        name=name, source=doc.source, columns=tuple(columns), rules=tuple(_rule(r) for r in doc.rules),
        description=doc.description or "", fit_window=None if window is None else (window.start, window.end),
        fit_version=doc.fit_version, raw=raw, future_dates=doc.future_dates,
    )


def _build(file: Path, raw: dict[str, Any], doc: DomainModel) -> DomainConfig:
    """The domain as the code uses it, from the validated model and the YAML it came from."""
    return DomainConfig(
        domain=doc.domain, file=file, description=doc.description or "",
        sources={name: _source(name, s) for name, s in doc.sources.items()},
        spark_conf={k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in doc.spark.items()},
        raw=raw, silver={name: _silver(file, name, t, raw["silver"][name]) for name, t in doc.silver.items()},
        gold=gold_spec(doc.gold, raw["gold"]) if doc.gold is not None and doc.gold.builder is None else None,
        gold_builder=gold_builder_spec(doc.gold, raw["gold"]) if doc.gold is not None and doc.gold.builder else None,
        monitoring=doc.monitoring.spec() if doc.monitoring is not None else None,
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
    try:
        doc = DomainModel.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{file}: {first_problem(exc)}") from exc
    return _build(file, raw, doc)


# --------------------------------------------------------------------------- JSON Schema


def main(argv: list[str] | None = None) -> int:
    """Print, write or check conf/schema.json; 1 when --check-schema finds it out of date."""
    parser = argparse.ArgumentParser(prog="python -m utils.lake.config",
                                     description="The JSON Schema of conf/<domain>.yaml, from the pydantic models.")
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--schema", action="store_true", help="print it")
    what.add_argument("--write-schema", action="store_true", help="write conf/schema.json")
    what.add_argument("--check-schema", action="store_true", help="exit 1 when that file is out of date")
    args = parser.parse_args(argv)
    schema = json_schema()
    text = json.dumps(schema, indent=2, ensure_ascii=False) + "\n"
    if args.schema:
        sys.stdout.write(text)
    elif args.write_schema:
        SCHEMA_FILE.write_text(text, encoding="utf-8")
        log.info("wrote %s", SCHEMA_FILE)
    elif not SCHEMA_FILE.is_file() or json.loads(SCHEMA_FILE.read_text(encoding="utf-8")) != schema:
        log.error("%s is out of date; run `python -m utils.lake.config --write-schema`", SCHEMA_FILE)
        return 1
    else:
        log.info("%s is up to date", SCHEMA_FILE)
    return 0


if __name__ == "__main__":
    from utils.lake.logs import configure

    configure()
    sys.exit(main())
