"""The dirt of the recommendation sample, applied to clean rows and counted.

Every kind touches an exact number of rows, ``max(1, round(share x rows))`` (so a tiny
sample still holds each kind once). The kinds never overlap (a duplicated event is
never also an unknown product's), so each count is what the files show. The counts go
to the manifest; the tests count the same things in the written files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import layout as L

DAY = 86_400


def how_many(share: float, rows: int) -> int:
    """Rows a dirt kind touches: at least one when there are rows at all."""
    return 0 if rows == 0 else min(rows, max(1, round(share * rows)))


def bot_sessions(sessions: int, user_ids: np.ndarray, signup: np.ndarray, created: np.ndarray, days: int,
                 rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Scrapers: BOT_SESSION_SHARE of `sessions` (at least one, even with no sessions),
    each 1500-4000 views of random catalog products (created before the session) within
    at most two hours, from a bot id (U9xxxxx, in no users file) or, every third one,
    the id of a real user signed up by then (`signup`: seconds per user). Returns (sessions: user_id, t0,
    real_user; events: session (row of those sessions), seconds, prod, event_type)."""
    n = max(1, how_many(L.BOT_SESSION_SHARE, sessions))
    t0 = rng.integers(0, days * DAY - 3 * 3600, size=n)
    real = np.arange(n) % L.BOT_REAL_USER_EVERY == L.BOT_REAL_USER_EVERY - 1
    real &= np.array([(signup < t).any() for t in t0], dtype=bool)
    user_id = np.array([f"U9{k:05d}" for k in rng.choice(100_000, size=n, replace=False)], dtype=object)
    for k in np.flatnonzero(real):
        user_id[k] = user_ids[rng.choice(np.flatnonzero(signup < t0[k]))]
    size = rng.integers(L.BOT_VIEWS[0], L.BOT_VIEWS[1] + 1, size=n)
    duration = rng.integers(3000, 7200, size=n)
    frames = []
    for k in range(n):
        offsets = np.sort(rng.integers(0, duration[k], size=size[k]))
        available = np.flatnonzero(created < t0[k])
        frames.append(pd.DataFrame({"session": k, "seconds": t0[k] + offsets,
                                    "prod": rng.choice(available, size=size[k]), "event_type": "view"}))
    events = pd.concat(frames, ignore_index=True)
    return pd.DataFrame({"user_id": user_id, "t0": t0, "real_user": real}), events


def event_dirt(events: pd.DataFrame, users: int, rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, int]]:
    """On the events of real sessions (`bot` False): unknown users (whole sessions of
    views only, relabelled with ids beyond the users'), unknown products (single views,
    P99xxx), ratings out of scale (0, 6 or 10) and duplicates (`duplicate`: written
    twice), on disjoint events. Columns used: session, event_type, user_id,
    product_id, rating, bot."""
    events = events.copy()
    clean = ~events["bot"].to_numpy()
    n = int(clean.sum())
    kind = events["event_type"].to_numpy()
    session = events["session"].to_numpy()
    # unknown users: view-only sessions in random order until the target number of events
    only_views = pd.Series(kind == "view").groupby(session).transform("all").to_numpy() & clean
    candidates = np.unique(session[only_views])
    picked = rng.permutation(candidates)
    sizes = pd.Series(session[only_views]).value_counts().reindex(picked).to_numpy()
    target = how_many(L.UNKNOWN_USER_SHARE, n)
    chosen = picked[:int(np.searchsorted(np.cumsum(sizes), target) + 1)]
    unknown_user = np.isin(session, chosen)
    new_ids = {s: f"U{users + 1 + int(k):06d}" for s, k in zip(chosen, rng.integers(0, 500, size=len(chosen)))}
    ids = events["user_id"].to_numpy().copy()
    ids[unknown_user] = [new_ids[s] for s in session[unknown_user]]
    events["user_id"] = ids
    free = clean & ~unknown_user
    # unknown products: single views
    views = np.flatnonzero(free & (kind == "view"))
    unknown_product = rng.choice(views, size=how_many(L.UNKNOWN_PRODUCT_SHARE, n), replace=False)
    products = events["product_id"].to_numpy().copy()
    products[unknown_product] = [f"P99{k:03d}" for k in rng.integers(0, 1000, size=len(unknown_product))]
    events["product_id"] = products
    free[unknown_product] = False
    # ratings out of scale
    rated = np.flatnonzero(free & (kind == "rating"))
    odd = rng.choice(rated, size=how_many(L.RATING_OUT_OF_SCALE_SHARE, len(rated)), replace=False)
    rating = events["rating"].to_numpy().copy()
    rating[odd] = np.asarray(L.OUT_OF_SCALE_RATINGS)[rng.integers(0, len(L.OUT_OF_SCALE_RATINGS), size=len(odd))]
    events["rating"] = rating
    free[odd] = False
    # duplicates among the rest
    duplicated = rng.choice(np.flatnonzero(free), size=how_many(L.DUPLICATE_EVENT_SHARE, n), replace=False)
    events["duplicate"] = False
    events.loc[events.index[duplicated], "duplicate"] = True
    counts = {"unknown_user_events": int(unknown_user.sum()), "unknown_product_events": len(unknown_product),
              "rating_out_of_scale": len(odd), "duplicate_events": len(duplicated)}
    return events, counts
