"""The two backends of the online store: SQLite (WAL, a table per version and a
pointer row) and Redis (keys per version and one pointer key). See
:mod:`utils.serve.online_store` for the swap each makes atomic."""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from utils.serve.online_base import (_DOMAIN, BATCH, REDIS_PREFIX, OnlineStore, OnlineStoreError, _batches,
                                     _check_domain, _metadata, public_url)

log = logging.getLogger(__name__)


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
