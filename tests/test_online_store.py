"""The online feature store (utils.serve.online_store): the latest features per entity,
materialised from the sample gold by the as-of function of the training sets, in SQLite
and (where one is reachable) Redis. Real data, no mocks."""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import sqlite3
import threading
import time
import uuid

import pandas as pd
import pytest

from utils.ml.feature_store import KEY_COLUMNS, latest_features, read_arrow, training_set
from utils.serve.online_store import OnlineStoreError, default_url, jsonable, main, materialize, open_store

DOMAIN = "loan_default"
ENTITY = "customer_id"
#: A database of its own; each test writes under a unique key prefix and deletes it.
REDIS_URL = os.environ.get("LAKEHOUSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(scope="module")
def snapshots(sample_datamart) -> list[dt.date]:
    """The snapshot dates of the sample's gold/loan_default/feature_store, ascending."""
    dates = read_arrow(sample_datamart / "gold" / DOMAIN / "feature_store", columns=["snapshot_date"])
    return sorted(set(dates["snapshot_date"].to_pylist()))


@pytest.fixture(scope="module")
def redis_server() -> str:
    """REDIS_URL, checked by a ping; a clean skip saying why when there is no Redis."""
    redis = pytest.importorskip("redis", reason="the redis package is not installed")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request, tmp_path):
    """The URL of an empty online store of each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'online.db').as_posix()}"
        return
    import redis

    server = request.getfixturevalue("redis_server")
    prefix = f"test_online_{uuid.uuid4().hex[:12]}"
    yield f"{server}?prefix={prefix}"
    client = redis.Redis.from_url(server)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _plain(value):
    """A pandas cell as the online store holds it (JSON): None for null, ISO for dates."""
    if isinstance(value, (pd.Timestamp, dt.date)):
        return value.isoformat()[:10]
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value


def _offline_rows(frame: pd.DataFrame, features: list[str]) -> dict[str, dict]:
    return {row[ENTITY]: {c: _plain(row[c]) for c in features} for row in frame.to_dict("records")}


def test_online_features_equal_the_training_row_of_the_same_entity_and_date(sample_datamart, store_url):
    training = training_set(datamart=sample_datamart, domain=DOMAIN)
    features = [c for c in training.columns if c not in KEY_COLUMNS]
    known = training.dropna(subset=[features[0]])  # rows whose feature row exists
    day = known["feature_snapshot_date"].max()
    rows = known[known["feature_snapshot_date"] == day].drop_duplicates(ENTITY).sort_values(ENTITY).head(12)
    assert len(rows) >= 5

    materialize(sample_datamart, [DOMAIN], as_of=day, url=store_url)

    with open_store(store_url) as store:
        for entity, offline in _offline_rows(rows, features).items():
            online = store.get(DOMAIN, entity)
            assert (online["entity"], online["snapshot_date"], online["as_of"]) == (entity, _plain(day), _plain(day))
            assert list(online["features"]) == features
            for name in features:  # value by value, floats exactly: both are the same Delta row
                assert online["features"][name] == offline[name], (entity, name)


def test_every_online_row_is_the_latest_feature_row_as_of_the_date(sample_datamart, snapshots, store_url):
    as_of = snapshots[-3] + dt.timedelta(days=10)  # between two snapshots: the earlier one is the latest known
    offline = latest_features(DOMAIN, as_of, datamart=sample_datamart)
    features = [c for c in offline.columns if c not in (ENTITY, "snapshot_date")]

    [summary] = materialize(sample_datamart, [DOMAIN], as_of=as_of, url=store_url)

    assert summary["rows"] == len(offline) > 0
    with open_store(store_url) as store:
        online = store.get_many(DOMAIN, offline[ENTITY].tolist())
    for _, row in offline.iterrows():
        got = online[row[ENTITY]]
        assert got["snapshot_date"] == _plain(row["snapshot_date"]) <= as_of.isoformat()
        assert got["features"] == {c: _plain(row[c]) for c in features}, row[ENTITY]


def test_a_reader_never_sees_a_mix_of_two_materialisations(sample_datamart, snapshots, store_url):
    older, newer = snapshots[-2].isoformat(), snapshots[-1].isoformat()
    expected = {}
    for day in (older, newer):
        frame = latest_features(DOMAIN, day, datamart=sample_datamart)
        expected[day] = _offline_rows(frame, [c for c in frame.columns if c not in (ENTITY, "snapshot_date")])
    # the sample has one feature row per customer: the two dates differ in which customers
    # they know, so a read mixing them would show known and unknown customers of both
    only_newer = sorted(set(expected[newer]) - set(expected[older]))[:15]
    entities = sorted(expected[older])[:15] + only_newer
    assert len(only_newer) == 15

    [first] = materialize(sample_datamart, [DOMAIN], as_of=older, url=store_url)
    reads, versions_seen, problems = [0], set(), []
    started, done = threading.Event(), threading.Event()
    last_version = first["version"] + 2

    def reader():
        with open_store(store_url) as store:
            while (not done.is_set() or last_version not in versions_seen) and reads[0] < 100_000:
                result = store.get_many(DOMAIN, entities)
                found = {e: r for e, r in result.items() if r is not None}
                versions = {(r["version"], r["as_of"]) for r in found.values()}
                if len(versions) != 1:
                    problems.append(versions)
                else:
                    [(version, as_of)] = versions
                    wanted = expected[as_of]
                    if set(found) != set(entities) & set(wanted):
                        problems.append((version, sorted(found)))
                    problems.extend((version, e) for e, r in found.items() if r["features"] != wanted[e])
                    versions_seen.add(version)
                reads[0] += 1
                started.set()
                time.sleep(0.001)  # a serving API's pace, and the writer gets the interpreter

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        assert started.wait(30)
        second = materialize(sample_datamart, [DOMAIN], as_of=newer, url=store_url)[0]
        third = materialize(sample_datamart, [DOMAIN], as_of=older, url=store_url)[0]
    finally:
        done.set()
        thread.join(60)
    assert (second["version"], third["version"]) == (first["version"] + 1, last_version)
    assert problems == []
    assert reads[0] > 20
    assert {first["version"], last_version} <= versions_seen <= {first["version"], second["version"], last_version}


def test_older_materialisations_are_deleted_and_the_previous_one_kept(sample_datamart, snapshots, store_url):
    for day in snapshots[-3:]:
        materialize(sample_datamart, [DOMAIN], as_of=day, url=store_url)

    if store_url.startswith("sqlite"):
        with sqlite3.connect(store_url[len("sqlite:///"):]) as conn:
            tables = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert tables == {"_current", f"online_{DOMAIN}_v2", f"online_{DOMAIN}_v3"}
    else:
        import redis

        prefix = store_url.partition("?prefix=")[2]
        client = redis.Redis.from_url(store_url.partition("?")[0], decode_responses=True)
        versions = {k.split(":")[2] for k in client.scan_iter(match=f"{prefix}:{DOMAIN}:v*", count=1000)}
        client.close()
        assert versions == {"v2", "v3"}
    with open_store(store_url) as store:
        assert store.info(DOMAIN)["version"] == 3
        assert store.info(DOMAIN)["as_of"] == snapshots[-1].isoformat()


def test_unknown_entities_and_domains_read_as_none(sample_datamart, snapshots, store_url):
    materialize(sample_datamart, [DOMAIN], as_of=snapshots[-1], url=store_url)

    with open_store(store_url) as store:
        assert store.get(DOMAIN, "CUS_not_a_customer") is None
        assert store.get("no_such_domain", "CUS_0x1000") is None
        assert store.get_many("no_such_domain", ["a", "b"]) == {"a": None, "b": None}
        assert store.info("no_such_domain") is None
        assert store.domains() == [DOMAIN]
        info = store.info(DOMAIN)
    assert info["entity"] == ENTITY and info["rows"] > 0 and info["feature_store_version"] == 0


def test_a_materialisation_with_no_rows_is_refused_and_the_current_one_stays(sample_datamart, snapshots, tmp_path):
    url = f"sqlite:///{(tmp_path / 'online.db').as_posix()}"
    materialize(sample_datamart, [DOMAIN], as_of=snapshots[-1], url=url)

    with pytest.raises(OnlineStoreError, match="no row up to 2000-01-01"):
        materialize(sample_datamart, [DOMAIN], as_of="2000-01-01", url=url)
    with pytest.raises(OnlineStoreError, match="no gold feature store of no_such_domain"):
        materialize(sample_datamart, [DOMAIN, "no_such_domain"], as_of=snapshots[0], url=url)

    with open_store(url) as store:
        assert (store.info(DOMAIN)["version"], store.info(DOMAIN)["as_of"]) == (1, snapshots[-1].isoformat())


def test_the_sqlite_store_uses_the_wal_journal(tmp_path):
    path = tmp_path / "online.db"
    open_store(f"sqlite:///{path.as_posix()}").close()

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("url", ["mysql://user:secret@db:3306/online", "sqlite://", "online.db", ""])
def test_a_url_of_no_known_store_is_a_value_error_naming_it(url):
    with pytest.raises(ValueError, match="unsupported online store URL") as error:
        open_store(url)

    assert url.replace("user:secret@", "") in str(error.value) and "secret" not in str(error.value)


def test_the_command_materialises_every_feature_store_into_the_default_store(sample_datamart, snapshots, tmp_path,
                                                                            capsys):
    datamart = tmp_path / "dm"
    shutil.copytree(sample_datamart / "gold" / DOMAIN / "feature_store", datamart / "gold" / DOMAIN / "feature_store")

    assert main(["--datamart", str(datamart)]) == 0

    assert (datamart / "_online" / "online.db").exists()
    assert capsys.readouterr().out.startswith(f"{DOMAIN}: version 1, ")
    with open_store(default_url(datamart)) as store:
        info = store.info(DOMAIN)
    assert info["as_of"] == snapshots[-1].isoformat()  # the latest snapshot by default
    entities = read_arrow(datamart / "gold" / DOMAIN / "feature_store", columns=[ENTITY])[ENTITY]
    assert info["rows"] == len(set(entities.to_pylist()))


def test_the_command_fails_in_one_line_without_a_feature_store(tmp_path, capsys):
    assert main(["--datamart", str(tmp_path)]) == 1

    err = capsys.readouterr().err
    assert err.startswith("error: no gold feature store") and err.count("\n") == 1


def test_default_url_is_an_sqlite_file_beside_the_datamart(tmp_path):
    assert default_url("dm") == "sqlite:///dm/_online/online.db"
    assert default_url(tmp_path) == f"sqlite:///{tmp_path.as_posix()}/_online/online.db"


def test_values_are_json_numbers_iso_dates_and_null():
    assert [jsonable(v) for v in (1, 2.5, float("nan"), float("inf"), None, dt.date(2024, 6, 1), "a", True)] == \
        [1, 2.5, None, None, None, "2024-06-01", "a", True]
