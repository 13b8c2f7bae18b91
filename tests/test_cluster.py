"""The same code on a Spark standalone cluster and through Spark Connect (issue 19).

The loan_default domain (the shipped sample data, the fastest full build) is built by
`python main.py` in a subprocess against servers started from the installed pyspark
(tests/spark_servers.py), and every table it wrote is compared with the local build
of the same data, apart from lineage columns (run ids, ingestion and check times, the
landed file's timestamped path). One more build loses a worker half-way.

Opt-in (minutes per domain and mode, too long for CI): every other domain of conf/ is
built from its tests' small sample locally, on the standalone cluster and through
Connect, and each cluster build must equal the local one (its tables, the JSON results
next to its models, its online store):

    LAKEHOUSE_CLUSTER_ALL_DOMAINS=1 pytest tests/test_cluster.py -k every_other -s
"""

from __future__ import annotations

import ast
import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT  # noqa: E402  (tests/ is on the path)
import spark_servers  # noqa: E402  (tests/ is on the path)
from utils.lake import cluster

# the server fixtures of tests/spark_servers.py, used by name below
standalone = spark_servers.standalone
standalone_to_break = spark_servers.standalone_to_break
connect_server = spark_servers.connect_server

DOMAIN = "loan_default"
#: Columns that say when and by which run a row was written, not what the table holds.
LINEAGE = {"_run_id", "run_id", "_ingested_at", "_source_file", "checked_at", "fitted_at"}
#: The _meta tables whose rows are the build's results (runs and ingestion are its log).
META_RESULTS = ("_meta/accounting", "_meta/leakage", "_meta/quality", "_meta/statistics")
BUILD_TIMEOUT = 900
#: Only the session factory may touch the JVM-side API that Spark Connect does not have.
FORBIDDEN_ATTRIBUTES = {"sparkContext", "rdd", "_jvm", "_jsc", "_jsparkSession", "_jdf", "_jconf", "_gateway"}
FORBIDDEN_NAMES = {"SparkContext", "RDD", "SparkConf"}
FACTORY = Path("utils") / "lake" / "spark.py"


# ------------------------------------------------------------------ helpers

def jvm_only_uses(source: str) -> list[str]:
    """Each use of sparkContext, an RDD or the JVM gateway in `source`, as 'line: what'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN_ATTRIBUTES:
            found.append(f"{node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in FORBIDDEN_NAMES:
            found.append(f"{node.lineno}: {node.id}")
        elif isinstance(node, ast.ImportFrom) and any(a.name in FORBIDDEN_NAMES for a in node.names):
            found.append(f"{node.lineno}: import {', '.join(a.name for a in node.names)}")
    return sorted(found, key=lambda use: int(use.split(":")[0]))


def domain_tables(datamart: Path, domain: str = DOMAIN) -> list[str]:
    """The Delta tables the build of `domain` wrote, relative to the datamart."""
    tables = [p.parent.relative_to(datamart).as_posix() for layer in ("bronze", "silver", "gold")
              for p in (datamart / layer / domain).rglob("_delta_log")]
    return sorted(tables) + [t for t in META_RESULTS if (datamart / t / "_delta_log").is_dir()]


def table_content(path: Path, domain_only: bool, domain: str = DOMAIN) -> tuple[list[str], list[tuple]]:
    """(the columns, the sorted rows) of a Delta table's current version, lineage left out."""
    from deltalake import DeltaTable

    frame = DeltaTable(str(path)).to_pandas()
    if domain_only and "domain" in frame.columns:
        frame = frame[frame["domain"] == domain]
    columns = sorted(c for c in frame.columns if c not in LINEAGE)
    rows = sorted(tuple(repr(v) for v in row) for row in frame[columns].itertuples(index=False))
    return columns, rows


