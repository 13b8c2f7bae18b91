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
import datetime
import re
from typing import Annotated, Any, ClassVar, Literal, Optional, Union

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, Strict, StrictBool, StrictFloat, StrictInt,
                      StrictStr, ValidationError, WrapValidator, field_validator, model_validator)
from pydantic_core import PydanticCustomError
from pydantic_core import ValidationError as CoreValidationError

FORMATS = ("csv", "jsonl", "json", "parquet")
PAGINATIONS = ("none", "page", "offset", "cursor", "link")
SILVER_TYPES = ("string", "int", "long", "double", "boolean", "date", "timestamp", "array<string>")
SEVERITIES = ("warn", "drop", "fail")


# --------------------------------------------------------------------------- value types


def _shown(value: Any) -> str:
    """`<type> <repr>` of a rejected value, cut to one readable line."""
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 80 else text[:77] + '...'}"


def _problem(key: str, message: str) -> PydanticCustomError:
    """A validation error whose location is the validated item's, followed by `key`
    (".date_column", " (rule_name).unique", or "" for the item itself)."""
    return PydanticCustomError("config", "{message}", {"key": key, "message": message})


def _kind(tp: Any, what: str) -> Any:
    """`tp`, whose every error reads ``expected <what>, got <type> <value>``."""
    def check(value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except CoreValidationError:
            raise _problem("", f"expected {what}, got {_shown(value)}") from None
    return Annotated[tp, WrapValidator(check)]


def _choice(*values: str) -> Any:
    """One of `values` (an enum in the schema); an error lists them."""
    def check(value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except CoreValidationError:
            raise _problem("", f"{value!r} not one of {', '.join(values)}") from None
    return Annotated[Literal[values], WrapValidator(check)]


def _date_text(value: Any) -> Any:
    """A YAML date (2023-01-01 unquoted) as the text the user wrote."""
    return str(value) if isinstance(value, datetime.date) else value


_NonEmpty = Annotated[str, Strict(), Field(min_length=1)]
Text = _kind(_NonEmpty, "a non-empty string")
AnyText = _kind(Annotated[str, Strict()], "a string")
Texts = _kind(list[_NonEmpty], "a list of non-empty strings")
Flag = _kind(Annotated[bool, Strict()], "true or false")
Count = _kind(Annotated[int, Strict()], "an integer")
PositiveCount = _kind(Annotated[int, Strict(), Field(ge=1)], "a positive integer")
Number = _kind(Annotated[float, Strict()], "a number")
PositiveNumber = _kind(Annotated[float, Strict(), Field(gt=0)], "a positive number")
Scalar = _kind(Union[StrictStr, StrictBool, StrictInt, StrictFloat], "a scalar value")
Range = _kind(Annotated[list[Union[StrictInt, StrictFloat, None]], Field(min_length=2, max_length=2)],
              "[min, max] numbers (null = open)")
DateText = _kind(Annotated[str, Strict(), BeforeValidator(_date_text), Field(min_length=1)], "a date (yyyy-MM-dd)")
Format = _choice(*FORMATS)
Pagination = _choice(*PAGINATIONS)
Severity = _choice(*SEVERITIES)
SilverType = _choice(*SILVER_TYPES)
Aggregate = _choice("months", "last", "mean", "slope", "count", "sum", "min", "max", "distinct", "recency", "share")
#: Aggregates of event sources (windows of days) and of monthly row sources (windows of months).
EVENT_AGGREGATES = ("count", "sum", "mean", "min", "max", "distinct", "last", "recency", "share")
MONTH_AGGREGATES = ("months", "last", "mean", "slope")
_SNAKE = re.compile(r"[a-z][a-z0-9_]*")


class _Model(BaseModel):
    """A YAML mapping: unknown keys are refused, values are never coerced. A key given as
    null is refused too (leave it out for the default)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    unknown_key_message: ClassVar[str] = "unknown key"
    null_is_empty: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _a_mapping_of_known_keys(cls, data: Any) -> Any:
        if data is None and cls.null_is_empty:
            return {}
        if not isinstance(data, dict):
            raise _problem("", f"expected a mapping, got {_shown(data)}")
        allowed = sorted(f.alias or name for name, f in cls.model_fields.items())
        for key in data:
            if key not in allowed:
                raise _problem(f".{key}", f"{cls.unknown_key_message} (allowed: {', '.join(allowed)})")
        return data


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
    description: Text = Field(None, description="Shown in the documentation.")

    @model_validator(mode="after")
    def _consistent(self) -> ColumnModel:
        if (self.parse == "list") != (self.type == "array<string>"):
            raise _problem("", "parse: list and type: array<string> go together")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise _problem(".pattern", f"not a regular expression: {exc}") from None
        return self


class ReferencesModel(_Model):
    """The row's `columns` must match the key of silver table `table`."""

    table: Text = Field(description="A silver table of this domain.")
    columns: Texts = Field(description="Columns of this table, matched to the other table's same-named columns.")


class RuleModel(_Model):
    """A named quality rule: exactly one of check, unique, references."""

    name: Text = Field(description="Unique per table, e.g. valid_<column>, unique_<key>, known_<category>.")
    severity: Severity = Field(description="warn: count only; drop: row -> quarantine; fail: stop before writing.")
    check: Text = Field(None, description="SQL predicate a row must not make FALSE (NULL passes).")
    unique: Texts = Field(None, description="Key columns (the first row by source line is kept).")
    references: ReferencesModel = Field(None, description="A silver table whose key the row's columns must match.")
    description: Text = Field(None, description="Shown in the documentation and quality reports.")

    @model_validator(mode="after")
    def _one_kind(self) -> RuleModel:
        if sum(x is not None for x in (self.check, self.unique, self.references)) != 1:
            raise _problem(f" ({self.name})", "give exactly one of check, unique, references")
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


# --------------------------------------------------------------------------- gold


class ActivityModel(_Model):
    """Events of a silver table that make an entity active."""

    table: Text = Field(description="A silver table of events.")
    time: Text = Field(description="Its event-time column (timestamp or date).")
    where: Text = Field(None, description="SQL predicate selecting the events that count, e.g. status = 'completed'.")


class PopulationModel(_Model):
    """The (entity, snapshot_date) pairs to build features for: rows of a silver table
    (kind rows), or the entities active in the days up to each month end (kind active)."""

    kind: _choice("rows", "active") = Field("rows", description="rows: the rows of `table` (their snapshot_date is "
                                            "D); active: entities with an event of `events` in the `days` up to D, "
                                            "at every month end D.")
    table: Text = Field(None, description="kind rows: a silver table.")
    entity: Text = Field(description="The entity column, e.g. customer_id.")
    where: Text = Field(None, description="kind rows: SQL predicate selecting the population rows.")
    events: list[ActivityModel] = Field(None, description="kind active: the events that make an entity active.")
    days: PositiveCount = Field(90, description="kind active: the activity window, in days up to and including D.")
    start: Text = Field(None, description="kind active: first snapshot D (a month end; default: the first month "
                        "with activity).")
    description: Text = Field(None, description="Shown in the documentation.")

    @field_validator("start", mode="before")
    @classmethod
    def _a_date(cls, value: Any) -> Any:
        return _date_text(value)

    @model_validator(mode="after")
    def _consistent(self) -> PopulationModel:
        if self.kind == "rows" and self.table is None:
            raise _problem(".table", "required with kind rows")
        if self.kind == "active" and not self.events:
            raise _problem(".events", "required with kind active (the events that make an entity active)")
        return self


class GoldSourceModel(_Model):
    """A silver table read as of each snapshot date D: its latest row (row sources) or its
    events up to D (event sources, with `time`)."""

    table: Text = Field(description="A silver table.")
    cutoff: _choice("<=", "<") = Field("<=", description="Rows with snapshot_date <= D, or < D for data landing "
                                       "after D; event sources: events up to the end of day D, or before D.")
    time: Text = Field(None, description="Event-time column: the source's rows are events, aggregated over windows "
                       "of days ending at D.")


class LabelModel(_Model):
    """A label: `dpd`+ days past due at month on book `mob` (kind dpd_at_mob), or no event
    of `table` within `days` after D (kind no_event, e.g. churn)."""

    kind: _choice("dpd_at_mob", "no_event") = Field("dpd_at_mob", description="dpd_at_mob (loans) or no_event.")
    name: Text = Field(None, description="kind no_event: the label_def, e.g. churn_60d.")
    dpd: PositiveCount = Field(None, description="kind dpd_at_mob: days past due.")
    mob: PositiveCount = Field(None, description="kind dpd_at_mob: month on book.")
    days: PositiveCount = Field(None, description="kind no_event: the window (D, D + days].")
    table: Text = Field(None, description="kind no_event: the silver table of events.")
    time: Text = Field(None, description="kind no_event: its event-time column.")
    where: Text = Field(None, description="kind no_event: SQL predicate of the events that count.")
    description: Text = Field(None, description="Shown in the documentation.")

    @model_validator(mode="after")
    def _consistent(self) -> LabelModel:
        needed = ("dpd", "mob") if self.kind == "dpd_at_mob" else ("name", "days", "table", "time")
        missing = [k for k in needed if getattr(self, k) is None]
        if missing:
            raise _problem(f".{missing[0]}", f"required with kind {self.kind}")
        return self


_TEMPLATED = ("name", "expr", "column", "description", "where")


class FeatureModel(_Model):
    """A feature (exactly one of expr, aggregate), or with for_each one feature per position."""

    name: Text = Field(description="lower snake_case; may hold {key} placeholders of for_each.")
    source: Text = Field(None, description="A key of gold.sources; unset: a derived feature, an `expr` over the "
                         "features declared before it.")
    description: Text = Field(description="Shown in the feature catalogue.")
    version: Count = Field(1, description="Change when the definition changes.")
    owner: Text = Field(None, description="Who answers for this feature (default: gold.owner).")
    expr: Text = Field(None, description="SQL expression over the as-of source row.")
    aggregate: Aggregate = Field(None, description="Window aggregate. Monthly row sources: months | last | mean | "
                                 "slope. Event sources: count | sum | mean | min | max | distinct | last | recency "
                                 "(days since the latest event) | share (of the window's events matching where).")
    column: Text = Field(None, description="The aggregated column (all aggregates but months, count, recency, share).")
    months: PositiveCount = Field(None, description="Window length of mean and slope (monthly row sources).")
    days: PositiveCount = Field(None, description="Event sources: the window, in days up to and including D (unset: "
                                "all history; required but for last and recency).")
    offset_days: Count = Field(0, description="Event sources: the window ends this many days before D (trends: the "
                               "60 days before the last 30).")
    where: Text = Field(None, description="Event sources: SQL predicate of the events that count (share: the "
                        "events counted in the numerator).")
    for_each: dict[str, list[Any]] = Field(None, description="key -> values: one feature per position, {key} replaced "
                                           "in name, expr, column and description.")

    def expanded(self) -> list[dict[str, Any]]:
        """The features this entry stands for, as dicts of the keys given in the YAML."""
        item = self.model_dump(exclude_unset=True, exclude={"for_each"})
        if not self.for_each:
            return [item]
        count = len(next(iter(self.for_each.values())))
        positions = ({k: str(v[i]) for k, v in self.for_each.items()} for i in range(count))
        return [{k: v.format(**values) if k in _TEMPLATED else v for k, v in item.items()} for values in positions]

    @model_validator(mode="after")
    def _consistent(self) -> FeatureModel:
        if self.for_each and len({len(v) for v in self.for_each.values()}) != 1:
            raise _problem(".for_each", "expected lists of equal length")
        try:
            features = self.expanded()
        except (KeyError, IndexError, ValueError) as exc:
            raise _problem(".for_each", f"a placeholder has no value: {exc}") from None
        for feat in features:
            where = f" ({feat['name']})"
            if not _SNAKE.fullmatch(feat["name"]):
                raise _problem(f"{where}.name", "feature names are lower snake_case")
            if ("expr" in feat) == ("aggregate" in feat):
                raise _problem(where, "give exactly one of expr, aggregate")
            if "source" not in feat and "aggregate" in feat:
                raise _problem(f"{where}.source", "required with aggregate")
            agg = feat.get("aggregate")
            if agg not in (None, "months", "count", "recency", "share") and "column" not in feat:
                raise _problem(f"{where}.column", f"required with aggregate {agg}")
            if agg == "share" and "where" not in feat:
                raise _problem(f"{where}.where", "required with aggregate share (the events counted)")
        return self


def _check_window(where: str, feat: dict[str, Any], source: GoldSourceModel | None) -> None:
    """An aggregate fits its source: windows of days over events, of months over monthly rows."""
    agg = feat.get("aggregate")
    if agg is None or source is None:
        return
    if source.time is not None:
        if agg not in EVENT_AGGREGATES:
            raise _problem(f"{where}.aggregate", f"{agg!r} is not an aggregate of event sources "
                           f"({', '.join(EVENT_AGGREGATES)})")
        if agg not in ("last", "recency") and "days" not in feat:
            raise _problem(f"{where}.days", f"required with aggregate {agg} over events")
        return
    if agg not in MONTH_AGGREGATES:
        raise _problem(f"{where}.aggregate", f"{agg!r} needs an event source (a gold source with time); monthly "
                       f"row sources take {', '.join(MONTH_AGGREGATES)}")
    if agg in ("mean", "slope") and "months" not in feat:
        raise _problem(f"{where}.months", f"required with aggregate {agg}")
    if "days" in feat or "where" in feat:
        raise _problem(f"{where}.days", "days and where apply to event sources (a gold source with time)")


class LeakageModel(_Model):
    """Leakage guards run on every build."""

    replay_cut: Text = Field(None, description="Date D: gold <= D rebuilt from data <= D must be identical.")
    max_single_feature_auc: Number = Field(0.95, description="A feature predicting the label better than this is "
                                           "reported as a leak.")


class GoldModel(_Model):
    """Population, point-in-time sources, labels, features and leakage settings."""

    population: PopulationModel = Field(description="Who gets a feature row for snapshot D.")
    sources: dict[str, GoldSourceModel] = Field(description="Name used by features -> silver table and cutoff.")
    labels: list[LabelModel] = Field(description="Labels of the label store.")
    features: list[FeatureModel] = Field(description="Features of the feature store, in catalogue order.")
    leakage: LeakageModel = Field(None, description="Leakage guards.")
    owner: Text = Field(None, description="Team or person answering for the domain's features (feature registry).")
    baseline: Text = Field(None, description="A feature that alone ranks the entities (e.g. days_since_order): the "
                                             "baseline every trained model is compared with (python -m utils.ml.train).")

    @model_validator(mode="after")
    def _consistent(self) -> GoldModel:
        names = []
        for i, entry in enumerate(self.features):
            for feat in entry.expanded():
                where = f".features[{i}] ({feat['name']})"
                if "source" in feat and feat["source"] not in self.sources:
                    raise _problem(f"{where}.source", f"{feat['source']!r} not in gold.sources")
                _check_window(where, feat, self.sources.get(feat.get("source")))
                names.append(feat["name"])
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise _problem(".features", f"duplicate feature name(s) {dupes}")
        if self.baseline is not None and self.baseline not in names:
            raise _problem(".baseline", f"{self.baseline!r} is not a feature of gold.features")
        return self


class DomainModel(_Model):
    """A domain's configuration: conf/<domain>.yaml."""

    domain: Text = Field(description="The domain's name (its tables live under <layer>/<domain>/).")
    description: Text = Field(None, description="The prediction problem, in a sentence.")
    spark: dict[str, Scalar] = Field({}, description="Spark settings of this domain (any spark.* key).")
    sources: dict[str, SourceModel] = Field(description="Raw sources, each landing in bronze/<name>.",
                                            json_schema_extra={"minProperties": 1})
    silver: dict[str, SilverModel] = Field({}, description="Silver tables: bronze source, column recipes, rules.")
    gold: GoldModel = Field(None, description="Feature and label stores.")

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
        if self.gold is not None:
            pop = self.gold.population
            tables = {".gold.population.table": pop.table} if pop.table else {}
            tables.update({f".gold.population.events[{i}].table": e.table for i, e in enumerate(pop.events or [])})
            tables.update({f".gold.labels[{i}].table": lb.table for i, lb in enumerate(self.gold.labels) if lb.table})
            tables.update({f".gold.sources.{n}.table": s.table for n, s in self.gold.sources.items()})
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
