"""The body of `python main.py sql` (its options are parsed in utils/cli.py).

    python main.py sql "SELECT label_def, avg(label) FROM label_store GROUP BY 1"
    python main.py sql --format csv "SELECT * FROM silver.financials LIMIT 5"
    python main.py sql --ddl [--dialect duckdb]      the DDL (default PostgreSQL)
    python main.py sql --warehouse postgresql://user@host/db [--layers gold,silver]
    python main.py sql                               the tables a query may name

Results go to stdout: an aligned table (rich), CSV or JSON; notes and errors to
stderr. Exit status: 0 success; 1 an export or DDL failure; 2 a wrong option, an
unknown domain or table, or a query DuckDB rejects (its message, one line).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import sys
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from utils.lake.config import CONF_DIR, ConfigError, DomainConfig, load_config
from utils.lake.datamart import Datamart
from utils.warehouse.contract import WAREHOUSE_LAYERS, ExportError, TableContract, WarehouseError, domain_contracts
from utils.warehouse.ddl import DDLError, render
from utils.warehouse.engine import QueryError, QueryResult, open_warehouse

logger = logging.getLogger(__name__)

FORMATS = ("table", "csv", "json")


def resolve_domain(datamart: Path, domain: str | None) -> str:
    """`domain`, or the only domain the datamart holds; WarehouseError when it is ambiguous."""
    if domain:
        return domain
    found = Datamart(datamart).domains()
    if len(found) == 1:
        return found[0]
    if not found:
        raise WarehouseError(f"no domain has tables in {datamart}; build one with `python main.py`")
    raise WarehouseError(f"{datamart} holds several domains ({', '.join(found)}); choose one with --domain")


def domain_config(domain: str, config: Path | None, overrides: list[str]) -> DomainConfig | None:
    """The domain's YAML, or None (tables without comments and keys, with a warning) when
    conf/<domain>.yaml does not exist and no --config was given."""
    if config is None and not overrides and not (CONF_DIR / f"{domain}.yaml").is_file():
        logger.warning("no conf/%s.yaml: the tables have no comments and no keys", domain)
        return None
    return load_config(domain, path=config, overrides=overrides)


# --------------------------------------------------------------------------- output


def _plain(value: Any) -> Any:
    """A value as JSON holds it: dates and decimals as text, NaN and infinities as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _text(value: Any) -> str:
    return "NULL" if value is None else str(value)


def write_result(result: QueryResult, fmt: str, stdout: TextIO, out: Console) -> None:
    """Print the rows as an aligned table (rich), CSV (header line first) or a JSON array."""
    if fmt == "csv":
        writer = csv.writer(stdout, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([["" if v is None else v for v in row] for row in result.rows])
    elif fmt == "json":
        stdout.write(json.dumps([_plain(r) for r in result.records()], indent=1, ensure_ascii=False) + "\n")
    else:
        table = Table(show_edge=False, header_style="bold")
        numeric = ("INT", "DOUBLE", "FLOAT", "DECIMAL", "REAL", "BIGINT", "HUGEINT", "SMALLINT", "TINYINT")
        for name, kind in zip(result.columns, result.types, strict=True):
            table.add_column(name, justify="right" if kind.upper().startswith(numeric) else "left", overflow="fold")
        for row in result.rows:
            table.add_row(*[_text(v) for v in row])
        out.print(table)
    stdout.flush()


def _tables_listing(warehouse_tables: list[tuple[str, TableContract, int]], out: Console) -> None:
    """The tables a query may name, with rows, Delta version, key and description."""
    table = Table(title="tables (query them by these names)", show_edge=False, header_style="bold")
    for col in ("name", "rows", "Delta version", "key", "description"):
        table.add_column(col, justify="right" if col in ("rows", "Delta version") else "left", overflow="fold")
    for name, contract, rows in warehouse_tables:
        key = f"{'PK' if contract.key_kind == 'primary' else 'UNIQUE'} ({', '.join(contract.key)})" if contract.key else ""
        table.add_row(name, f"{rows:,}", str(contract.version), key, contract.description)
    out.print(table)


# --------------------------------------------------------------------------- the command


def _layers(text: str | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if text is None:
        return default
    layers = tuple(x.strip() for x in text.split(",") if x.strip())
    unknown = [x for x in layers if x not in WAREHOUSE_LAYERS]
    if unknown or not layers:
        raise WarehouseError(f"--layers {text!r}: choose from {', '.join(WAREHOUSE_LAYERS)}")
    return layers


def _query_text(args: argparse.Namespace, stdin: TextIO) -> str | None:
    if args.query == "-":
        return stdin.read()
    return args.query


def _run_query(args: argparse.Namespace, datamart: Path, domain: str, config: DomainConfig | None,
               out: Console, err: Console, stdout: TextIO, stdin: TextIO) -> int:
    sql = _query_text(args, stdin)
    with open_warehouse(datamart, domain, config) as wh:
        if not sql or not sql.strip():
            rows = {c.qualified: wh.query(f"SELECT count(*) FROM {c.qualified}").rows[0][0] for c in wh.contracts}
            listing = [(c.name, c, rows[c.qualified]) for c in wh.contracts if c.layer == "gold"]
            listing += [(c.qualified, c, rows[c.qualified]) for c in wh.contracts]
            _tables_listing(listing, out)
            return 0
        limit = args.max_rows if args.format == "table" else None
        result = wh.query(sql, max_rows=limit)
    write_result(result, args.format, stdout, out)
    if args.format == "table":
        shown = f"{len(result.rows):,} row(s)"
        if result.truncated:
            shown = f"the first {len(result.rows):,} rows shown (--max-rows); --format csv or json prints all"
        err.print(f"({shown})", markup=False, highlight=False)
    return 0


def _export(args: argparse.Namespace, datamart: Path, domain: str, config: DomainConfig | None, out: Console) -> None:
    from utils.warehouse.export import export_warehouse

    result = export_warehouse(args.warehouse, datamart, domain, config, layers=_layers(args.layers, ("gold",)),
                              prefix=args.schema_prefix)
    for name, rows in result.rows.items():
        layer, _, table = name.partition(".")
        out.print(f"exported {name} (Delta version {result.versions[name]}): {rows:,} rows -> "
                  f"{result.schemas[layer]}.{table}", markup=False, highlight=False, soft_wrap=True)
    out.print(f"export committed in {result.seconds:.1f}s", markup=False, highlight=False)


def run_sql(args: argparse.Namespace, out: Console, err: Console, *, stdout: TextIO | None = None,
            stdin: TextIO | None = None) -> int:
    """`python main.py sql` after its options were parsed (see the module for what it does)."""
    stdout = stdout or sys.stdout
    datamart = Path(args.datamart).resolve()
    try:
        domain = resolve_domain(datamart, args.domain)
        config = domain_config(domain, args.config, args.overrides)
        if args.ddl:
            contracts = domain_contracts(datamart, domain, config, layers=_layers(args.layers, WAREHOUSE_LAYERS))
            stdout.write(render(contracts, args.dialect, domain))
        if args.warehouse:
            _export(args, datamart, domain, config, out)
        if args.query is not None or not (args.ddl or args.warehouse):
            return _run_query(args, datamart, domain, config, out, err, stdout, stdin or sys.stdin)
        return 0
    except (ExportError, DDLError) as exc:  # a failure, not a wrong option
        return _error(err, exc, 1)
    except (QueryError, WarehouseError, ConfigError) as exc:
        return _error(err, exc, 2)


def _error(err: Console, exc: BaseException, code: int) -> int:
    message = " ".join(str(exc).split("\n")).strip() or type(exc).__name__
    err.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    return code
