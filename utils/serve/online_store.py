"""The online feature store: per domain, the latest feature row of every entity as of a
date, materialised from gold by the as-of function that builds training sets
(:func:`utils.ml.feature_store.latest_arrow`, the Arrow form of ``latest_features``), so
training and serving cannot disagree (DESIGN §13).

    python -m utils.serve.online_store [--datamart DIR] [--domain D ...] [--as-of DATE] [--online-store URL]

    from utils.serve.online_store import default_url, materialize, open_store
    materialize("datamart")                      # every domain with a feature store, as of its latest D
    store = open_store(default_url("datamart"))
    store.get("loan_default", "CUS_0x1000")      # {"entity", "snapshot_date", "features", "version", "as_of"}

Backends, chosen by URL (DESIGN §15):

    sqlite:///<path>                        embedded, the default: <datamart>/_online/online.db, WAL journal
    redis://host:port/db[?prefix=online]    production (one Redis server; keys under <prefix>:)

A materialisation is a new numbered version of a domain (1, 2, ...), published by swapping
one pointer atomically, so a reader sees the old version or the new one, never a mix:

    SQLite  rows in table ``online_<domain>_v<version>`` (entity, snapshot_date, features
            JSON); pointer row ``_current``; a read takes the pointer and the rows in one
            read transaction.
    Redis   ``<prefix>:<domain>:v<version>:<entity>`` = JSON {"snapshot_date", "features"};
            pointer ``<prefix>:<domain>:current`` = JSON of the metadata (one SET); a read
            is one Lua script (pointer and rows together), so it needs keys on one server,
            not Redis Cluster.

The version before the current one is kept; older ones are deleted after the swap.
Feature values are JSON: numbers as numbers, dates as ISO text, null for null, NaN and
infinities.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.compute as pc

from utils.lake import delta_io
from utils.lake.datamart import Datamart
from utils.lake.paths import CONF_DIR
from utils.ml import feature_store

log = logging.getLogger(__name__)

#: Rows written (SQLite executemany, Redis pipeline) and ids read per round trip.
BATCH = 2_000
#: Key prefix of a Redis store unless the URL says ``?prefix=``.
REDIS_PREFIX = "online"
#: Domain names become table names and key parts: identifiers only.
_DOMAIN = re.compile(r"[A-Za-z][A-Za-z0-9_]*")

#: A record as the stores write it: entity id, snapshot_date (ISO), features (JSON text).
Record = tuple[str, str | None, str]


class OnlineStoreError(RuntimeError):
    """The online store cannot be filled or reached (one line, for the command line)."""


# --------------------------------------------------------------------------- values


def jsonable(value: Any) -> Any:
    """`value` (a Python value of an Arrow row) as JSON can hold it: numbers stay numbers,
    dates and timestamps become ISO text, None/NaN/infinity become None."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return jsonable(float(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _iso_day(value: Any) -> str:
    """`value` as the day latest_arrow reads it ('YYYY-MM' the 1st, a timestamp its day), ISO."""
    day = feature_store._date(value)  # the feature store's own reading, so both agree
    if day is None:
        raise ValueError("as_of is required")
    return day.isoformat()


def _column(values: pa.ChunkedArray | pa.Array) -> list:
    """One column as JSON-ready Python values: NaN and infinities nulled and dates made ISO
    text by Arrow (vectorised); types other than numbers, text and dates value by value."""
    kind = values.type
    if pa.types.is_floating(kind):
        values = pc.if_else(pc.is_finite(values), values, pa.scalar(None, kind))
    elif pa.types.is_decimal(kind):
        values = pc.cast(values, pa.float64())
    elif pa.types.is_date(kind):
        values = pc.cast(values, pa.string())
    out = values.to_pylist()
    simple = (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
              or pa.types.is_boolean(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind)
              or pa.types.is_date(kind))
    return out if simple else [jsonable(v) for v in out]


