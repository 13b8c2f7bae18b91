"""Simulated rows -> the text of the files: timestamps in their formats, users' monthly
deltas, catalog versions, scores, clickstream JSON records, order lines. Pure
functions of their inputs (a random stream is passed in where the rendering draws)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from . import layout as L
from . import vocab
from .catalog import Catalog
from .population import DAY

#: The app's release calendar: a minor version every 60 days, patches in between.
APP_EPOCH = dt.date(2023, 1, 1)
_JSON = {"separators": (",", ":"), "ensure_ascii": False}


def instants(start: dt.date, seconds: np.ndarray) -> np.ndarray:
    """Seconds since `start` (UTC) as datetime64[s]."""
    return np.datetime64(start.isoformat(), "s") + np.asarray(seconds, dtype=np.int64).astype("timedelta64[s]")


def iso_utc(start: dt.date, seconds: np.ndarray) -> np.ndarray:
    """2024-03-15T10:22:05Z."""
    return np.char.add(np.datetime_as_string(instants(start, seconds), unit="s").astype(str), "Z").astype(object)


def utc_month(start: dt.date, seconds: np.ndarray) -> np.ndarray:
    """The UTC month of each instant, as months since `start`'s (0 = the first month)."""
    first = np.datetime64(start.isoformat(), "M").astype(np.int64)
    return instants(start, seconds).astype("datetime64[M]").astype(np.int64) - first


def text_month(start: dt.date, stamps: np.ndarray) -> np.ndarray:
    """The wall-clock month of ISO texts (2024-03-15T...), as months since `start`'s."""
    first = start.year * 12 + start.month - 1
    return np.array([int(s[:4]) * 12 + int(s[5:7]) - 1 - first for s in stamps], dtype=np.int64)


def iso_local(start: dt.date, seconds: np.ndarray) -> np.ndarray:
    """2024-03-15T11:22:05+01:00: local time in Europe/Paris with its offset."""
    utc = pd.DatetimeIndex(instants(start, seconds)).tz_localize("UTC")
    local = utc.tz_convert(L.LOCAL_ZONE).strftime("%Y-%m-%dT%H:%M:%S%z").to_numpy().astype(str)
    return np.array([s[:-2] + ":" + s[-2:] for s in local], dtype=object)


def user_rows(frame: pd.DataFrame, start: dt.date, months: int) -> pd.DataFrame:
    """The users CSV columns plus `month`: the file of the signup's local month (users
    signed up before the calendar go to the first one)."""
    signup = iso_local(start, frame["signup_seconds"].to_numpy())
    out = frame[["user_id", "name", "email", "country"]].assign(signup_at=signup)
    return out.assign(month=np.clip(text_month(start, signup), 0, months - 1))


def category_path(leaf: int) -> list[str]:
    return list(vocab.LEAVES[leaf].path)


def product_records(catalog: Catalog, start: dt.date) -> list[str]:
    """One JSON line per catalog version, sorted by (updated_at, id) as the API serves them."""
    frame, versions = catalog.frame, catalog.versions
    prod = versions["prod"].to_numpy()
    created = iso_utc(start, frame["created_seconds"].to_numpy())
    updated = iso_utc(start, versions["seconds"].to_numpy())
    records = []
    for i, (p, price, leaf) in enumerate(zip(prod, versions["price"].to_numpy(), versions["leaf"].to_numpy())):
        row = frame.iloc[p]
        records.append((updated[i], row["product_id"], {
            "id": row["product_id"], "title": row["title"], "description": row["description"],
            "category": {"path": category_path(int(leaf))}, "brand": row["brand"], "price": round(float(price), 2),
            "created_at": created[p], "updated_at": updated[i]}))
    records.sort(key=lambda r: (r[0], r[1]))
    return [json.dumps(r[2], **_JSON) for r in records]


def score_records(scores: pd.DataFrame, catalog: Catalog, start: dt.date) -> list[str]:
    """One JSON line per published score, sorted by (updated_at, id); updated_at is the
    next day at 02:00Z."""
    ids = catalog.frame["product_id"].to_numpy()[scores["prod"].to_numpy()]
    days = scores["day"].to_numpy().astype(np.int64)
    dates = np.datetime_as_string(np.datetime64(start.isoformat(), "D") + days, unit="D").astype(object)
    updated = iso_utc(start, (days + 1) * DAY + 2 * 3600)
    keys = np.char.add(np.char.add(ids.astype(str), "-"), dates.astype(str)).astype(object)
    order = np.lexsort((keys, updated))
    return [json.dumps({"id": keys[i], "product_id": ids[i], "score_date": dates[i],
                        "popularity": float(scores["popularity"].iat[i]), "sentiment": float(scores["sentiment"].iat[i]),
                        "updated_at": updated[i]}, **_JSON) for i in order]


def app_versions(days: np.ndarray, start: dt.date, rng: np.random.Generator) -> np.ndarray:
    """The app version a mobile session ran: the release of some days before (users
    update late), e.g. 3.7.2."""
    since = days + (start - APP_EPOCH).days - rng.integers(0, 45, size=len(days))
    minor, patch = since // 60, (since % 60) // 20
    return np.array([f"3.{m}.{p}" for m, p in zip(minor, patch)], dtype=object)


def event_records(events: pd.DataFrame) -> list[str]:
    """One JSON line per event (a duplicate written twice, right after itself)."""
    lines = []
    columns = ("event_id", "session_id", "user_id", "event_type", "product_id", "occurred_at", "device",
               "app_version", "category", "price", "rating", "duplicate")
    for e, s, u, t, p, at, d, v, c, price, r, dup in zip(*(events[c].to_numpy() for c in columns)):
        line = json.dumps({"event_id": e, "session_id": s, "user_id": u, "event_type": t, "product_id": p,
                           "occurred_at": at, "device": {"type": d, "app_version": v},
                           "item": {"category": c, "price": float(price)},
                           "rating": int(r) if t == "rating" else None}, **_JSON)
        lines.append(line)
        if dup:
            lines.append(line)
    return lines


def order_rows(orders: pd.DataFrame, catalog: Catalog, user_ids: np.ndarray, start: dt.date,
               months: int) -> pd.DataFrame:
    """The orders CSV columns plus `month` (of ordered_at's local time), sorted by
    (ordered_at, order_id, product_id)."""
    ordered = iso_local(start, orders["seconds"].to_numpy())
    out = pd.DataFrame({
        "order_id": [f"O{k + 1:08d}" for k in orders["order"].to_numpy()],
        "user_id": user_ids[orders["user"].to_numpy()],
        "product_id": catalog.frame["product_id"].to_numpy()[orders["prod"].to_numpy()],
        "quantity": orders["quantity"].to_numpy(),
        "unit_price": [f"{p:.2f}" for p in orders["price"].to_numpy()],
        "ordered_at": ordered,
        "month": np.clip(text_month(start, ordered), 0, months - 1),
        "_seconds": orders["seconds"].to_numpy(),
    })
    return out.sort_values(["_seconds", "order_id", "product_id"], kind="stable").drop(columns="_seconds")
