"""Spark beyond one process: local standalone and Spark Connect servers, and the checks a
build runs at start on a cluster.

Servers (used by the tests and ``benchmarks/cluster.py``; also a quick way to try a
cluster on one machine): :func:`start_master`, :func:`start_worker` and
:func:`start_connect_server` launch the installed pyspark's own ``bin/spark-class`` /
``bin/spark-submit`` with the project's Java, bound to 127.0.0.1 on free ports, with
bounded memory and their output in a log file; :meth:`SparkServer.stop` ends one.
Nothing is downloaded: the master, the worker and the Connect server all ship in the
pyspark wheel.

Checks (called by :func:`utils.lake.spark.get_spark` on a non-local session and by the
command line): the Python workers can import this project and have the driver's
Python and packages (:func:`check_python_workers`), and the datamart is storage the
executors and this process share (:func:`check_shared_storage`): Spark writes the Parquet
files on the executors, the Delta log is committed by delta-rs in this process (DESIGN §5).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from utils.lake.paths import PROJECT_ROOT

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
CONNECT_SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
#: Packages the Python workers need at the driver's version (what the pipeline's Python
#: functions import on an executor).
WORKER_PACKAGES = ("pyspark", "pandas", "pyarrow", "numpy")


class ClusterError(RuntimeError):
    """A cluster (or its storage, or its Python workers) cannot run this project."""


# ---------------------------------------------------------------------------- servers

def spark_home() -> Path:
    """The installed pyspark's folder: its bin/ launchers and jars/."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _server_env(log_dir: Path) -> dict[str, str]:
    from utils.lake.spark import resolve_java_home

    env = dict(os.environ)
    env.update({
        "JAVA_HOME": resolve_java_home(),
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": LOOPBACK,  # every socket and web UI on loopback only
        "SPARK_LOG_DIR": str(log_dir),
        "SPARK_DAEMON_MEMORY": "512m",  # heap of the master and worker daemons
        "PYSPARK_PYTHON": env.get("PYSPARK_PYTHON", sys.executable),
    })
    # the project is NOT put on the servers' PYTHONPATH: the session ships it (ship_project)
    env.pop("PYTHONPATH", None)
    return env


