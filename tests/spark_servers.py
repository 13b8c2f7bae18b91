"""Fixtures that start Spark servers from the installed pyspark for the cluster tests:
a standalone master with one or two workers, and a Spark Connect server.

Every server binds 127.0.0.1 on free ports, has bounded memory (daemons 512 MB, each
worker 1 core and 1 GB for executors, the Connect driver 1 GB), logs into the test's
temporary folder and is stopped afterwards, whatever the test did. Without Java (or
with a pyspark that lacks its launchers) the tests skip and say why.

A test module imports them by name (tests/ is on the path): ``from spark_servers import standalone``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from utils.lake import cluster


@dataclass
class Standalone:
    """A running standalone cluster: its master, its workers, and the folder of their logs."""

    master: cluster.SparkServer
    workers: list[cluster.SparkServer] = field(default_factory=list)
    logs: Path | None = None

    @property
    def url(self) -> str:
        return self.master.url


def _require_launchers() -> None:
    """Skip (with the reason) where Java or pyspark's launcher scripts are missing."""
    if sys.platform == "win32":
        pytest.skip("the Spark servers are started with pyspark's POSIX launcher scripts")
    from utils.lake.spark import resolve_java_home

    try:
        resolve_java_home()
    except RuntimeError as exc:
        pytest.skip(f"no Java to start Spark servers: {exc}")
    launcher = cluster.spark_home() / "bin" / "spark-class"
    if not launcher.exists():
        pytest.skip(f"pyspark has no {launcher.name} launcher at {launcher.parent}")


@contextlib.contextmanager
def running_standalone(logs: Path, workers: int = 1) -> Iterator[Standalone]:
    """A master and `workers` workers (1 core, 1 GB each); all stopped on exit."""
    _require_launchers()
    started: list[cluster.SparkServer] = []
    try:
        master = cluster.start_master(logs)
        started.append(master)
        env = Standalone(master=master, logs=logs)
        for i in range(1, workers + 1):
            env.workers.append(cluster.start_worker(master, logs, index=i))
            started.append(env.workers[-1])
        yield env
    finally:
        for server in reversed(started):
            server.stop()


@contextlib.contextmanager
def running_connect(logs: Path, master: str = "local[2]") -> Iterator[cluster.SparkServer]:
    """A Spark Connect server (driver `master`) with the project's settings; stopped on exit."""
    _require_launchers()
    server = cluster.start_connect_server(logs, master=master, conf=cluster.connect_server_conf())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def standalone(tmp_path_factory) -> Iterator[Standalone]:
    """A standalone master and two workers on 127.0.0.1, for one test module."""
    with running_standalone(tmp_path_factory.mktemp("standalone"), workers=2) as env:
        yield env


@pytest.fixture
def standalone_to_break(tmp_path) -> Iterator[Standalone]:
    """A private standalone cluster of two workers, for a test that kills one of them."""
    with running_standalone(tmp_path / "servers", workers=2) as env:
        yield env


@pytest.fixture(scope="module")
def connect_server(tmp_path_factory) -> Iterator[cluster.SparkServer]:
    """A Spark Connect server on sc://127.0.0.1:<port>, for one test module."""
    with running_connect(tmp_path_factory.mktemp("connect")) as server:
        yield server
