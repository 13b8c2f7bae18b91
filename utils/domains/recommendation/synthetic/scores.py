"""The scoring service: every night it scores each product from the day's data and
publishes the score only when it moved since the last one it published.

popularity (0-100) is the product's views over the trailing SCORE_WINDOW days on a log
scale (100 = the busiest product-window of the calendar), with a little noise;
sentiment (-1..1) is the mean of the star ratings received so far, shrunk towards a
prior (a product nobody rated scores about 0.4), mapped from 1..5 to -1..1, with
noise. Bots are not counted (the service filters them), out-of-scale ratings neither.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import layout as L
from .catalog import Catalog
from .population import DAY

SCORE_WINDOW = 28


def _per_day(prod: np.ndarray, day: np.ndarray, values: np.ndarray, products: int, days: int) -> np.ndarray:
    flat = np.bincount(prod * days + day, weights=values, minlength=products * days)
    return flat.reshape(products, days)


def make_scores(events: pd.DataFrame, catalog: Catalog, days: int, rng: np.random.Generator) -> pd.DataFrame:
    """Published scores, one row each: prod, day (score_date as a calendar day),
    popularity, sentiment. Score dates run to the calendar's second-to-last day (a
    score is published the next night, within the calendar)."""
    n = len(catalog.frame)
    day = (events["seconds"].to_numpy() // DAY).astype(np.int64)
    prod = events["prod"].to_numpy().astype(np.int64)
    view = events["event_type"].to_numpy() == "view"
    views = _per_day(prod[view], day[view], np.ones(view.sum()), n, days)
    rated = events["event_type"].to_numpy() == "rating"
    stars = _per_day(prod[rated], day[rated], events["rating"].to_numpy()[rated].astype(float), n, days)
    counts = _per_day(prod[rated], day[rated], np.ones(rated.sum()), n, days)
    cum = np.cumsum(views, axis=1)
    window = cum - np.concatenate([np.zeros((n, SCORE_WINDOW)), cum[:, :-SCORE_WINDOW]], axis=1)[:, :days]
    level = np.log1p(window) / np.log1p(max(window.max(), 1.0))
    bayes = ((np.cumsum(stars, axis=1) + L.RATING_PRIOR_MEAN * L.RATING_PRIOR_WEIGHT)
             / (np.cumsum(counts, axis=1) + L.RATING_PRIOR_WEIGHT))
    created_day = catalog.frame["created_seconds"].to_numpy() // DAY
    last_pop, last_sent = np.full(n, np.nan), np.full(n, np.nan)
    rows = []
    for d in range(max(days - 1, 1)):
        exists = created_day <= d
        pop = np.round(np.clip(100.0 * level[:, d] + rng.normal(0.0, 1.0, size=n), 0.0, 100.0), 1)
        sent = np.round(np.clip((bayes[:, d] - 3.0) / 2.0 + rng.normal(0.0, 0.015, size=n), -1.0, 1.0), 3)
        moved = (np.isnan(last_pop) | (np.abs(pop - last_pop) >= L.POPULARITY_STEP)
                 | (np.abs(sent - last_sent) >= L.SENTIMENT_STEP))
        publish = np.flatnonzero(exists & moved)
        last_pop[publish], last_sent[publish] = pop[publish], sent[publish]
        rows.append(pd.DataFrame({"prod": publish, "day": d, "popularity": pop[publish],
                                  "sentiment": sent[publish]}))
    return pd.concat(rows, ignore_index=True)
