"""The four recommenders on tiny hand-made interactions: what each ranks first, and the
rules they share (at most k rows, purchases excluded, cold users from popularity)."""

from __future__ import annotations

import pandas as pd
import pytest

from utils.ml import recommenders as rec

T0 = pd.Timestamp("2024-01-01", tz="UTC")
WEIGHT = {"view": 1.0, "add_to_cart": 3.0, "purchase": 5.0}
COLUMNS = ["user_id", "product_id", "score", "rank", "fallback"]


def events(rows: list[tuple[str, str, str, int]]) -> pd.DataFrame:
    """One row per interaction from (user_id, product_id, event_type, day after T0),
    weighted view 1, add_to_cart 3, purchase 5."""
    frame = pd.DataFrame(rows, columns=["user_id", "product_id", "event_type", "day"])
    frame["occurred_at"] = T0 + pd.to_timedelta(frame.pop("day"), unit="D")
    frame["weight"] = frame["event_type"].map(WEIGHT)
    return frame


def catalog(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["product_id", "title", "description", "category"])


# two groups of six users, each viewing the four items of its group (a0..a3, b0..b3);
# "target" purchased a0 and a1 only; bu0 also carted b0.
# popularity: a0 = a1 = 6 + 5 = 11, b0 = 6 + 3 = 9, every other item 6
BLOCKS = events(
    [(f"{g}u{u}", f"{g}{i}", "view", 90 + i) for g in "ab" for u in range(6) for i in range(4)]
    + [("target", "a0", "purchase", 99), ("target", "a1", "purchase", 99), ("bu0", "b0", "add_to_cart", 95)]
)
BLOCK_ITEMS = catalog(
    [(f"a{i}", f"red cotton shirt style{i}", "soft cotton shirt", "Fashion/Shirts") for i in range(4)]
    + [(f"b{i}", f"steel frying pan size{i}", "heavy steel pan", "Home/Kitchen/Cookware") for i in range(4)]
)


@pytest.fixture(scope="module")
def models(spark) -> dict[str, rec.Recommender]:
    """Every model fitted once on BLOCKS (ALS small: rank 4, 5 iterations)."""
    params = {"als": {"rank": 4, "max_iter": 5}}
    return {name: rec.make(name, spark=spark, **params.get(name, {})).fit(BLOCKS, BLOCK_ITEMS)
            for name in rec.MODELS}


def lists(frame: pd.DataFrame) -> dict[str, list[str]]:
    return frame.groupby("user_id", sort=False)["product_id"].agg(list).to_dict()


@pytest.mark.parametrize("name", rec.MODELS)
def test_every_model_returns_at_most_k_rows_ranked_from_1_with_the_exact_columns(models, name):
    out = models[name].recommend(["au0", "bu1", "target", "stranger", "au0"], k=3)
    assert list(out.columns) == COLUMNS
    assert out.dtypes.astype(str).tolist() == ["object", "object", "float64", "int64", "bool"]
    assert out["user_id"].drop_duplicates().tolist() == ["au0", "bu1", "target", "stranger"]
    for _, rows in out.groupby("user_id"):
        assert 1 <= len(rows) <= 3
        assert rows["rank"].tolist() == list(range(1, len(rows) + 1))
        assert rows["product_id"].is_unique
    assert models[name].name == name and isinstance(models[name].params, dict)


@pytest.mark.parametrize("name", rec.MODELS)
def test_cold_user_gets_the_popularity_ranking_flagged_fallback_and_counted(models, name):
    out = models[name].recommend(["stranger", "au0", "newcomer"], k=3)
    cold = out[out["user_id"] == "stranger"]
    assert cold["product_id"].tolist() == ["a0", "a1", "b0"]
    assert cold["score"].tolist() == [11.0, 11.0, 9.0]
    assert cold["fallback"].all()
    assert not out[out["user_id"] == "au0"]["fallback"].iloc[0]
    assert models[name].last_fallback_users == 2


@pytest.mark.parametrize("name", rec.MODELS)
def test_purchased_items_are_never_recommended(models, name):
    out = models[name].recommend(["target"], k=8)
    assert not {"a0", "a1"} & set(out["product_id"])


def test_purchased_items_come_back_when_exclusion_is_off():
    out = rec.Popularity(exclude_purchased=False).fit(BLOCKS).recommend(["target"], k=2)
    assert out["product_id"].tolist() == ["a0", "a1"]


def test_popularity_ranks_by_weight_in_the_last_days_ties_by_product_id():
    train = events([
        ("u1", "p1", "purchase", 100),                                      # p1: 5
        ("u3", "p3", "view", 80), ("u3", "p3", "view", 75), ("u4", "p3", "view", 71),  # p3: 3
        ("u2", "p2", "add_to_cart", 90),                                    # p2: 3, ties p3, first by id
        ("u5", "old", "purchase", 70), ("u6", "old", "purchase", 10),       # day 70 = max - 30: outside
    ])
    out = rec.Popularity(days=30).fit(train).recommend(["nobody"], k=5)
    assert out["product_id"].tolist() == ["p1", "p2", "p3"]
    assert out["score"].tolist() == [5.0, 3.0, 3.0]
    wider = rec.Popularity(days=31).fit(train).recommend(["nobody"], k=5)
    assert wider["product_id"].tolist() == ["old", "p1", "p2", "p3"]  # old: 5 at day 70, ties p1


