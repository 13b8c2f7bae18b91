"""DDL of a domain's warehouse, from its table contracts, for PostgreSQL and DuckDB.

    python main.py sql --domain loan_default --ddl [--dialect postgresql|duckdb]

One ``CREATE TABLE`` per contract, column types from the Delta schema (below), the
contract's key as ``PRIMARY KEY`` (gold) or ``UNIQUE`` (silver), then ``COMMENT ON``
the table and every described column. Identifiers are always double-quoted, so a
column named like a keyword (``table``) needs no special case.

Delta type -> PostgreSQL / DuckDB:
    string TEXT / VARCHAR, long BIGINT, integer INTEGER, short SMALLINT,
    byte SMALLINT / TINYINT, float REAL / FLOAT, double DOUBLE PRECISION / DOUBLE,
    boolean BOOLEAN, binary BYTEA / BLOB, date DATE, timestamp TIMESTAMP WITH TIME ZONE,
    timestamp_ntz TIMESTAMP, decimal(p,s) NUMERIC(p,s) / DECIMAL(p,s),
    array<T> T[] (PostgreSQL: JSONB when T is nested), map and struct JSONB / MAP, STRUCT.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from utils.warehouse.contract import TableContract

DIALECTS = ("postgresql", "duckdb")

#: Delta primitive type -> (PostgreSQL, DuckDB).
PRIMITIVES = {
    "string": ("TEXT", "VARCHAR"),
    "long": ("BIGINT", "BIGINT"),
    "integer": ("INTEGER", "INTEGER"),
    "short": ("SMALLINT", "SMALLINT"),
    "byte": ("SMALLINT", "TINYINT"),
    "float": ("REAL", "FLOAT"),
    "double": ("DOUBLE PRECISION", "DOUBLE"),
    "boolean": ("BOOLEAN", "BOOLEAN"),
    "binary": ("BYTEA", "BLOB"),
    "date": ("DATE", "DATE"),
    "timestamp": ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITH TIME ZONE"),
    "timestamp_ntz": ("TIMESTAMP", "TIMESTAMP"),
}
_DECIMAL = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


class DDLError(ValueError):
    """A Delta type (or dialect) the DDL cannot express."""


def quote(identifier: str) -> str:
    """A double-quoted SQL identifier (inner quotes doubled)."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(text: str) -> str:
    """A single-quoted SQL string literal (inner quotes doubled)."""
    return "'" + text.replace("'", "''") + "'"


def is_nested(delta_type: Any) -> bool:
    """Whether a Delta type is an array, map or struct."""
    return isinstance(delta_type, dict)


def sql_type(delta_type: Any, dialect: str) -> str:
    """The column type of `dialect` for a Delta type (its JSON form: a name or an object)."""
    if dialect not in DIALECTS:
        raise DDLError(f"unknown SQL dialect {dialect!r} (known: {', '.join(DIALECTS)})")
    pg = dialect == "postgresql"
    if isinstance(delta_type, str):
        if delta_type in PRIMITIVES:
            return PRIMITIVES[delta_type][0 if pg else 1]
        match = _DECIMAL.match(delta_type)
        if match:
            return f"{'NUMERIC' if pg else 'DECIMAL'}({match[1]},{match[2]})"
        raise DDLError(f"Delta type {delta_type!r} has no SQL type here")
    kind = delta_type.get("type")
    if kind == "array":
        element = delta_type["elementType"]
        if pg and is_nested(element):
            return "JSONB"
        return f"{sql_type(element, dialect)}[]"
    if pg and kind in ("map", "struct"):
        return "JSONB"
    if kind == "map":
        return f"MAP({sql_type(delta_type['keyType'], dialect)}, {sql_type(delta_type['valueType'], dialect)})"
    if kind == "struct":
        inner = ", ".join(f"{quote(f['name'])} {sql_type(f['type'], dialect)}" for f in delta_type["fields"])
        return f"STRUCT({inner})"
    raise DDLError(f"Delta type {delta_type!r} has no SQL type here")


def default_schemas(dialect: str, domain: str) -> dict[str, str]:
    """Layer -> schema name: DuckDB `silver`, `gold` (one domain per connection);
    PostgreSQL `<domain>_silver`, `<domain>_gold` (several domains per database)."""
    return {layer: layer if dialect == "duckdb" else f"{domain}_{layer}" for layer in ("silver", "gold")}


def create_table(contract: TableContract, dialect: str, schema: str) -> str:
    """``CREATE TABLE "<schema>"."<name>" (...)`` with the contract's key."""
    lines = [f"    {quote(c.name)} {sql_type(c.delta_type, dialect)}" for c in contract.columns]
    if contract.key:
        constraint = "PRIMARY KEY" if contract.key_kind == "primary" else "UNIQUE"
        lines.append(f"    {constraint} ({', '.join(quote(k) for k in contract.key)})")
    body = ",\n".join(lines)
    return f"CREATE TABLE {quote(schema)}.{quote(contract.name)} (\n{body}\n);"


def comment_statements(contract: TableContract, schema: str, *, relation: str = "TABLE") -> list[str]:
    """``COMMENT ON`` the table (or VIEW) and each described column; both dialects."""
    target = f"{quote(schema)}.{quote(contract.name)}"
    out = [f"COMMENT ON {relation} {target} IS {literal(contract.description)};"] if contract.description else []
    out += [f"COMMENT ON COLUMN {target}.{quote(c.name)} IS {literal(c.description)};"
            for c in contract.columns if c.description]
    return out


def render(
    contracts: Iterable[TableContract], dialect: str, domain: str, schemas: Mapping[str, str] | None = None,
    *, create_schemas: bool = True,
) -> str:
    """The DDL text of `contracts`: schemas, tables, keys and comments, in table order.
    `schemas` maps a layer to its schema name (default :func:`default_schemas`)."""
    names = dict(schemas or default_schemas(dialect, domain))
    contracts = list(contracts)
    parts = [f"-- {dialect} DDL of the {domain} warehouse, from the Delta schemas and conf/{domain}.yaml"]
    if create_schemas:
        used = [names[layer] for layer in dict.fromkeys(c.layer for c in contracts)]
        parts += [f"CREATE SCHEMA IF NOT EXISTS {quote(s)};" for s in used]
    for c in contracts:
        parts.append("")
        parts.append(f"-- {c.qualified}: Delta version {c.version}")
        parts.append(create_table(c, dialect, names[c.layer]))
        parts += comment_statements(c, names[c.layer])
    return "\n".join(parts) + "\n"
