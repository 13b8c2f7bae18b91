"""Export a domain's gold (and optionally silver) tables into PostgreSQL, atomically.

    python main.py sql --domain loan_default --warehouse postgresql://user@host:5432/db
    python main.py sql --domain loan_default --warehouse URL --layers gold,silver

Each layer becomes one schema, ``<prefix>_<layer>`` (prefix: the domain, e.g.
``loan_default_gold``), holding the tables with the DDL of :mod:`utils.warehouse.ddl`
(types, keys, comments) and a table ``_lakehouse_export`` (per table: Delta version
read, rows, export time). One transaction does everything:

1. take an advisory lock on the target schemas (exports of the same schemas queue);
2. create fresh staging schemas ``<schema>__new_<id>`` and apply the DDL there;
3. bulk-load every table with COPY from the Delta version read (Arrow batches as CSV;
   tables with array, map, struct or binary columns row by row), then check that
   ``count(*)`` equals the Delta table's row count;
4. drop the previous schemas (CASCADE: anything created inside them, or views that
   depend on them, go too; the export owns these schemas) and rename the staging ones.

Only the commit makes the new export visible; a failure at any step (bad DDL, a key
violated, a count that differs, the connection dropped) rolls everything back and leaves
the previous export as it was. Passwords never reach a log or an error: URLs are shown
by :func:`mask_url`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg.types.json import Jsonb

from utils.lake.config import DomainConfig
from utils.warehouse.contract import ExportError, TableContract, domain_contracts, open_dataset
from utils.warehouse.ddl import is_nested, quote, render

logger = logging.getLogger(__name__)

EXPORT_TABLE = "_lakehouse_export"
MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names
BATCH_ROWS = 50_000


@dataclass(frozen=True)
class ExportResult:
    """What an export committed: layer -> schema, and per table `<schema>.<table>` its
    rows and the Delta version they came from."""

    schemas: dict[str, str]
    rows: dict[str, int] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def mask_url(url: str) -> str:
    """`url` with its password (if any) replaced by ***: the only form that is logged."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _scrub(text: str, url: str) -> str:
    """`text` (an error message) without the URL's password, on one line."""
    password = urlsplit(url).password
    if password:
        text = text.replace(password, "***")
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def target_schemas(prefix: str, layers: tuple[str, ...]) -> dict[str, str]:
    """Layer -> schema name `<prefix>_<layer>`; refuses names PostgreSQL would truncate."""
    out = {layer: f"{prefix}_{layer}" for layer in layers}
    for name in out.values():
        if len(name) + len("__new_") + 8 > MAX_IDENTIFIER:
            raise ExportError(f"schema name {name!r} is too long for PostgreSQL ({MAX_IDENTIFIER} characters "
                              "with the staging suffix); choose a shorter prefix")
    return out


# --------------------------------------------------------------------------- loading


def _needs_rows(contract: TableContract) -> bool:
    """Whether a column cannot go through CSV (nested values, bytes)."""
    return any(is_nested(c.delta_type) or c.delta_type == "binary" for c in contract.columns)


def _jsonable(value: Any) -> Any:
    """A nested Arrow value as JSON: maps (lists of pairs) become objects."""
    if isinstance(value, list) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return {str(k): _jsonable(v) for k, v in value}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _row_values(batch: pa.RecordBatch, contract: TableContract) -> Iterator[tuple[Any, ...]]:
    """The rows of `batch` as Python values PostgreSQL's COPY takes (JSONB where the DDL says so)."""
    dumps = partial(json.dumps, default=str)
    as_json = [is_nested(c.delta_type) and (c.delta_type.get("type") != "array"
                                            or is_nested(c.delta_type["elementType"])) for c in contract.columns]
    columns = [batch.column(i).to_pylist() for i in range(batch.num_columns)]
    for row in zip(*columns, strict=True):
        yield tuple(Jsonb(_jsonable(v), dumps=dumps) if j and v is not None else v
                    for v, j in zip(row, as_json, strict=True))


def copy_table(cur: psycopg.Cursor, contract: TableContract, schema: str) -> int:
    """COPY the rows of the contract's Delta version into `<schema>.<table>`; the rows sent."""
    names = contract.column_names
    target = f"{quote(schema)}.{quote(contract.name)} ({', '.join(quote(n) for n in names)})"
    dataset = open_dataset(contract.path, contract.version)
    sent = 0
    if _needs_rows(contract):
        with cur.copy(f"COPY {target} FROM STDIN") as copy:
            for batch in dataset.to_batches(columns=names, batch_size=BATCH_ROWS):
                for row in _row_values(batch, contract):
                    copy.write_row(row)
                sent += batch.num_rows
        return sent
    options = pacsv.WriteOptions(include_header=False)
    with cur.copy(f"COPY {target} FROM STDIN (FORMAT csv)") as copy:
        for batch in dataset.to_batches(columns=names, batch_size=BATCH_ROWS):
            if batch.num_rows:
                buffer = io.BytesIO()
                pacsv.write_csv(batch, buffer, options)
                copy.write(buffer.getvalue())
                sent += batch.num_rows
    return sent


