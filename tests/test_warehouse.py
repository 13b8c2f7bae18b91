"""The SQL warehouse (utils/warehouse): contracts and DDL, the DuckDB engine, `main.py sql`,
the PostgreSQL export and the sample-query docs, on the sample datamart built once
(tests/conftest.py). The PostgreSQL tests use the server on 127.0.0.1:5432 (or
LAKEHOUSE_TEST_POSTGRES_URL) and skip, saying why, where none answers."""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from utils.cli import main
from utils.lake.config import LabelDef, load_config
from utils.lake.datamart import Datamart
from utils.warehouse import ddl, export
from utils.warehouse.command import resolve_domain
from utils.warehouse.contract import ExportError, WarehouseError, _label_key, domain_contracts
from utils.warehouse.docs import render_page
from utils.warehouse.engine import QueryError, open_warehouse

DOMAIN = "loan_default"
PG_URL = os.environ.get("LAKEHOUSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

#: Arrow type of a column (as delta-rs reads it) -> the PostgreSQL type its DDL must give.
ARROW_TO_POSTGRES = {
    "string": "TEXT", "int32": "INTEGER", "int64": "BIGINT", "double": "DOUBLE PRECISION", "bool": "BOOLEAN",
    "date32[day]": "DATE", "list<element: string>": "TEXT[]", "list<element: string not null>": "TEXT[]",
    "map<string, string>": "JSONB",
}


@pytest.fixture(scope="module")
def config():
    return load_config(DOMAIN)


@pytest.fixture(scope="module")
def warehouse(sample_datamart, config):
    with open_warehouse(sample_datamart, DOMAIN, config) as wh:
        yield wh


def arrow_table(datamart: Path, layer: str, name: str, columns: list[str] | None = None) -> pa.Table:
    """The table read directly with delta-rs and pyarrow (no filter pushed down)."""
    return DeltaTable(str(datamart / layer / DOMAIN / name)).to_pyarrow_dataset().to_table(columns=columns)


def run_sql(capsys, *argv: str) -> tuple[int, str, str]:
    """`python main.py sql --domain loan_default ARGV` (the datamart may hold other domains too)."""
    code = main(["sql", "--domain", DOMAIN, *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --------------------------------------------------------------------------- contracts and DDL


def test_ddl_column_types_match_the_delta_schema(sample_datamart, warehouse):
    for contract in warehouse.contracts:
        schema = DeltaTable(str(contract.path)).to_pyarrow_dataset().schema
        assert contract.column_names == schema.names, contract.qualified
        for column, field in zip(contract.columns, schema, strict=True):
            expected = ARROW_TO_POSTGRES[str(field.type)]
            assert ddl.sql_type(column.delta_type, "postgresql") == expected, (contract.qualified, column.name)


def test_duckdb_ddl_creates_tables_that_hold_the_views_rows_with_the_same_types(warehouse):
    con = duckdb.connect()
    con.execute(ddl.render(warehouse.contracts, "duckdb", DOMAIN))
    for c in warehouse.contracts:
        con.register("rows", warehouse.con.sql(f"SELECT * FROM {c.qualified}").to_arrow_table())
        con.execute(f"INSERT INTO {c.qualified} SELECT * FROM rows")
        con.unregister("rows")
        made = con.execute(f"DESCRIBE {c.qualified}").fetchall()
        seen = warehouse.con.execute(f"DESCRIBE {c.qualified}").fetchall()
        assert [(r[0], r[1]) for r in made] == [(r[0], r[1]) for r in seen], c.qualified
        assert con.execute(f"SELECT count(*) FROM {c.qualified}").fetchall() == \
            warehouse.query(f"SELECT count(*) FROM {c.qualified}").rows


def test_gold_keys_are_primary_keys_and_silver_keys_are_unique(warehouse):
    keys = {c.qualified: (c.key, c.key_kind) for c in warehouse.contracts}
    assert keys["gold.feature_store"] == (("customer_id", "snapshot_date"), "primary")
    assert keys["gold.label_store"] == (("loan_id", "label_def"), "primary")
    assert keys["silver.loan_daily"] == (("loan_id", "installment_num"), "unique")
    text = ddl.render(warehouse.contracts, "postgresql", DOMAIN)
    assert 'PRIMARY KEY ("loan_id", "label_def")' in text
    assert 'UNIQUE ("loan_id", "installment_num")' in text


def test_comments_come_from_the_yaml_descriptions(warehouse, config):
    text = ddl.render([warehouse.contract("feature_store")], "postgresql", DOMAIN)
    debt = next(f for f in config.gold.features if f.name == "debt_to_income")
    assert (f'COMMENT ON COLUMN "loan_default_gold"."feature_store"."debt_to_income" IS '
            f"{ddl.literal(debt.description)};") in text
    assert 'COMMENT ON TABLE "loan_default_gold"."feature_store" IS ' in text
    age = warehouse.query("SELECT comment FROM duckdb_columns() WHERE schema_name = 'silver' "
                          "AND table_name = 'attributes' AND column_name = 'age'").rows
    assert age[0][0].startswith("Age in years")


def test_a_comment_with_a_quote_is_escaped():
    assert ddl.literal("the loan's MOB-0 row") == "'the loan''s MOB-0 row'"
    assert ddl.quote('a"b') == '"a""b"'


def test_no_event_label_store_key_is_entity_decision_date_and_definition(config):
    if "kind" not in LabelDef.__dataclass_fields__:
        pytest.skip("this version's LabelDef has no label kinds")
    churn = LabelDef(kind="no_event", label_name="churn_60d", days=60, table="orders", time="ordered_at")
    gold = config.gold.__class__(**{**config.gold.__dict__, "labels": (churn,)})
    assert _label_key(gold) == ("customer_id", "feature_snapshot_date", "label_def")
    mixed = config.gold.__class__(**{**config.gold.__dict__, "labels": (churn, *config.gold.labels)})
    assert _label_key(mixed) == ()


# --------------------------------------------------------------------------- the engine


def test_query_counts_equal_counts_computed_with_deltalake(sample_datamart, warehouse):
    for c in warehouse.contracts:
        direct = DeltaTable(str(c.path)).to_pyarrow_dataset().count_rows()
        assert warehouse.query(f"SELECT count(*) FROM {c.qualified}").rows == [(direct,)], c.qualified
    labels = arrow_table(sample_datamart, "gold", "label_store")
    defaults = pc.sum(labels["label"]).as_py()
    assert defaults > 0
    assert warehouse.query("SELECT sum(label) FROM label_store").rows == [(defaults,)]


def test_filters_on_columns_the_log_has_no_statistics_for_keep_their_rows(sample_datamart, warehouse):
    """Our writer records no min/max for strings; delta-rs's own dataset then skips every
    file for a filter on them. The warehouse's datasets guarantee partition values only."""
    labels = arrow_table(sample_datamart, "gold", "label_store")
    name = labels["label_def"][0].as_py()
    customer = labels["customer_id"][0].as_py()
    month = labels["snapshot_date"][0].as_py()
    by_name = pc.sum(pc.equal(labels["label_def"], name)).as_py()
    by_month = pc.sum(pc.equal(labels["snapshot_date"], pa.scalar(month))).as_py()
    assert warehouse.query(f"SELECT count(*) FROM label_store WHERE label_def = '{name}'").rows == [(by_name,)]
    assert warehouse.query(f"SELECT count(*) FROM label_store WHERE customer_id = '{customer}'").rows[0][0] >= 1
    assert warehouse.query(f"SELECT count(*) FROM label_store WHERE snapshot_date = DATE '{month}'").rows == \
        [(by_month,)]


def test_gold_tables_answer_to_bare_and_qualified_names(warehouse):
    assert warehouse.query("SELECT count(*) FROM label_store").rows == \
        warehouse.query("SELECT count(*) FROM gold.label_store").rows
    assert {"feature_store", "label_store", "silver.loan_daily", "silver._quarantine"} <= set(warehouse.tables)
    assert not any(t.startswith("bronze.") for t in warehouse.tables)


def test_a_result_cut_at_max_rows_does_not_block_the_next_query(warehouse):
    cut = warehouse.query("SELECT * FROM silver.clickstream", max_rows=3)
    assert cut.truncated and len(cut.rows) == 3
    assert warehouse.query("SELECT count(*) FROM silver.clickstream", max_rows=3).rows[0][0] > 3


def test_unknown_table_is_one_error_naming_the_known_tables(warehouse):
    with pytest.raises(QueryError) as err:
        warehouse.query("SELECT * FROM silver.orderz")
    message = str(err.value)
    assert "\n" not in message and message.startswith("unknown table silver.orderz; known tables: ")
    assert "label_store" in message and "silver.loan_daily" in message


def test_a_warehouse_of_a_domain_not_built_names_the_domains_there(sample_datamart):
    with pytest.raises(WarehouseError, match=r"no silver or gold tables of domain 'nope' .*domains there: .*loan_default"):
        open_warehouse(sample_datamart, "nope")


def test_without_domain_a_datamart_of_several_domains_asks_for_one(tmp_path):
    for layer, domain in (("silver", "churn"), ("gold", "loan_default")):
        (tmp_path / layer / domain / "t").mkdir(parents=True)
    with pytest.raises(WarehouseError, match=r"several domains \(churn, loan_default\); choose one with --domain"):
        resolve_domain(tmp_path, None)
    (tmp_path / "silver" / "churn" / "t").rmdir()
    (tmp_path / "silver" / "churn").rmdir()
    assert resolve_domain(tmp_path, None) == "loan_default"


# --------------------------------------------------------------------------- python main.py sql


def test_sql_help_lists_its_options(capsys):
    with pytest.raises(SystemExit) as done:
        main(["sql", "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    for option in ("--domain", "--datamart", "--format", "--ddl", "--warehouse"):
        assert option in out


def test_sql_prints_an_aligned_table(sample_datamart, capsys):
    code, out, err = run_sql(capsys, "--datamart", str(sample_datamart),
                             "SELECT label_def, count(*) AS n FROM label_store GROUP BY 1")
    assert code == 0
    assert "label_def" in out and "1500" in out.replace(",", "")
    assert "1 row(s)" in err


def test_sql_csv_and_json_hold_the_query_rows(sample_datamart, capsys):
    query = "SELECT loan_id, label, feature_snapshot_date FROM label_store ORDER BY loan_id LIMIT 7"
    code, out, _ = run_sql(capsys, "--datamart", str(sample_datamart), "--format", "csv", query)
    rows = list(csv.reader(io.StringIO(out)))
    assert code == 0 and rows[0] == ["loan_id", "label", "feature_snapshot_date"] and len(rows) == 8
    code, out, _ = run_sql(capsys, "--datamart", str(sample_datamart), "--format", "json", query)
    records = json.loads(out)
    assert code == 0 and [r["loan_id"] for r in records] == [r[0] for r in rows[1:]]
    assert records[0]["feature_snapshot_date"] == rows[1][2]


def test_sql_unknown_table_exits_2_with_one_line(sample_datamart, capsys):
    code, out, err = run_sql(capsys, "--datamart", str(sample_datamart), "SELECT * FROM nope")
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert err.startswith("error: unknown table nope; known tables: feature_store, label_store")


def test_sql_query_error_names_the_problem_and_exits_2(sample_datamart, capsys):
    code, _, err = run_sql(capsys, "--datamart", str(sample_datamart), "SELECT no_such_column FROM label_store")
    assert code == 2 and "Traceback" not in err and err.strip().count("\n") == 0
    assert "Binder Error" in err and "no_such_column" in err


def test_sql_ddl_option_prints_the_gold_ddl(sample_datamart, capsys):
    code, out, _ = run_sql(capsys, "--datamart", str(sample_datamart), "--ddl", "--layers", "gold")
    assert code == 0
    assert 'CREATE TABLE "loan_default_gold"."feature_store" (' in out and "silver" not in out.split("\n", 2)[1]


def test_sql_without_a_query_lists_the_tables(sample_datamart, capsys):
    code, out, _ = run_sql(capsys, "--datamart", str(sample_datamart))
    assert code == 0 and "silver.loan_daily" in out and "PK (loan_id, label_def)" in out


def test_unreachable_warehouse_fails_in_one_line_without_the_password(sample_datamart, capsys):
    code, out, err = run_sql(capsys, "--datamart", str(sample_datamart),
                             "--warehouse", "postgresql://someone:s3cret@127.0.0.1:9/nodb")
    assert code == 1 and "s3cret" not in out + err
    assert err.startswith("error: cannot connect to postgresql://someone:***@127.0.0.1:9/nodb")


def test_mask_url_hides_only_the_password():
    assert export.mask_url("postgresql://u:p%40ss@h:5432/db?sslmode=require") == \
        "postgresql://u:***@h:5432/db?sslmode=require"
    assert export.mask_url("postgresql://u@h/db") == "postgresql://u@h/db"


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="module")
def pg():
    """A connection to the test PostgreSQL (autocommit), or a skip saying why."""
    psycopg = pytest.importorskip("psycopg")
    try:
        conn = psycopg.connect(PG_URL, connect_timeout=3, autocommit=True)
    except psycopg.Error as exc:
        pytest.skip(f"no PostgreSQL at {export.mask_url(PG_URL)}: {str(exc).splitlines()[0]}")
    yield conn
    conn.close()


@pytest.fixture
def prefix(pg):
    """A schema prefix of its own; its schemas (staging ones too) are dropped afterwards."""
    name = f"wh_test_{uuid.uuid4().hex[:8]}"
    yield name
    schemas = pg.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (f"{name}%",)).fetchall()
    for (schema,) in schemas:
        pg.execute(f'DROP SCHEMA "{schema}" CASCADE')


def schemas_of(pg, prefix: str) -> list[str]:
    return sorted(r[0] for r in pg.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s",
                                           (f"{prefix}%",)).fetchall())


def exported(pg, schema: str) -> list[tuple]:
    return pg.execute(f'SELECT table_name, delta_version, row_count, exported_at FROM "{schema}"._lakehouse_export '
                      "ORDER BY table_name").fetchall()


def test_export_loads_every_gold_row_with_the_ddl(pg, prefix, sample_datamart, config):
    result = export.export_warehouse(PG_URL, sample_datamart, DOMAIN, config, prefix=prefix)
    schema = f"{prefix}_gold"
    assert result.schemas == {"gold": schema}
    for name in ("feature_store", "label_store"):
        rows = DeltaTable(str(sample_datamart / "gold" / DOMAIN / name)).to_pyarrow_dataset().count_rows()
        assert pg.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0] == rows == \
            result.rows[f"gold.{name}"]
    contracts = {c.name: c for c in domain_contracts(sample_datamart, DOMAIN, config, layers=("gold",))}
    types = pg.execute("SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                       "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                       "WHERE n.nspname = %s AND a.attnum > 0 AND c.relname IN ('feature_store', 'label_store')",
                       (schema,)).fetchall()
    for table, column, kind in types:
        spec = next(c for c in contracts[table].columns if c.name == column)
        assert kind == ddl.sql_type(spec.delta_type, "postgresql").lower(), (table, column)
    key = pg.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass "
                     "AND contype = 'p'", (f'"{schema}"."label_store"',)).fetchone()[0]
    assert key == "PRIMARY KEY (loan_id, label_def)"
    assert pg.execute("SELECT obj_description(%s::regclass)", (f'"{schema}"."label_store"',)).fetchone()[0]
    assert [(t, v, n) for t, v, n, _ in exported(pg, schema)] == [
        (name, result.versions[f"gold.{name}"], result.rows[f"gold.{name}"]) for name in ("feature_store", "label_store")]
    assert schemas_of(pg, prefix) == [schema]  # no staging schema left


