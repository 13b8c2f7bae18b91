"""Four recommenders for the recommendation domain, behind one interface.

    model = make("cooccurrence", similarity="jaccard").fit(train, items)
    model.recommend(users, k=10)   # user_id, product_id, score, rank, fallback

Data: `train` holds one row per interaction before the cut (user_id, product_id,
event_type in view/add_to_cart/purchase/rating, occurred_at as a UTC timestamp, and
``weight``, the confidence the caller gave the event, >= 0). `items` is the catalog as
known at the cut (product_id, title, description, category as a path such as
"Home/Kitchen/Cookware"); only :class:`Content` needs it.

Every model answers `recommend(users, k)` with at most k rows per user, ranked 1.. by
decreasing score (ties by product_id), and shares these rules:

- By default (``exclude_purchased=True``) a user is never shown an item they purchased
  in `train`; items they only viewed or carted may come back.
- A warm user (with rows in `train`) gets the items the model scores above 0, with
  ``fallback=False``; a list shorter than k is padded with the most popular items not
  yet listed (rows with ``fallback=True``, ``score`` = their popularity weight).
- A cold user (no row in `train`) gets the popularity ranking, every row with
  ``fallback=True``. ``last_fallback_users`` counts the cold users of the last call,
  ``last_padded_users`` the warm users whose list needed padding.
- The popularity ranking is the total weight per item over the last ``fallback_days``
  days of `train`, i.e. occurred_at in (max - days, max].
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import islice
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

logger = logging.getLogger(__name__)

MODELS = ("popularity", "cooccurrence", "als", "content")
TRAIN_COLUMNS = ("user_id", "product_id", "event_type", "occurred_at", "weight")
ITEM_COLUMNS = ("product_id", "title", "description", "category")
OUTPUT_COLUMNS = ["user_id", "product_id", "score", "rank", "fallback"]
BATCH_USERS = 1024  # users scored at once: a dense (batch x items) block on the driver


def _check(frame: pd.DataFrame | None, columns: Sequence[str], what: str) -> None:
    if frame is None or any(c not in frame.columns for c in columns):
        have = None if frame is None else list(frame.columns)
        raise ValueError(f"{what} needs columns {list(columns)}, got {have}")


def popularity_ranking(train: pd.DataFrame, days: int) -> pd.Series:
    """Total weight per product_id over occurred_at in (max - `days`, max] of `train`,
    highest first, ties by product_id; products without weight in the window left out."""
    window = train[train["occurred_at"] > train["occurred_at"].max() - pd.Timedelta(days=days)]
    totals = window.groupby("product_id")["weight"].sum()
    totals = totals[totals > 0].sort_index(kind="stable")
    return totals.sort_values(ascending=False, kind="stable").astype(float)


def _user_item(train: pd.DataFrame, users: np.ndarray, items: np.ndarray, values: np.ndarray) -> sparse.csr_matrix:
    """Sparse (users x items) sum of `values` per (user_id, product_id) of `train`."""
    rows = pd.Index(users).get_indexer(train["user_id"])
    cols = pd.Index(items).get_indexer(train["product_id"])
    keep = (rows >= 0) & (cols >= 0)
    return sparse.csr_matrix((values[keep], (rows[keep], cols[keep])), shape=(len(users), len(items)))


class Recommender:
    """The shared interface: `fit` keeps the fallback ranking and the purchases, and
    `recommend` ranks the scores each model gives its item universe ``_items`` (sorted
    product ids). A model implements ``_fit(train, items)`` and ``_score(users)``, a
    dense (len(users) x len(_items)) array for known users."""

    name = "base"

    def __init__(self, *, exclude_purchased: bool = True, fallback_days: int = 30, **params: Any) -> None:
        self.exclude_purchased = exclude_purchased
        self.fallback_days = fallback_days
        self.params = {**params, "exclude_purchased": exclude_purchased, "fallback_days": fallback_days}
        self.last_fallback_users = 0
        self.last_padded_users = 0
        self._items: np.ndarray | None = None

    def fit(self, train: pd.DataFrame, items: pd.DataFrame | None = None) -> Recommender:
        """Learn from the interactions of `train` (and the catalog `items` where the model
        uses it); returns the model."""
        _check(train, TRAIN_COLUMNS, f"{self.name}.fit(train)")
        if train.empty:
            raise ValueError(f"{self.name}.fit: train has no rows")
        train = train.assign(occurred_at=pd.to_datetime(train["occurred_at"], utc=True),
                             weight=train["weight"].astype(float).fillna(0.0))
        self._popular = popularity_ranking(train, self.fallback_days)
        self._popular_pairs = list(self._popular.items())
        bought = train[train["event_type"] == "purchase"]
        self._purchased = bought.groupby("user_id")["product_id"].agg(set).to_dict()
        self._known = set(train["user_id"])
        self._fit(train, items)
        self._position = {item: i for i, item in enumerate(self._items)}
        logger.info("%s fitted on %d interactions: %d users, %d items", self.name, len(train),
                    len(self._known), len(self._items))
        return self

    def _fit(self, train: pd.DataFrame, items: pd.DataFrame | None) -> None:
        raise NotImplementedError

    def _score(self, users: list) -> np.ndarray:
        raise NotImplementedError

    def _ranked(self, scores: np.ndarray, excluded: set, k: int) -> list[tuple[Any, float]]:
        """The top `k` (product_id, score) of one user's `scores` above 0, the `excluded`
        items left out; ties by product_id (the order of ``_items``)."""
        scores = scores.astype(float).copy()
        scores[[self._position[p] for p in excluded if p in self._position]] = 0.0
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:  # keep every candidate tied with the k-th best
            kth = np.partition(scores[candidates], -k)[-k]
            candidates = candidates[scores[candidates] >= kth]
        order = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
        return [(self._items[i], float(scores[i])) for i in order]

    def recommend(self, users: Sequence, k: int) -> pd.DataFrame:
        """At most `k` rows per user of `users` (repeats ignored), in the order given:
        user_id, product_id, score (float), rank (int, 1..), fallback (bool)."""
        if self._items is None:
            raise RuntimeError(f"{self.name}: call fit before recommend")
        if int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        users = list(dict.fromkeys(users))
        warm = [u for u in users if u in self._known]
        lists: dict[Any, list[tuple[Any, float]]] = {}
        for start in range(0, len(warm), BATCH_USERS):
            batch = warm[start:start + BATCH_USERS]
            for user, scores in zip(batch, self._score(batch)):
                lists[user] = self._ranked(scores, self._excluded(user), k)
        rows, padded = [], 0
        for user in users:
            listed = lists.get(user, [])
            rows += [(user, item, score, rank, False) for rank, (item, score) in enumerate(listed, start=1)]
            if len(listed) < k:
                taken = self._excluded(user) | {item for item, _ in listed}
                extra = list(islice(((p, s) for p, s in self._popular_pairs if p not in taken), k - len(listed)))
                padded += bool(extra) and user in lists
                rows += [(user, item, score, rank, True)
                         for rank, (item, score) in enumerate(extra, start=len(listed) + 1)]
        self.last_fallback_users = len(users) - len(warm)
        self.last_padded_users = padded
        logger.info("%s recommended %d rows to %d users (%d cold, %d padded)", self.name, len(rows),
                    len(users), self.last_fallback_users, padded)
        out = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
        return out.astype({"score": float, "rank": "int64", "fallback": bool})

    def _excluded(self, user: Any) -> set:
        return set(self._purchased.get(user, ())) if self.exclude_purchased else set()


class Popularity(Recommender):
    """Every user gets the same ranking: total weight per item over the last `days`
    days of train (occurred_at in (max - days, max]), ties by product_id; warm users'
    rows have fallback=False, cold users' fallback=True."""

    name = "popularity"

    def __init__(self, days: int = 30, *, exclude_purchased: bool = True) -> None:
        super().__init__(exclude_purchased=exclude_purchased, fallback_days=days, days=days)
        self.days = days

    def _fit(self, train: pd.DataFrame, items: pd.DataFrame | None) -> None:
        by_id = self._popular.sort_index()
        self._items, self._weights = by_id.index.to_numpy(), by_id.to_numpy()

    def _score(self, users: list) -> np.ndarray:
        return np.broadcast_to(self._weights, (len(users), len(self._items)))