def test_warm_user_with_a_short_list_is_padded_with_popular_items_flagged_fallback(models):
    # co-occurrence scores only a2 and a3 for target (a0, a1 purchased, no b item co-occurs)
    model = models["cooccurrence"]
    out = model.recommend(["target"], k=3)
    assert out["product_id"].tolist() == ["a2", "a3", "b0"]
    assert out["fallback"].tolist() == [False, False, True]
    assert (model.last_fallback_users, model.last_padded_users) == (0, 1)


def test_cooccurrence_recommends_the_item_taken_with_the_users_item():
    train = events(
        [(u, p, "view", 1) for u in ("u1", "u2", "u3") for p in ("A", "B")]
        + [(u, p, "purchase", 1) for u in ("u4", "u5", "u6", "u7") for p in ("C", "D")]  # C, D most popular
        + [("t", "A", "view", 1)]
    )
    out = rec.CoOccurrence().fit(train).recommend(["t"], k=3)
    assert out["product_id"].iloc[0] == "B" and not out["fallback"].iloc[0]


def test_jaccard_and_lift_on_a_hand_case():
    # A taken by u1, u2, u3; B by u2, u3, u4, u5: C[A,B] = 2, C[A,A] = 3, C[B,B] = 4
    train = events([(u, "A", "view", 0) for u in ("u1", "u2", "u3")]
                   + [(u, "B", "view", 0) for u in ("u2", "u3", "u4", "u5")])
    jaccard = rec.CoOccurrence(similarity="jaccard").fit(train)
    assert jaccard.similarity_of("A", "B") == pytest.approx(2 / (3 + 4 - 2))  # 0.4
    assert jaccard.similarity_of("A", "A") == 0.0
    # u1 took only A (weight 1, no decay at the last day): score of B = 1 * 0.4
    out = jaccard.recommend(["u1"], k=1)
    assert out[["product_id", "score"]].values.tolist() == [["B", pytest.approx(0.4)]]
    lift = rec.CoOccurrence(similarity="lift").fit(train)
    assert lift.similarity_of("B", "A") == pytest.approx(2 / (3 * 4))


def test_cooccurrence_affinity_halves_every_half_life():
    # u1 viewed A 30 days before the last interaction; u2 took A and B: jaccard(A, B) = 1 / (2 + 1 - 1) = 1/2
    train = events([("u1", "A", "view", 0), ("u2", "A", "view", 30), ("u2", "B", "view", 30)])
    out = rec.CoOccurrence(half_life_days=30).fit(train).recommend(["u1"], k=1)
    assert out["score"].tolist() == [pytest.approx(0.25)]  # affinity 1 * 0.5 ** (30 / 30), times 1/2


def test_content_recommends_the_item_with_the_same_words():
    items = catalog([
        ("shirt", "Red cotton shirt", "soft red cotton, long sleeves", "Fashion/Shirts"),
        ("pan", "Steel frying pan", "heavy steel pan for the hob", "Home/Kitchen/Cookware"),
        ("dress", "Red cotton dress", "soft red cotton summer dress", "Fashion/Dresses"),
        ("pot", "Steel stock pot", "a large steel pot", "Home/Kitchen/Cookware"),
    ])
    train = events([("u1", "shirt", "purchase", 1), ("u2", "pan", "view", 1), ("u2", "pot", "view", 1)])
    out = rec.Content().fit(train, items).recommend(["u1"], k=4)
    # shirt is purchased; the pan and the pot share no word with it (cosine 0), so only the
    # dress is scored and the list is padded with popular items
    assert out["product_id"].iloc[0] == "dress"
    assert out[~out["fallback"]]["product_id"].tolist() == ["dress"]
    assert 0 < out["score"].iloc[0] < 1


def test_content_needs_the_catalog():
    with pytest.raises(ValueError, match="catalog"):
        rec.Content().fit(BLOCKS)


def test_als_recommends_in_group_items_to_a_warm_user(models):
    # target purchased a0 and a1: its factors side with the "a" users, so a2 and a3 come first
    out = models["als"].recommend(["target", "bu2"], k=2)
    assert set(lists(out)["target"]) == {"a2", "a3"}
    assert set(lists(out)["bu2"]) <= {"b0", "b1", "b2", "b3"}
    assert not out["fallback"].any()


def test_make_builds_models_by_name():
    assert isinstance(rec.make("popularity", days=7), rec.Popularity)
    assert rec.make("cooccurrence", similarity="lift").params["similarity"] == "lift"
    with pytest.raises(ValueError, match="Spark session"):
        rec.make("als")
    with pytest.raises(ValueError, match="unknown model"):
        rec.make("svd")


def test_recommend_before_fit_and_bad_k_are_errors():
    with pytest.raises(RuntimeError, match="fit"):
        rec.Popularity().recommend(["u"], k=1)
    with pytest.raises(ValueError, match="positive integer"):
        rec.Popularity().fit(BLOCKS).recommend(["u"], k=0)