def records(table: pa.Table) -> Iterator[Record]:
    """The rows of a :func:`feature_store.latest_arrow` result (entity, snapshot_date,
    features...) as records, converted a slice of rows at a time."""
    entity, features = table.column_names[0], table.column_names[2:]
    dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
    for start in range(0, table.num_rows, BATCH):
        part = table.slice(start, BATCH)
        columns = [_column(part[name]) for name in features]
        for entity_id, snapshot, *values in zip(part[entity].to_pylist(), _column(part[feature_store.SNAPSHOT]),
                                                *columns):
            yield str(entity_id), snapshot, dumps(dict(zip(features, values)))


def _result(entity_id: str, snapshot_date: str | None, features: dict, meta: dict) -> dict:
    return {"entity": entity_id, "snapshot_date": snapshot_date, "features": features,
            "version": meta["version"], "as_of": meta["as_of"]}


def _check_domain(domain: str) -> str:
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"domain {domain!r} is not a name (letters, digits, _)")
    return domain


def _batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def public_url(url: str) -> str:
    """`url` without user name, password and query (what is logged and returned);
    string surgery, since urlsplit would fold ``sqlite:////abs`` into ``sqlite://abs``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url.split("?")[0]
    netloc, slash, path = rest.partition("/")
    return f"{scheme}{sep}{netloc.rpartition('@')[2]}{slash}{path.split('?')[0]}"


# --------------------------------------------------------------------------- the stores


class OnlineStore:
    """The latest features per entity of each domain, by materialisation version."""

    url: str

    def get(self, domain: str, entity_id: str) -> dict | None:
        """``{"entity", "snapshot_date", "features", "version", "as_of"}`` of the current
        materialisation of `domain`; None for an unknown entity or domain."""
        return self.get_many(domain, [entity_id])[str(entity_id)]

    def get_many(self, domain: str, entity_ids: Sequence[str]) -> dict[str, dict | None]:
        """Entity id -> what :meth:`get` returns, every row from the same materialisation."""
        ids = list(dict.fromkeys(str(e) for e in entity_ids))
        if not _DOMAIN.fullmatch(domain):
            return dict.fromkeys(ids)
        meta, found = self._read(domain, ids)
        if meta is None:
            return dict.fromkeys(ids)
        return {e: None if found.get(e) is None else _result(e, *found[e], meta) for e in ids}

    def info(self, domain: str) -> dict | None:
        """``{"version", "as_of", "rows", "materialized_at", "feature_store_version",
        "entity"}`` of the current materialisation of `domain`, None when there is none."""
        if not _DOMAIN.fullmatch(domain):
            return None
        return self._read(domain, [])[0]

    def domains(self) -> list[str]:
        """The domains with a current materialisation, sorted."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def publish(self, domain: str, entity: str, rows: Iterable[Record], *, as_of: str,
                feature_store_version: int | None) -> dict:
        """Write `rows` as a new version of `domain`, swap the pointer to it, delete the
        versions older than the one it replaced; the new metadata (as :meth:`info`)."""
        raise NotImplementedError

    def _read(self, domain: str, ids: list[str]) -> tuple[dict | None, dict[str, tuple[str | None, dict]]]:
        """The current metadata of `domain` (None: none) and id -> (snapshot_date,
        features) of those of `ids` it holds, read together."""
        raise NotImplementedError

    def __enter__(self) -> OnlineStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _metadata(version: int, entity: str, as_of: str, rows: int, feature_store_version: int | None) -> dict:
    return {"version": version, "as_of": as_of, "rows": rows,
            "materialized_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "feature_store_version": feature_store_version, "entity": entity}


class SqliteStore(OnlineStore):
    """An SQLite file in WAL mode: readers never wait for a materialisation. One connection
    per thread (a serving API reads from several)."""

    def __init__(self, path: str | Path, url: str | None = None):
        self.path = Path(path)
        self.url = url or f"sqlite:///{self.path.as_posix()}"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        conn = self._conn()
        conn.execute("PRAGMA journal_mode=WAL")
        known = conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='_current'").fetchone()
        if known is None:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS _current (domain TEXT PRIMARY KEY, version INTEGER NOT NULL, "
                "table_name TEXT NOT NULL, as_of TEXT, rows INTEGER, materialized_at TEXT, "
                "feature_store_version INTEGER, entity TEXT)"
            )

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # autocommit mode: transactions are the explicit BEGIN ... COMMIT below
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @staticmethod
    def _table(domain: str, version: int) -> str:
        return f"online_{domain}_v{version}"

    @staticmethod
    def _versions(conn: sqlite3.Connection, domain: str) -> list[int]:
        """The versions of `domain` that have a table (complete: each is written in one transaction)."""
        head = f"online_{domain}_v"
        names = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND substr(name, 1, ?) = ?",
                             (len(head), head)).fetchall()
        return sorted(int(n[len(head):]) for (n,) in names if n[len(head):].isdigit())

    def _read(self, domain, ids):
        conn = self._conn()
        conn.execute("BEGIN")  # one read transaction: the pointer and its rows from one snapshot
        try:
            row = conn.execute(
                "SELECT version, as_of, rows, materialized_at, feature_store_version, entity, table_name "
                "FROM _current WHERE domain = ?", (domain,)).fetchone()
            if row is None:
                return None, {}
            meta = dict(zip(("version", "as_of", "rows", "materialized_at", "feature_store_version", "entity"), row))
            found = {}
            for chunk in _batches(ids, 500):
                marks = ",".join("?" * len(chunk))
                for entity_id, snapshot, features in conn.execute(
                        f'SELECT entity, snapshot_date, features FROM "{row[6]}" WHERE entity IN ({marks})', chunk):
                    found[entity_id] = (snapshot, json.loads(features))
            return meta, found
        finally:
            conn.execute("COMMIT")

    def domains(self) -> list[str]:
        return [d for (d,) in self._conn().execute("SELECT domain FROM _current ORDER BY domain")]

    def journal_mode(self) -> str:
        return self._conn().execute("PRAGMA journal_mode").fetchone()[0]

    def publish(self, domain, entity, rows, *, as_of, feature_store_version):
        conn, domain = self._conn(), _check_domain(domain)
        conn.execute("BEGIN IMMEDIATE")  # the version is reserved by its table, written whole or not at all
        try:
            current = conn.execute("SELECT version FROM _current WHERE domain = ?", (domain,)).fetchone()
            version = max([current[0] if current else 0, *self._versions(conn, domain)]) + 1
            table = self._table(domain, version)
            conn.execute(f'CREATE TABLE "{table}" (entity TEXT PRIMARY KEY, snapshot_date TEXT, '
                         'features TEXT NOT NULL) WITHOUT ROWID')
            written, batch = 0, []
            for record in rows:
                batch.append(record)
                if len(batch) >= BATCH:
                    conn.executemany(f'INSERT INTO "{table}" VALUES (?, ?, ?)', batch)
                    written, batch = written + len(batch), []
            conn.executemany(f'INSERT INTO "{table}" VALUES (?, ?, ?)', batch)
            written += len(batch)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        meta = _metadata(version, entity, as_of, written, feature_store_version)
        conn.execute("BEGIN IMMEDIATE")  # the swap
        try:
            current = conn.execute("SELECT version FROM _current WHERE domain = ?", (domain,)).fetchone()
            previous = current[0] if current else 0
            if previous > version:
                raise OnlineStoreError(f"{domain}: version {previous} was published while version {version} "
                                       f"was being written; version {version} is discarded")
            conn.execute(
                "INSERT INTO _current (domain, version, table_name, as_of, rows, materialized_at, "
                "feature_store_version, entity) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(domain) DO UPDATE SET "
                "version=excluded.version, table_name=excluded.table_name, as_of=excluded.as_of, rows=excluded.rows, "
                "materialized_at=excluded.materialized_at, feature_store_version=excluded.feature_store_version, "
                "entity=excluded.entity",
                (domain, version, table, meta["as_of"], written, meta["materialized_at"], feature_store_version, entity))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            conn.execute(f'DROP TABLE IF EXISTS "{table}"')
            raise
        # readers still inside a transaction that began before the swap keep their snapshot
        conn.execute("BEGIN IMMEDIATE")
        try:
            for old in self._versions(conn, domain):
                if old < previous:
                    conn.execute(f'DROP TABLE "{self._table(domain, old)}"')
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return meta

    def close(self) -> None:
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()


