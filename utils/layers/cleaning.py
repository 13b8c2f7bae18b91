"""Declarative column cleaning: one generic engine for every silver column.

Pure functions over Spark Columns, driven by :class:`utils.lake.config.ColumnSpec`. For a raw
text value the recipe runs, in order:

  trim -> null_tokens (placeholder -> null) -> strip (decoration) -> map -> parse
  (duration_months | list) -> cast to type -> valid_range / fitted range -> pattern ->
  vocabulary -> mask (keyed hash)

A value that was present but is unusable at any step (does not cast or parse, is out
of range, fails its pattern, map or vocabulary) becomes null and is *invalid*. Each
step also yields a boolean metric column so that one aggregation counts, per
partition, how often every step fired (`null_token_<col>`, `decorated_<col>`,
`valid_<col>`), which `_meta/quality` stores.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from pyspark.sql import Column, Window
from pyspark.sql import functions as F

from utils.lake.config import ColumnSpec

#: "A, B, and C" / "A and B" / "A, B" -> items.
LIST_SEPARATOR = r"\s*,\s*(?:and\s+)?|\s+and\s+"
DURATION = r"^(\d{1,4})\s+Years?\s+and\s+(\d{1,4})\s+Months?$"  # bounded: no int overflow


@dataclass(frozen=True)
class CleanedColumn:
    """The cleaned value of one column and the metrics of the steps that fired."""

    value: Column
    invalid: Column | None  # present but unusable (None: the column is not validated)
    metrics: dict[str, Column]  # metric name -> boolean Column (true = fired)


def hmac_sha256(value: Column, key: bytes) -> Column:
    """HMAC-SHA256 (RFC 2104) of a string column, hex-encoded, in Spark SQL alone."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\0")
    ipad = bytes(b ^ 0x36 for b in key)
    opad = bytes(b ^ 0x5C for b in key)
    inner = F.sha2(F.concat(F.lit(bytearray(ipad)), F.encode(value, "UTF-8")), 256)
    outer = F.sha2(F.concat(F.lit(bytearray(opad)), F.unhex(inner)), 256)
    return F.when(value.isNotNull(), outer)


def _strip_chars(value: Column, chars: str) -> Column:
    cls = "".join(re.escape(c) for c in chars)
    return F.regexp_replace(value, f"^[{cls}]+|[{cls}]+$", "")


def _cast(value: Column, spec: ColumnSpec) -> Column:
    """Text -> the column's type; null where the text does not convert."""
    if spec.decimal_separator != "." and spec.type in ("int", "long", "double"):
        # 12345,6 -> 12345.6; a text holding "." then is not a number of this column
        value = F.when(~value.contains("."), F.regexp_replace(value, re.escape(spec.decimal_separator), "."))
    if spec.type in ("int", "long"):
        # exact integer text first (every digit kept); "7.0"-style text through double
        lo, hi = (-2147483648, 2147483647) if spec.type == "int" else (-(2**63), 2**63 - 1)
        as_double = value.try_cast("double")
        whole = as_double.isNotNull() & (as_double == F.floor(as_double))
        fits = whole & (as_double >= F.lit(float(lo))) & (as_double <= F.lit(float(hi)))
        if spec.type == "long":
            fits = fits & (F.abs(as_double) < F.lit(9.2e18))
        return F.coalesce(value.try_cast(spec.type), F.when(fits, as_double.cast(spec.type)))
    if spec.type == "double":
        d = value.try_cast("double")
        return F.when(~F.isnan(d) & (F.abs(d) != F.lit(float("inf"))), d)
    if spec.type == "boolean":
        return F.when(F.lower(value) == "true", F.lit(True)).when(F.lower(value) == "false", F.lit(False))
    if spec.type == "date":
        dates = [F.to_date(F.try_to_timestamp(value, F.lit(fmt))) for fmt in spec.date_formats]
        return dates[0] if len(dates) == 1 else F.coalesce(*dates)
    if spec.type == "timestamp":  # in the session time zone (UTC); offsets in the text are honoured
        stamps = [F.try_to_timestamp(value, F.lit(fmt)) for fmt in spec.date_formats]
        stamp = stamps[0] if len(stamps) == 1 else F.coalesce(*stamps)
        # wall-clock time of a zone -> UTC (a repeated hour: its first occurrence)
        return F.to_utc_timestamp(stamp, spec.time_zone) if spec.time_zone else stamp
    return value


