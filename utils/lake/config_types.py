"""Value types of the domain YAML's pydantic models (shared by :mod:`utils.lake.config_schema`
and :mod:`utils.lake.config_gold`): strict scalars with one-line messages, choices, and
:class:`_Model`, a mapping that refuses unknown keys and never coerces values."""

from __future__ import annotations

import datetime
import re
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StrictBool, StrictFloat, StrictInt, StrictStr, WrapValidator, model_validator
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