def differences(expected: Path, actual: Path, domain: str = DOMAIN) -> list[str]:
    """How the tables of `actual` differ from those of `expected` (empty: the same)."""
    problems = []
    want, have = domain_tables(expected, domain), domain_tables(actual, domain)
    if want != have:
        problems.append(f"tables {sorted(set(want) ^ set(have))} are in only one datamart")
    for table in sorted(set(want) & set(have)):
        meta = table.startswith("_meta")
        cols_e, rows_e = table_content(expected / table, meta, domain)
        cols_a, rows_a = table_content(actual / table, meta, domain)
        if cols_e != cols_a:
            problems.append(f"{table}: columns {cols_a} != {cols_e}")
        elif rows_e != rows_a:
            problems.append(f"{table}: {len(rows_a)} rows != {len(rows_e)}, "
                            f"{len(set(rows_a) ^ set(rows_e))} rows differ")
    return problems


def new_datamart(tmp_path: Path, reference: Path) -> Path:
    """An empty datamart with the reference's personal-data key (so hashes compare)."""
    datamart = tmp_path / "dm"
    key = reference / "_meta" / "secrets" / "pii.key"
    (datamart / "_meta" / "secrets").mkdir(parents=True)
    shutil.copy(key, datamart / "_meta" / "secrets" / "pii.key")
    return datamart


def build_command(datamart: Path, *spark: str, domain: str = DOMAIN, data_root: Path | None = None) -> list[str]:
    return [sys.executable, str(PROJECT_ROOT / "main.py"), "--domain", domain,
            "--data-root", str(data_root or PROJECT_ROOT / "data"), "--datamart", str(datamart), "--log-level", "WARNING",
            *spark]


def build_env(**extra: str) -> dict[str, str]:
    """The driver's environment: the workers' Python is this one (PYSPARK_PYTHON); the
    project reaches them only by the session factory's shipping (no PYTHONPATH)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYSPARK_PYTHON"] = sys.executable
    env.update(extra)
    return env


def build(datamart: Path, *spark: str, domain: str = DOMAIN, data_root: Path | None = None,
          **env: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run(build_command(datamart, *spark, domain=domain, data_root=data_root), env=build_env(**env),
                          capture_output=True, text=True, timeout=BUILD_TIMEOUT, cwd=datamart.parent)
    return done, time.monotonic() - started


def error_line(stderr: str) -> str:
    """The CLI's one-line error ("error: ..."), which a "full log: ..." line follows."""
    return next((line for line in stderr.splitlines() if line.startswith("error: ")), "")


def _why(done: subprocess.CompletedProcess) -> str:
    return f"exit {done.returncode}\n{done.stderr[-3000:]}"


# ------------------------------------------------------------------ no JVM outside the factory

def test_the_jvm_scan_finds_spark_context_rdd_and_gateway_uses():
    code = "sc = spark.sparkContext\nrows = df.rdd.map(f)\nj = spark._jvm.x\nfrom pyspark import SparkContext\n"
    assert jvm_only_uses(code) == ["1: .sparkContext", "2: .rdd", "3: ._jvm", "4: import SparkContext"]
    assert jvm_only_uses("df.select('rdd').collect()\nspark.conf.get('x')\n") == []


def test_no_spark_context_rdd_or_jvm_outside_the_session_factory():
    uses = {}
    for path in sorted((PROJECT_ROOT / "utils").rglob("*.py")):
        rel = path.relative_to(PROJECT_ROOT)
        if rel != FACTORY and (found := jvm_only_uses(path.read_text(encoding="utf-8"))):
            uses[rel.as_posix()] = found
    assert uses == {}, f"JVM-only Spark API (absent under Spark Connect) outside {FACTORY}: {uses}"
    assert jvm_only_uses((PROJECT_ROOT / FACTORY).read_text(encoding="utf-8"))  # the factory is scanned too


# ------------------------------------------------------------------ start-of-run checks (pure parts)