class CoOccurrence(Recommender):
    """Item-to-item recommendations in the manner of SAR (Smart Adaptive Recommendations).

    1. Affinity: each user's interest in each item is the sum of the weights of their
       interactions with it, each halved for every `half_life_days` it lies before the
       last interaction of train (no decay with ``half_life_days=None``).
    2. Co-occurrence: C[i, j] is the number of users who interacted with both i and j
       (any event, any weight), so C[i, i] is the number of users of i.
    3. Similarity: ``jaccard`` = C[i, j] / (C[i, i] + C[j, j] - C[i, j]), in [0, 1], or
       ``lift`` = C[i, j] / (C[i, i] * C[j, j]), which favours rare items. The diagonal
       is set to 0: an item never recommends itself, though another item the user took
       may still point back to it.
    4. Score = affinity @ similarity: items close to what the user took, weighted by how
       much and how recently they took it.
    Everything stays sparse (scipy), so the similarity holds only co-occurring pairs.
    """

    name = "cooccurrence"

    def __init__(self, similarity: str = "jaccard", half_life_days: float | None = 30, *,
                 exclude_purchased: bool = True, fallback_days: int = 30) -> None:
        if similarity not in ("jaccard", "lift"):
            raise ValueError(f'similarity must be "jaccard" or "lift", got {similarity!r}')
        super().__init__(exclude_purchased=exclude_purchased, fallback_days=fallback_days,
                         similarity=similarity, half_life_days=half_life_days)
        self.similarity, self.half_life_days = similarity, half_life_days

    def _fit(self, train: pd.DataFrame, items: pd.DataFrame | None) -> None:
        self._users = pd.Index(np.sort(train["user_id"].unique()))
        self._items = np.sort(train["product_id"].unique())
        decay = np.ones(len(train))
        if self.half_life_days:
            age_days = (train["occurred_at"].max() - train["occurred_at"]) / pd.Timedelta(days=1)
            decay = np.power(0.5, age_days.to_numpy(dtype=float) / self.half_life_days)
        self._affinity = _user_item(train, self._users, self._items, train["weight"].to_numpy() * decay)
        took = _user_item(train, self._users, self._items, np.ones(len(train)))
        took.data[:] = 1.0
        cooc = (took.T @ took).tocoo()
        count = cooc.diagonal()
        i, j, both = cooc.row, cooc.col, cooc.data
        value = both / (count[i] + count[j] - both) if self.similarity == "jaccard" else both / (count[i] * count[j])
        value[i == j] = 0.0
        self.item_similarity = sparse.csr_matrix((value, (i, j)), shape=cooc.shape)
        self.item_similarity.eliminate_zeros()

    def similarity_of(self, a: Any, b: Any) -> float:
        """The fitted similarity of products `a` and `b` (0 for an unknown product or a == b)."""
        if a not in self._position or b not in self._position:
            return 0.0
        return float(self.item_similarity[self._position[a], self._position[b]])

    def _score(self, users: list) -> np.ndarray:
        return (self._affinity[self._users.get_indexer(users)] @ self.item_similarity).toarray()


