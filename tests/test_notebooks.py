"""The notebooks: committed without outputs and without definitions of their own, run
headless top to bottom on a datamart built from the sample data, and draw their
figures; plus the summaries of utils/present/explore.py on tiny DataFrames."""

from __future__ import annotations

import ast
import datetime as dt
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from matplotlib.figure import Figure

from utils import cli
from utils.present import explore

logger = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = PROJECT_ROOT / "notebooks"
SAMPLE = PROJECT_ROOT / "data"
# figures each notebook must draw (image/png outputs) on the sample data
MIN_FIGURES = {"01_explore": 4, "02_data_quality": 2, "03_sanity_classifier": 3}
CELL_TIMEOUT = 600  # seconds per cell; a whole notebook takes well under two minutes


def read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def code_cells(nb: nbformat.NotebookNode) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def python_source(cell) -> str:
    """The cell's source without IPython magics and shell escapes."""
    return "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))


# --------------------------------------------------------------------------- committed files


def test_every_notebook_has_a_figure_minimum():
    assert {p.stem for p in NOTEBOOKS.glob("*.ipynb")} == set(MIN_FIGURES)


@pytest.mark.parametrize("name", MIN_FIGURES)
def test_committed_notebook_has_no_outputs(name):
    for cell in code_cells(read(name)):
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]