def test_a_worker_without_the_project_or_with_other_versions_is_named():
    driver = {"python": "3.11", "pyspark": "4.0.1", "pandas": "2.3.3"}
    assert cluster.worker_problems(driver, {**driver, "utils": "ok"}) == []
    problems = cluster.worker_problems(driver, {**driver, "pandas": "missing", "utils": "missing (No module named 'utils')"})
    assert problems == ["the project's `utils` package does not import: missing (No module named 'utils')",
                        "pandas missing on the worker, 2.3.3 on the driver"]


def test_the_shipped_project_zip_holds_the_utils_package(tmp_path):
    import zipfile

    shipped = cluster.project_zip(tmp_path)
    assert cluster.project_zip(tmp_path) == shipped  # an unchanged project reuses its zip
    names = zipfile.ZipFile(shipped).namelist()
    assert "utils/__init__.py" in names and "utils/lake/cluster.py" in names
    assert not [n for n in names if "__pycache__" in n or not n.startswith("utils/")]


# ------------------------------------------------------------------ builds on servers

def test_standalone_build_equals_the_local_build(standalone, sample_datamart, tmp_path):
    datamart = new_datamart(tmp_path, sample_datamart)
    done, seconds = build(datamart, "--master", standalone.url)
    assert done.returncode == 0, _why(done)
    apps = cluster.master_status(standalone.master)["completedapps"]
    assert any(a["name"] == "lakehouse" for a in apps)  # it really ran on this cluster
    assert differences(sample_datamart, datamart) == []
    print(f"standalone build (2 workers x 1 core): {seconds:.1f} s")


def test_spark_connect_build_equals_the_local_build(connect_server, sample_datamart, tmp_path):
    datamart = new_datamart(tmp_path, sample_datamart)
    done, seconds = build(datamart, "--remote", connect_server.url)
    assert done.returncode == 0, _why(done)
    assert "connecting to Spark Connect" in next((datamart / "_meta" / "logs").glob("*.log")).read_text()
    assert differences(sample_datamart, datamart) == []
    print(f"Spark Connect build: {seconds:.1f} s")


def test_workers_without_the_projects_python_fail_at_start_with_a_clear_error(standalone, tmp_path):
    system_python = shutil.which("python3", path="/usr/bin:/bin")
    if not system_python or subprocess.run([system_python, "-c", "import pyarrow"], capture_output=True).returncode == 0:
        pytest.skip("needs a python3 on the system path without this project's packages")
    datamart = tmp_path / "dm"
    done, _ = build(datamart, "--master", standalone.url, PYSPARK_PYTHON=system_python)
    assert done.returncode == 1
    line = error_line(done.stderr)
    assert "Python workers" in line and "PYSPARK_PYTHON" in line, done.stderr[-2000:]
    assert "pyarrow" in line or "pyspark" in line or "pandas" in line, line  # names what is missing
    assert not (datamart / "bronze").exists()


def test_a_datamart_the_executors_do_not_share_fails_at_start(tmp_path):
    """A worker with its own (empty) file system over the datamart's path, as a remote
    machine without the shared mount would have: the build stops before any table."""
    if shutil.which("unshare") is None:
        pytest.skip("needs util-linux `unshare` to give a worker its own mounts")
    datamart = tmp_path / "dm"
    datamart.mkdir()
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                            f"mount -t tmpfs tmpfs '{datamart}'"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot give a process its own mounts here: {probe.stderr.strip()}")
    private = ("unshare", "--mount", "--propagation", "private", "sh", "-c", f"mount -t tmpfs tmpfs '{datamart}' && exec \"$@\"", "worker")
    with spark_servers.running_standalone(tmp_path / "servers", workers=0) as env:
        env.workers.append(cluster.start_worker(env.master, tmp_path / "servers", prefix=private))
        try:
            done, _ = build(datamart, "--master", env.url)
        finally:
            env.workers[-1].stop()
    assert done.returncode == 1
    assert "is not shared" in error_line(done.stderr), done.stderr[-2000:]
    assert not (datamart / "bronze").exists() and not (datamart / "silver").exists()


