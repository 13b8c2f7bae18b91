"""Shared fixtures: one local Spark session for the whole test run."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CS611 = PROJECT_ROOT.parent / "shared" / "datasets" / "cs611"
CS611_DMY = PROJECT_ROOT.parent / "shared" / "datasets" / "cs611_resaved_dmy"


@pytest.fixture(scope="session")
def spark():
    from utils.lake.spark import SparkSettings, get_spark

    session = get_spark(
        SparkSettings(master="local[2]", app_name="lakehouse-tests", conf={"spark.sql.shuffle.partitions": "2"})
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def sample_copy(tmp_path_factory) -> Path:
    """A private copy of the shipped sample data (data/*.csv), which tests may change."""
    import shutil

    folder = tmp_path_factory.mktemp("data")
    for f in (PROJECT_ROOT / "data").glob("*.csv"):
        shutil.copy(f, folder / f.name)
    return folder


@pytest.fixture(scope="session")
def sample_datamart(spark, tmp_path_factory) -> Path:
    """Every layer built ONCE from the shipped sample data, shared by the test modules
    that only read it (or rerun it unchanged). Copy it before changing anything."""
    from utils.cli import main

    datamart = tmp_path_factory.mktemp("sample_dm")
    assert main(["--domain", "loan_default", "--data-root", str(PROJECT_ROOT / "data"), "--datamart", str(datamart)]) == 0
    return datamart


#: The small recommendation sample: 300 users, 2024-01 .. 2024-06 (the replay cut of
#: conf/recommendation.yaml, 2024-08-31, is moved inside these six months).
RECO_SAMPLE = {"users": 300, "seed": 5, "months": 6}
RECO_REPLAY_CUT = "2024-04-30"
RECO_BUILD = ["--domain", "recommendation", "--master", "local[2]", "--set", f"gold.leakage.replay_cut={RECO_REPLAY_CUT}"]


@pytest.fixture(scope="session")
def reco_sample(spark, tmp_path_factory) -> tuple[Path, Path]:
    """(data root, datamart) of the recommendation domain built ONCE from the small sample
    (which also evaluates the recommenders), shared by the modules that only read it."""
    import datetime as dt

    from utils.cli import main
    from utils.domains.recommendation import synthetic

    root = tmp_path_factory.mktemp("reco")
    data, datamart = root / "data", root / "dm"
    synthetic.generate(data, RECO_SAMPLE["users"], RECO_SAMPLE["seed"], start=dt.date(2024, 1, 1),
                       months=RECO_SAMPLE["months"])
    assert main([*RECO_BUILD, "--data-root", str(data), "--datamart", str(datamart)]) == 0
    return data, datamart


@pytest.fixture(scope="session")
def cs611() -> Path:
    """The real CS611 data, or a clean skip where ../shared is absent (fresh clones)."""
    if not (CS611 / "lms_loan_daily.csv").exists():
        pytest.skip(f"real CS611 data not found at {CS611}")
    return CS611


@pytest.fixture(scope="session")
def cs611_dmy() -> Path:
    if not (CS611_DMY / "features_attributes.csv").exists():
        pytest.skip(f"re-saved CS611 data not found at {CS611_DMY}")
    return CS611_DMY


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The URL of the PostgreSQL the machine runs (LAKEHOUSE_TEST_POSTGRES_URL, default
    postgresql://postgres@127.0.0.1:5432/test), checked by connecting; a skip saying why
    when there is none."""
    import os

    psycopg = pytest.importorskip("psycopg")
    url = os.environ.get("LAKEHOUSE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        psycopg.connect(url, connect_timeout=3).close()
    except psycopg.Error as exc:
        pytest.skip(f"no PostgreSQL at 127.0.0.1: {str(exc).splitlines()[0]}")
    return url


def run_notebook(folder: Path, name: str, env: dict[str, str], kernels: Path, monkeypatch) -> tuple[list, int]:
    """Execute notebooks/<folder>/<name> top to bottom with `env` in a `python3` kernel of
    this interpreter (its spec written under `kernels`); (its code cells, the figures drawn).
    The committed notebook must hold no outputs."""
    pytest.importorskip("nbclient", reason="nbclient is needed to run the notebooks (pip install nbclient)")
    pytest.importorskip("ipykernel", reason="ipykernel is needed to run the notebooks (pip install ipykernel)")
    import os

    import nbformat
    from ipykernel.kernelspec import write_kernel_spec
    from nbclient import NotebookClient

    write_kernel_spec(kernels / "kernels" / "python3")
    monkeypatch.setenv("JUPYTER_PATH", str(kernels))
    where = PROJECT_ROOT / "notebooks" / folder
    nb = nbformat.read(where / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)  # committed without outputs
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(where)}}).execute(
        env={**os.environ, **env})
    return code, sum(1 for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {}))