def test_export_of_silver_keeps_lists_and_maps(pg, prefix, sample_datamart, config):
    export.export_warehouse(PG_URL, sample_datamart, DOMAIN, config, layers=("gold", "silver"), prefix=prefix)
    fin = arrow_table(sample_datamart, "silver", "financials", ["customer_id", "type_of_loan"]).to_pylist()
    expected = {r["customer_id"]: r["type_of_loan"] for r in fin}
    got = dict(pg.execute(f'SELECT customer_id, type_of_loan FROM "{prefix}_silver".financials').fetchall())
    assert got == expected
    assert pg.execute("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass "
                      "AND attname = 'raw_values'", (f'"{prefix}_silver"."_quarantine"',)).fetchone()[0] == "jsonb"


def test_failed_export_with_a_bad_ddl_leaves_the_previous_export(pg, prefix, sample_datamart, config, monkeypatch):
    export.export_warehouse(PG_URL, sample_datamart, DOMAIN, config, prefix=prefix)
    before = exported(pg, f"{prefix}_gold")
    monkeypatch.setattr(export, "render", lambda *a, **k: ddl.render(*a, **k) + "CREATE TABLE broken (x nosuchtype);")
    with pytest.raises(ExportError, match=r"rolled back .*nosuchtype"):
        export.export_warehouse(PG_URL, sample_datamart, DOMAIN, config, prefix=prefix)
    assert exported(pg, f"{prefix}_gold") == before
    assert pg.execute(f'SELECT count(*) FROM "{prefix}_gold".label_store').fetchone()[0] == before[1][2]
    assert schemas_of(pg, prefix) == [f"{prefix}_gold"]


