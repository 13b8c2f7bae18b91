"""The schema of `conf/<domain>.yaml`, as pydantic models: every key, its type, default,
description and the rules between keys. It only validates; :func:`utils.lake.config.load_config`
turns a validated :class:`DomainModel` into the dataclasses the code uses, and
:func:`json_schema` gives `conf/schema.json` (``python -m utils.lake.config --write-schema``).

A problem is raised as a pydantic error of type ``config`` whose ``ctx`` holds the message
and a ``key`` to append to the error's location (".date_column", " (rule_name).unique"),
so that `utils.lake.config` reports it as one line: ``<file>: <dotted key>: <problem>``.
Values are never coerced (strict mode): YAML's own types are what the user wrote.
"""

from __future__ import annotations

import codecs
import re
import zoneinfo
from typing import Any, ClassVar, Optional

from pydantic import (ConfigDict, Field, ValidationError, field_validator, model_validator)

from utils.lake.config_gold import GoldModel, LeakageModel  # noqa: F401  (LeakageModel re-exported)
from utils.lake.config_monitor import MonitoringModel
from utils.lake.config_types import (  # noqa: F401  (the constants are re-exported)
    FORMATS, PAGINATIONS, SEVERITIES, SILVER_TYPES, _SNAKE, AnyText, Count, DateText, Flag, Format, Number, Pagination,
    PositiveCount, PositiveNumber, Range, Scalar, Severity, SilverType, Text, Texts, _choice, _kind, _Model, _NonEmpty,
    _problem, _shown,
)

# --------------------------------------------------------------------------- sources


class IncrementalModel(_Model):
    """Incremental fetch: the highest `field` landed so far is sent as query parameter `param`."""

    param: Text = Field(description="Query parameter carrying the cursor, e.g. updated_since.")
    field: Text = Field(description="Dotted path of the record field whose maximum is the next cursor, "
                        "e.g. updated_at.")


class AuthModel(_Model):
    """A request header carrying a secret read from an environment variable, never from YAML."""

    header: Text = Field("Authorization", description="Header name.")
    env: Text = Field(description="Environment variable holding the secret, e.g. CHURN_API_TOKEN.")
    prefix: AnyText = Field("", description='Text before the secret, e.g. "Bearer ".')


class ApiModel(_Model):
    """A REST endpoint whose JSON pages are landed as they come (format must be json)."""

    url: Text = Field(description="http(s)://... or demo://<domain>/<source> (the shipped demo server, in-process).")
    records: AnyText = Field("data", description='Dotted path of the records array in each page ("" = the page '
                             'is the array).')
    pagination: Pagination = Field("none", description="none | page | offset | cursor | link (the Link header).")
    page_size: PositiveCount = Field(100, description="Records asked for per page.")
    params: dict[str, AnyText] = Field({}, description="Fixed query parameters (strings).")
    incremental: IncrementalModel = Field(None, description="Fetch only records updated since the last landed "
                                          "delivery.")
    auth: AuthModel = Field(None, description="Authentication header; the secret comes from an environment variable.")
    timeout_s: PositiveNumber = Field(10.0, description="Timeout of one request, in seconds.")
    max_attempts: PositiveCount = Field(6, description="Attempts per page (retries on errors, 429 and 5xx).")

    @field_validator("url")
    @classmethod
    def _http_or_demo(cls, url: str) -> str:
        if not re.fullmatch(r"https?://\S+|demo://[\w.-]+/[\w.-]+", url):
            raise _problem("", f"expected http(s)://... or demo://<domain>/<source>, got {url!r}")
        return url


