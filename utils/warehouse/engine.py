"""An embedded SQL engine over a domain's Delta tables: DuckDB on delta-rs's Arrow datasets.

    from utils.warehouse.engine import open_warehouse
    with open_warehouse("datamart", "loan_default", config) as wh:
        result = wh.query("SELECT label_def, avg(label) FROM label_store GROUP BY 1")

One in-memory DuckDB connection per warehouse. Each table of the domain is the Arrow
dataset of one Delta version (the files delta-rs lists; DuckDB scans them when a query
runs, with column and partition pruning; nothing is copied), registered under a hidden
name and exposed as views:

    silver.<table>   every silver table (silver._quarantine included)
    gold.<table>     every gold table
    <table>          the gold tables again under their bare names (label_store)

The views carry the contract's comments (``duckdb_views()``, ``duckdb_columns()``).
Every table is read at the version current when the warehouse was opened, so the
queries of one warehouse see one consistent state even while a build commits.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import duckdb

from utils.lake.config import DomainConfig
from utils.warehouse.contract import WAREHOUSE_LAYERS, TableContract, WarehouseError, domain_contracts, open_dataset
from utils.warehouse.ddl import comment_statements, quote

logger = logging.getLogger(__name__)

_UNKNOWN_TABLE = re.compile(r"Table with name (\S+) does not exist")
_UNKNOWN_SCHEMA = re.compile(r"Schema with name (\S+) does not exist")


class QueryError(WarehouseError):
    """A query failed; the message is one line: DuckDB's own words, or for an unknown
    table its name and the tables there are."""


@dataclass(frozen=True)
class QueryResult:
    """The rows of a query (at most the `max_rows` asked for) with their column names and
    DuckDB types; `truncated` when more rows were left unread."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool = False

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


class Warehouse:
    """A DuckDB connection holding the views of one domain's tables (see the module)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, domain: str, contracts: list[TableContract]):
        self.con = con
        self.domain = domain
        self.contracts = contracts

    @property
    def tables(self) -> list[str]:
        """Every name a query may use: the bare gold names, then `<layer>.<table>`."""
        bare = [c.name for c in self.contracts if c.layer == "gold"]
        return bare + [c.qualified for c in self.contracts]

    def contract(self, name: str) -> TableContract:
        """The contract of a table by any of its names (`label_store`, `gold.label_store`)."""
        for c in self.contracts:
            if name == c.qualified or (c.layer == "gold" and name == c.name):
                return c
        raise QueryError(self._unknown(name))

    def query(self, sql: str, *, max_rows: int | None = None) -> QueryResult:
        """Run `sql` (several statements: the last one's rows) and fetch at most
        `max_rows` rows (all when None). Raises QueryError with a one-line message."""
        try:
            cursor = self.con.execute(sql)
            if cursor.description is None:  # a statement without rows (SET, CREATE TEMP VIEW ...)
                return QueryResult([], [], [])
            columns = [d[0] for d in cursor.description]
            types = [str(d[1]) for d in cursor.description]
            rows = cursor.fetchall() if max_rows is None else cursor.fetchmany(max_rows + 1)
            if max_rows is not None:
                cursor.abort()  # the rows left unread: DuckDB refuses other work until the result ends
        except duckdb.Error as exc:
            raise QueryError(self._explain(exc, sql)) from None
        truncated = max_rows is not None and len(rows) > max_rows
        return QueryResult(columns, types, rows[:max_rows] if truncated else rows, truncated)

    def _unknown(self, name: str) -> str:
        return f"unknown table {name}; known tables: {', '.join(self.tables)}"

    def _explain(self, exc: duckdb.Error, sql: str) -> str:
        """DuckDB's message on one line (without its LINE/caret excerpt); an unknown table
        or schema names the tables there are instead of DuckDB's guess."""
        text = str(exc)
        if isinstance(exc, duckdb.CatalogException):
            found = _UNKNOWN_TABLE.search(text) or _UNKNOWN_SCHEMA.search(text)
            if found:
                name = found[1].strip('"!')
                # DuckDB names the table without its schema: show it as the query wrote it
                written = re.search(rf'(\b\w+\s*\.\s*)?"?\b{re.escape(name)}\b"?', sql)
                return self._unknown(re.sub(r"\s+", "", written[0]) if written else name)
        kept = [line.strip() for line in text.splitlines()
                if line.strip() and not line.startswith("LINE ") and set(line.strip()) != {"^"}]
        return " ".join(kept) or type(exc).__name__

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _hidden(contract: TableContract) -> str:
    return f"__delta_{contract.layer}_{contract.name}"


def register(con: duckdb.DuckDBPyConnection, contracts: list[TableContract], *, comments: bool = True) -> None:
    """Register each table's Arrow dataset (at its contract's version) and create the
    views `<layer>.<table>` and, for gold, `<table>` (see the module docstring)."""
    for layer in dict.fromkeys(c.layer for c in contracts):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(layer)}")
    for c in contracts:
        con.register(_hidden(c), open_dataset(c.path, c.version))
        con.execute(f"CREATE VIEW {quote(c.layer)}.{quote(c.name)} AS SELECT * FROM {quote(_hidden(c))}")
        if c.layer == "gold":
            con.execute(f"CREATE VIEW main.{quote(c.name)} AS SELECT * FROM {quote(c.layer)}.{quote(c.name)}")
        if comments:
            statements = comment_statements(c, c.layer, relation="VIEW")
            if statements:
                con.execute("\n".join(statements))


def open_warehouse(
    datamart: str | Path, domain: str, config: DomainConfig | None = None, *,
    layers: tuple[str, ...] = WAREHOUSE_LAYERS, threads: int | None = None,
) -> Warehouse:
    """An in-memory DuckDB warehouse over `domain`'s silver and gold tables in `datamart`.
    `config` adds comments and keys to the contracts; `threads` caps DuckDB's threads.
    Raises WarehouseError naming the domains there are when `domain` has no table."""
    contracts = domain_contracts(Path(datamart), domain, config, layers=layers)
    con = duckdb.connect(":memory:")
    try:
        if threads:
            con.execute(f"SET threads = {int(threads)}")
        register(con, contracts)
    except Exception:
        con.close()
        raise
    logger.debug("warehouse %s: %s", domain, ", ".join(f"{c.qualified}@v{c.version}" for c in contracts))
    return Warehouse(con, domain, contracts)