@pytest.mark.parametrize("name", MIN_FIGURES)
def test_notebook_imports_and_never_defines(name):
    for cell in code_cells(read(name)):
        tree = ast.parse(python_source(cell))
        defined = [type(n).__name__ for n in ast.walk(tree)
                   if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
        assert not defined, f"{name}: {defined} in cell:\n{cell.source}"


@pytest.mark.parametrize("name", MIN_FIGURES)
def test_notebook_takes_its_paths_from_the_environment_and_stops_spark(name):
    cells = code_cells(read(name))
    assert "LAKEHOUSE_DATAMART" in cells[0].source and "LAKEHOUSE_DATA_ROOT" in cells[0].source
    assert "ensure_datamart(DATAMART, DATA_ROOT" in cells[1].source
    assert cells[-1].source.strip() == "spark.stop()"


# --------------------------------------------------------------------------- headless runs


@pytest.fixture(scope="module")
def datamart(sample_datamart) -> Path:
    """The shared sample datamart (tests/conftest.py)."""
    return sample_datamart


@pytest.fixture(scope="module")
def kernel_path(tmp_path_factory):
    """A `python3` kernel spec that runs this interpreter (first on JUPYTER_PATH)."""
    pytest.importorskip("nbclient", reason="nbclient is needed to run the notebooks (pip install nbclient)")
    pytest.importorskip("ipykernel", reason="ipykernel is needed to run the notebooks (pip install ipykernel)")
    from ipykernel.kernelspec import write_kernel_spec

    root = tmp_path_factory.mktemp("jupyter")
    write_kernel_spec(root / "kernels" / "python3")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", os.pathsep.join([str(root), os.environ.get("JUPYTER_PATH", "")]).rstrip(os.pathsep))
        yield root


@dataclass
class Run:
    name: str
    notebook: nbformat.NotebookNode
    seconds: float
    error: str | None = None
    figures: list[str] = field(default_factory=list)


@pytest.fixture(scope="module", params=list(MIN_FIGURES))
def executed(request, datamart, kernel_path) -> Run:
    """The notebook run headless in notebooks/ by a fresh kernel, against `datamart`."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    name = request.param
    nb = read(name)
    env = {**os.environ, "LAKEHOUSE_DATAMART": str(datamart), "LAKEHOUSE_DATA_ROOT": str(SAMPLE),
           "LAKEHOUSE_SPARK_MASTER": "local[2]"}
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    began = time.perf_counter()
    error = None
    try:
        client.execute(env=env)
    except CellExecutionError as exc:
        error = str(exc)
    run = Run(name, nb, time.perf_counter() - began, error)
    for cell in code_cells(nb):
        images = sum(1 for o in cell.get("outputs", []) if "image/png" in o.get("data", {}))
        # name each figure by the function that drew it, e.g. plot_time_coverage
        drawn = re.findall(r"\b(plot_\w+|Image)\(", cell.source) or ["figure"]
        run.figures += [drawn[-1]] * images
    logger.info("%s: %.1fs, %d figure(s): %s", name, run.seconds, len(run.figures), ", ".join(run.figures))
    return run


def test_notebook_runs_top_to_bottom_without_error(executed, request):
    request.node.user_properties.append(("seconds", round(executed.seconds, 1)))  # in --junitxml reports
    assert executed.error is None, f"{executed.name} failed:\n{executed.error}"
    assert all(c.execution_count is not None for c in code_cells(executed.notebook))


def test_notebook_draws_its_figures(executed, request):
    request.node.user_properties.append(("figures", ", ".join(executed.figures)))
    assert len(executed.figures) >= MIN_FIGURES[executed.name], (executed.name, executed.figures)


def test_notebook_runs_within_its_time_budget(executed):
    # two minutes on a quiet 2-core machine; the margin absorbs a busy test run
    assert executed.seconds < 300, f"{executed.name} took {executed.seconds:.0f}s"


# --------------------------------------------------------------------------- utils/present/explore.py


def test_ensure_datamart_builds_only_when_gold_is_missing(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "main", lambda argv: calls.append(argv) or 0)
    assert explore.ensure_datamart(tmp_path / "dm", tmp_path / "data", master="local[1]") is True
    assert calls == [["--domain", "loan_default", "--data-root", str(tmp_path / "data"),
                      "--datamart", str(tmp_path / "dm"), "--master", "local[1]"]]


def test_ensure_datamart_leaves_a_built_datamart_alone(datamart, monkeypatch):
    monkeypatch.setattr(cli, "main", lambda argv: pytest.fail("must not rebuild"))
    assert explore.ensure_datamart(datamart, SAMPLE) is False


def test_ensure_datamart_raises_when_the_build_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "main", lambda argv: 1)
    with pytest.raises(RuntimeError, match="exit status 1"):
        explore.ensure_datamart(tmp_path / "dm", tmp_path / "data")


def test_rows_per_snapshot_counts_every_raw_row(datamart):
    counts = explore.rows_per_snapshot(datamart, "bronze")
    for source in ("lms_loan_daily", "features_attributes", "features_financials", "feature_clickstream"):
        with (SAMPLE / f"{source}.csv").open(encoding="utf-8") as fh:
            lines = sum(1 for line in fh if line.strip()) - 1
        assert counts.loc[counts["table"] == source, "rows"].sum() == lines, source
    assert counts["snapshot_date"].notna().all()


def test_time_coverage_names_the_months_without_rows():
    counts = pd.DataFrame({
        "table": ["a", "a", "a", "b"],
        "snapshot_date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-05-01", None]),
        "rows": [3, 4, 5, 2],
    })
    cov = explore.time_coverage(counts).set_index("table")
    assert cov.loc["a", ["first_month", "last_month", "months", "rows"]].tolist() == ["2024-01", "2024-05", 3, 12]
    assert cov.loc["a", "missing_months"] == "2024-03, 2024-04"
    assert (cov.loc["b", "months"], cov.loc["b", "undated_rows"]) == (0, 2)


def test_missing_is_null_without_flag_and_invalid_is_the_flag(spark):
    df = spark.createDataFrame(
        [(1, False, "x", 10, dt.date(2024, 1, 1)), (None, True, None, 11, dt.date(2024, 1, 1)),
         (None, False, "y", 12, dt.date(2024, 1, 1)), (None, None, None, 13, dt.date(2024, 1, 1))],
        "age int, age_invalid boolean, occupation string, _source_line int, snapshot_date date",
    )
    out = explore.missing_and_invalid(df, table="attributes").set_index("column")
    assert list(out.index) == ["age", "occupation"]  # no flags, lineage or partition
    assert out.loc["age", ["rows", "missing", "invalid"]].tolist() == [4, 2, 1]
    assert out.loc["occupation", ["missing", "invalid"]].tolist() == [2, 0]
    assert out.loc["age", "invalid_pct"] == 25.0


def test_a_declared_flag_counts_for_its_column(spark):
    df = spark.createDataFrame([("h1", False), (None, True), (None, False)], "ssn_hash string, ssn_invalid boolean")
    out = explore.missing_and_invalid(df, {"ssn_hash": "ssn_invalid"}).set_index("column")
    assert list(out.index) == ["ssn_hash"]
    assert out.loc["ssn_hash", ["missing", "invalid"]].tolist() == [1, 1]


def test_correlation_uses_the_rows_where_both_values_are_present(spark):
    df = spark.createDataFrame(
        [(1.0, 2.0, 4.0), (2.0, 4.0, 3.0), (3.0, 6.0, 2.0), (4.0, 8.0, 1.0), (None, 100.0, None)],
        "x double, y double, z double",
    )
    corr = explore.correlation_matrix(df, ["x", "y", "z"])
    assert corr.loc["x", "y"] == pytest.approx(1.0)
    assert corr.loc["z", "x"] == pytest.approx(-1.0)
    assert corr.loc["y", "y"] == 1.0


def test_sample_rows_brings_at_most_the_limit(spark):
    df = spark.range(1000).withColumnRenamed("id", "n")
    sample = explore.sample_rows(df, ["n"], limit=50, seed=1)
    assert len(sample) == 50 and sample["n"].is_unique


QUALITY_COLUMNS = "run_id string, table string, snapshot_date date, rule string, kind string, severity string, " \
                  "action string, rows_checked long, rows_failed long, checked_at timestamp"


def test_latest_checks_keep_the_newest_result_of_each_partition(spark):
    jan, feb = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
    t1, t2 = dt.datetime(2026, 1, 1, 10), dt.datetime(2026, 1, 2, 10)
    rows = [("r1", "silver/a", jan, "valid_x", "cleaning", "warn", "nulled", 10, 1, t1),
            ("r1", "silver/a", feb, "valid_x", "cleaning", "warn", "nulled", 10, 2, t1),
            ("r2", "silver/a", feb, "valid_x", "cleaning", "warn", "nulled", 10, 5, t2)]  # r2 redid February
    quality = spark.createDataFrame(rows, QUALITY_COLUMNS)
    current = explore.latest_checks(quality).orderBy("snapshot_date").collect()
    assert [(r["run_id"], r["rows_failed"]) for r in current] == [("r1", 1), ("r2", 5)]
    assert explore.latest_run_id(quality) == "r2"
    summary = explore.rule_summary(explore.latest_checks(quality))
    counts = ["table", "rule", "partitions", "partitions_failing", "rows_checked", "rows_failed"]
    assert summary[counts].values.tolist() == [["a", "valid_x", 2, 2, 20, 6]]
    assert summary.loc[0, "fail_rate"] == pytest.approx(0.3)


def test_failure_rates_follow_the_rules_with_most_failures(spark):
    jan, feb = dt.date(2024, 1, 1), dt.date(2024, 2, 1)
    t = dt.datetime(2026, 1, 1)
    rows = [("r", "silver/a", d, rule, "rule", "warn", "counted", 10, n, t)
            for d, rule, n in [(jan, "big", 4), (feb, "big", 0), (jan, "small", 1), (feb, "small", 0),
                               (jan, "never", 0), (feb, "never", 0)]]
    quality = spark.createDataFrame(rows, QUALITY_COLUMNS)
    rates = explore.failure_rates(quality, top=1)
    assert rates["rule"].unique().tolist() == ["a: big"]
    assert rates["fail_rate"].tolist() == [0.4, 0.0]  # the passing month is a 0, not a gap
    table = explore.failure_table(quality)
    assert list(table.columns) == ["a: big", "a: small"] and table["a: big"].tolist() == [4, 0]


def test_reconciliation_reports_the_difference_per_partition(spark):
    t = dt.datetime(2026, 1, 1)
    accounting = spark.createDataFrame(
        [("r", "silver/a", dt.date(2024, 1, 1), 10, 9, 1, True, t),
         ("r", "silver/a", dt.date(2024, 2, 1), 5, 3, 1, False, t)],
        "run_id string, table string, snapshot_date date, bronze_rows long, silver_rows long, "
        "quarantined_rows long, balanced boolean, checked_at timestamp",
    )
    recon = explore.reconciliation(accounting)
    assert recon["difference"].tolist() == [0, 1]
    totals = explore.reconciliation_totals(recon)
    assert totals.loc[0, ["table", "partitions", "difference", "all_balanced"]].tolist() == ["a", 2, 1, False]


def test_confusion_counts_actual_against_thresholded_scores():
    cm = explore.confusion([0, 0, 1, 1, 1], [0.1, 0.7, 0.8, 0.2, 0.9], threshold=0.5)
    assert cm.values.tolist() == [[1, 1], [1, 2]]


def test_charts_are_titled_figures_and_say_when_there_is_nothing_to_draw():
    empty_gaps = pd.DataFrame(columns=["table", "column", "rows", "missing", "invalid", "missing_pct", "invalid_pct"])
    fig = explore.plot_missing_invalid(empty_gaps, "Missing")
    assert isinstance(fig, Figure) and fig.axes[0].get_title() == "Missing"
    assert "no missing or invalid values" in [t.get_text() for t in fig.axes[0].texts]
    rates = pd.DataFrame({"rule": ["a: r", "a: r"], "snapshot_date": pd.to_datetime(["2024-01-01", "2024-02-01"]),
                          "rows_checked": [10, 10], "rows_failed": [1, 2], "fail_rate": [0.1, 0.2]})
    fig = explore.plot_failure_rates(rates, "Rates")
    assert fig.axes[0].get_title() == "Rates" and fig.axes[0].get_ylabel() == "% of checked rows failing"


# --------------------------------------------------------------------------- notebooks/recommendation

RECO_NOTEBOOK = "recommendation/recommendation"  # run in tests/test_recommendation.py, on its build


def test_recommendation_notebook_is_committed_clean_and_only_calls_the_package():
    cells = code_cells(read(RECO_NOTEBOOK))
    for cell in cells:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]
        tree = ast.parse(python_source(cell))
        defined = [type(n).__name__ for n in ast.walk(tree)
                   if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
        assert not defined, f"{defined} in cell:\n{cell.source}"
    assert "LAKEHOUSE_DATAMART" in cells[0].source and "LAKEHOUSE_DATA_ROOT" in cells[0].source
    assert "ensure_datamart(DATAMART, DATA_ROOT" in cells[1].source
    assert cells[-1].source.strip() == "spark.stop()"


def test_activity_stats_weigh_each_count_by_its_entities():
    dist = pd.DataFrame({"events": [1, 2, 10], "entities": [5, 4, 1]})  # 5 users with 1 event, 4 with 2, 1 with 10
    stats = explore.activity_stats(dist).iloc[0]
    assert stats[["entities", "events", "median", "p90", "p99", "max"]].tolist() == [10, 23, 1.0, 2.0, 10.0, 10]
    assert stats["mean"] == pytest.approx(2.3)


def test_item_popularity_counts_never_seen_catalogue_items_in_the_tail(spark):
    views = spark.createDataFrame([("u1", "A"), ("u2", "A"), ("u3", "A"), ("u1", "B")], "user_id string, product_id string")
    catalogue = spark.createDataFrame([("A",), ("B",), ("C",), ("D",)], "product_id string")
    pop = explore.item_popularity(views, catalogue=catalogue)
    assert pop[["product_id", "events", "rank"]].values.tolist() == [["A", 3, 1], ["B", 1, 2], ["C", 0, 3], ["D", 0, 4]]
    assert pop["cumulative_share"].tolist() == [0.75, 1.0, 1.0, 1.0]
    assert explore.top_share(pop, 0.25) == 0.75 and explore.top_share(pop, 0.3) == 1.0  # ceil(0.3 x 4) = 2 items


def test_evaluation_table_has_one_row_per_model_segment_and_k():
    def metrics(v):
        return {"precision": v, "recall": v, "ndcg": v, "map": v, "hit_rate": v, "coverage": v, "users": 3}

    report = {"models": {m: {"metrics": {s: {"10": metrics(v), "5": metrics(v / 2)} for s in ("all", "warm", "cold")}}
                         for m, v in (("b", 0.2), ("a", 0.4))}}
    table = explore.evaluation_table(report)
    assert len(table) == 2 * 3 * 2 and table[["model", "segment", "k"]].iloc[0].tolist() == ["b", "all", 5]
    wide = explore.metrics_at_k(table, metrics=("ndcg",))
    assert list(wide.columns) == ["ndcg@5", "ndcg@10"]
    assert wide.index.tolist() == [("warm", "b"), ("warm", "a"), ("cold", "b"), ("cold", "a")]
    assert wide.loc[("cold", "a"), "ndcg@10"] == 0.4


# --------------------------------------------------------------------------- notebooks/energy

ENERGY_NOTEBOOKS = ("energy/01_next_day_forecast", "energy/02_load_profiles")  # run in tests/test_energy_deck.py


@pytest.mark.parametrize("name", ENERGY_NOTEBOOKS)
def test_energy_notebook_is_committed_clean_and_reads_only_the_exploitation_zone(name):
    cells = code_cells(read(name))
    for cell in cells:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:80]
        tree = ast.parse(python_source(cell))
        defined = [type(n).__name__ for n in ast.walk(tree)
                   if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
        assert not defined, f"{defined} in cell:\n{cell.source}"
    assert "LAKEHOUSE_DATAMART" in cells[0].source and "LAKEHOUSE_DATA_ROOT" in cells[0].source
    assert "ensure_energy_datamart(DATAMART, DATA_ROOT" in cells[1].source
    source = "\n".join(c.source for c in cells)
    assert set(re.findall(r'read_gold\(DATAMART, "(\w+)"\)', source)) <= {"building_days", "building_matches"}
    assert not re.search(r"\b(bronze|silver)\b", source)  # no other zone is read