@pytest.mark.parametrize("how", ["closed", "terminated"])
def test_connection_dropped_mid_export_leaves_the_previous_export(pg, prefix, sample_datamart, config, how):
    export.export_warehouse(PG_URL, sample_datamart, DOMAIN, config, prefix=prefix)
    before = exported(pg, f"{prefix}_gold")

    def drop(conn, contract):
        if how == "closed":
            conn.close()
        else:
            pg.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))

    with pytest.raises(ExportError, match="rolled back"):
        export.export_warehouse(PG_URL, sample_datamart, DOMAIN, config, prefix=prefix, on_table_loaded=drop)
    assert exported(pg, f"{prefix}_gold") == before
    assert schemas_of(pg, prefix) == [f"{prefix}_gold"]


def test_sql_warehouse_option_exports_without_showing_the_password(pg, prefix, sample_datamart, capsys, caplog):
    parts = urlsplit(PG_URL)  # a password that trust authentication ignores
    url = urlunsplit(parts._replace(netloc=f"{parts.username}:s3cret@{parts.netloc.rpartition('@')[2]}"))
    code, out, err = run_sql(capsys, "--datamart", str(sample_datamart), "--warehouse", url,
                             "--schema-prefix", prefix, "--log-level", "INFO")
    assert code == 0, err
    assert f"-> {prefix}_gold.label_store" in out and "export committed" in out
    assert "s3cret" not in out + err + caplog.text
    assert f"{parts.username}:***@" in err  # the export's log line, masked


# --------------------------------------------------------------------------- docs


def test_docs_run_the_samples_of_built_domains_only(sample_datamart):
    text, failures = render_page(sample_datamart, [DOMAIN, "churn"])
    assert [f for f in failures if f.startswith(f"{DOMAIN}:")] == []
    assert "## Domain loan_default" in text and "| credit_mix | loans | default_rate |" in text
    if "churn" not in Datamart(sample_datamart).domains():
        churn = text.split("## Domain churn", 1)[1]
        assert "Not run" in churn and "Result:" not in churn


def test_committed_page_shows_the_gold_ddl_and_results():
    page = (Path(__file__).resolve().parent.parent / "docs" / "sql_warehouse.md").read_text(encoding="utf-8")
    assert 'CREATE TABLE "loan_default_gold"."label_store" (' in page
    assert page.count("Result:") >= 5