def repeated_hour(stamp: Column, spec: ColumnSpec, order: tuple[str, ...]) -> Column:
    """`stamp` (UTC, from the wall-clock time of ``spec.time_zone``) with the hour that a
    change of clocks repeats resolved: among the rows of one series (``spec.repeated_hour``)
    at the same such time, the second and later rows in `order` (file order) are the
    later occurrence, one hour on. A window over the rows evaluated together."""
    local = F.from_utc_timestamp(stamp, spec.time_zone)
    hour = F.expr("INTERVAL 1 HOUR")
    repeated = F.from_utc_timestamp(stamp + hour, spec.time_zone) == local
    rank = F.row_number().over(Window.partitionBy(*spec.repeated_hour, stamp).orderBy(*order))
    return F.when(F.coalesce(repeated, F.lit(False)) & (rank > 1), stamp + hour).otherwise(stamp)


def parse_column(raw: Column, spec: ColumnSpec) -> tuple[Column, Column, dict[str, Column]]:
    """Steps up to the cast: returns (typed value, parse-invalid, metrics).

    Split from :func:`bound_column` so that range statistics can be fitted on the
    typed values before any range applies.
    """
    metrics: dict[str, Column] = {}
    v = F.trim(raw) if spec.trim else raw
    v = F.when(v != "", v)  # blank text is missing, not invalid
    if spec.null_tokens:
        hit = v.isin(list(spec.null_tokens))
        metrics[f"null_token_{spec.name}"] = F.coalesce(hit, F.lit(False))
        v = F.when(~hit, v)
    if spec.strip:
        stripped = _strip_chars(v, spec.strip)
        metrics[f"decorated_{spec.name}"] = F.coalesce(stripped != v, F.lit(False))
        v = F.when(stripped != "", stripped)
    present = v.isNotNull()
    bad = F.lit(False)
    if spec.mapping is not None:
        keys = list(spec.mapping)
        pairs = [x for k, val in spec.mapping.items() for x in (F.lit(k), F.lit(val).cast("string"))]
        bad = bad | (present & ~v.isin(keys))
        v = F.create_map(*pairs)[v]
        present = present & v.isNotNull()
    if spec.parse == "duration_months":
        years = F.regexp_extract(v, DURATION, 1)
        months = F.regexp_extract(v, DURATION, 2)
        ok = v.rlike(DURATION)
        bad = bad | (present & ~ok)
        v = F.when(ok, (years.cast("int") * 12 + months.cast("int")).cast("string"))
    if spec.parse == "list":
        items = F.filter(F.transform(F.split(v, LIST_SEPARATOR), lambda x: F.trim(x)), lambda x: x != "")
        return F.when(present, F.array_distinct(items)), F.coalesce(bad, F.lit(False)), metrics
    typed = _cast(v, spec)
    bad = bad | (present & typed.isNull())
    return typed, F.coalesce(bad, F.lit(False)), metrics


def bound_column(
    typed: Column,
    parse_invalid: Column,
    spec: ColumnSpec,
    metrics: dict[str, Column],
    *,
    fitted: tuple[float | None, float | None] | None = None,
    pii_key: bytes | None = None,
) -> CleanedColumn:
    """Steps after the cast: ranges, pattern, vocabulary, mask; the final value."""
    bad = parse_invalid
    lo, hi = spec.valid_range or (None, None)
    if fitted is not None:
        flo, fhi = fitted
        lo = flo if lo is None else (lo if flo is None else max(lo, flo))
        hi = fhi if hi is None else (hi if fhi is None else min(hi, fhi))
    if lo is not None:
        bad = bad | F.coalesce(typed < F.lit(lo), F.lit(False))
    if hi is not None:
        bad = bad | F.coalesce(typed > F.lit(hi), F.lit(False))
    if spec.pattern is not None:
        bad = bad | F.coalesce(~typed.rlike(spec.pattern), F.lit(False))
    value = F.when(~bad, typed)
    if spec.vocabulary is not None:
        vocab = F.array(*[F.lit(x) for x in spec.vocabulary])
        if spec.type == "array<string>":
            unknown = F.exists(typed, lambda x: ~F.array_contains(vocab, x))
            bad = bad | F.coalesce(unknown, F.lit(False))
            value = F.filter(typed, lambda x: F.array_contains(vocab, x))
        else:
            bad = bad | F.coalesce(~typed.isin(list(spec.vocabulary)), F.lit(False))
            value = F.when(~bad, typed)
    if spec.mask == "hmac_sha256":
        if pii_key is None:
            raise ValueError(f"column {spec.name}: mask hmac_sha256 needs a key")
        value = hmac_sha256(value.cast("string"), pii_key)
    if not spec.validated:
        return CleanedColumn(value, None, metrics)
    metrics = {**metrics, f"valid_{spec.name}": bad}
    return CleanedColumn(value, bad, metrics)


def clean_column(raw: Column, spec: ColumnSpec, **kw) -> CleanedColumn:
    """The whole recipe for one column (see the module docstring)."""
    typed, invalid, metrics = parse_column(raw, spec)
    return bound_column(typed, invalid, spec, metrics, **kw)