# Lua, so that a read (pointer + rows) and a swap (compare + set) are each one atomic step.
_READ = """
local current = redis.call('GET', KEYS[1])
if not current then return false end
local base = ARGV[1] .. ':v' .. string.format('%d', cjson.decode(current).version) .. ':'
local values, keys = {}, {}
for i = 2, #ARGV do
  keys[#keys + 1] = base .. ARGV[i]
  if #keys == 500 or i == #ARGV then
    for _, v in ipairs(redis.call('MGET', unpack(keys))) do values[#values + 1] = v end
    keys = {}
  end
end
return {current, values}
"""
_RESERVE = """
local version = redis.call('INCR', KEYS[1])
local current = redis.call('GET', KEYS[2])
if current then
  local latest = cjson.decode(current).version
  if version <= latest then
    version = latest + 1
    redis.call('SET', KEYS[1], version)
  end
end
return version
"""
_SWAP = """
local current = redis.call('GET', KEYS[1])
local previous = 0
if current then previous = cjson.decode(current).version end
if previous > tonumber(ARGV[2]) then return -previous end
redis.call('SET', KEYS[1], ARGV[1])
return previous
"""


class RedisStore(OnlineStore):
    """A Redis database; every key under ``<prefix>:``."""

    def __init__(self, url: str):
        try:
            import redis
        except ModuleNotFoundError as exc:
            raise OnlineStoreError("a redis:// online store needs the redis package (requirements.txt)") from exc
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        self.prefix = query.pop("prefix", REDIS_PREFIX)
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.prefix):
            raise ValueError(f"Redis key prefix {self.prefix!r} of {public_url(url)!r}: letters, digits, _ . - only")
        self.url = url
        self._redis = redis.Redis.from_url(urlunsplit(parts._replace(query=urlencode(query))),
                                           decode_responses=True, socket_connect_timeout=5)
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            self._redis.close()
            raise OnlineStoreError(f"cannot reach Redis at {public_url(url)}: {exc}") from exc
        self._read_script = self._redis.register_script(_READ)
        self._reserve = self._redis.register_script(_RESERVE)
        self._swap = self._redis.register_script(_SWAP)

    def _key(self, domain: str, *parts: object) -> str:
        return ":".join([self.prefix, domain, *map(str, parts)])

    def _read(self, domain, ids):
        answer = self._read_script(keys=[self._key(domain, "current")], args=[self._key(domain), *ids])
        if not answer:
            return None, {}
        current, values = answer
        found = {}
        for entity_id, value in zip(ids, values):
            if value:
                row = json.loads(value)
                found[entity_id] = (row["snapshot_date"], row["features"])
        return json.loads(current), found

    def domains(self) -> list[str]:
        head, tail = f"{self.prefix}:", ":current"
        keys = self._redis.scan_iter(match=f"{head}*{tail}", count=1000)
        return sorted({k[len(head):-len(tail)] for k in keys if _DOMAIN.fullmatch(k[len(head):-len(tail)])})

    def _versions(self, domain: str) -> Iterator[tuple[int, str]]:
        """(version, key) of every row key of `domain`."""
        head = self._key(domain, "v")
        for key in self._redis.scan_iter(match=f"{head}*", count=1000):
            number = key[len(head):].partition(":")[0]
            if number.isdigit():
                yield int(number), key

    def _delete(self, keys: Iterable[str]) -> None:
        batch = []
        for key in keys:
            batch.append(key)
            if len(batch) >= BATCH:
                self._redis.unlink(*batch)
                batch = []
        if batch:
            self._redis.unlink(*batch)

    def publish(self, domain, entity, rows, *, as_of, feature_store_version):
        domain = _check_domain(domain)
        version = int(self._reserve(keys=[self._key(domain, "next_version"), self._key(domain, "current")]))
        written = 0
        try:
            pipe = self._redis.pipeline(transaction=False)
            for entity_id, snapshot, features in rows:
                pipe.set(self._key(domain, f"v{version}", entity_id),
                         f'{{"snapshot_date":{json.dumps(snapshot)},"features":{features}}}')
                written += 1
                if written % BATCH == 0:
                    pipe.execute()
            pipe.execute()
            meta = _metadata(version, entity, as_of, written, feature_store_version)
            previous = int(self._swap(keys=[self._key(domain, "current")],
                                      args=[json.dumps(meta, separators=(",", ":")), version]))
        except BaseException:
            self._delete(k for v, k in self._versions(domain) if v == version)
            raise
        if previous < 0:
            self._delete(k for v, k in self._versions(domain) if v == version)
            raise OnlineStoreError(f"{domain}: version {-previous} was published while version {version} "
                                   f"was being written; version {version} is discarded")
        self._delete(k for v, k in self._versions(domain) if v < previous)
        return meta

    def close(self) -> None:
        self._redis.close()


