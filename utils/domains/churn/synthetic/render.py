"""Simulated rows -> the text of the files: ids, timestamps in their formats, monthly
CRM snapshots, JSON records. Pure functions of their inputs (a random stream is passed
in where the rendering draws, e.g. ticket wording)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import numpy as np
import pandas as pd

from . import layout as L
from .activity import DAY
from .population import month_add
from .text import ticket_text

#: The app's release calendar: a minor version every 60 days, patches in between.
APP_EPOCH = dt.date(2022, 1, 1)


def instants(start: dt.date, seconds: np.ndarray) -> np.ndarray:
    """Seconds since `start` (UTC) as datetime64[s]."""
    return np.datetime64(start.isoformat(), "s") + seconds.astype("timedelta64[s]")


def iso_utc(start: dt.date, seconds: np.ndarray) -> np.ndarray:
    """2024-03-15T10:22:05Z."""
    return np.char.add(np.datetime_as_string(instants(start, seconds), unit="s").astype(str), "Z")


def month_of(start: dt.date, seconds: np.ndarray) -> np.ndarray:
    """The UTC month of each instant, as months since `start`'s (0 = the first month)."""
    first = np.datetime64(start.isoformat(), "M").astype(np.int64)
    return instants(start, seconds).astype("datetime64[M]").astype(np.int64) - first


def number_orders(orders: pd.DataFrame) -> np.ndarray:
    """order_id of every row: completed orders and the phantom orders of orphan refunds
    are numbered O0000001... in time order (so an orphan's id looks like any other and
    is carried by no completed row); a refund takes its order's id."""
    status, orphan = orders["status"].to_numpy(), orders["orphan"].to_numpy()
    owners = np.flatnonzero((status == "completed") | orphan)
    when = orders["seconds"].to_numpy()[owners] - np.where(orphan[owners], 10 * DAY, 0)
    ranked = owners[np.lexsort((owners, orders["cust"].to_numpy()[owners], when))]
    ids = np.empty(len(orders), dtype=object)
    ids[ranked] = [f"O{i + 1:07d}" for i in range(len(ranked))]
    refunds = np.flatnonzero((status == "refunded") & ~orphan)
    ids[refunds] = ids[orders["ref"].to_numpy()[refunds]]
    return ids


def order_rows(orders: pd.DataFrame, customer_ids: np.ndarray, start: dt.date) -> pd.DataFrame:
    """The orders CSV columns (plus `month`, the drop's month index), sorted by time; a duplicate right
    after its original. ISO times are local (Europe/Paris, with the offset); legacy
    rows are dd/MM/yyyy HH:mm in UTC."""
    seconds = orders["seconds"].to_numpy()
    utc = pd.DatetimeIndex(instants(start, seconds)).tz_localize("UTC")
    local = utc.tz_convert(L.LOCAL_ZONE).strftime("%Y-%m-%dT%H:%M:%S%z").to_numpy().astype(str)
    iso = np.array([s[:-2] + ":" + s[-2:] for s in local], dtype=object)
    legacy = utc.strftime("%d/%m/%Y %H:%M").to_numpy()
    out = pd.DataFrame({
        "order_id": orders["order_id"].to_numpy(),
        "customer_id": customer_ids[orders["cust"].to_numpy()],
        "ordered_at": np.where(orders["legacy"].to_numpy(), legacy, iso),
        "amount": [f"{a:.2f}" for a in orders["amount"].to_numpy()],
        "currency": L.CURRENCY,
        "discount": [f"{d:.2f}" for d in orders["discount"].to_numpy()],
        "channel": orders["channel"].to_numpy(),
        "status": orders["status"].to_numpy(),
        "month": month_of(start, seconds),
        "_seconds": seconds,
        "_duplicate": orders["duplicate"].to_numpy(),
    })
    return out.sort_values(["_seconds", "order_id", "status", "_duplicate"], kind="stable").drop(
        columns=["_seconds", "_duplicate"]).reset_index(drop=True)


