"""Top-K items for a user as of a time, from the gold tables (no Spark, no fitted model):
what the serving API calls for a recommendation.

    from utils.ml.retrieve import top_k
    top_k("datamart", "U000042", as_of="2024-11-15", k=10)

As of time T: D is the latest month end <= T that ``gold/<domain>/item_similarity``
holds. The user's history is their events (``gold.recommend.events``, with their
weights) in the `days` before T, each decayed by half every `half_life_days`. A
candidate's score is the sum over history items h of weight(h) x similarity(h,
candidate) at D over the co-occurrence kinds (session, purchase) and, at
`content_weight`, the content kind. Items the user bought are not recommended again.
A user with no history, or fewer than k candidates, gets the most popular items at D
(``item_features`` by purchases, then views, in the 30 days up to D) with
``fallback: true``: never an empty answer.

Reads go through delta-rs; the silver event tables and each similarity snapshot are read
once per table version and kept (:data:`_CACHE`), so repeated calls cost a filter, not a
scan. Safe to call from several threads (each call filters with its own DuckDB
connection).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.dataset as pds

from utils.lake import delta_io
from utils.lake.datamart import Datamart
from utils.ml.feature_store import read_arrow

logger = logging.getLogger(__name__)

DEFAULT_DOMAIN = "recommendation"
#: (table path, version) -> its rows as pandas
_CACHE: dict[tuple[str, int | None], pd.DataFrame] = {}


def _timestamp(value: Any) -> pd.Timestamp:
    stamp = pd.Timestamp(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime) or (isinstance(value, str) and len(value) == 10):
        stamp = stamp + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)  # a day: up to its end
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _cached(path: Path, columns: list[str]) -> pd.DataFrame:
    version = delta_io.table_version(path)
    key = (str(path), version)
    if key not in _CACHE:
        _CACHE[key] = read_arrow(path, version, columns=columns).to_pandas()
    return _CACHE[key]


def _history(spec, datamart: Path, domain: str, user: str, as_of: pd.Timestamp, days: int,
             half_life_days: float) -> pd.DataFrame:
    """product_id, weight (decayed), event_type of the user's events in (as_of - days, as_of]."""
    import duckdb

    rec = spec.recommend
    parts = []
    for table, column, where, weight, kind in rec.events:
        path = Datamart(datamart, domain).table("silver", table)
        rows = _cached(path, [rec.user, rec.item, column] + _where_columns(where, path))
        mine = rows[rows[rec.user] == user]
        if where and len(mine):
            with duckdb.connect() as con:  # one connection per call: the default one is not thread-safe
                con.register("t", mine)
                mine = con.execute(f"select * from t where {where}").df()
        t = pd.to_datetime(mine[column], utc=True)
        keep = (t <= as_of) & (t > as_of - pd.Timedelta(days=days))
        age = (as_of - t[keep]).dt.total_seconds() / 86400
        parts.append(pd.DataFrame({"product_id": mine.loc[keep, rec.item].to_numpy(),
                                   "weight": weight * np.power(0.5, age.to_numpy() / half_life_days),
                                   "event_type": kind}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["product_id", "weight", "event_type"])


def _similarity(path: Path, d: dt.date) -> pd.DataFrame:
    """The similarity rows of snapshot `d`, read once per table version and kept."""
    key = (f"{path}@{d}", delta_io.table_version(path))
    if key not in _CACHE:
        _CACHE[key] = read_arrow(path, key[1], partitions=pds.field("snapshot_date") == d).to_pandas()
    return _CACHE[key]


def _where_columns(where: str | None, path: Path) -> list[str]:
    if not where:
        return []
    names = [f.name for f in delta_io.view(path).schema]
    return [n for n in names if n in where]


def _snapshot(path: Path, as_of: pd.Timestamp) -> dt.date | None:
    dates = sorted(dt.date.fromisoformat(k[0]) for k in delta_io.list_partitions(path) if k[0] is not None)
    usable = [d for d in dates if d <= as_of.date()]
    return usable[-1] if usable else None


def top_k(datamart: str | Path, user: str, as_of: Any, k: int = 10, *, domain: str = DEFAULT_DOMAIN,
          days: int = 90, half_life_days: float = 30.0, content_weight: float = 0.3) -> dict:
    """{"user_id", "as_of", "snapshot_date", "fallback", "items": [{product_id, score,
    rank, source}]} for `user` at `as_of` (a date means its end)."""
    from utils.lake.config import load_config

    datamart, spec = Path(datamart), load_config(domain).gold
    if spec is None or spec.recommend is None or not spec.similarity:
        raise ValueError(f"domain {domain} has no gold.recommend and similarity table")
    when = _timestamp(as_of)
    sim_name = next(iter(spec.similarity))
    sim_path = Datamart(datamart, domain).table("gold", sim_name)
    d = _snapshot(sim_path, when)
    if d is None:
        raise LookupError(f"gold/{sim_name} has no snapshot on or before {when:%Y-%m-%d}")
    history = _history(spec, datamart, domain, user, when, days, half_life_days)
    bought = set(history.loc[history["event_type"] == "purchase", "product_id"])
    items = pd.DataFrame(columns=["product_id", "score", "source"])
    if len(history):
        weights = history.groupby("product_id")["weight"].sum()
        sims = _similarity(sim_path, d)
        sims = sims[sims[spec.similarity[sim_name].item].isin(weights.index)]
        factor = np.where(sims["kind"] == "content", content_weight, 1.0)
        sims = sims.assign(score=sims["score"].to_numpy() * factor
                           * weights.reindex(sims[spec.similarity[sim_name].item]).to_numpy())
        scored = sims.groupby("neighbour_id", as_index=False)["score"].sum().rename(
            columns={"neighbour_id": "product_id"})
        scored = scored[~scored["product_id"].isin(bought)].sort_values(["score", "product_id"],
                                                                        ascending=[False, True]).head(k)
        items = scored.assign(source="similarity")
    fallback = len(items) < k
    if fallback:
        popular = _popular(spec, datamart, domain, d)
        popular = popular[~popular["product_id"].isin(bought | set(items["product_id"]))].head(k - len(items))
        popular = popular.assign(source="popularity")
        items = pd.concat([items, popular], ignore_index=True) if len(items) else popular
    items = items.reset_index(drop=True).assign(rank=lambda f: np.arange(1, len(f) + 1))
    return {"user_id": user, "as_of": when.isoformat(), "snapshot_date": d.isoformat(),
            "fallback": bool(fallback), "history_items": int(history["product_id"].nunique()),
            "items": [{"product_id": str(r.product_id), "score": float(r.score), "rank": int(r.rank),
                       "source": r.source} for r in items.itertuples()]}


def _popular(spec, datamart: Path, domain: str, d: dt.date) -> pd.DataFrame:
    """product_id, score of the catalogue at D by purchases then views (30 days up to D)."""
    name = spec.recommend.catalogue
    path = Datamart(datamart, domain).table("gold", name)
    entity = spec.tables[name].entity
    rows = read_arrow(path, columns=[entity, "purchases_30d", "views_30d"],
                      partitions=pds.field("snapshot_date") == d).to_pandas()
    rows = rows.rename(columns={entity: "product_id"}).fillna(0)
    rows["score"] = rows["purchases_30d"].astype(float)
    ordered = rows.sort_values(["purchases_30d", "views_30d", "product_id"], ascending=[False, False, True])
    return ordered[["product_id", "score"]]