class CsvModel(_Model):
    """How a delimited text file splits into fields (every field lands in bronze as text)."""

    unknown_key_message: ClassVar[str] = "unknown CSV option"
    sep: AnyText = Field(",", description="Field separator.")
    quote: AnyText = Field('"', description="Quote character.")
    escape: AnyText = Field('"', description='Escape character inside quotes; \'"\' reads RFC-4180 doubled quotes.')
    comment: AnyText = Field(None, description="Lines starting with this character are skipped.")
    header: Flag = Field(True, description="false: the file has no header line; `columns` names the fields.")
    columns: Texts = Field(None, description="Field names of a file without header line (required when header "
                           "is false).")
    encoding: Text = Field("utf-8", description="Text encoding: any Python codec name (utf-8, latin-1, cp1252, ...).")
    whitespace: Flag = Field(False, description="true: fields are separated by runs of spaces/tabs (sep is ignored).")
    multiline: Flag = Field(False, description="true: quoted fields may span lines.")

    @field_validator("encoding")
    @classmethod
    def _known_codec(cls, name: str) -> str:
        try:
            codecs.lookup(name)
        except LookupError:
            raise _problem("", f"unknown codec {name!r} (any Python codec name, e.g. utf-8, latin-1)") from None
        return name

    @model_validator(mode="after")
    def _columns_only_without_header(self) -> CsvModel:
        if not self.header and not self.columns:
            raise _problem(".columns", "required when header is false (nothing else names the fields)")
        if self.header and self.columns is not None:
            raise _problem(".columns", "only with header: false (the header line names the fields)")
        if self.columns and len(set(self.columns)) != len(self.columns):
            dupes = sorted({c for c in self.columns if self.columns.count(c) > 1})
            raise _problem(".columns", f"duplicate name(s) {dupes}")
        return self


class JsonModel(_Model):
    """Where the records are in each JSON document, and which fields become bronze columns."""

    record_path: AnyText = Field("", description='Dotted path of the records array ("" = the document is the '
                                 'array, or one record).')
    fields: dict[str, Text] = Field({}, description="bronze column -> dotted path of a nested field; unset: the "
                                    "top-level keys, nested objects kept as JSON text.")


class SourceModel(_Model):
    """One raw source (exactly one of path, api), whose records land as text in bronze/<name>."""

    description: Text = Field(None, description="What one record is.")
    format: Format = Field("csv", description="csv | jsonl | json | parquet.")
    path: Text = Field(None, description="A file or a glob of dated drops (crm/customers_*.csv), relative to "
                       "--data-root or absolute.")
    api: ApiModel = Field(None, description="Instead of path: a REST endpoint whose JSON pages are landed.")
    csv: CsvModel = Field(None, description="Options of format csv.")
    json_options: JsonModel = Field(None, alias="json", description="Options of formats json and jsonl.")
    date_column: Text = Field(description="The column that becomes the snapshot_date partition.")
    date_formats: Texts = Field(description="Spark datetime patterns of date_column; the first that fits wins.")
    required_columns: Texts = Field(description="Columns every delivery must hold (others are kept, with a warning).")
    keys: Texts = Field([], description="Columns that identify a row (checked from silver on).")
    personal_data: Texts = Field([], description="Columns that never leave bronze in clear text.")
    optional_columns: Texts = Field([], description="Columns only some deliveries hold (schema drift: a column "
                                    "renamed or added in later exports); keys and personal_data may name them.")
    snapshot_grain: _choice("day", "month") = Field("day", description="day: snapshot_date is the parsed date; "
                                                    "month: the first of its month (one partition per month of "
                                                    "event data).")

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["path"]}, {"required": ["api"]}]})

    @model_validator(mode="after")
    def _consistent(self) -> SourceModel:
        if (self.path is None) == (self.api is None):
            raise _problem("", "give exactly one of path, api")
        if self.api is not None and self.format != "json":
            raise _problem(".format", f"an api source lands JSON pages: set format: json (got {self.format!r})")
        if self.csv is not None and self.format != "csv":
            raise _problem(".csv", f"only with format csv (format is {self.format})")
        if self.json_options is not None and self.format not in ("json", "jsonl"):
            raise _problem(".json", f"only with format json or jsonl (format is {self.format})")
        required = self.required_columns
        if self.date_column not in required:
            raise _problem(".date_column", f"{self.date_column!r} must be one of required_columns")
        both = [c for c in self.optional_columns if c in required]
        if both:
            raise _problem(".optional_columns", f"{both} also in required_columns")
        for key in ("keys", "personal_data"):
            unknown = [c for c in getattr(self, key) if c not in required and c not in self.optional_columns]
            if unknown:
                raise _problem(f".{key}", f"{unknown} not in required_columns or optional_columns")
        named = {"csv.columns": self.csv and self.csv.columns,
                 "json.fields": self.json_options and self.json_options.fields}
        for where, columns in named.items():
            unknown = [c for c in required if columns and c not in columns]
            if unknown:
                raise _problem(".required_columns", f"{unknown} not in {where}")
        return self


# --------------------------------------------------------------------------- silver


class FitRangeModel(_Model):
    """Bounds learned once from the table's fit_window: the quartiles -/+ k x IQR."""

    k: Number = Field(description="Tukey fence factor, e.g. 3.")


