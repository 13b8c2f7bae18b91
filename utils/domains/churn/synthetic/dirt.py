"""The dirt of the churn sample, applied to clean rows and counted.

Every kind touches an exact number of rows, ``max(1, round(share x rows))`` (so a tiny
sample still holds each kind once), drawn without overlap where kinds could mask each
other (a duplicated order is never also negative). The counts go to the manifest; the
tests count the same things in the written files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import layout as L


def how_many(share: float, rows: int) -> int:
    """Rows a dirt kind touches: at least one when there are rows at all."""
    return 0 if rows == 0 else min(rows, max(1, round(share * rows)))


def order_dirt(orders: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, int]]:
    """Negative and absurd amounts on completed orders (disjoint sets), then duplicates of
    other completed orders (an extra identical row, flag `duplicate`), and the legacy
    timestamp format (`legacy`: every store order and a few others). Returns the rows
    (duplicates appended) and the counts."""
    orders = orders.copy()
    completed = np.flatnonzero(orders["status"].to_numpy() == "completed")
    picked = rng.permutation(completed)
    n_neg = how_many(L.NEGATIVE_AMOUNT_SHARE, len(completed))
    n_abs = how_many(L.ABSURD_AMOUNT_SHARE, len(completed))
    n_dup = how_many(L.DUPLICATE_ORDER_SHARE, len(completed))
    negative, absurd = picked[:n_neg], picked[n_neg:n_neg + n_abs]
    duplicated = picked[n_neg + n_abs:n_neg + n_abs + n_dup]
    amount = orders["amount"].to_numpy().copy()
    amount[negative] = -amount[negative]
    amount[absurd] = np.round(amount[absurd] * 1000, 2)
    orders["amount"] = amount
    orders["legacy"] = (orders["channel"].to_numpy() == "store") | (rng.random(len(orders)) < L.LEGACY_TIME_SHARE)
    orders["duplicate"] = False
    copies = orders.iloc[np.sort(duplicated)].assign(duplicate=True)
    out = pd.concat([orders, copies], ignore_index=True)
    counts = {"duplicate_orders": len(copies), "negative_amounts": n_neg, "absurd_amounts": n_abs,
              "legacy_timestamps": int(out["legacy"].sum())}
    return out, counts


def orphan_refunds(orders: pd.DataFrame, rng: np.random.Generator, days_seconds: int) -> pd.DataFrame:
    """Refunded rows whose order never appears: copies of random completed orders moved
    in time, with `orphan` set (their order id is one no completed row carries)."""
    completed = orders[orders["status"] == "completed"]
    n = how_many(L.ORPHAN_REFUND_SHARE, len(completed))
    rows = completed.iloc[np.sort(rng.choice(len(completed), size=n, replace=False))]
    seconds = rng.integers(0, days_seconds, size=n)
    return rows.assign(seconds=seconds, status="refunded", ref=-1, orphan=True)


def event_dirt(events: pd.DataFrame, rng: np.random.Generator, customers: int,
               last_month: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """Events of unknown customers (ids beyond the CRM's) and late events (`late`: written
    to the next month's drop; never events of the last month, `last_month`, which has no
    next drop). `month` is the events' month index."""
    events = events.copy()
    n = len(events)
    unknown = rng.choice(n, size=how_many(L.UNKNOWN_CUSTOMER_EVENT_SHARE, n), replace=False)
    ids = events["customer_id"].to_numpy().copy()
    ids[unknown] = [f"C{customers + 1 + int(k):05d}" for k in rng.integers(0, 200, size=len(unknown))]
    events["customer_id"] = ids
    movable = np.flatnonzero(events["month"].to_numpy() < last_month)
    late = rng.choice(movable, size=how_many(L.LATE_EVENT_SHARE, len(movable)), replace=False)
    events["late"] = False
    events.loc[events.index[late], "late"] = True
    return events, {"unknown_customer_events": len(unknown), "late_events": len(late)}


def ticket_dirt(tickets: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, int]]:
    """Empty texts and texts holding the customer's email or phone (disjoint sets)."""
    tickets = tickets.copy()
    n = len(tickets)
    picked = rng.permutation(n)
    n_empty = how_many(L.EMPTY_TICKET_TEXT_SHARE, n)
    n_contact = how_many(L.CONTACT_IN_TICKET_SHARE, n - n_empty)
    tickets["empty"] = False
    tickets["contact"] = False
    tickets.loc[tickets.index[picked[:n_empty]], "empty"] = True
    tickets.loc[tickets.index[picked[n_empty:n_empty + n_contact]], "contact"] = True
    counts = {"empty_ticket_texts": n_empty, "contact_in_ticket_texts": n_contact,
              "unanswered_satisfaction": int(tickets["satisfaction"].isna().sum())}
    return tickets, counts