def app_versions(days: np.ndarray, start: dt.date, rng: np.random.Generator) -> np.ndarray:
    """The app version an event ran (None for web events, day -1): the release of some
    days before (customers update late)."""
    lag = rng.integers(0, 45, size=len(days))
    since = days + (start - APP_EPOCH).days - lag
    minor, patch = since // 60, (since % 60) // 20
    versions = np.array([f"3.{m}.{p}" for m, p in zip(minor, patch)], dtype=object)
    return np.where(days < 0, None, versions)


def event_records(events: pd.DataFrame) -> list[str]:
    """One JSON line per event (keys: event_id, customer_id, event_type, occurred_at and
    the nested device {type, os, app_version})."""
    return [
        json.dumps({"event_id": e, "customer_id": c, "event_type": t, "occurred_at": at,
                    "device": {"type": d, "os": o, "app_version": v}}, separators=(",", ":"))
        for e, c, t, at, d, o, v in zip(events["event_id"], events["customer_id"], events["event_type"],
                                        events["occurred_at"], events["device_type"], events["device_os"],
                                        events["app_version"])
    ]


def ticket_records(tickets: pd.DataFrame, truth: pd.DataFrame, start: dt.date,
                   rng: np.random.Generator) -> list[str]:
    """One JSON line per ticket, sorted by (updated_at, id) as the API serves them."""
    created = iso_utc(start, tickets["seconds"].to_numpy())
    updated = iso_utc(start, tickets["updated_seconds"].to_numpy())
    emails, phones = truth["email"].to_numpy(), truth["phone"].to_numpy()
    ids = truth["customer_id"].to_numpy()
    records = []
    for i, row in enumerate(tickets.itertuples(index=False)):
        text = ticket_text(rng, row.category, bool(row.unhappy), emails[row.cust], phones[row.cust],
                           empty=bool(row.empty), contact=bool(row.contact))
        score = None if np.isnan(row.satisfaction) else int(row.satisfaction)
        records.append((updated[i], row.id, {
            "id": int(row.id), "customer_id": ids[row.cust], "created_at": created[i], "updated_at": updated[i],
            "channel": row.channel, "category": row.category, "satisfaction": score, "text": text}))
    records.sort(key=lambda r: (r[0], r[1]))
    return [json.dumps(r[2], ensure_ascii=False, separators=(",", ":")) for r in records]


def crm_snapshots(truth: pd.DataFrame, start: dt.date, months: int) -> Iterator[tuple[dt.date, pd.DataFrame]]:
    """(month, CSV frame) per month: every customer signed up by the month's last day,
    with the plan of that day; from DRIFT_MONTH on phone is mobile_phone and
    marketing_opt_in is added."""
    signup = truth["signup_day"].to_numpy()
    signup_dates = np.array([(start + dt.timedelta(days=int(s))).isoformat() for s in signup], dtype=object)
    birth_dates = np.array([b.isoformat() for b in truth["birth_date"]], dtype=object)
    for m in range(months):
        month = month_add(start, m)
        last = month_add(start, m + 1) - dt.timedelta(days=1)
        day = (last - start).days
        known = signup <= day
        t = truth[known]
        plan = np.where(t["plan_change_day"].to_numpy() <= day, t["new_plan"].to_numpy(), t["plan"].to_numpy())
        frame = pd.DataFrame({
            "customer_id": t["customer_id"].to_numpy(), "signup_date": signup_dates[known], "plan": plan,
            "region": t["region"].to_numpy(), "acquisition_channel": t["acquisition_channel"].to_numpy(),
            "birth_date": birth_dates[known], "name": t["name"].to_numpy(),
            "email": t["email"].to_numpy(), "phone": t["phone"].to_numpy(),
            "marketing_opt_in": np.where(t["marketing_opt_in"].to_numpy(), "true", "false"),
            "export_date": last.isoformat(),
        })
        if month >= L.DRIFT_MONTH:
            yield month, frame.rename(columns={"phone": "mobile_phone"})[L.CRM_COLUMNS_DRIFTED]
        else:
            yield month, frame[L.CRM_COLUMNS]