def _export_table_ddl(schema: str) -> str:
    name = f"{quote(schema)}.{quote(EXPORT_TABLE)}"
    return (f"CREATE TABLE {name} (table_name TEXT PRIMARY KEY, layer TEXT, delta_version BIGINT, "
            f"row_count BIGINT, exported_at TIMESTAMP WITH TIME ZONE);\n"
            f"COMMENT ON TABLE {name} IS 'What the lakehouse export loaded: per table, the Delta version read "
            f"and its rows';")


# --------------------------------------------------------------------------- the transaction


def _load_all(conn: psycopg.Connection, contracts: list[TableContract], staging: dict[str, str], domain: str,
              on_table_loaded: Callable[[psycopg.Connection, TableContract], None] | None) -> ExportResult:
    """Inside the open transaction: DDL, COPY and checks into the staging schemas."""
    result = ExportResult(schemas={})
    now = dt.datetime.now(dt.UTC)
    with conn.cursor() as cur:
        for schema in staging.values():
            cur.execute(f"CREATE SCHEMA {quote(schema)}")
            cur.execute(_export_table_ddl(schema))
        cur.execute(render(contracts, "postgresql", domain, staging, create_schemas=False))
        for contract in contracts:
            schema = staging[contract.layer]
            sent = copy_table(cur, contract, schema)
            count = cur.execute(f"SELECT count(*) FROM {quote(schema)}.{quote(contract.name)}").fetchone()[0]
            expected = open_dataset(contract.path, contract.version).count_rows()
            if not count == sent == expected:
                raise ExportError(f"{contract.qualified}: PostgreSQL holds {count} rows, {sent} were sent, "
                                  f"the Delta table (version {contract.version}) has {expected}")
            cur.execute(f"INSERT INTO {quote(schema)}.{quote(EXPORT_TABLE)} VALUES (%s, %s, %s, %s, %s)",
                        (contract.name, contract.layer, contract.version, count, now))
            result.rows[contract.qualified] = count
            result.versions[contract.qualified] = contract.version
            logger.info("exported %s: %d rows (Delta version %d)", contract.qualified, count, contract.version)
            if on_table_loaded is not None:
                on_table_loaded(conn, contract)
    return result


def _swap(conn: psycopg.Connection, staging: dict[str, str], targets: dict[str, str]) -> None:
    """Replace each target schema by its staging schema (same transaction)."""
    with conn.cursor() as cur:
        for layer, schema in targets.items():
            cur.execute(f"DROP SCHEMA IF EXISTS {quote(schema)} CASCADE")
            cur.execute(f"ALTER SCHEMA {quote(staging[layer])} RENAME TO {quote(schema)}")


def export_warehouse(
    url: str, datamart: str | Path, domain: str, config: DomainConfig | None, *,
    layers: tuple[str, ...] = ("gold",), prefix: str | None = None, connect_timeout: int = 10,
    on_table_loaded: Callable[[psycopg.Connection, TableContract], None] | None = None,
) -> ExportResult:
    """Export `domain`'s tables of `layers` into the PostgreSQL database at `url`, in one
    transaction (see the module). `on_table_loaded(conn, contract)` runs after each table
    is loaded (tests use it to break things mid-way). Raises ExportError after a rollback."""
    started = time.monotonic()
    contracts = domain_contracts(Path(datamart), domain, config, layers=layers)
    missing = sorted(set(layers) - {c.layer for c in contracts})
    if missing:
        raise ExportError(f"domain {domain} has no {', '.join(missing)} tables in {datamart}")
    targets = target_schemas(prefix or domain, layers)
    token = uuid.uuid4().hex[:8]
    staging = {layer: f"{schema}__new_{token}" for layer, schema in targets.items()}
    where = mask_url(url)
    logger.info("exporting %s (%s) to %s, schemas %s", domain, ", ".join(layers), where, ", ".join(targets.values()))
    try:
        conn = psycopg.connect(url, connect_timeout=connect_timeout)
    except psycopg.Error as exc:
        raise ExportError(f"cannot connect to {where}: {_scrub(str(exc), url)}") from None
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (",".join(sorted(targets.values())),))
            result = _load_all(conn, contracts, staging, domain, on_table_loaded)
            _swap(conn, staging, targets)
    except psycopg.Error as exc:
        raise ExportError(f"export to {where} failed and was rolled back (the previous export is unchanged): "
                          f"{_scrub(str(exc), url)}") from None
    except ExportError as exc:
        raise ExportError(f"{exc}; rolled back, the previous export is unchanged") from None
    finally:
        conn.close()
    return ExportResult(schemas=targets, rows=result.rows, versions=result.versions,
                        seconds=round(time.monotonic() - started, 2))
