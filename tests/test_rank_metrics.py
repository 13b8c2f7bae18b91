"""Top-K ranking metrics: hand-computed cases (the arithmetic in the comments), edge
cases, NDCG against sklearn on random graded rankings, and evaluate over users."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score

from utils.ml.rank_metrics import (
    average_precision_at_k,
    evaluate,
    evaluate_segments,
    hit_rate_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
    user_metrics,
)

LOG2_3 = math.log2(3)
RECOMMENDED = ["A", "B", "C", "D", "E"]
RELEVANT = {"B": 3, "D": 1, "F": 2}  # F is relevant but not recommended


def test_metrics_at_5_by_hand():
    # hits: B at position 2 (grade 3), D at position 4 (grade 1); 3 relevant items
    assert precision_at_k(RECOMMENDED, RELEVANT, 5) == pytest.approx(2 / 5)
    assert recall_at_k(RECOMMENDED, RELEVANT, 5) == pytest.approx(2 / 3)
    # DCG = 3/log2(3) + 1/log2(5); ideal grades 3, 2, 1: IDCG = 3/log2(2) + 2/log2(3) + 1/log2(4)
    dcg = 3 / LOG2_3 + 1 / math.log2(5)
    idcg = 3 + 2 / LOG2_3 + 1 / 2
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 5) == pytest.approx(dcg / idcg)
    # AP = (precision@2 + precision@4) / min(5, 3) = (1/2 + 2/4) / 3 = 1/3
    assert average_precision_at_k(RECOMMENDED, RELEVANT, 5) == pytest.approx(1 / 3)
    assert hit_rate_at_k(RECOMMENDED, RELEVANT, 5) == 1.0


def test_metrics_at_3_by_hand():
    # top 3 = A, B, C: one hit, B at position 2 (grade 3)
    assert precision_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx(1 / 3)
    assert recall_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx(1 / 3)
    # DCG = 3/log2(3); IDCG@3 = 3 + 2/log2(3) + 1/2 (three relevant grades fit in k=3)
    assert ndcg_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx((3 / LOG2_3) / (3 + 2 / LOG2_3 + 1 / 2))
    # AP = precision@2 / min(3, 3) = (1/2) / 3 = 1/6
    assert average_precision_at_k(RECOMMENDED, RELEVANT, 3) == pytest.approx(1 / 6)


def test_ideal_dcg_is_truncated_at_k():
    # k=1: top 1 = A, a miss; IDCG@1 = 3 only; then with B first: DCG = 3/log2(2) = 3 = IDCG@1
    assert ndcg_at_k(["A", "B"], RELEVANT, 1) == 0.0
    assert ndcg_at_k(["B", "A"], RELEVANT, 1) == pytest.approx(1.0)
    # k=2 with F, B: DCG = 2/1 + 3/log2(3); IDCG@2 = 3/1 + 2/log2(3)
    assert ndcg_at_k(["F", "B"], RELEVANT, 2) == pytest.approx((2 + 3 / LOG2_3) / (3 + 2 / LOG2_3))


def test_no_miss_and_no_hit_give_the_bounds():
    # B, F, D is the ideal order (grades 3, 2, 1): DCG = IDCG, and every position a hit
    assert user_metrics(["B", "F", "D"], RELEVANT, 3) == pytest.approx(
        {"precision": 1.0, "recall": 1.0, "ndcg": 1.0, "map": 1.0, "hit_rate": 1.0})
    assert user_metrics(["A", "C", "E"], RELEVANT, 3) == dict.fromkeys(
        ("precision", "recall", "ndcg", "map", "hit_rate"), 0.0)


def test_no_relevant_item_scores_zero_everywhere():
    for relevant in ({}, {"A": 0}, {"A": -1}):
        assert user_metrics(["A", "B"], relevant, 2) == dict.fromkeys(
            ("precision", "recall", "ndcg", "map", "hit_rate"), 0.0)


def test_k_larger_than_the_list_counts_the_missing_slots_as_misses():
    # B at position 1, the only relevant item; k=10 but the list holds 2
    assert precision_at_k(["B", "A"], {"B": 1}, 10) == pytest.approx(1 / 10)
    assert recall_at_k(["B", "A"], {"B": 1}, 10) == 1.0
    assert ndcg_at_k(["B", "A"], {"B": 1}, 10) == pytest.approx(1.0)
    # AP = precision@1 / min(10, 1) = 1
    assert average_precision_at_k(["B", "A"], {"B": 1}, 10) == pytest.approx(1.0)
    assert user_metrics([], {"B": 1}, 10)["ndcg"] == 0.0


def test_duplicates_in_the_list_are_not_counted_twice():
    relevant = {"B": 2, "C": 1}
    # k=2: top 2 = B, B; B is a hit at 1 only, its repeat a miss
    assert precision_at_k(["B", "B", "C"], relevant, 2) == pytest.approx(1 / 2)
    assert recall_at_k(["B", "B", "C"], relevant, 2) == pytest.approx(1 / 2)
    # DCG = 2/log2(2) = 2; IDCG@2 = 2 + 1/log2(3)
    assert ndcg_at_k(["B", "B", "C"], relevant, 2) == pytest.approx(2 / (2 + 1 / LOG2_3))
    # AP = precision@1 / min(2, 2) = 1/2
    assert average_precision_at_k(["B", "B", "C"], relevant, 2) == pytest.approx(1 / 2)
    # k=3: hits B at 1 and C at 3; precision 2/3; DCG = 2 + 1/log2(4) = 2.5; AP = (1/1 + 2/3)/2 = 5/6
    assert precision_at_k(["B", "B", "C"], relevant, 3) == pytest.approx(2 / 3)
    assert ndcg_at_k(["B", "B", "C"], relevant, 3) == pytest.approx(2.5 / (2 + 1 / LOG2_3))
    assert average_precision_at_k(["B", "B", "C"], relevant, 3) == pytest.approx(5 / 6)
    assert recall_at_k(["B", "B", "B"], relevant, 3) == pytest.approx(1 / 2)


def test_k_must_be_a_positive_integer():
    for k in (0, -1, 2.5):
        with pytest.raises(ValueError, match="positive integer"):
            precision_at_k(["A"], {"A": 1}, k)


@pytest.mark.parametrize("seed", range(12))
def test_ndcg_matches_sklearn_on_random_graded_rankings(seed):
    rng = np.random.default_rng(seed)
    catalog = [f"p{i}" for i in range(40)]
    recommended = [str(p) for p in rng.choice(catalog, size=int(rng.integers(1, 25)), replace=False)]
    relevant = {str(p): int(rng.integers(1, 5)) for p in rng.choice(catalog, size=int(rng.integers(1, 12)), replace=False)}
    k = int(rng.integers(1, 30))
    # sklearn scores every item of the union: the recommended ones in list order, then k
    # irrelevant padding items (a list shorter than k is padded with misses), then the
    # relevant items that were not recommended, which thus never enter sklearn's top k
    padding = [f"pad{i}" for i in range(k)]
    items = recommended + padding + [p for p in relevant if p not in recommended]
    y_score = np.arange(len(items), 0, -1, dtype=float)  # distinct, decreasing with position
    y_true = np.array([relevant.get(p, 0) for p in items], dtype=float)
    expected = ndcg_score(y_true[None, :], y_score[None, :], k=k)
    assert abs(ndcg_at_k(recommended, relevant, k) - expected) < 1e-12


def recs(rows: list[tuple[str, str]]) -> pd.DataFrame:
    """Recommendation rows (user_id, product_id), ranked 1.. in the order given per user."""
    frame = pd.DataFrame(rows, columns=["user_id", "product_id"])
    frame["rank"] = frame.groupby("user_id").cumcount() + 1
    return frame


TRUTH = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u3"],
                      "product_id": ["B", "D", "A", "C"],
                      "relevance": [2, 1, 1, 1]})
RECS = recs([("u1", "A"), ("u1", "B"), ("u2", "A"), ("u2", "C"), ("u9", "Z")])  # u3 has none; u9 no truth


def test_evaluate_averages_over_the_users_in_the_truth():
    result = evaluate(RECS.sample(frac=1.0, random_state=3), TRUTH, ks=(1, 2), catalog_size=10)
    # k=1: u1 [A] miss, u2 [A] hit, u3 [] miss
    assert result[1]["precision"] == pytest.approx((0 + 1 + 0) / 3)
    assert result[1]["hit_rate"] == pytest.approx(1 / 3)
    # coverage@1: {A} / 10 (u9 is not evaluated)
    assert result[1]["coverage"] == pytest.approx(1 / 10)
    # k=2: u1 [A, B] hit B at 2 of {B:2, D:1}: precision 1/2, recall 1/2,
    # ndcg = (2/log2(3)) / (2 + 1/log2(3)), AP = (1/2) / 2; u2 [A, C]: hit A at 1, all 1 but precision 1/2
    assert result[2]["precision"] == pytest.approx((1 / 2 + 1 / 2 + 0) / 3)
    assert result[2]["recall"] == pytest.approx((1 / 2 + 1 + 0) / 3)
    assert result[2]["ndcg"] == pytest.approx(((2 / LOG2_3) / (2 + 1 / LOG2_3) + 1 + 0) / 3)
    assert result[2]["map"] == pytest.approx((1 / 4 + 1 + 0) / 3)
    assert result[2]["coverage"] == pytest.approx(3 / 10)  # A, B, C
    assert result[1]["users"] == result[2]["users"] == 3


def test_evaluate_on_a_subset_of_users():
    # u2 and u9 asked; u9 has no truth so only u2 is evaluated: [A, C] with A relevant
    result = evaluate(RECS, TRUTH, ks=(2,), catalog_size=4, users=["u2", "u9"])
    assert result[2] == pytest.approx({"precision": 0.5, "recall": 1.0, "ndcg": 1.0, "map": 1.0,
                                       "hit_rate": 1.0, "coverage": 2 / 4, "users": 1})


def test_evaluate_with_no_evaluated_user_is_nan():
    result = evaluate(RECS, TRUTH, ks=(2,), catalog_size=4, users=["u9"])
    assert result[2]["users"] == 0 and math.isnan(result[2]["ndcg"]) and result[2]["coverage"] == 0.0


def test_evaluate_keeps_the_highest_grade_of_duplicate_truth_rows():
    truth = pd.DataFrame({"user_id": ["u1", "u1", "u1"], "product_id": ["B", "B", "D"], "relevance": [1, 3, 1]})
    result = evaluate(recs([("u1", "D"), ("u1", "B")]), truth, ks=(2,), catalog_size=2)
    # DCG = 1/1 + 3/log2(3); IDCG = 3/1 + 1/log2(3)
    assert result[2]["ndcg"] == pytest.approx((1 + 3 / LOG2_3) / (3 + 1 / LOG2_3))


def test_evaluate_segments_reports_all_and_each_segment():
    result = evaluate_segments(RECS, TRUTH, {"warm": ["u1", "u2"], "cold": ["u3"]}, ks=(2,), catalog_size=10)
    assert set(result) == {"all", "warm", "cold"}
    assert result["all"] == evaluate(RECS, TRUTH, ks=(2,), catalog_size=10)
    assert result["warm"][2]["users"] == 2 and result["cold"][2]["users"] == 1
    assert result["cold"][2]["recall"] == 0.0
    with pytest.raises(ValueError, match="reserved"):
        evaluate_segments(RECS, TRUTH, {"all": ["u1"]}, catalog_size=10)


def test_evaluate_names_a_missing_column():
    with pytest.raises(ValueError, match="relevance"):
        evaluate(RECS, TRUTH.drop(columns="relevance"), catalog_size=10)
