"""Top-K ranking metrics with graded relevance, for recommenders evaluated out of time.

    from utils.ml.rank_metrics import evaluate, evaluate_segments
    evaluate(recommendations, truth, ks=(5, 10, 20), catalog_size=len(items))
    evaluate_segments(recommendations, truth, {"warm": warm, "cold": cold}, catalog_size=...)

Pure numpy/pandas, no Spark: recommendation lists and the truth of the test window are
small enough for the driver.

Per user, ``recommended`` is a ranked sequence of item ids (best first) and ``relevant``
maps each relevant item to its grade (> 0; items with a grade <= 0 or missing are not
relevant). The top k are the first k positions of the list as given: an item repeated
in the list is a hit only at its first position, and its repeats are misses (a
duplicate wastes a slot, so no score can exceed the ideal). A list shorter than k is
scored as if padded with misses, so precision still divides by k.

- precision@k = hits in the top k / k
- recall@k = hits in the top k / number of relevant items
- NDCG@k = DCG@k / IDCG@k, with linear gain (the grade) and the discount log2(rank + 1):
  DCG@k sums grade / log2(i + 1) over the hits at positions i <= k; IDCG@k is the same
  sum over the relevant grades sorted descending, truncated at k. This is
  ``sklearn.metrics.ndcg_score`` of a ranking with distinct scores.
- AP@k (MAP@k once averaged) = sum of precision@i over the hit positions i <= k, divided
  by min(k, number of relevant items); grades do not matter.
- hit rate@k = 1 when the top k hold at least one hit, else 0.

A user with no relevant item scores 0 on every metric (there is nothing to find);
:func:`evaluate` never asks, as it evaluates the users present in the truth only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

RECOMMENDATION_COLUMNS = ("user_id", "product_id", "rank")
TRUTH_COLUMNS = ("user_id", "product_id", "relevance")
METRICS = ("precision", "recall", "ndcg", "map", "hit_rate")


# --------------------------------------------------------------------------- one user


def _positive(relevant: Mapping[Any, float]) -> dict[Any, float]:
    """The relevant items with a grade > 0 (NaN and non-positive grades dropped)."""
    return {item: float(grade) for item, grade in relevant.items() if grade is not None and grade > 0}


def _hits(recommended: Sequence, relevant: Mapping[Any, float], k: int) -> tuple[np.ndarray, np.ndarray]:
    """(1-based positions, grades) of the hits in the top `k` of `recommended`, each
    relevant item counted once, at its first position."""
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    positions, grades, seen = [], [], set()
    for i, item in enumerate(list(recommended)[: int(k)], start=1):
        if item in relevant and item not in seen:
            seen.add(item)
            positions.append(i)
            grades.append(relevant[item])
    return np.asarray(positions, dtype=float), np.asarray(grades, dtype=float)


def user_metrics(recommended: Sequence, relevant: Mapping[Any, float], k: int) -> dict[str, float]:
    """Every metric of one user at `k`, by name (``precision``, ``recall``, ``ndcg``,
    ``map``, ``hit_rate``); all 0.0 when nothing is relevant."""
    relevant = _positive(relevant)
    positions, grades = _hits(recommended, relevant, k)
    if not relevant:
        return dict.fromkeys(METRICS, 0.0)
    n_hits = len(positions)
    ideal = np.sort(np.fromiter(relevant.values(), dtype=float))[::-1][: int(k)]
    idcg = float(np.sum(ideal / np.log2(np.arange(2, len(ideal) + 2))))
    dcg = float(np.sum(grades / np.log2(positions + 1)))
    precision_at_hits = np.arange(1, n_hits + 1) / positions  # precision@i at each hit position i
    return {
        "precision": n_hits / k,
        "recall": n_hits / len(relevant),
        "ndcg": dcg / idcg,
        "map": float(np.sum(precision_at_hits)) / min(k, len(relevant)),
        "hit_rate": float(n_hits > 0),
    }


def precision_at_k(recommended: Sequence, relevant: Mapping[Any, float], k: int) -> float:
    """Hits in the top `k` / `k` (a list shorter than k counts its missing slots as misses)."""
    return user_metrics(recommended, relevant, k)["precision"]


def recall_at_k(recommended: Sequence, relevant: Mapping[Any, float], k: int) -> float:
    """Hits in the top `k` / number of relevant items; 0.0 when nothing is relevant."""
    return user_metrics(recommended, relevant, k)["recall"]


def ndcg_at_k(recommended: Sequence, relevant: Mapping[Any, float], k: int) -> float:
    """DCG@k / ideal DCG@k with linear gain (the grade) and log2(rank + 1) discount, in
    [0, 1]; 0.0 when nothing is relevant."""
    return user_metrics(recommended, relevant, k)["ndcg"]


def average_precision_at_k(recommended: Sequence, relevant: Mapping[Any, float], k: int) -> float:
    """Sum of precision@i over the hit positions i <= `k`, / min(k, number of relevant
    items); binary (grades ignored); 0.0 when nothing is relevant."""
    return user_metrics(recommended, relevant, k)["map"]


def hit_rate_at_k(recommended: Sequence, relevant: Mapping[Any, float], k: int) -> float:
    """1.0 when the top `k` hold at least one relevant item, else 0.0."""
    return user_metrics(recommended, relevant, k)["hit_rate"]


# --------------------------------------------------------------------------- many users


def _require(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; expected {list(columns)}")


def evaluate(recommendations: pd.DataFrame, truth: pd.DataFrame, ks: Sequence[int] = (5, 10, 20), *,
             catalog_size: int, users: Iterable | None = None) -> dict[int, dict[str, float]]:
    """Mean metrics over users at each k: ``{k: {"precision", "recall", "ndcg", "map",
    "hit_rate", "coverage", "users"}}``.

    `recommendations`: one row per (user_id, product_id) shown, with ``rank`` (1-based);
    a user's list is their rows sorted by rank. `truth`: one row per (user_id,
    product_id) that turned out relevant in the test window, with ``relevance`` (int
    grade > 0; duplicates keep the highest grade, rows with a grade <= 0 are dropped).

    The evaluated users are those present in the truth (only those in `users`, when
    given: warm or cold users, say). A user without any recommendation row scores 0;
    recommendations to users outside the truth are ignored. ``coverage`` is the number
    of distinct items in the top k of the evaluated users / `catalog_size`; ``users``
    the number of evaluated users. Metrics are NaN when no user is evaluated.
    """
    _require(recommendations, RECOMMENDATION_COLUMNS, "recommendations")
    _require(truth, TRUTH_COLUMNS, "truth")
    if catalog_size < 1:
        raise ValueError(f"catalog_size must be positive, got {catalog_size}")
    truth = truth[truth["relevance"] > 0]
    grades = truth.groupby(["user_id", "product_id"], sort=False)["relevance"].max()
    relevant: dict[Any, dict[Any, float]] = {}
    for (user, item), grade in grades.items():
        relevant.setdefault(user, {})[item] = float(grade)
    evaluated = list(relevant) if users is None else [u for u in dict.fromkeys(users) if u in relevant]
    recs = recommendations[recommendations["user_id"].isin(evaluated)]
    recs = recs.sort_values(["user_id", "rank"], kind="stable")
    lists = recs.groupby("user_id", sort=False)["product_id"].agg(list).to_dict()

    result: dict[int, dict[str, float]] = {}
    for k in ks:
        k = int(k)
        per_user = [user_metrics(lists.get(u, []), relevant[u], k) for u in evaluated]
        shown = {item for u in evaluated for item in lists.get(u, [])[:k]}
        means = {m: float(np.mean([row[m] for row in per_user])) if per_user else float("nan") for m in METRICS}
        means["coverage"] = len(shown) / catalog_size
        means["users"] = len(evaluated)
        result[k] = means
    logger.debug("evaluated %d users at k=%s", len(evaluated), list(ks))
    return result


def evaluate_segments(recommendations: pd.DataFrame, truth: pd.DataFrame, segments: Mapping[str, Iterable],
                      ks: Sequence[int] = (5, 10, 20), *, catalog_size: int) -> dict[str, dict[int, dict[str, float]]]:
    """:func:`evaluate` over every user (``"all"``) and over each named segment of users
    (e.g. ``{"warm": ..., "cold": ...}``): ``{"all": {k: ...}, "warm": {k: ...}, ...}``."""
    if "all" in segments:
        raise ValueError('"all" is reserved for the whole population; name the segment otherwise')
    out = {"all": evaluate(recommendations, truth, ks, catalog_size=catalog_size)}
    for name, members in segments.items():
        out[name] = evaluate(recommendations, truth, ks, catalog_size=catalog_size, users=members)
    return out