class ALS(Recommender):
    """Implicit-feedback matrix factorisation with Spark ML's ALS.

    The rating of (user, item) is the sum of its weights; ALS reads it as a confidence
    1 + alpha * rating that the user prefers the item (``implicitPrefs=True``), with
    non-negative factors. String ids are mapped to integer indices (sorted ids) here,
    as Spark's ALS takes integers. ``coldStartStrategy="drop"`` only matters to
    ``transform``; cold users never reach the factors, they get the fallback.

    Scoring is a numpy dot of the user's factors with every item's factors on the
    driver, rather than ``recommendForUserSubset``: the catalog is small, it gives exact
    scores for every item (so purchased items are excluded without over-fetching), runs
    no Spark job per call, and keeps one ranking code path for all models.
    """

    name = "als"

    def __init__(self, spark, rank: int = 32, reg_param: float = 0.1, alpha: float = 10.0, max_iter: int = 10,
                 seed: int = 42, *, exclude_purchased: bool = True, fallback_days: int = 30) -> None:
        super().__init__(exclude_purchased=exclude_purchased, fallback_days=fallback_days, rank=rank,
                         reg_param=reg_param, alpha=alpha, max_iter=max_iter, seed=seed)
        self.spark, self.rank, self.reg_param, self.alpha = spark, rank, reg_param, alpha
        self.max_iter, self.seed = max_iter, seed

    def _fit(self, train: pd.DataFrame, items: pd.DataFrame | None) -> None:
        from pyspark.ml.recommendation import ALS as SparkALS

        ratings = train.groupby(["user_id", "product_id"], as_index=False)["weight"].sum()
        user_idx, self._users = pd.factorize(ratings["user_id"], sort=True)
        item_idx, items_sorted = pd.factorize(ratings["product_id"], sort=True)
        self._items = np.asarray(items_sorted)
        frame = pd.DataFrame({"user": user_idx.astype("int32"), "item": item_idx.astype("int32"),
                              "rating": ratings["weight"].to_numpy(dtype=float)})
        als = SparkALS(rank=self.rank, maxIter=self.max_iter, regParam=self.reg_param, alpha=self.alpha,
                       implicitPrefs=True, nonnegative=True, coldStartStrategy="drop", seed=self.seed,
                       userCol="user", itemCol="item", ratingCol="rating")
        model = als.fit(self.spark.createDataFrame(frame))
        self.user_factors = self._factors(model.userFactors, len(self._users))
        self.item_factors = self._factors(model.itemFactors, len(self._items))

    def _factors(self, frame, n: int) -> np.ndarray:
        """(n x rank) factors by index from a Spark (id, features) frame; zeros where absent."""
        out = np.zeros((n, self.rank))
        for row in frame.collect():
            out[row["id"]] = row["features"]
        return out

    def _score(self, users: list) -> np.ndarray:
        return self.user_factors[self._users.get_indexer(users)] @ self.item_factors.T


