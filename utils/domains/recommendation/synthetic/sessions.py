"""Visits: when users come (sessions drawn from their daily rates) and which products
they look at.

A session has a focus leaf, drawn from the user's choice weights (popularity ** 0.6 x
taste of the leaf x price fit, over the products created before the session's week);
most of its views are in that leaf, some in the same top-level category, a few
anywhere, each drawn with the same weights. Views are sampled by inverse transform on
the users' cumulative weights, all users of a week at once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import layout as L
from . import vocab
from .catalog import Catalog
from .population import DAY, Users

WEEK = 7 * DAY
MAX_VIEWS = 30


class Chooser:
    """The users' choice weights over the products (columns in leaf order, so a leaf's
    or a top-level category's products are a contiguous range) and, per week of the
    calendar, their cumulative sums over the products available that week."""

    def __init__(self, users: Users, catalog: Catalog):
        frame = catalog.frame
        self.order = np.argsort(frame["leaf"].to_numpy(), kind="stable")  # column -> product index
        leaf = frame["leaf"].to_numpy()[self.order]
        top = frame["top"].to_numpy()[self.order]
        n_leaves, n_tops = len(vocab.LEAVES), len(vocab.TOP_NAMES)
        self.leaf_bounds = np.searchsorted(leaf, np.arange(n_leaves + 1))
        self.top_bounds = np.searchsorted(top, np.arange(n_tops + 1))
        self.leaf_of_column, self.top_of_column = leaf, top
        rel = frame["rel_price"].to_numpy()[self.order][None, :] - np.log(users.price_level)[:, None]
        fit = np.exp(-0.5 * (rel / L.PRICE_FIT_SIGMA) ** 2)
        pop = frame["popularity"].to_numpy()[self.order] ** L.POPULARITY_POWER
        self.weights = pop[None, :] * users.leaf_taste[:, leaf] * fit
        self.created = frame["created_seconds"].to_numpy()[self.order]
        self.column_of = np.empty(len(self.order), dtype=np.int64)
        self.column_of[self.order] = np.arange(len(self.order))
        self._week, self._available, self._cum, self._flat = None, None, None, None

    def week(self, w: int) -> None:
        """Prepare the cumulative weights of week `w` (products created before it)."""
        available = self.created < w * WEEK
        if self._week is not None and (self._available == available).all():
            return
        cum = np.zeros((self.weights.shape[0], self.weights.shape[1] + 1))
        np.cumsum(self.weights * available[None, :], axis=1, out=cum[:, 1:])
        cum /= np.maximum(cum[:, -1:], 1e-300)
        self._week, self._available, self._cum = w, available, cum
        self._flat = (cum + 2.0 * np.arange(len(cum))[:, None]).ravel()

    def draw(self, rng: np.random.Generator, user: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """One product index per row, drawn from the user's weights within columns
        [lo, hi); an empty range (nothing available there) falls back to every column."""
        cum, width = self._cum, self._cum.shape[1]
        a, b = cum[user, lo], cum[user, hi]
        empty = b - a <= 0
        a, b = np.where(empty, 0.0, a), np.where(empty, 1.0, b)
        x = a + rng.random(len(user)) * (b - a) + 2.0 * user
        column = np.searchsorted(self._flat, x, side="right") - 1 - user * width
        lo, hi = np.where(empty, 0, lo), np.where(empty, width - 1, hi)
        return self.order[np.clip(column, lo, np.maximum(hi - 1, lo))]


def schedule(rates: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Main sessions from the (users x days) rates: user, t0 (seconds, 06:00-19:00 UTC),
    sorted by (t0, user)."""
    counts = rng.poisson(rates)
    user, day = np.nonzero(counts)
    k = counts[user, day]
    user, day = np.repeat(user, k), np.repeat(day, k)
    t0 = day.astype(np.int64) * DAY + rng.integers(6 * 3600, 19 * 3600, size=len(day))
    out = pd.DataFrame({"user": user, "t0": t0})
    return out.sort_values(["t0", "user"], kind="stable").reset_index(drop=True)


def browse(sessions: pd.DataFrame, chooser: Chooser, rng: np.random.Generator) -> pd.DataFrame:
    """The views of `sessions` (user, t0 and `first`: a product the session starts with,
    -1 for none), one row each: session (row of `sessions`), user, seconds, prod, seq
    (position in the session). A session with a first product is focused on its leaf."""
    n = len(sessions)
    user, t0 = sessions["user"].to_numpy(), sessions["t0"].to_numpy()
    first = sessions["first"].to_numpy()
    size = np.minimum(rng.geometric(L.SESSION_VIEWS_P, size=n), MAX_VIEWS)
    session = np.repeat(np.arange(n), size)
    starts = np.cumsum(size) - size
    seq = np.arange(len(session)) - starts[session]
    gaps = np.where(seq == 0, 0, np.minimum(10 + rng.exponential(40.0, size=len(session)), 300).astype(np.int64))
    seconds = t0[session] + _within(gaps, starts, session)
    mode = rng.choice(3, size=len(session), p=L.FOCUS_SHARES)
    focus_col = np.zeros(n, dtype=np.int64)
    prod = np.full(len(session), -1)
    weeks = t0 // WEEK
    for w in np.unique(weeks):
        chooser.week(int(w))
        rows = np.flatnonzero(weeks == w)
        u = user[rows]
        everything = np.zeros(len(rows), dtype=np.int64), np.full(len(rows), len(chooser.order))
        focus = chooser.draw(rng, u, *everything)
        focus = np.where(first[rows] >= 0, first[rows], focus)
        focus_col[rows] = chooser.column_of[focus]
        views = np.flatnonzero(np.isin(session, rows))
        s, m = session[views], mode[views]
        leaf, top = chooser.leaf_of_column[focus_col[s]], chooser.top_of_column[focus_col[s]]
        lo = np.select([m == 0, m == 1], [chooser.leaf_bounds[leaf], chooser.top_bounds[top]], 0)
        hi = np.select([m == 0, m == 1], [chooser.leaf_bounds[leaf + 1], chooser.top_bounds[top + 1]],
                       len(chooser.order))
        prod[views] = chooser.draw(rng, user[s], lo, hi)
    starting = first[session] >= 0
    prod = np.where(starting & (seq == 0), first[session], prod)
    return pd.DataFrame({"session": session, "user": user[session], "seconds": seconds, "prod": prod, "seq": seq})


def _within(gaps: np.ndarray, starts: np.ndarray, session: np.ndarray) -> np.ndarray:
    """Cumulative sums of `gaps` restarting at each session."""
    total = np.cumsum(gaps)
    return total - (total[starts] - gaps[starts])[session]
