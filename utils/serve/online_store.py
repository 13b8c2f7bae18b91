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
import importlib
import logging
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.compute as pc

from utils.lake import delta_io
from utils.lake.datamart import Datamart
from utils.lake.paths import CONF_DIR
from utils.ml import feature_store
from utils.serve.online_backends import RedisStore, SqliteStore  # noqa: F401  (re-exported)
from utils.serve.online_base import (  # noqa: F401  (re-exported: callers import them from here)
    OnlineStore, OnlineStoreError, _check_domain, _iso_day, jsonable, public_url, records)

log = logging.getLogger(__name__)


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


def serving_module(domain: str):
    """The ``serving`` module beside the builder of a domain whose gold is its own
    builder's (e.g. :mod:`utils.domains.energy.serving`), or None: it names the gold
    table (``TABLE``) the online rows come from, makes them (``online_rows``) and names the
    served model (``MODEL_NAME``). None for a domain with a feature store, an unknown
    domain, or a builder without such a module."""
    from utils.lake.config import ConfigError, load_config

    try:
        config = load_config(domain)
    except ConfigError:
        return None
    if config.gold is not None or config.gold_builder is None:
        return None
    package = config.gold_builder.builder.split(":", 1)[0].rsplit(".", 1)[0]
    try:
        return importlib.import_module(f"{package}.serving")
    except ModuleNotFoundError as exc:
        if exc.name == f"{package}.serving":
            return None
        raise


def _source_table(domain: str) -> str:
    """The gold table the online rows of `domain` come from: feature_store, or the one
    its builder's serving module names."""
    module = serving_module(domain)
    return "feature_store" if module is None else module.TABLE


def _feature_store_path(datamart: str | Path, domain: str) -> Path:
    return Datamart(Path(datamart), domain).table("gold", _source_table(domain))


def feature_store_domains(datamart: str | Path, conf_dir: Path = CONF_DIR) -> list[str]:
    """The domains of `conf_dir` (one YAML each) whose gold/feature_store (or the table
    their builder serves from) exists in `datamart`."""
    return [d for d in sorted(p.stem for p in Path(conf_dir).glob("*.yaml"))
            if delta_io.table_exists(_feature_store_path(datamart, d))]


def latest_snapshot(datamart: str | Path, domain: str, version: int | None = None) -> str:
    """The latest snapshot_date (ISO) of gold/<domain>/feature_store (or its builder's
    served table) at `version`."""
    dates = feature_store.read_arrow(_feature_store_path(datamart, domain), version,
                                     columns=[feature_store.SNAPSHOT])[feature_store.SNAPSHOT]
    latest = pc.max(dates).as_py()
    if latest is None:
        raise OnlineStoreError(f"gold/{domain}/{_source_table(domain)} has no rows")
    return _iso_day(latest)


def materialize_domain(store: OnlineStore, datamart: str | Path, domain: str, as_of: Any = None) -> dict:
    """Publish the latest feature row of every entity of `domain` as of `as_of` (default
    the feature store's latest snapshot_date) as a new version; the summary."""
    started = time.perf_counter()
    module = serving_module(domain)
    source = "feature_store" if module is None else module.TABLE
    path = _feature_store_path(datamart, domain)
    version = delta_io.table_version(path)
    if version is None:
        raise OnlineStoreError(f"no gold/{domain}/{source} in {datamart}; build it with "
                               f"`python main.py --domain {domain}`")
    day = _iso_day(as_of) if as_of is not None else latest_snapshot(datamart, domain, version)
    if module is None:
        table = feature_store.latest_arrow(domain, day, datamart=datamart, version=version)
    else:  # the builder's own rows (e.g. energy: the forecast's inputs per building)
        table = module.online_rows(datamart, day, version=version)
    if table.num_rows == 0:  # publishing it would leave the serving API with no features at all
        raise OnlineStoreError(f"gold/{domain}/{source} has no row up to {day}; nothing published")
    meta = store.publish(domain, table.column_names[0], records(table), as_of=day, feature_store_version=version)
    summary = {"domain": domain, "version": meta["version"], "rows": meta["rows"], "as_of": day,
               "feature_store_version": version, "table": f"gold/{domain}/{source}", "seconds": round(time.perf_counter() - started, 3),
               "url": public_url(store.url)}
    log.info("online store %s: %s v%d, %d entities as of %s (%s v%s) in %.2f s", summary["url"], domain,
             summary["version"], summary["rows"], day, summary["table"], version, summary["seconds"])
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
              f"({s['table']} v{s['feature_store_version']}) in {s['seconds']:.2f} s -> {s['url']}")
    return 0


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure()
    sys.exit(main())