def test_killing_a_worker_mid_build_ends_with_correct_tables_or_a_clear_failure(standalone_to_break, sample_datamart,
                                                                                 tmp_path):
    datamart = new_datamart(tmp_path, sample_datamart)
    victim = standalone_to_break.workers[1]
    with subprocess.Popen(build_command(datamart, "--master", standalone_to_break.url), env=build_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path) as proc:
        deadline = time.monotonic() + BUILD_TIMEOUT
        # kill once Spark is writing the first bronze table (executors on both workers)
        while proc.poll() is None and time.monotonic() < deadline:
            if any((datamart / "bronze").rglob("_staging")):
                victim.kill()
                break
            time.sleep(0.2)
        out, err = proc.communicate(timeout=BUILD_TIMEOUT)
    assert not victim.alive(), "the build ended before Spark wrote anything: nothing was killed"
    if proc.returncode == 0:
        assert differences(sample_datamart, datamart) == []
    else:
        assert error_line(err), err[-2000:]
        # whatever is there is a whole committed version: it reads, and it is the local one
        for table in domain_tables(datamart):
            assert table_content(datamart / table, True) == table_content(sample_datamart / table, True), table
    print(f"after a worker was killed: exit {proc.returncode} {error_line(err)}")


# ------------------------------------------------------------------ every other domain (opt-in)

#: Opt-in: the builds below take minutes per domain and mode, too long for the CI suite.
ALL_DOMAINS_ENV = "LAKEHOUSE_CLUSTER_ALL_DOMAINS"
#: The domains of conf/ other than DOMAIN (proven above in every run of the suite).
OTHER_DOMAINS = sorted(p.stem for p in (PROJECT_ROOT / "conf").glob("*.yaml") if p.stem != DOMAIN)
#: What says when or how long, not what a model scored.
TIMING_KEYS = {"trained_at", "fit_seconds", "recommend_seconds", "mlflow"}

all_domains_opt_in = pytest.mark.skipif(
    os.environ.get(ALL_DOMAINS_ENV) != "1",
    reason=f"builds every other domain three times (minutes each); opt in with {ALL_DOMAINS_ENV}=1")


def small_sample(domain: str, data: Path) -> list[str]:
    """Generate the small sample the domain's own tests build into `data`; the build's
    extra arguments for it."""
    import datetime as date_time

    if domain == "churn":
        from utils.domains.churn import synthetic

        synthetic.generate(data, 400, 11, start=date_time.date(2024, 1, 1), months=8)
        return []
    if domain == "recommendation":
        from conftest import RECO_REPLAY_CUT, RECO_SAMPLE
        from utils.domains.recommendation import synthetic

        synthetic.generate(data, RECO_SAMPLE["users"], RECO_SAMPLE["seed"], start=date_time.date(2024, 1, 1),
                           months=RECO_SAMPLE["months"])
        return ["--set", f"gold.leakage.replay_cut={RECO_REPLAY_CUT}"]
    if domain == "energy":
        from utils.domains.energy import synthetic

        synthetic.generate(data, 5, 3, start=date_time.date(2024, 9, 1), months=2)
        return []
    from utils.cli import sample_maker

    maker = sample_maker(domain)
    if maker is None:
        pytest.skip(f"{domain} has no sample generator; build it on a cluster from its own data")
    maker(data)
    return []


def _without_timing(value):
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


