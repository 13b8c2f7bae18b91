"""The users' ground truth: who they are, when they signed up, what they like (a taste
over the category leaves and a price level) and how often they visit, month by month.

Time is counted in seconds from the first instant of the calendar (UTC; day 0 =
`start`); a user who signed up before it has a negative signup time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from utils.domains.sample import calendar_days, month_add, stream  # noqa: F401  (re-exported)

from . import layout as L
from . import vocab

DAY = 86_400
#: Stream keys of :func:`stream` (one independent random stream per part of the data).
USERS, CATALOG, SESSIONS, FOLLOW_UPS, RATINGS, SCORES, DIRT, ORDERS, TEXT = range(1, 10)





def day_months(start: dt.date, days: int) -> np.ndarray:
    """The month index (0 = the calendar's first month) of each day of the calendar."""
    first = np.datetime64(start.isoformat(), "M").astype(np.int64)
    dates = np.datetime64(start.isoformat(), "D") + np.arange(days)
    return dates.astype("datetime64[M]").astype(np.int64) - first


def pick(rng: np.random.Generator, values: tuple, weights: tuple[float, ...], n: int) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=np.asarray(weights) / sum(weights))]


@dataclass
class Users:
    """`frame`: one row per user (user_id, name, email, country, signup_seconds, device,
    tablet_app, rate); `leaf_taste`: (users x leaves) preference, rows summing to 1;
    `price_level`: the multiplier of the price a user is at ease with."""

    frame: pd.DataFrame
    leaf_taste: np.ndarray
    price_level: np.ndarray


def make_users(n: int, seed: int, start: dt.date, months: int) -> Users:
    """`n` users: 70 % signed up over the two years before the calendar, the others
    evenly over the calendar (so the last two months hold the cold-start users)."""
    rng = stream(seed, USERS)
    days = calendar_days(start, months)
    early = rng.random(n) < L.EARLY_SHARE
    day = np.where(early, rng.integers(-L.EARLY_DAYS, 0, size=n), rng.integers(0, max(days - 1, 1), size=n))
    seconds = day.astype(np.int64) * DAY + rng.integers(7 * 3600, 21 * 3600, size=n)
    order = np.lexsort((np.arange(n), seconds))  # ids follow the signup order
    seconds = seconds[order]
    first = np.asarray(vocab.FIRST_NAMES, dtype=object)[rng.integers(0, len(vocab.FIRST_NAMES), size=n)]
    last = np.asarray(vocab.LAST_NAMES, dtype=object)[rng.integers(0, len(vocab.LAST_NAMES), size=n)]
    numbers = rng.integers(1, 1000, size=n)
    domains = np.asarray(vocab.EMAIL_DOMAINS, dtype=object)[rng.integers(0, len(vocab.EMAIL_DOMAINS), size=n)]
    frame = pd.DataFrame({
        "user_id": [f"U{i + 1:06d}" for i in range(n)],
        "name": [f"{f} {la}" for f, la in zip(first, last)],
        "email": [f"{f.lower()}.{la.lower().replace(' ', '')}{k}@{d}"
                  for f, la, k, d in zip(first, last, numbers, domains)],
        "country": pick(rng, L.COUNTRIES, L.COUNTRY_WEIGHTS, n),
        "signup_seconds": seconds,
        "device": pick(rng, L.DEVICE_TYPES, L.DEVICE_WEIGHTS, n),
        "tablet_app": rng.random(n) < 0.5,
        "rate": L.SESSIONS_PER_DAY * rng.lognormal(0.0, L.ACTIVITY_SIGMA, size=n),
    })
    return Users(frame, _leaf_taste(rng, n), rng.lognormal(0.0, L.PRICE_LEVEL_SIGMA, size=n))


def _leaf_taste(rng: np.random.Generator, n: int) -> np.ndarray:
    """Dirichlet over the top-level categories (mass on 1-3 of them), shared out between
    each top's leaves by gamma weights."""
    tops = rng.dirichlet(np.full(len(vocab.TOP_NAMES), L.TASTE_ALPHA), size=n)
    top_of = np.array([vocab.TOP_NAMES.index(leaf.path[0]) for leaf in vocab.LEAVES])
    within = rng.gamma(L.LEAF_SHAPE, 1.0, size=(n, len(vocab.LEAVES))) + 1e-6
    totals = np.zeros((n, len(vocab.TOP_NAMES)))
    for k in range(len(vocab.TOP_NAMES)):
        totals[:, k] = within[:, top_of == k].sum(axis=1)
    taste = tops[:, top_of] * within / totals[:, top_of]
    taste = taste + 1e-9  # nobody's taste excludes a leaf entirely
    return taste / taste.sum(axis=1, keepdims=True)


def visit_rates(users: Users, seed: int, start: dt.date, months: int) -> np.ndarray:
    """(users x days) expected sessions per day: the user's rate, the season, quiet
    months (a Markov chain: users go quiet and come back), a newcomer boost, and zero
    until the day after signup."""
    rng = stream(seed, USERS, 1)
    frame = users.frame
    n, days = len(frame), calendar_days(start, months)
    quiet = np.zeros((n, months), dtype=bool)
    state = rng.random(n) < L.QUIET_START / (L.QUIET_START + L.QUIET_END)  # the chain's stationary share
    for m in range(months):
        flip = rng.random(n) < np.where(state, L.QUIET_END, L.QUIET_START)
        state = state ^ flip
        quiet[:, m] = state
    burst = rng.gamma(3.0, 1.0 / 3.0, size=(n, months))
    month_of_day = day_months(start, days)
    calendar_month = np.array([month_add(start, m).month - 1 for m in range(months)])
    season = np.asarray(L.SEASON)[calendar_month]
    level = np.where(quiet, L.QUIET_LEVEL, burst) * season[None, :]
    signup_day = frame["signup_seconds"].to_numpy() // DAY
    d = np.arange(days)[None, :]
    since = d - signup_day[:, None]
    boost = np.where(since <= L.NEWCOMER_DAYS, L.NEWCOMER_BOOST, 1.0)
    rate = frame["rate"].to_numpy()[:, None] * level[:, month_of_day] * boost * (since > 0)
    return rate.astype(np.float64)