# --------------------------------------------------------------------------- opening


def default_url(datamart: str | Path) -> str:
    """``sqlite:///<datamart>/_online/online.db``: the embedded store beside the datamart."""
    return f"sqlite:///{(Path(datamart) / '_online' / 'online.db').as_posix()}"


def open_store(url: str) -> OnlineStore:
    """The store at `url`: ``sqlite:///<path>`` (``sqlite:////abs/path`` for an absolute
    path) or ``redis://host:port/db`` (``rediss://`` with TLS; ``?prefix=NAME`` for the
    key prefix, default ``online``). ValueError naming any other URL."""
    scheme = urlsplit(url).scheme if isinstance(url, str) else ""
    if scheme == "sqlite" and url.startswith("sqlite:///") and len(url) > len("sqlite:///"):
        return SqliteStore(url[len("sqlite:///"):], url)
    if scheme in ("redis", "rediss"):
        return RedisStore(url)
    shown = public_url(url) if isinstance(url, str) else repr(url)
    raise ValueError(f"unsupported online store URL {shown!r}: use sqlite:///<path> or redis://host:port/db")


# --------------------------------------------------------------------------- materialising


def _feature_store_path(datamart: str | Path, domain: str) -> Path:
    return Datamart(Path(datamart), domain).table("gold", "feature_store")


