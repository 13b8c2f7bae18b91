"""From visits to purchases: carts and purchases in a session, follow-up visits for a
bought product's complement, ratings days later, orders (the system of record) and the
orders whose purchase events the clickstream never receives.

Clean events come out of :func:`simulate` as rows (session, user, seconds, event_type,
prod, rating; rating -1 when none) with a sessions table (user, t0, kind, device,
channel); `prod` and `user` index the catalog's and the users' frames.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from . import layout as L
from .catalog import Catalog
from .dirt import how_many
from .population import DAY, FOLLOW_UPS, ORDERS, RATINGS, SESSIONS, Users, calendar_days, pick, stream
from .sessions import Chooser, browse, schedule

MAIN, FOLLOW_UP, RATING = 0, 1, 2  # session kinds


def _shop(views: pd.DataFrame, sessions: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Carts (per distinct product viewed, a while after its view) and purchases (of
    carted products, at checkout a few minutes after the session's last view); a
    follow-up session's first product is more likely carted and bought."""
    first = views.drop_duplicates(["session", "prod"])
    boosted = (first["seq"].to_numpy() == 0) & (sessions["kind"].to_numpy()[first["session"]] == FOLLOW_UP)
    carted = rng.random(len(first)) < np.where(boosted, L.COMPLEMENT_CART, L.CART_SHARE)
    bought = carted & (rng.random(len(first)) < np.where(boosted, L.COMPLEMENT_PURCHASE, L.PURCHASE_SHARE))
    carts = first[carted].assign(seconds=first["seconds"].to_numpy()[carted] + rng.integers(5, 90, carted.sum()),
                                 event_type="add_to_cart")
    last = pd.concat([views, carts]).groupby("session")["seconds"].max()
    buys = first[bought].copy()
    checkout = last.reindex(buys["session"]).to_numpy() + rng.integers(60, 600, size=len(buys))
    buys["seconds"] = checkout + buys.groupby("session").cumcount().to_numpy()
    buys["event_type"] = "purchase"
    return pd.concat([views.assign(event_type="view"), carts, buys], ignore_index=True)