@dataclass
class SparkServer:
    """One launched Spark process: its url (spark://..., sc://...) and log file."""

    name: str
    url: str
    process: subprocess.Popen
    log: Path
    web_port: int | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20) -> None:
        """Stop the process and everything it started (its process group)."""
        if not self.alive():
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """End the process at once, as a crashed machine would (SIGKILL, no clean-up)."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _launch(name: str, argv: list[str], log_dir: Path, url: str, web_port: int | None = None,
            env: dict[str, str] | None = None) -> SparkServer:
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"{name}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env or _server_env(log_dir), cwd=log_dir, start_new_session=True)
    logger.info("started %s (pid %s): %s, log %s", name, proc.pid, url, log)
    return SparkServer(name=name, url=url, process=proc, log=log, web_port=web_port)


def _wait(server: SparkServer, ready, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            raise ClusterError(f"{server.name} exited before {what} (log {server.log}):\n{server.tail()}")
        if ready():
            return
        time.sleep(0.3)
    server.stop()
    raise ClusterError(f"{server.name}: no {what} after {timeout:.0f} s (log {server.log}):\n{server.tail()}")


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((LOOPBACK, port)) == 0


def master_status(master: SparkServer) -> dict:
    """The standalone master's state (its web UI's JSON): workers, applications."""
    with urllib.request.urlopen(f"http://{LOOPBACK}:{master.web_port}/json/", timeout=5) as resp:
        return json.loads(resp.read())


def alive_workers(master: SparkServer) -> int:
    try:
        return int(master_status(master).get("aliveworkers", 0))
    except OSError:
        return 0


def start_master(log_dir: Path, timeout: float = 90) -> SparkServer:
    """A standalone master on 127.0.0.1 (free RPC and web UI ports), ready for workers."""
    port, web = free_port(), free_port()
    argv = [str(spark_home() / "bin" / "spark-class"), "org.apache.spark.deploy.master.Master",
            "--host", LOOPBACK, "--port", str(port), "--webui-port", str(web)]
    server = _launch("master", argv, Path(log_dir), f"spark://{LOOPBACK}:{port}", web)
    _wait(server, lambda: _port_open(port) and _port_open(web), "listening master", timeout)
    return server


def start_worker(master: SparkServer, log_dir: Path, *, index: int = 1, cores: int = 1,
                 memory: str = "1g", timeout: float = 90, prefix: tuple[str, ...] = ()) -> SparkServer:
    """A standalone worker with `cores` and `memory` for executors, registered with `master`
    (`prefix`: a command the launcher runs under, e.g. one giving it its own mounts)."""
    before = alive_workers(master)
    work = Path(log_dir) / f"worker-{index}"
    work.mkdir(parents=True, exist_ok=True)
    argv = [*prefix, str(spark_home() / "bin" / "spark-class"), "org.apache.spark.deploy.worker.Worker", master.url,
            "--host", LOOPBACK, "--port", str(free_port()), "--webui-port", str(free_port()),
            "--cores", str(cores), "--memory", memory, "--work-dir", str(work)]
    server = _launch(f"worker-{index}", argv, Path(log_dir), master.url)
    _wait(server, lambda: alive_workers(master) > before, "registration with the master", timeout)
    return server


def start_connect_server(log_dir: Path, *, master: str = "local[2]", conf: dict[str, str] | None = None,
                         timeout: float = 120) -> SparkServer:
    """A Spark Connect server on sc://127.0.0.1:<free port> whose driver runs `master`,
    started with `conf` (static settings such as spark.hadoop.* must be set here)."""
    port = free_port()
    argv = [str(spark_home() / "bin" / "spark-submit"), "--class", CONNECT_SERVER_CLASS,
            "--name", "lakehouse-connect", "--master", master,
            "--conf", f"spark.connect.grpc.binding.address={LOOPBACK}",
            "--conf", f"spark.connect.grpc.binding.port={port}",
            "--conf", "spark.ui.enabled=false"]
    for key, value in (conf or {}).items():
        argv += ["--conf", f"{key}={value}"]
    server = _launch("connect", argv, Path(log_dir), f"sc://{LOOPBACK}:{port}")
    _wait(server, lambda: _port_open(port), "Spark Connect endpoint", timeout)
    return server


def connect_server_conf() -> dict[str, str]:
    """The settings a Connect server for this project starts with: the session factory's
    defaults (UTC, TIMESTAMP_MICROS, no .crc/_SUCCESS files), without local-only ones."""
    from utils.lake.spark import SparkSettings, spark_conf

    conf = spark_conf(SparkSettings(master="local[2]"))
    conf.pop("spark.ui.enabled", None)
    conf["spark.driver.memory"] = "1g"
    return conf


# ---------------------------------------------------------------------------- checks

def project_zip(folder: Path) -> Path:
    """The `utils` package as a zip for the Python workers (sources only), in `folder`,
    named by a hash of its content: an unchanged project reuses its zip."""
    import hashlib

    package = PROJECT_ROOT / "utils"
    sources = sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                     and p.suffix in {".py", ".json", ".yaml", ".sql"})
    digest = hashlib.sha256()
    for p in sources:
        digest.update(p.relative_to(PROJECT_ROOT).as_posix().encode() + b"\0" + p.read_bytes() + b"\0")
    target = Path(folder) / f"lakehouse_utils-{digest.hexdigest()[:16]}.zip"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sources:
            zf.write(p, p.relative_to(PROJECT_ROOT).as_posix())
    tmp.replace(target)
    return target


def _driver_versions() -> dict[str, str]:
    import importlib.metadata as md

    found = {"python": "%d.%d" % sys.version_info[:2]}
    for name in WORKER_PACKAGES:
        found[name] = md.version(name)
    return found


def _worker_probe():
    """A function for one Python worker: the versions it has and whether `utils` imports.
    Made in a closure so it is shipped by value and runs even where `utils` is missing."""

    def probe(batches):
        import importlib
        import importlib.metadata as md
        import sys as _sys

        import pyarrow as pa

        for _ in batches:
            pass
        found = {"python": "%d.%d" % _sys.version_info[:2], "executable": _sys.executable}
        for name in ("pyspark", "pandas", "pyarrow", "numpy"):
            try:
                found[name] = md.version(name)
            except md.PackageNotFoundError:
                found[name] = "missing"
        try:
            importlib.import_module("utils.lake.paths")
            found["utils"] = "ok"
        except ImportError as exc:
            found["utils"] = f"missing ({exc})"
        yield pa.RecordBatch.from_pylist([{"found": _json_dumps(found)}])

    import json as _json

    _json_dumps = _json.dumps
    return probe


def reason(exc: BaseException) -> str:
    """The telling line of a Spark error: the last 'SomeError: ...' line of its text (a
    Python worker's own exception is at the end of the stack trace), else its first line."""
    import re

    text = str(exc).strip()
    causes = re.findall(r"(?m)^\s*(\w*(?:Error|Exception): .+)$", text)
    if causes:
        return causes[-1].strip()
    return text.splitlines()[0] if text else type(exc).__name__


def worker_problems(driver: dict[str, str], worker: dict[str, str]) -> list[str]:
    """What a Python worker lacks against the driver (empty when it can run the project)."""
    problems = []
    if worker.get("utils") != "ok":
        problems.append(f"the project's `utils` package does not import: {worker.get('utils')}")
    for name, want in driver.items():
        have = worker.get(name)
        if have != want:
            problems.append(f"{name} {have} on the worker, {want} on the driver")
    return problems


def check_python_workers(spark) -> dict[str, str]:
    """Run one Python task on an executor and fail with a clear message when its Python
    or packages differ from the driver's or the project does not import there; returns
    what the worker reported."""
    probe = _worker_probe()
    try:
        rows = spark.range(1).mapInArrow(probe, "found string").collect()
    except Exception as exc:  # the worker's Python could not even start: say which
        raise ClusterError(
            f"the cluster's Python workers cannot run: {reason(exc)}. "
            "Set PYSPARK_PYTHON (or spark.pyspark.python) to an interpreter that exists on every "
            "worker, with `pip install -r requirements.txt` done there (docs/cluster.md)") from exc
    worker = json.loads(rows[0]["found"])
    problems = worker_problems(_driver_versions(), worker)
    if problems:
        raise ClusterError(
            f"the cluster's Python workers ({worker.get('executable')}) cannot run this project: "
            + "; ".join(problems)
            + ". Install requirements.txt into the workers' Python (PYSPARK_PYTHON) at the driver's versions "
              "(docs/cluster.md)")
    logger.info("Python workers checked: %s", worker)
    return worker


def check_shared_storage(spark, datamart: Path) -> None:
    """Fail with a clear message when the executors write where this process cannot read.

    Spark writes a one-line probe into <datamart>/_meta/storage_probe/<id> on an executor;
    this process (which commits the Delta log with delta-rs) must then see the file."""
    datamart = Path(datamart).resolve()
    probe_dir = datamart / "_meta" / "storage_probe" / uuid.uuid4().hex
    try:
        spark.range(1).selectExpr("'probe' AS value").coalesce(1).write.mode("overwrite").text(str(probe_dir))
    except Exception as exc:
        raise ClusterError(
            f"the executors cannot write to the datamart {datamart}: {reason(exc)}. "
            "The datamart must be storage that the driver and every executor share at the same path "
            "(an NFS or similar mount; docs/cluster.md)") from exc
    try:
        seen = [p for p in probe_dir.glob("part-*") if p.read_text().strip() == "probe"]
        if not seen:
            raise ClusterError(
                f"the datamart {datamart} is not shared: the executors wrote a probe file there that "
                "this process cannot see, so the Delta commits (made here with delta-rs) would name "
                "files that do not exist. Put the datamart on storage that the driver and every "
                "executor mount at the same path (docs/cluster.md)")
    finally:
        import shutil

        shutil.rmtree(probe_dir, ignore_errors=True)
        try:
            probe_dir.parent.rmdir()
        except OSError:
            pass  # another probe is running, or the folder is already gone
    logger.info("datamart %s is shared with the executors", datamart)