def feature_store_domains(datamart: str | Path, conf_dir: Path = CONF_DIR) -> list[str]:
    """The domains of `conf_dir` (one YAML each) whose gold/feature_store exists in `datamart`."""
    return [d for d in sorted(p.stem for p in Path(conf_dir).glob("*.yaml"))
            if delta_io.table_exists(_feature_store_path(datamart, d))]


def latest_snapshot(datamart: str | Path, domain: str, version: int | None = None) -> str:
    """The latest snapshot_date (ISO) of gold/<domain>/feature_store at `version`."""
    dates = feature_store.read_arrow(_feature_store_path(datamart, domain), version,
                                     columns=[feature_store.SNAPSHOT])[feature_store.SNAPSHOT]
    latest = pc.max(dates).as_py()
    if latest is None:
        raise OnlineStoreError(f"gold/{domain}/feature_store has no rows")
    return _iso_day(latest)


def materialize_domain(store: OnlineStore, datamart: str | Path, domain: str, as_of: Any = None) -> dict:
    """Publish the latest feature row of every entity of `domain` as of `as_of` (default
    the feature store's latest snapshot_date) as a new version; the summary."""
    started = time.perf_counter()
    path = _feature_store_path(datamart, domain)
    version = delta_io.table_version(path)
    if version is None:
        raise OnlineStoreError(f"no gold/{domain}/feature_store in {datamart}; build it with "
                               f"`python main.py --domain {domain}`")
    day = _iso_day(as_of) if as_of is not None else latest_snapshot(datamart, domain, version)
    table = feature_store.latest_arrow(domain, day, datamart=datamart, version=version)
    if table.num_rows == 0:  # publishing it would leave the serving API with no features at all
        raise OnlineStoreError(f"gold/{domain}/feature_store has no row up to {day}; nothing published")
    meta = store.publish(domain, table.column_names[0], records(table), as_of=day, feature_store_version=version)
    summary = {"domain": domain, "version": meta["version"], "rows": meta["rows"], "as_of": day,
               "feature_store_version": version, "seconds": round(time.perf_counter() - started, 3),
               "url": public_url(store.url)}
    log.info("online store %s: %s v%d, %d entities as of %s (feature_store v%s) in %.2f s", summary["url"], domain,
             summary["version"], summary["rows"], day, version, summary["seconds"])
    return summary