def _follow_ups(buys: pd.DataFrame, catalog: Catalog, rng: np.random.Generator, days: int) -> pd.DataFrame:
    """Sessions 1-10 days after buying a product with a complement, starting on the
    complement (when it exists by then): user, t0, first."""
    complement = catalog.frame["complement"].to_numpy()[buys["prod"].to_numpy()]
    go = (complement >= 0) & (rng.random(len(buys)) < L.COMPLEMENT_VISIT_SHARE)
    day = buys["seconds"].to_numpy() // DAY + rng.integers(1, 11, size=len(buys))
    t0 = day * DAY + rng.integers(6 * 3600, 19 * 3600, size=len(buys))
    created = catalog.frame["created_seconds"].to_numpy()[np.maximum(complement, 0)]
    go &= (day < days) & (created < (t0 // (7 * DAY)) * 7 * DAY)
    out = pd.DataFrame({"user": buys["user"].to_numpy()[go], "t0": t0[go], "first": complement[go]})
    return out.sort_values(["t0", "user"], kind="stable").reset_index(drop=True)


def _ratings(buys: pd.DataFrame, catalog: Catalog, rng: np.random.Generator, days: int) -> pd.DataFrame:
    """RATING_SHARE of the purchases rated 2-20 days later (within the calendar): 1-5
    stars following the product's quality, with noise."""
    rated = buys[rng.random(len(buys)) < L.RATING_SHARE]
    day = rated["seconds"].to_numpy() // DAY + rng.integers(*L.RATING_DAYS, size=len(rated))
    seconds = day * DAY + rng.integers(7 * 3600, 20 * 3600, size=len(rated))
    quality = catalog.frame["quality"].to_numpy()[rated["prod"].to_numpy()]
    stars = np.clip(np.round(3.8 + 0.8 * quality + rng.normal(0.0, 0.8, size=len(rated))), 1, 5).astype(np.int64)
    out = pd.DataFrame({"user": rated["user"].to_numpy(), "seconds": seconds, "prod": rated["prod"].to_numpy(),
                        "rating": stars, "event_type": "rating"})
    return out[day < days].sort_values(["seconds", "user"], kind="stable").reset_index(drop=True)


def _devices(sessions: pd.DataFrame, users: Users, rng: np.random.Generator) -> None:
    """device (the user's usual one mostly) and channel (web for desktops and the tablet
    users of the web site, mobile otherwise) of each session, in place."""
    frame = users.frame
    user = sessions["user"].to_numpy()
    usual = frame["device"].to_numpy()[user]
    other = pick(rng, L.DEVICE_TYPES, L.DEVICE_WEIGHTS, len(sessions))
    device = np.where(rng.random(len(sessions)) < L.USUAL_DEVICE_SHARE, usual, other)
    app = (device == "ios") | (device == "android") | ((device == "tablet") & frame["tablet_app"].to_numpy()[user])
    sessions["device"], sessions["channel"] = device, np.where(app, "mobile", "web")


def simulate(users: Users, catalog: Catalog, rates: np.ndarray, seed: int, start: dt.date,
             months: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(events, sessions, orders): the clean clickstream (purchase events of tracking-lost
    orders removed), its sessions and the order lines (order, user, prod, quantity,
    seconds, price, tracked)."""
    days = calendar_days(start, months)
    chooser = Chooser(users, catalog)
    main = schedule(rates, stream(seed, SESSIONS)).assign(first=-1, kind=MAIN)
    events = _shop(browse(main, chooser, stream(seed, SESSIONS, 1)), main, stream(seed, SESSIONS, 2))
    follow = _follow_ups(events[events["event_type"] == "purchase"], catalog, stream(seed, FOLLOW_UPS), days)
    follow = follow.assign(kind=FOLLOW_UP)
    more = _shop(browse(follow, chooser, stream(seed, FOLLOW_UPS, 1)), follow, stream(seed, FOLLOW_UPS, 2))
    events = pd.concat([events, more.assign(session=more["session"] + len(main))], ignore_index=True)
    buys = events[events["event_type"] == "purchase"]
    ratings = _ratings(buys, catalog, stream(seed, RATINGS), days)
    rating_sessions = pd.DataFrame({"user": ratings["user"], "t0": ratings["seconds"], "first": -1, "kind": RATING})
    ratings["session"] = np.arange(len(ratings)) + len(main) + len(follow)
    sessions = pd.concat([main, follow, rating_sessions], ignore_index=True)
    _devices(sessions, users, stream(seed, SESSIONS, 3))
    events = pd.concat([events, ratings], ignore_index=True)
    events["rating"] = events["rating"].fillna(-1).astype(np.int64)
    events = events[["session", "user", "seconds", "event_type", "prod", "rating"]]
    orders = _orders(events[events["event_type"] == "purchase"], catalog, stream(seed, ORDERS))
    lost = set(orders.loc[~orders["tracked"], "session"])
    events = events[~((events["event_type"] == "purchase") & events["session"].isin(lost))]
    return events.reset_index(drop=True), sessions, orders


def _orders(buys: pd.DataFrame, catalog: Catalog, rng: np.random.Generator) -> pd.DataFrame:
    """One order per session with purchases (numbered in time order), one line per
    product: quantity, unit price in force at checkout; `tracked` False for the
    TRACKING_LOST_SHARE of orders whose purchase events are lost."""
    buys = buys.sort_values(["seconds", "session"], kind="stable")
    sessions = buys["session"].drop_duplicates().to_numpy()
    number = pd.Series(np.arange(len(sessions)), index=sessions)
    checkout = buys.groupby("session")["seconds"].min()
    prod = buys["prod"].to_numpy()
    seconds = checkout.reindex(buys["session"]).to_numpy()
    lost = np.zeros(len(sessions), dtype=bool)
    lost[rng.choice(len(sessions), size=how_many(L.TRACKING_LOST_SHARE, len(sessions)), replace=False)] = True
    order = number.reindex(buys["session"]).to_numpy()
    versions = catalog.versions
    return pd.DataFrame({
        "order": order, "session": buys["session"].to_numpy(), "user": buys["user"].to_numpy(), "prod": prod,
        "quantity": np.asarray(L.QUANTITIES)[rng.choice(3, size=len(buys), p=L.QUANTITY_WEIGHTS)],
        "seconds": seconds, "price": versions["price"].to_numpy()[catalog.at(prod, seconds)],
        "tracked": ~lost[order],
    }).sort_values(["order", "prod"], kind="stable").reset_index(drop=True)