class ColumnModel(_Model):
    """How one silver column is made from one bronze column. Steps, in order: trim,
    null_tokens -> null, strip, map, parse, cast to type, valid_range / fit_range / pattern /
    vocabulary (an unusable value becomes null and sets the flag), mask."""

    null_is_empty: ClassVar[bool] = True
    source_column: _kind(_NonEmpty | list[_NonEmpty], "a string or a list of strings") = Field(
        None, alias="from", description="Bronze column (default: this column's name); a list: the first that holds "
        "a value (absorbs a column renamed in later deliveries).")
    type: SilverType = Field("string", description="Spark type of the column.")
    trim: Flag = Field(True, description="Trim surrounding white space.")
    null_tokens: Texts = Field([], description="Placeholder values that mean null.")
    strip: Text = Field(None, description="Characters stripped from both ends (decoration such as '_').")
    mapping: dict[Any, Optional[Scalar]] = Field(None, alias="map", description="Raw value -> value (null = null).")
    parse: _choice("duration_months", "list") = Field(None, description="duration_months ('22 Years and 1 Months') "
                                                      "or list (with type array<string>).")
    date_formats: Texts = Field(["yyyy-MM-dd"], description="Spark datetime patterns of a date column.")
    valid_range: Range = Field(None, description="[min, max] (null = open).")
    fit_range: FitRangeModel = Field(None, description="Bounds fitted once on the table's fit_window.")
    pattern: Text = Field(None, description="Regular expression a value must match.")
    vocabulary: Texts = Field(None, description="The accepted values.")
    on_invalid: _choice("null", "quarantine") = Field("null", description="null: null and flag; quarantine: the row "
                                                      "goes to silver/_quarantine.")
    flag: Text = Field(None, description="Name of the flag column (default <column>_invalid).")
    mask: _choice("hmac_sha256") = Field(None, description="Keyed hash of the value (personal data).")
    derive: Text = Field(None, description="SQL expression that replaces the cleaned value by a value derived from "
                                           "it (the column's own name) and snapshot_date, e.g. an age band from a "
                                           "birth date; the cleaned value itself is not kept.")
    decimal_separator: _choice(".", ",") = Field(".", description="Numeric types: the decimal mark of the text; with "
                                                 "',' (12345,6) a text holding '.' is invalid.")
    time_zone: Text = Field(None, description="type timestamp: the text is the wall-clock time of this IANA zone "
                            "(e.g. Europe/Paris, daylight saving included), converted to UTC; an hour that occurs "
                            "twice is read as its first occurrence unless repeated_hour says otherwise.")
    repeated_hour: Texts = Field(None, description="With time_zone: the columns of a series (e.g. device_id). In the "
                                 "hour a change of clocks repeats, the second row of a series at the same local "
                                 "time (in file order) is the later instant.")
    description: Text = Field(None, description="Shown in the documentation.")

    @model_validator(mode="after")
    def _consistent(self) -> ColumnModel:
        if (self.parse == "list") != (self.type == "array<string>"):
            raise _problem("", "parse: list and type: array<string> go together")
        if self.decimal_separator != "." and self.type not in ("int", "long", "double"):
            raise _problem(".decimal_separator", "applies to types int, long and double")
        if self.time_zone is not None:
            if self.type != "timestamp":
                raise _problem(".time_zone", "applies to type timestamp")
            try:
                zoneinfo.ZoneInfo(self.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise _problem(".time_zone", f"not an IANA time zone: {self.time_zone!r}") from None
        if self.repeated_hour and self.time_zone is None:
            raise _problem(".repeated_hour", "needs time_zone")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise _problem(".pattern", f"not a regular expression: {exc}") from None
        return self


class ReferencesModel(_Model):
    """The row's `columns` must match the key of silver table `table`."""

    table: Text = Field(description="A silver table of this domain (its own table too: its rows of the run and "
                                    "those kept before).")
    columns: Texts = Field(description="Columns of this table, matched to the other table's same-named columns.")
    where: Text = Field(None, description="SQL predicate selecting the referenced rows that count, e.g. "
                                          "status = 'completed'.")


class DenialModel(_Model):
    """A denial constraint: no two rows with equal `equal` columns and different
    `different` columns (every row of such a group fails; nulls are values)."""

    equal: Texts = Field(description="Columns two rows share, e.g. [device_id, read_at].")
    different: Texts = Field(description="Columns in which they must then not differ, e.g. [meter_kwh].")


class RuleModel(_Model):
    """A named quality rule: exactly one of check, unique, references, denial."""

    name: Text = Field(description="Unique per table, e.g. valid_<column>, unique_<key>, known_<category>.")
    severity: Severity = Field(description="warn: count only; drop: row -> quarantine; fail: stop before writing.")
    check: Text = Field(None, description="SQL predicate a row must not make FALSE (NULL passes).")
    unique: Texts = Field(None, description="Key columns (the first row by source line is kept).")
    references: ReferencesModel = Field(None, description="A silver table whose key the row's columns must match.")
    denial: DenialModel = Field(None, description="No two rows agree on `equal` and differ on `different` (each row "
                                "of such a group fails).")
    where: Text = Field(None, description="check and references: SQL predicate selecting the rows the rule applies "
                                          "to (the others pass), e.g. status = 'refunded'.")
    description: Text = Field(None, description="Shown in the documentation and quality reports.")

    @model_validator(mode="after")
    def _one_kind(self) -> RuleModel:
        if sum(x is not None for x in (self.check, self.unique, self.references, self.denial)) != 1:
            raise _problem(f" ({self.name})", "give exactly one of check, unique, references, denial")
        if self.where is not None and self.unique is not None:
            raise _problem(f" ({self.name}).where", "applies to check and references rules, not unique")
        return self


class FitWindowModel(_Model):
    """The months whose rows fit the table's fit_range bounds (once, then stored)."""

    start: DateText = Field(description="First snapshot_date, e.g. 2023-01-01.")
    end: DateText = Field(description="Last snapshot_date, e.g. 2023-12-01.")


def _or_null_values(schema: dict[str, Any]) -> None:
    """Schema of a mapping whose values may also be null (a column without recipe)."""
    schema["additionalProperties"] = {"anyOf": [schema["additionalProperties"], {"type": "null"}]}


class SilverModel(_Model):
    """A silver table: its bronze source, column recipes and quality rules."""

    source: Text = Field(description="The bronze source (a key of sources).")
    description: Text = Field(None, description="Grain and key, e.g. one row per customer per month.")
    columns: dict[str, ColumnModel] = Field(description="Silver column (lower snake_case) -> its recipe (empty: "
                                            "a string copied from the same-named bronze column).",
                                            json_schema_extra=_or_null_values)
    rules: list[RuleModel] = Field([], description="Declared quality rules, besides the built-in and generated ones.")
    fit_window: FitWindowModel = Field(None, description="Required when a column has fit_range.")
    fit_version: Count = Field(1, description="Change to refit the fit_range bounds.")
    future_dates: Severity = Field("warn", description="Severity of the built-in rule not_future_date (rows whose "
                                   "snapshot_date is after the run's date).")

    @model_validator(mode="after")
    def _consistent(self) -> SilverModel:
        bad = next((c for c in self.columns if not _SNAKE.fullmatch(c)), None)
        if bad is not None:
            raise _problem(f".columns.{bad}", "silver column names are lower snake_case")
        known = set(self.columns) | {"snapshot_date"}
        for i, rule in enumerate(self.rules):
            where = f".rules[{i}] ({rule.name})"
            declared = {"unique": rule.unique, "references.columns": rule.references and rule.references.columns}
            for key, cols in declared.items():
                unknown = [c for c in cols or () if c not in known]
                if unknown:
                    raise _problem(f"{where}.{key}", f"unknown column(s) {unknown}")
        if self.fit_window is None and any(c.fit_range is not None for c in self.columns.values()):
            raise _problem(".fit_window", "required when a column has fit_range")
        return self




class DomainModel(_Model):
    """A domain's configuration: conf/<domain>.yaml."""

    domain: Text = Field(description="The domain's name (its tables live under <layer>/<domain>/).")
    description: Text = Field(None, description="The prediction problem, in a sentence.")
    spark: dict[str, Scalar] = Field({}, description="Spark settings of this domain (any spark.* key).")
    sources: dict[str, SourceModel] = Field(description="Raw sources, each landing in bronze/<name>.",
                                            json_schema_extra={"minProperties": 1})
    silver: dict[str, SilverModel] = Field({}, description="Silver tables: bronze source, column recipes, rules.")
    gold: GoldModel = Field(None, description="Feature and label stores (or the domain's own gold builder).")
    monitoring: MonitoringModel = Field(None, description="Alert rules of the champion model's monitoring (drift, "
                                        "realised performance, predicted positive rate) and what triggers retraining.")

    @model_validator(mode="after")
    def _references_exist(self) -> DomainModel:
        if not self.sources:
            raise _problem(".sources", "declare at least one source")
        for name, table in self.silver.items():
            where = f".silver.{name}"
            source = self.sources.get(table.source)
            if source is None:
                raise _problem(f"{where}.source", f"no source {table.source!r} (declared: {', '.join(self.sources)})")
            known = (*source.required_columns, *source.optional_columns)
            for col, spec in table.columns.items():
                names = spec.source_column if isinstance(spec.source_column, list) else [spec.source_column or col]
                unknown = [n for n in names if n not in known]
                if unknown:
                    raise _problem(f"{where}.columns.{col}.from", f"{', '.join(map(repr, unknown))} not a column of "
                                   f"source {table.source} (required_columns or optional_columns)")
            for i, rule in enumerate(table.rules):
                if rule.references and rule.references.table not in self.silver:
                    raise _problem(f"{where}.rules[{i}] ({rule.name}).references.table",
                                   f"no silver table {rule.references.table!r}")
        if self.gold is not None and self.gold.builder is not None:
            for i, table_name in enumerate(self.gold.inputs):
                if table_name not in self.silver:
                    raise _problem(f".gold.inputs[{i}]", f"no silver table {table_name!r}")
        elif self.gold is not None:
            pop = self.gold.population
            tables = {".gold.population.table": pop.table} if pop.table else {}
            tables.update({f".gold.population.events[{i}].table": e.table for i, e in enumerate(pop.events or [])})
            tables.update({f".gold.labels[{i}].table": lb.table for i, lb in enumerate(self.gold.labels) if lb.table})
            tables.update({f".gold.sources.{n}.table": s.table for n, s in self.gold.sources.items()})
            for i, lb in enumerate(self.gold.labels):
                tables.update({f".gold.labels[{i}].events[{j}].table": e.table for j, e in enumerate(lb.events or [])})
            for name, t in (self.gold.tables or {}).items():
                where = f".gold.tables.{name}"
                if t.population.table:
                    tables[f"{where}.population.table"] = t.population.table
                tables.update({f"{where}.population.events[{i}].table": e.table
                               for i, e in enumerate(t.population.events or [])})
                tables.update({f"{where}.sources.{n}.table": s.table for n, s in t.sources.items()})
            if self.gold.recommend is not None:
                tables.update({f".gold.recommend.events[{i}].table": e.table
                               for i, e in enumerate(self.gold.recommend.events)})
            for name, sim in (self.gold.similarity or {}).items():
                tables.update({f".gold.similarity.{name}.cooccurrence.{k}.table": c.table
                               for k, c in sim.cooccurrence.items()})
                if sim.content is not None:
                    tables[f".gold.similarity.{name}.content.table"] = sim.content.table
            for where, table_name in tables.items():
                if table_name not in self.silver:
                    raise _problem(where, f"no silver table {table_name!r}")
        return self


# --------------------------------------------------------------------------- errors


def _dotted(loc: tuple[Any, ...]) -> str:
    """('sources', 'x', 'keys', 0) -> '.sources.x.keys[0]'."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def first_problem(exc: ValidationError) -> str:
    """The first problem pydantic found, as ``<dotted key>: <problem>``."""
    err = exc.errors(include_url=False)[0]
    key, message = _dotted(err["loc"]), err["msg"]
    if err["type"] == "config":
        key += err["ctx"]["key"]
    elif err["type"] == "missing":
        message = "required key is missing"
    elif err["type"] in ("dict_type", "list_type"):
        message = f"expected a {'mapping' if err['type'] == 'dict_type' else 'list'}, got {_shown(err['input'])}"
    else:  # e.g. a mapping key of the wrong type
        message = f"{message[:1].lower()}{message[1:]}, got {_shown(err['input'])}"
    return f"{key.lstrip('.') or 'top level'}: {message}"


# --------------------------------------------------------------------------- JSON Schema


def _without_null_defaults(node: Any) -> Any:
    """The schema without ``"default": null`` (a key left out of the YAML is not a null)."""
    if isinstance(node, dict):
        return {k: _without_null_defaults(v) for k, v in node.items() if not (k == "default" and v is None)}
    if isinstance(node, list):
        return [_without_null_defaults(v) for v in node]
    return node


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `conf/<domain>.yaml`, with a description on every
    key, for editors (yaml-language-server) and CI."""
    schema = _without_null_defaults(DomainModel.model_json_schema(by_alias=True))
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
