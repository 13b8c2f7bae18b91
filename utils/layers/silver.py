"""Silver: typed, cleaned, privacy-safe tables with named quality rules and quarantine.

Pure transformations (no reads, writes or actions):
  - :func:`clean_table`   bronze rows -> typed silver columns + flag columns + one
                          boolean metric column per cleaning step that can fire;
  - :func:`check_rules`   adds one boolean column per rule (true = the row fails it);
  - :func:`silver_rows`, :func:`quarantine_rows`, :func:`metric_aggregates` split and
                          count the checked rows.

All rules of a table are evaluated in one pass: the checked DataFrame is computed once
(persisted by the caller) and every count comes from one aggregation over it.

Built-in rules of every table:
  - ``well_formed_row`` (drop): the raw record parsed (bronze's ``_malformed_record``
    is null); a quarantined row's reason gives bronze's ``_malformed_reason``;
  - ``valid_snapshot_date`` (drop): the partition date parsed in bronze;
  - ``not_future_date`` (severity ``future_dates`` of the table, default warn): the
    snapshot_date is not after the run's date (UTC today, or the ``as_of`` given).
Columns with ``on_invalid: quarantine`` add a drop rule ``valid_<column>``.

A row failing any drop rule goes to ``silver/_quarantine`` (once, with the first rule
it failed, every rule it failed, a readable reason, its raw bronze values with personal
data masked, and its lineage); so per partition ``bronze = silver + quarantine``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from utils.lake.config import ColumnSpec, RuleSpec, SilverTable, Source
from utils.layers.bronze import PARTITION_COLUMN
from utils.layers.cleaning import bound_column, parse_column, repeated_hour

METRIC_PREFIX = "_m_"
RULE_PREFIX = "_r_"
MASKED = "<masked>"
LINEAGE_KEPT = ("_source_file", "_source_line")
ACTIONS = {"warn": "counted", "drop": "quarantined", "fail": "failed"}


def run_date(as_of: dt.date | None = None) -> dt.date:
    """The date a run checks future snapshot dates against: `as_of`, else UTC today."""
    return as_of or dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class Rule:
    """A rule as evaluated: its column, severity, the action it takes, its reason."""

    name: str
    kind: str  # builtin | cleaning | rule
    severity: str  # warn | drop | fail
    action: str  # counted | nulled | stripped | quarantined | failed
    reason: str


def bronze_name(source: Source, column: str) -> str:
    """Bronze column holding the raw text of a source column (reserved names are suffixed)."""
    from utils.layers.bronze import bronze_column_names

    return bronze_column_names((column,))[0]


def raw_column(bronze: DataFrame, source: Source, spec: ColumnSpec) -> Column:
    """The raw text a silver column is made from: its bronze column, or with fallbacks
    (`from: [phone, mobile_phone]`) the first that holds a value. A column no delivery
    held yet (an optional column before its first drop) reads as null."""
    present = set(bronze.columns)
    names = [bronze_name(source, c) for c in (spec.source_column, *spec.fallback_columns)]
    cols = [F.col(n) for n in names if n in present]
    if not cols:
        if spec.source_column in source.required_columns:
            return F.col(names[0])  # let Spark name the missing column
        return F.lit(None).cast("string")
    return cols[0] if len(cols) == 1 else F.coalesce(*[F.when(F.trim(c) != "", c) for c in cols])


# --------------------------------------------------------------------------- clean


def parse_columns(bronze: DataFrame, table: SilverTable, source: Source) -> DataFrame:
    """Typed values before ranges apply (what range statistics are fitted on)."""
    cols = [parse_column(raw_column(bronze, source, c), c)[0].alias(c.name)
            for c in table.columns if c.fit_k is not None]
    return bronze.select(*cols, PARTITION_COLUMN)


def clean_table(
    bronze: DataFrame,
    table: SilverTable,
    source: Source,
    *,
    bounds: dict[str, tuple[float | None, float | None]] | None = None,
    pii_key: bytes | None = None,
) -> DataFrame:
    """Bronze rows -> silver columns, flags (`<col>_invalid`), metric columns (`_m_*`),
    lineage and snapshot_date. One row out per row in."""
    bounds = bounds or {}
    values: list[Column] = []
    flags: list[Column] = []
    metrics: dict[str, Column] = {}
    for spec in table.columns:
        raw = raw_column(bronze, source, spec)
        typed, parse_bad, steps = parse_column(raw, spec)
        cleaned = bound_column(typed, parse_bad, spec, steps, fitted=bounds.get(spec.name), pii_key=pii_key)
        values.append(cleaned.value.alias(spec.name))
        if cleaned.invalid is not None:
            flags.append(cleaned.invalid.alias(spec.flag_column))
        metrics.update(cleaned.metrics)
    raw_values = F.create_map(*[
        x
        for col in (*source.required_columns,
                    *[c for c in source.optional_columns if bronze_name(source, c) in bronze.columns])
        for x in (F.lit(col), F.lit(MASKED) if col in source.personal_data else F.col(bronze_name(source, col)))
    ])
    out = bronze.select(
        *values,
        *flags,
        *[m.alias(f"{METRIC_PREFIX}{name}") for name, m in metrics.items()],
        raw_values.alias("_raw_values"),
        "_malformed_record",
        # bronze tables written before _malformed_reason existed have none
        F.col("_malformed_reason") if "_malformed_reason" in bronze.columns else F.lit(None).cast("string").alias(
            "_malformed_reason"),
        *LINEAGE_KEPT,
        PARTITION_COLUMN,
    )
    for spec in table.columns:
        if spec.repeated_hour:  # the second reading of a repeated local hour is the later instant
            out = out.withColumn(spec.name, repeated_hour(F.col(spec.name), spec, LINEAGE_KEPT))
    for spec in table.columns:
        if spec.derive:  # e.g. an age band replaces the birth date it is computed from
            out = out.withColumn(spec.name, F.expr(spec.derive))
    return out


# --------------------------------------------------------------------------- rules


def table_rules(table: SilverTable, source: Source, *, as_of: dt.date | None = None) -> list[Rule]:
    """Every rule of a table in evaluation order: built-ins, column rules, declared."""
    formats = ", ".join(source.date_formats)
    future = getattr(table, "future_dates", None) or "warn"
    rules = [
        Rule("well_formed_row", "builtin", "drop", "quarantined", "the raw record did not parse"),
        Rule("valid_snapshot_date", "builtin", "drop", "quarantined",
             f"{source.date_column} did not parse with any of [{formats}]"),
        Rule("not_future_date", "builtin", future, ACTIONS[future],
             f"{source.date_column} is after the run's date {run_date(as_of)}"),
    ]
    for spec in table.columns:
        if spec.null_tokens:
            rules.append(Rule(f"null_token_{spec.name}", "cleaning", "warn", "nulled",
                              f"{spec.source_column} held a placeholder {list(spec.null_tokens)}"))
        if spec.strip:
            rules.append(Rule(f"decorated_{spec.name}", "cleaning", "warn", "stripped",
                              f"{spec.source_column} had {spec.strip!r} around the value"))
        if spec.validated:
            drop = spec.on_invalid == "quarantine"
            rules.append(Rule(f"valid_{spec.name}", "cleaning", "drop" if drop else "warn",
                              "quarantined" if drop else "nulled", _invalid_reason(spec)))
    for rule in table.rules:
        rules.append(Rule(rule.name, "rule", rule.severity, ACTIONS[rule.severity],
                          rule.description or _rule_reason(rule)))
    return rules


def _invalid_reason(spec: ColumnSpec) -> str:
    parts = [f"type {spec.type}"]
    if spec.valid_range:
        parts.append(f"range [{spec.valid_range[0]}, {spec.valid_range[1]}]")
    if spec.fit_k is not None:
        parts.append(f"fitted Tukey fences k={spec.fit_k:g}")
    if spec.pattern:
        parts.append(f"pattern {spec.pattern}")
    if spec.mapping is not None:
        parts.append(f"values {list(spec.mapping)}")
    if spec.vocabulary:
        parts.append("closed vocabulary")
    if spec.parse:
        parts.append(f"parse {spec.parse}")
    return f"{spec.source_column} present but unusable ({'; '.join(parts)})"


def _rule_reason(rule: RuleSpec) -> str:
    if rule.check:
        return f"fails check: {rule.check}"
    if rule.unique:
        return f"duplicate of an earlier row with the same {', '.join(rule.unique)}"
    table, cols = rule.references
    among = f" matching {rule.reference_where}" if rule.reference_where else ""
    return f"no row in silver/{table}{among} with the same {', '.join(cols)}"


def check_rules(
    df: DataFrame,
    table: SilverTable,
    references: dict[str, DataFrame] | None = None,
    accepted: DataFrame | None = None,
    *,
    as_of: dt.date | None = None,
) -> DataFrame:
    """Add `_r_<rule>` (true = fails) for every rule of `table`; metric columns that are
    rules too (`_m_valid_*`) are referenced, not recomputed. `references` maps a silver
    table name to a DataFrame holding (at least) the referenced key columns (a rule that
    references `table` itself reads `df` and `accepted`, the table as the run leaves it). `accepted`
    holds the rows silver keeps outside the partitions being (re)built: a row whose
    unique key is already among them is a duplicate too. `as_of` is the run's date for
    not_future_date (default UTC today)."""
    references = references or {}
    # row-wise rules in one projection (a withColumn each would re-analyse the plan each time)
    flags = {
        f"{RULE_PREFIX}well_formed_row": F.col("_malformed_record").isNotNull(),
        f"{RULE_PREFIX}valid_snapshot_date": F.col(PARTITION_COLUMN).isNull(),
        f"{RULE_PREFIX}not_future_date": F.coalesce(F.col(PARTITION_COLUMN) > F.lit(run_date(as_of)), F.lit(False)),
    }
    for spec in table.columns:
        if spec.validated:
            flags[f"{RULE_PREFIX}valid_{spec.name}"] = F.col(f"{METRIC_PREFIX}valid_{spec.name}")
    for rule in table.rules:
        if rule.check:
            flags[f"{RULE_PREFIX}{rule.name}"] = F.coalesce(~F.expr(rule.check), F.lit(False)) & _applies(rule)
    out = df.withColumns(flags)
    for rule in table.rules:
        name = f"{RULE_PREFIX}{rule.name}"
        if rule.check:
            continue
        if rule.unique:
            prior = accepted if accepted is not None and PARTITION_COLUMN not in rule.unique else None
            out = _flag_duplicates(out, rule.unique, name, prior)
        else:
            ref_table, cols = rule.references
            if ref_table == table.name:  # its own rows: those of this run and those kept
                common = [c for c in df.columns if accepted is not None and c in accepted.columns]
                rows = df if accepted is None else df.select(*common).unionByName(accepted.select(*common))
            elif ref_table in references:
                rows = references[ref_table]
            else:
                raise KeyError(f"rule {rule.name}: no data for referenced table silver/{ref_table}")
            if rule.reference_where:
                rows = rows.where(F.expr(rule.reference_where))
            keys = rows.select(*cols).dropna().distinct().withColumn("_ref_hit", F.lit(True))
            present = _applies(rule)
            for c in cols:
                present = present & F.col(c).isNotNull()
            out = (
                out.join(F.broadcast(keys), on=list(cols), how="left")
                .withColumn(name, present & F.col("_ref_hit").isNull())
                .drop("_ref_hit")
            )
    return out


def _applies(rule: RuleSpec) -> Column:
    """Whether a row is one the rule judges: its `where` (true when none; a null counts
    as not applying)."""
    return F.coalesce(F.expr(rule.where), F.lit(False)) if rule.where else F.lit(True)


#: Up to this many duplicate rows are flagged through a broadcast join of their row ids;
#: beyond it, through a window over the whole rows (a shuffle of every column).
MAX_BROADCAST_DUPLICATES = 100_000


def _flag_duplicates(df: DataFrame, keys: tuple[str, ...], name: str, prior: DataFrame | None = None) -> DataFrame:
    """Add `name`: true for every row whose `keys` equal those of a row earlier in the
    files (by _source_file, _source_line), or of a row in `prior` (rows already
    accepted); a row with a null key part is never a duplicate. The duplicates are
    found on the keys and row ids alone (a narrow shuffle, one small action); the
    common case, none, adds a constant column."""
    keyed = F.lit(True)
    for c in keys:
        keyed = keyed & F.col(c).isNotNull()
    order = Window.partitionBy(*keys).orderBy(*LINEAGE_KEPT)
    ids = df.where(keyed).select(*keys, *LINEAGE_KEPT)
    later = ids.withColumn("_rank", F.row_number().over(order)).where(F.col("_rank") > 1).select(*LINEAGE_KEPT)
    known = None if prior is None else prior.select(*keys).dropna().distinct()
    if known is not None:
        later = later.unionByName(ids.join(known, on=list(keys), how="left_semi").select(*LINEAGE_KEPT)).distinct()
    found = later.limit(MAX_BROADCAST_DUPLICATES + 1).collect()
    if not found:
        return df.withColumn(name, F.lit(False))
    if len(found) > MAX_BROADCAST_DUPLICATES:
        if known is None:
            return df.withColumn(name, keyed & (F.row_number().over(order) > 1))
        return (
            df.join(known.withColumn("_known", F.lit(True)), on=list(keys), how="left")
            .withColumn(name, keyed & ((F.row_number().over(order) > 1) | F.col("_known").isNotNull()))
            .select(*df.columns, name)
        )
    ids = df.sparkSession.createDataFrame(found, later.schema).withColumn("_dup", F.lit(True))
    return (
        df.join(F.broadcast(ids), on=list(LINEAGE_KEPT), how="left")
        .withColumn(name, F.col("_dup").isNotNull())
        .drop("_dup")
    )


def _drop_flag(rules: list[Rule]) -> Column:
    cond = F.lit(False)
    for r in rules:
        if r.severity == "drop":
            cond = cond | F.col(f"{RULE_PREFIX}{r.name}")
    return cond


def silver_rows(checked: DataFrame, table: SilverTable, rules: list[Rule]) -> DataFrame:
    """The rows that pass every drop rule, with the silver columns only."""
    flags = [c.flag_column for c in table.columns if c.validated]
    return checked.where(~_drop_flag(rules)).select(
        *[c.name for c in table.columns], *flags, *LINEAGE_KEPT, PARTITION_COLUMN
    )


def quarantine_rows(
    checked: DataFrame, table: SilverTable, rules: list[Rule], source: Source | None = None
) -> DataFrame:
    """The rows that fail any drop rule: one row each, with rule, reasons, raw values.
    When the source has personal data, a malformed raw line is masked too (its file
    and line number still lead to it in bronze)."""
    if source is not None and source.personal_data:
        checked = checked.withColumn(
            "_malformed_record", F.when(F.col("_malformed_record").isNotNull(), F.lit(MASKED))
        )
    drops = [r for r in rules if r.severity == "drop"]
    if not drops:
        return checked.where(F.lit(False)).select(*_quarantine_columns(table, [], F.lit(None), F.array()))
    first = F.coalesce(*[F.when(F.col(f"{RULE_PREFIX}{r.name}"), F.lit(r.name)) for r in drops])
    failed = F.array_compact(F.array(*[F.when(F.col(f"{RULE_PREFIX}{r.name}"), F.lit(r.name)) for r in drops]))
    reasons = F.array_compact(F.array(*[
        F.when(F.col(f"{RULE_PREFIX}{r.name}"), _reason_text(r)) for r in drops
    ]))
    return checked.where(_drop_flag(rules)).select(*_quarantine_columns(table, reasons, first, failed))


def _reason_text(rule: Rule) -> Column:
    """A failed rule in words; a malformed record says why it did not parse."""
    if rule.name == "well_formed_row":
        return F.concat(F.lit(f"{rule.name}: {rule.reason}: "), F.coalesce(F.col("_malformed_reason"), F.lit("unknown")))
    return F.lit(f"{rule.name}: {rule.reason}")


def _quarantine_columns(table: SilverTable, reasons, first: Column, failed: Column) -> list[Column]:
    reason = F.array_join(reasons, "; ") if not isinstance(reasons, list) else F.lit(None).cast("string")
    return [
        F.lit(table.name).alias("table"),
        first.cast("string").alias("rule"),
        reason.alias("reason"),
        failed.cast("array<string>").alias("failed_rules"),
        F.col("_raw_values").alias("raw_values"),
        "_malformed_record",
        *LINEAGE_KEPT,
        PARTITION_COLUMN,
    ]


def metric_aggregates(checked: DataFrame, rules: list[Rule]) -> DataFrame:
    """Per snapshot_date: rows checked and, per rule, rows that failed (one aggregation)."""
    aggs = [F.count(F.lit(1)).alias("_rows")]
    for r in rules:
        col = f"{METRIC_PREFIX}{r.name}" if r.kind == "cleaning" else f"{RULE_PREFIX}{r.name}"
        aggs.append(F.sum(F.col(col).cast("long")).alias(r.name))
    return checked.groupBy(PARTITION_COLUMN).agg(*aggs)
