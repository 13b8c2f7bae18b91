"""Asset checks generated from the silver quality rules and the row accounting.

Every rule of a silver table (built-in, cleaning and declared: the same list the build
evaluates, `utils.layers.silver.table_rules`) is one check of that table's asset; a
`fail` rule is a blocking check, so a failure stops the assets downstream. One more
check per table, `row_accounting`, says bronze = silver + quarantine in every partition
(also blocking). The results are read from what the build wrote: `_meta/quality` and
`_meta/accounting`, the rows of the partitions the run covered.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator

import dagster as dg

from utils.lake.config import DomainConfig

logger = logging.getLogger(__name__)

ACCOUNTING = "row_accounting"


def asset_key(domain: str, layer: str, name: str) -> dg.AssetKey:
    """domain/layer/name, e.g. loan_default/silver/attributes."""
    return dg.AssetKey([domain, layer, name])


def silver_rules(config: DomainConfig, table: str) -> list:
    """The rules of silver table `table` in evaluation order (name, severity, reason)."""
    from utils.layers import silver

    t = config.silver[table]
    return silver.table_rules(t, config.sources[t.source])


def silver_check_specs(config: DomainConfig) -> list[dg.AssetCheckSpec]:
    """One check per rule of every silver table (blocking for `fail` rules), and the row
    accounting of each (blocking)."""
    specs = []
    for table in config.silver:
        key = asset_key(config.domain, "silver", table)
        for rule in silver_rules(config, table):
            specs.append(dg.AssetCheckSpec(
                rule.name, asset=key, blocking=rule.severity == "fail",
                description=f"{rule.severity} ({rule.kind}): {rule.reason}"))
        specs.append(dg.AssetCheckSpec(
            ACCOUNTING, asset=key, blocking=True,
            description="bronze rows = silver rows + quarantined rows in every partition"))
    return specs


def _in_window(rows: Iterable[dict], domain: str, table: str, start: dt.date | None, end: dt.date | None) -> list[dict]:
    out = []
    for r in rows:
        if r.get("domain", domain) != domain or r["table"] != f"silver/{table}":
            continue
        day = r["snapshot_date"]
        if day is not None and ((start is not None and day < start) or (end is not None and day > end)):
            continue
        out.append(r)
    return out


def _latest(rows: list[dict], key: tuple[str, ...]) -> list[dict]:
    """The rows of the latest check of each `key` (by checked_at)."""
    best: dict[tuple, dict] = {}
    for r in rows:
        k = tuple(r[c] for c in key)
        if k not in best or r["checked_at"] > best[k]["checked_at"]:
            best[k] = r
    return list(best.values())


def _flags_a_problem(rule) -> bool:
    """Whether rows counted by `rule` fail its check: every rule does, except the cleaning
    counts of values that were only tidied (a placeholder nulled, decoration stripped),
    which pass with their counts."""
    return not (rule.kind == "cleaning" and (rule.action == "stripped" or rule.name.startswith("null_token_")))


def silver_check_results(
    config: DomainConfig, datamart, tables: Iterable[str], selected: set[dg.AssetCheckKey],
    start: dt.date | None, end: dt.date | None,
) -> Iterator[dg.AssetCheckResult]:
    """The check results of silver `tables` over [start, end], from the latest quality
    and accounting rows of each partition (this run's, or the run that last wrote it
    when this one found the table unchanged)."""
    from utils.quality import results as quality

    quality_rows = quality.read(datamart.meta("quality")) if datamart.meta("quality").exists() else []
    accounting_rows = quality.read(datamart.meta("accounting")) if datamart.meta("accounting").exists() else []
    for table in tables:
        key = asset_key(config.domain, "silver", table)
        rows = _latest(_in_window(quality_rows, config.domain, table, start, end), ("snapshot_date", "rule"))
        for rule in silver_rules(config, table):
            if dg.AssetCheckKey(key, rule.name) not in selected:
                continue
            mine = [r for r in rows if r["rule"] == rule.name]
            failed = sum(r["rows_failed"] for r in mine)
            yield dg.AssetCheckResult(
                asset_key=key, check_name=rule.name, passed=failed == 0 or not _flags_a_problem(rule),
                severity=dg.AssetCheckSeverity.ERROR if rule.severity == "fail" else dg.AssetCheckSeverity.WARN,
                metadata={"rows_checked": sum(r["rows_checked"] for r in mine), "rows_failed": failed,
                          "partitions": len(mine), "severity": rule.severity, "action": rule.action})
        if dg.AssetCheckKey(key, ACCOUNTING) in selected:
            acc = _latest(_in_window(accounting_rows, config.domain, table, start, end), ("snapshot_date",))
            unbalanced = [str(r["snapshot_date"]) for r in acc if not r["balanced"]]
            yield dg.AssetCheckResult(
                asset_key=key, check_name=ACCOUNTING, passed=not unbalanced,
                metadata={"bronze_rows": sum(r["bronze_rows"] for r in acc),
                          "silver_rows": sum(r["silver_rows"] for r in acc),
                          "quarantined_rows": sum(r["quarantined_rows"] for r in acc),
                          "partitions": len(acc), "unbalanced": ", ".join(unbalanced) or "none"})


def failed_check_results(
    config: DomainConfig, exc: BaseException, selected: set[dg.AssetCheckKey]
) -> list[dg.AssetCheckResult]:
    """The failed checks a QualityError (a `fail` rule) or an AccountingError names
    (its message starts with ``silver/<table>: rule <name> (fail)`` or
    ``silver/<table>: partition``): nothing was written, so the result comes from the
    error, not from `_meta`."""
    from utils.quality import results as quality

    message = str(exc).splitlines()[0]
    out = []
    for table in config.silver:
        key = asset_key(config.domain, "silver", table)
        if not message.startswith(f"silver/{table}: "):
            continue
        if isinstance(exc, quality.AccountingError):
            names = [ACCOUNTING]
        else:
            names = [r.name for r in silver_rules(config, table)
                     if r.severity == "fail" and message.startswith(f"silver/{table}: rule {r.name} (fail)")]
        for name in names:
            if dg.AssetCheckKey(key, name) in selected:
                out.append(dg.AssetCheckResult(asset_key=key, check_name=name, passed=False,
                                               severity=dg.AssetCheckSeverity.ERROR, metadata={"error": message}))
    if not out:
        logger.error("no check of %s matches the failure: %s", config.domain, message)
    return out