def materialize(datamart: str | Path, domains: Sequence[str] | None = None, *, as_of: Any = None,
                url: str | None = None) -> list[dict]:
    """Materialise `domains` (default: every domain of conf/ with a gold feature store in
    `datamart`) into the online store at `url` (default :func:`default_url`); one summary
    per domain: domain, version, rows, as_of, feature_store_version, seconds, url (no
    credentials)."""
    chosen = list(domains) if domains else feature_store_domains(datamart)
    if not chosen:
        raise OnlineStoreError(f"no gold feature store in {datamart}; build one with `python main.py`")
    missing = [d for d in chosen if not delta_io.table_exists(_feature_store_path(datamart, _check_domain(d)))]
    if missing:  # before anything is published
        raise OnlineStoreError(f"no gold feature store of {', '.join(missing)} in {datamart}; build it with "
                               f"`python main.py --domain {missing[0]}`")
    with open_store(url or default_url(datamart)) as store:
        return [materialize_domain(store, datamart, domain, as_of) for domain in chosen]


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m utils.serve.online_store",
        description="Fill the online feature store with the latest features per entity, from gold.")
    parser.add_argument("--datamart", type=Path, default=feature_store.DEFAULT_DATAMART,
                        help="the datamart folder (default: datamart/ of the checkout)")
    parser.add_argument("--domain", action="append", dest="domains", metavar="D",
                        help="a domain to materialise (repeatable; default every domain with a feature store)")
    parser.add_argument("--as-of", dest="as_of", metavar="DATE",
                        help="features as known on this date (default each feature store's latest snapshot)")
    parser.add_argument("--online-store", dest="url", metavar="URL",
                        help="sqlite:///<path> or redis://host:port/db (default sqlite:///<datamart>/_online/online.db)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Materialise, print one line per domain. 0 on success, 1 with one line on stderr when
    there is nothing to materialise or the store cannot be written."""
    args = build_parser().parse_args(argv)
    try:
        summaries = materialize(args.datamart.resolve(), args.domains, as_of=args.as_of, url=args.url)
    except (OnlineStoreError, ValueError, KeyError, delta_io.DeltaIOError, sqlite3.Error) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"error: {message}", file=sys.stderr)
        return 1
    for s in summaries:
        print(f"{s['domain']}: version {s['version']}, {s['rows']} entities as of {s['as_of']} "
              f"(feature_store v{s['feature_store_version']}) in {s['seconds']:.2f} s -> {s['url']}")
    return 0


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure()
    sys.exit(main())
