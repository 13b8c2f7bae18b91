"""The `_meta` tables of a datamart holding several domains (DESIGN §10): every row of
`_meta/quality`, `_meta/accounting`, `_meta/statistics` and `_meta/leakage` names its
domain, and two domains with a silver table of the same name never share a fit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from deltalake import DeltaTable

from utils.cli import main
from utils.lake.datamart import Datamart
from utils.lake.ledger import RunLedger

MONTHS = ("2024-01", "2024-02")


def write_domain(folder: Path, domain: str) -> Path:
    """A tiny domain: one monthly CRM export `customers` and a silver table of the same
    name whose `spend` has a range fitted on January and February."""
    conf = {
        "domain": domain,
        "sources": {
            "customers": {
                "path": f"{domain}/customers_*.csv",
                "date_column": "snapshot_date",
                "date_formats": ["yyyy-MM-dd"],
                "required_columns": ["customer_id", "spend", "snapshot_date"],
                "keys": ["customer_id", "snapshot_date"],
            }
        },
        "silver": {
            "customers": {
                "source": "customers",
                "fit_window": {"start": "2024-01-01", "end": "2024-02-01"},
                "columns": {"customer_id": {}, "spend": {"type": "double", "fit_range": {"k": 1.5}}},
                "rules": [{"name": "unique_customer", "unique": ["customer_id", "snapshot_date"], "severity": "drop"}],
            }
        },
    }
    path = folder / f"{domain}.yaml"
    path.write_text(yaml.safe_dump(conf), encoding="utf-8")
    return path


def export(data: Path, domain: str, scale: float) -> None:
    """Ten customers a month spending 1..10 times `scale`, plus one spending 100 x `scale`."""
    for month in MONTHS:
        path = data / domain / f"customers_{month}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [f"C{i:03d},{i * scale},{month}-01\n" for i in range(1, 11)] + [f"C999,{100 * scale},{month}-01\n"]
        path.write_text("customer_id,spend,snapshot_date\n" + "".join(rows), encoding="utf-8")


def build(conf: Path, data: Path, datamart: Path, *extra: str) -> int:
    return main(["--config", str(conf), "--data-root", str(data), "--datamart", str(datamart),
                 "--layers", "bronze,silver", "--master", "local[1]", *extra])


def meta(datamart: Path, name: str) -> pd.DataFrame:
    return DeltaTable(str(Datamart(datamart).meta(name))).to_pandas()


@pytest.fixture(scope="module")
def two_domains(spark, tmp_path_factory) -> Path:
    """One datamart holding `shop` (spend 1..10) and `outlet` (spend 1000..10000), built
    one after the other, then `shop` rebuilt in full (its stored fit is looked up again)."""
    tmp = tmp_path_factory.mktemp("meta_domain")
    data, datamart = tmp / "data", tmp / "dm"
    export(data, "shop", 1.0)
    export(data, "outlet", 1000.0)
    for domain in ("shop", "outlet"):
        assert build(write_domain(tmp, domain), data, datamart) == 0
    assert build(write_domain(tmp, "shop"), data, datamart, "--full-refresh") == 0
    return datamart


def run_domains(datamart: Path) -> dict[str, str]:
    """run_id -> domain, from the run ledger."""
    return {r["run_id"]: r["domain"] for r in RunLedger(Datamart(datamart).runs).latest_runs()}


@pytest.mark.parametrize("name", ["quality", "accounting", "statistics"])
def test_every_meta_row_names_the_domain_of_its_run(two_domains, name):
    rows = meta(two_domains, name)
    domains = run_domains(two_domains)
    assert len(rows) and rows["domain"].notna().all()
    assert (rows["domain"] == rows["run_id"].map(domains)).all()
    assert set(rows["domain"]) == {"shop", "outlet"}
    if name != "statistics":  # shop's rebuild checked and accounted again; its fit was reused
        assert rows["run_id"].nunique() == 3


@pytest.mark.parametrize("name", ["quality", "accounting"])
def test_domain_column_follows_run_id(two_domains, name):
    columns = list(meta(two_domains, name).columns)
    assert columns[columns.index("run_id") + 1] == "domain"


def test_two_domains_with_a_table_of_the_same_name_keep_separate_statistics(two_domains):
    stats = meta(two_domains, "statistics").set_index("domain")
    assert sorted(stats.index) == ["outlet", "shop"]  # one fit each: shop's rebuild reused its own
    assert (stats["table"] == "customers").all() and (stats["column"] == "spend").all()
    assert stats.loc["shop", "stat_id"] != stats.loc["outlet", "stat_id"]
    # each fit comes from its own domain's values: outlet's are shop's x 1000
    assert stats.loc["outlet", "q1"] == pytest.approx(1000 * stats.loc["shop", "q1"])
    assert stats.loc["outlet", "upper"] == pytest.approx(1000 * stats.loc["shop", "upper"])
    assert stats.loc["shop", "upper"] < stats.loc["outlet", "q1"]


def test_fitted_bounds_flag_outliers_per_domain(two_domains):
    """The 100 x scale customer lies outside its own domain's bounds in each domain."""
    for domain in ("shop", "outlet"):
        silver = DeltaTable(str(Datamart(two_domains, domain).table("silver", "customers"))).to_pandas()
        flagged = silver[silver["spend_invalid"]]["customer_id"]
        assert set(flagged) == {"C999"}, domain
        assert silver.loc[silver["customer_id"] != "C999", "spend"].notna().all(), domain


def test_leakage_and_statistics_rows_of_the_sample_build_carry_its_domain(sample_datamart):
    for name in ("leakage", "statistics", "quality", "accounting"):
        rows = meta(sample_datamart, name)
        assert len(rows) and set(rows["domain"]) == {"loan_default"}, name