def _leaves(value, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        return {k: v for key, sub in value.items() for k, v in _leaves(sub, f"{prefix}/{key}").items()}
    return {prefix: value}


def model_differences(expected: Path, actual: Path, domain: str) -> list[str]:
    """How the results the build wrote as JSON next to its models differ (the latest of
    each in <datamart>/_models/<domain>/: the recommenders' evaluation.json, energy's
    exploitation, forecast and profiles), timings and run ids left out (empty: the same)."""
    import json

    folders = [d / "_models" / domain for d in (expected, actual)]
    names = [sorted(p.name for p in f.glob("*.json")) for f in folders]
    if names[0] != names[1]:
        return [f"model results {sorted(set(names[0]) ^ set(names[1]))} are in only one datamart"]
    problems = []
    for name in names[0]:
        want, have = (_leaves(_without_timing(json.loads((f / name).read_text()))) for f in folders)
        problems += [f"{name}{key}: {have.get(key)!r} != {want.get(key)!r}"
                     for key in sorted(set(want) | set(have)) if want.get(key) != have.get(key)]
    return problems


def online_differences(expected: Path, actual: Path) -> list[str]:
    """How the online store the build materialised (<datamart>/_online/online.db, SQLite)
    differs, the materialisation time left out (empty: the same)."""
    import sqlite3

    stores = [d / "_online" / "online.db" for d in (expected, actual)]
    if not any(s.is_file() for s in stores):
        return []
    if not all(s.is_file() for s in stores):
        return [f"the online store is in only one datamart: {[str(s) for s in stores if s.is_file()]}"]
    contents = []
    for store in stores:
        with contextlib.closing(sqlite3.connect(store)) as db:
            tables = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            content = {}
            for name in tables:
                columns = [c[1] for c in db.execute(f'PRAGMA table_info("{name}")') if c[1] != "materialized_at"]
                content[name] = sorted(db.execute(f'SELECT {", ".join(columns)} FROM "{name}"').fetchall(), key=repr)
            contents.append(content)
    want, have = contents
    return [f"online store {name}: {len(have.get(name, []))} rows != {len(want.get(name, []))}"
            for name in sorted(set(want) | set(have)) if want.get(name) != have.get(name)]


@pytest.fixture(scope="module", params=OTHER_DOMAINS)
def local_reference(request, tmp_path_factory) -> dict:
    """A domain's small sample and its local build (`--master local[2]`, a subprocess like
    the cluster builds): {domain, data, extra (build arguments), datamart, seconds}."""
    domain = request.param
    root = tmp_path_factory.mktemp(f"{domain}_local")
    data = root / "data"
    extra = small_sample(domain, data)
    datamart = root / "dm"
    done, seconds = build(datamart, "--master", "local[2]", *extra, domain=domain, data_root=data)
    assert done.returncode == 0, _why(done)
    print(f"\n{domain} local build (local[2]): {seconds:.1f} s")
    return {"domain": domain, "data": data, "extra": extra, "datamart": datamart, "seconds": seconds}


@all_domains_opt_in
@pytest.mark.parametrize("mode", ["standalone", "connect"])
def test_every_other_domain_builds_on_a_cluster_and_through_connect_as_it_does_locally(
        mode, local_reference, standalone, connect_server, tmp_path):
    domain, reference = local_reference["domain"], local_reference["datamart"]
    datamart = new_datamart(tmp_path, reference)
    if mode == "standalone":
        apps_before = len(cluster.master_status(standalone.master)["completedapps"])
        spark = ("--master", standalone.url)
    else:
        spark = ("--remote", connect_server.url)
    done, seconds = build(datamart, *spark, *local_reference["extra"], domain=domain, data_root=local_reference["data"])
    assert done.returncode == 0, _why(done)
    if mode == "standalone":  # it really ran on this cluster
        assert len(cluster.master_status(standalone.master)["completedapps"]) > apps_before
    else:
        assert "connecting to Spark Connect" in "".join(p.read_text() for p in (datamart / "_meta" / "logs").glob("*.log"))
    tables = domain_tables(reference, domain)
    assert len(tables) > len(META_RESULTS), tables  # the domain's bronze, silver and gold are there
    assert differences(reference, datamart, domain) == []
    assert model_differences(reference, datamart, domain) == []
    assert online_differences(reference, datamart) == []
    print(f"\n{domain} {mode} build: {seconds:.1f} s (local {local_reference['seconds']:.1f} s); "
          f"{len(tables)} tables equal")
