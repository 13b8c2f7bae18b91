"""The Delta I/O module on its own: Spark-written Parquet + one delta-rs commit per write."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from deltalake import DeltaTable
from pyspark.sql import Row
from pyspark.testing import assertDataFrameEqual

from utils.lake import delta_io
from utils.lake.delta_io import ConcurrentWriteError, SchemaMismatchError, TableMissingError

D1, D2, D3 = dt.date(2023, 1, 1), dt.date(2023, 2, 1), dt.date(2023, 3, 1)


def rows(spark, data, cols=("id", "value", "snapshot_date")):
    return spark.createDataFrame([Row(**dict(zip(cols, r))) for r in data])


def test_create_then_read_round_trips_rows_and_partition_column(spark, tmp_path):
    df = rows(spark, [(1, "a", D1), (2, "b", D1), (3, "c", D2)])
    result = delta_io.write_table(df, tmp_path / "t")
    assert result.version == 0
    assert result.partitions == {"snapshot_date=2023-01-01": 2, "snapshot_date=2023-02-01": 1}
    assertDataFrameEqual(delta_io.read_table(spark, tmp_path / "t"), df)
    assert DeltaTable(str(tmp_path / "t")).protocol().min_writer_version == 2


def test_table_opens_with_independent_reader(spark, tmp_path):
    df = rows(spark, [(1, "a", D1), (2, None, None)])
    delta_io.write_table(df, tmp_path / "t")
    pdf = DeltaTable(str(tmp_path / "t")).to_pandas().sort_values("id")
    assert pdf["id"].tolist() == [1, 2]
    assert pdf["snapshot_date"].tolist()[0] == D1 and pdf["snapshot_date"].isna().tolist()[1]


def test_append_adds_rows_in_a_new_version(spark, tmp_path):
    delta_io.write_table(rows(spark, [(1, "a", D1)]), tmp_path / "t")
    result = delta_io.write_table(rows(spark, [(2, "b", D1)]), tmp_path / "t", mode="append")
    assert result.version == 1
    assert sorted(r.id for r in delta_io.read_table(spark, tmp_path / "t").collect()) == [1, 2]


def test_partition_overwrite_replaces_only_written_partitions(spark, tmp_path):
    delta_io.write_table(rows(spark, [(1, "a", D1), (2, "b", D2), (3, "c", None)]), tmp_path / "t")
    delta_io.write_table(rows(spark, [(20, "B", D2)]), tmp_path / "t")
    got = {(r.id, r.snapshot_date) for r in delta_io.read_table(spark, tmp_path / "t").collect()}
    assert got == {(1, D1), (20, D2), (3, None)}


def test_partition_overwrite_of_listed_partitions_empties_those_without_new_rows(spark, tmp_path):
    delta_io.write_table(rows(spark, [(1, "a", D1), (2, "b", D2), (3, "c", None)]), tmp_path / "t")
    result = delta_io.write_table(rows(spark, [(10, "A", D1)]), tmp_path / "t", partitions=[D1, D2, None])
    assert result.removed_files == 3
    assert [r.id for r in delta_io.read_table(spark, tmp_path / "t").collect()] == [10]


def test_full_overwrite_replaces_every_partition(spark, tmp_path):
    delta_io.write_table(rows(spark, [(1, "a", D1), (2, "b", D2)]), tmp_path / "t")
    delta_io.write_table(rows(spark, [(3, "c", D3)]), tmp_path / "t", mode="overwrite")
    assert [r.id for r in delta_io.read_table(spark, tmp_path / "t").collect()] == [3]


def test_time_travel_by_version_and_timestamp(spark, tmp_path):
    delta_io.write_table(rows(spark, [(1, "a", D1)]), tmp_path / "t")
    time.sleep(1.1)
    between = dt.datetime.now(dt.timezone.utc)
    time.sleep(1.1)
    delta_io.write_table(rows(spark, [(2, "b", D1)]), tmp_path / "t")
    assert [r.id for r in delta_io.read_table(spark, tmp_path / "t", version=0).collect()] == [1]
    assert [r.id for r in delta_io.read_table(spark, tmp_path / "t", timestamp=between).collect()] == [1]
    assert [r.id for r in delta_io.read_table(spark, tmp_path / "t").collect()] == [2]


def test_read_prunes_to_requested_partitions(spark, tmp_path):
    delta_io.write_table(rows(spark, [(1, "a", D1), (2, "b", D2)]), tmp_path / "t")
    got = delta_io.read_table(spark, tmp_path / "t", partitions=[D2]).collect()
    assert [(r.id, r.snapshot_date) for r in got] == [(2, D2)]


def test_new_column_is_refused_without_schema_evolution(spark, tmp_path):
    delta_io.write_table(rows(spark, [(1, "a", D1)]), tmp_path / "t")
    wider = rows(spark, [(2, "b", 2.5, D2)], cols=("id", "value", "score", "snapshot_date"))
    with pytest.raises(SchemaMismatchError, match="score"):
        delta_io.write_table(wider, tmp_path / "t")
    assert DeltaTable(str(tmp_path / "t")).version() == 0


def test_schema_evolution_adds_column_and_old_rows_read_null(spark, tmp_path):
    delta_io.write_table(rows(spark, [(1, "a", D1)]), tmp_path / "t")
    wider = rows(spark, [(2, "b", 2.5, D2)], cols=("id", "value", "score", "snapshot_date"))
    delta_io.write_table(wider, tmp_path / "t", schema_evolution=True)
    got = {r.id: r.score for r in delta_io.read_table(spark, tmp_path / "t").collect()}
    assert got == {1: None, 2: 2.5}


def test_changed_column_type_is_refused_even_with_evolution(spark, tmp_path):
    delta_io.write_table(rows(spark, [(1, "a", D1)]), tmp_path / "t")
    with pytest.raises(SchemaMismatchError, match="value"):
        delta_io.write_table(rows(spark, [(1, 5, D1)]), tmp_path / "t", schema_evolution=True)


def test_concurrent_writer_conflict_gives_clear_error_and_keeps_winner(spark, tmp_path, monkeypatch):
    path = tmp_path / "t"
    delta_io.write_table(rows(spark, [(1, "a", D1)]), path)
    original = delta_io._file_stats
    rival = {"done": False}

    def rival_commits_mid_write(*args, **kwargs):
        # called after our write has read version 0 and staged its files
        if not rival["done"]:
            rival["done"] = True
            delta_io.write_table(rows(spark, [(99, "rival", D1)]), path)
        return original(*args, **kwargs)

    monkeypatch.setattr(delta_io, "_file_stats", rival_commits_mid_write)
    with pytest.raises(ConcurrentWriteError, match="another writer changed the table since version 0"):
        delta_io.write_table(rows(spark, [(2, "late", D1)]), path)
    assert DeltaTable(str(path)).version() == 1
    assert [r.id for r in delta_io.read_table(spark, path).collect()] == [99]
    assert len(list(path.rglob("*.parquet"))) == 2  # v0 file (removed, kept for time travel) + rival's


def test_aborted_write_leaves_no_visible_change(spark, tmp_path, monkeypatch):
    path = tmp_path / "t"
    delta_io.write_table(rows(spark, [(1, "a", D1)]), path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed before commit")

    monkeypatch.setattr(DeltaTable, "create_write_transaction", crash)
    with pytest.raises(KeyboardInterrupt):
        delta_io.write_table(rows(spark, [(2, "b", D1)]), path)
    monkeypatch.undo()
    assert DeltaTable(str(path)).version() == 0
    assert [r.id for r in delta_io.read_table(spark, path).collect()] == [1]
    assert not (path / delta_io.STAGING_DIR).exists()
    assert len(list(path.rglob("*.parquet"))) == 1


def test_missing_table_and_version_raise_table_missing(spark, tmp_path):
    with pytest.raises(TableMissingError):
        delta_io.read_table(spark, tmp_path / "nope")
    delta_io.write_table(rows(spark, [(1, "a", D1)]), tmp_path / "t")
    with pytest.raises(TableMissingError):
        delta_io.read_table(spark, tmp_path / "t", version=5)


def test_list_partitions_counts_rows_from_the_log(spark, tmp_path):
    delta_io.write_table(rows(spark, [(1, "a", D1), (2, "b", D1), (3, "c", None)]), tmp_path / "t")
    assert delta_io.list_partitions(tmp_path / "t") == {("2023-01-01",): 2, (None,): 1}


def test_staged_write_is_invisible_until_commit_and_abort_removes_its_files(spark, tmp_path):
    path = tmp_path / "t"
    delta_io.write_table(rows(spark, [(1, "a", D1)]), path)
    staged = delta_io.stage_table(rows(spark, [(2, "b", D1), (3, "c", D2)]), path)
    assert staged.partitions == {"snapshot_date=2023-01-01": 1, "snapshot_date=2023-02-01": 1}
    assert [r.id for r in delta_io.read_table(spark, path).collect()] == [1]
    staged.abort()
    assert len(list(path.rglob("*.parquet"))) == 1
    assert DeltaTable(str(path)).version() == 0