class Content(Recommender):
    """Content-based: TF-IDF of each catalog item's words (title, description and the
    category path split at "/"; sklearn's TfidfVectorizer fitted on `items`, at most
    `max_features` terms), rows L2-normalised. A user's profile is the sum of the
    vectors of the items they interacted with, each times its summed weight; an item's
    score is the cosine of the profile and the item's vector. Interactions with items
    outside the catalog are ignored; any catalog item may be recommended."""

    name = "content"

    def __init__(self, max_features: int = 5000, *, exclude_purchased: bool = True, fallback_days: int = 30) -> None:
        super().__init__(exclude_purchased=exclude_purchased, fallback_days=fallback_days, max_features=max_features)
        self.max_features = max_features

    def _fit(self, train: pd.DataFrame, items: pd.DataFrame | None) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize

        if items is None:
            raise ValueError("content needs the item catalog: fit(train, items) with columns "
                             f"{list(ITEM_COLUMNS)}")
        _check(items, ITEM_COLUMNS, "content.fit(items)")
        catalog = items.drop_duplicates("product_id").sort_values("product_id")
        text = (catalog["title"].fillna("") + " " + catalog["description"].fillna("") + " "
                + catalog["category"].fillna("").str.replace("/", " ", regex=False))
        self.vectorizer = TfidfVectorizer(max_features=self.max_features)
        self.item_vectors = normalize(self.vectorizer.fit_transform(text), norm="l2").tocsr()
        self._items = catalog["product_id"].to_numpy()
        self._users = pd.Index(np.sort(train["user_id"].unique()))
        weights = _user_item(train, self._users, self._items, train["weight"].to_numpy())
        self.profiles = normalize(weights @ self.item_vectors, norm="l2").tocsr()

    def _score(self, users: list) -> np.ndarray:
        return (self.profiles[self._users.get_indexer(users)] @ self.item_vectors.T).toarray()


def make(name: str, spark=None, **params: Any) -> Recommender:
    """An unfitted model by name (one of MODELS) with its constructor `params`; "als"
    needs the Spark session `spark`."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {list(MODELS)}")
    if name == "als":
        if spark is None:
            raise ValueError("als needs a Spark session: make('als', spark=session, ...)")
        return ALS(spark, **params)
    return {"popularity": Popularity, "cooccurrence": CoOccurrence, "content": Content}[name](**params)
