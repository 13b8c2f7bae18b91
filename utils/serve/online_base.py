"""What the online store's backends share (:mod:`utils.serve.online_store` is the
entry point): JSON-safe values, the records of a materialisation, the base class
with its read contract, and the metadata of a version."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

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
