"""The SQL warehouse of a domain: its silver and gold Delta tables as a relational schema.

    contract.py   table contracts: the Delta schema (types) + the domain YAML (keys,
                  table, column and feature descriptions); the one module here that
                  opens Delta tables (delta-rs, read only)
    ddl.py        contracts -> DDL text for PostgreSQL and DuckDB (COMMENT ON, keys)
    engine.py     an embedded DuckDB over the tables, no copy: schemas silver and gold,
                  gold tables also by their bare names (`label_store`)
    export.py     gold (and optionally silver) into PostgreSQL: DDL, COPY, atomic swap
    command.py    the body of `python main.py sql` (results as a table, CSV or JSON)
    samples.py    sample queries per domain; docs.py writes docs/sql_warehouse.md

Reads tables, never writes them. May import utils.lake only.
"""
