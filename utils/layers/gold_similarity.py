"""Item-item similarity as of each snapshot D (DESIGN §12, per-domain extras as pure
functions): which items go together, from what was known at D.

Co-occurrence (Spark): the events of each kind in the ``days`` up to and including D
are grouped into baskets (a session, a customer); two distinct items of one basket
co-occur. Per pair: ``baskets`` (how many baskets hold both), ``jaccard`` = baskets /
(baskets of a + baskets of b - baskets) and ``lift`` = baskets x N / (baskets of a x
baskets of b), N the baskets of the window. Pairs seen in fewer than ``min_count``
baskets are dropped (one shared session says little), and so are baskets of more than
:data:`MAX_BASKET` distinct items (their pairs grow with the square of their size and
say little about any one pair; bots are filtered in silver, this is a second fence).

Content (scikit-learn on the driver): the latest version of every item known at D
(``time`` up to the end of D), its text columns joined; a TF-IDF vectoriser fitted on
that catalogue (the catalogue as known at D is the training window: an item listed
after D neither gets a row nor shapes the vocabulary), and cosine similarity between
items. Why on the driver: a catalogue is small beside its events (thousands to a few
hundred thousand items) and scikit-learn's sparse TF-IDF and product are exact and
fast there; Spark ML's TF-IDF would add a self-join of the catalogue per D.

Output, one row per (item, neighbour, kind, D) among the ``top_n`` neighbours of the
item by ``score`` (co-occurrence: jaccard; content: cosine, rounded to 6 decimals so
that two builds agree to the bit), ties broken by neighbour id: ``<item>``,
``neighbour_id``, ``kind``, ``baskets``, ``jaccard``, ``lift``, ``score``, ``rank``,
``snapshot_date``.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from utils.lake.config import SimilaritySpec

logger = logging.getLogger(__name__)

SNAPSHOT = "snapshot_date"
#: Baskets with more distinct items than this are left out of co-occurrence.
MAX_BASKET = 100
COLUMNS = ("neighbour_id", "kind", "baskets", "jaccard", "lift", "score", "rank")


def _windows(days_col: str, days: int) -> F.Column:
    """The month ends D whose window of `days` days up to D holds the day `days_col`."""
    ends = F.sequence(F.last_day(days_col), F.last_day(F.date_add(days_col, days - 1)), F.expr("interval 1 month"))
    return F.explode(ends)


def cooccurrence(
    events: DataFrame, *, item: str, time: str, group: str, where: str | None, kind: str, days: int,
    snapshots: list[dt.date], top_n: int, min_count: int,
) -> DataFrame:
    """Top `top_n` co-occurring items per item and snapshot D in `snapshots` (month ends)."""
    if where:
        events = events.where(F.expr(where))
    day = F.to_date(F.col(time))
    baskets = events.select(F.col(group).alias("_g"), F.col(item).alias("_i"), day.alias("_day")).where(
        F.col("_g").isNotNull() & F.col("_i").isNotNull() & F.col("_day").isNotNull())
    # each event joins the snapshots whose window holds its day
    at = baskets.select("_g", "_i", "_day", _windows("_day", days).alias("_end")).select(
        "_g", "_i", "_day", F.last_day("_end").alias(SNAPSHOT))
    age = F.datediff(F.col(SNAPSHOT), F.col("_day"))
    at = at.where((age >= 0) & (age < days) & F.col(SNAPSHOT).isin(snapshots)).select(SNAPSHOT, "_g", "_i").distinct()
    sizes = at.groupBy(SNAPSHOT, "_g").agg(F.count("*").alias("_n"))
    at = at.join(sizes.where(F.col("_n") <= MAX_BASKET).drop("_n"), [SNAPSHOT, "_g"])
    per_item = at.groupBy(SNAPSHOT, "_i").agg(F.count("*").alias("_ni"))
    total = at.select(SNAPSHOT, "_g").distinct().groupBy(SNAPSHOT).agg(F.count("*").alias("_N"))
    a, b = at.alias("a"), at.alias("b")
    pairs = a.join(b, (F.col("a." + SNAPSHOT) == F.col("b." + SNAPSHOT)) & (F.col("a._g") == F.col("b._g"))
                   & (F.col("a._i") != F.col("b._i"))).select(
        F.col("a." + SNAPSHOT).alias(SNAPSHOT), F.col("a._i").alias("_i"), F.col("b._i").alias("_j"))
    counted = pairs.groupBy(SNAPSHOT, "_i", "_j").agg(F.count("*").alias("baskets")).where(
        F.col("baskets") >= min_count)
    ni = per_item.select(SNAPSHOT, "_i", "_ni")
    nj = per_item.select(SNAPSHOT, F.col("_i").alias("_j"), F.col("_ni").alias("_nj"))
    scored = counted.join(ni, [SNAPSHOT, "_i"]).join(nj, [SNAPSHOT, "_j"]).join(total, SNAPSHOT).select(
        SNAPSHOT, "_i", "_j", "baskets",
        (F.col("baskets") / (F.col("_ni") + F.col("_nj") - F.col("baskets"))).alias("jaccard"),
        (F.col("baskets") * F.col("_N") / (F.col("_ni") * F.col("_nj"))).alias("lift"),
    )
    ranked = scored.withColumn("rank", F.row_number().over(
        Window.partitionBy(SNAPSHOT, "_i").orderBy(F.desc("jaccard"), F.desc("baskets"), F.asc("_j"))))
    return ranked.where(F.col("rank") <= top_n).select(
        F.col("_i").alias(item), F.col("_j").alias("neighbour_id"), F.lit(kind).alias("kind"),
        F.col("baskets").cast("long"), F.col("jaccard").cast("double"), F.col("lift").cast("double"),
        F.col("jaccard").cast("double").alias("score"), F.col("rank").cast("int"), F.col(SNAPSHOT))


def content_neighbours(items, *, item: str, text: tuple[str, ...], top_n: int, max_features: int):
    """pandas (item, neighbour_id, score, rank) of the `top_n` most similar items by TF-IDF
    cosine of the joined `text` columns; `items` a pandas frame, one row per item."""
    import numpy as np
    import pandas as pd
    from sklearn.feature_extraction.text import TfidfVectorizer

    items = items.sort_values(item).reset_index(drop=True)
    if len(items) < 2:
        return pd.DataFrame({item: [], "neighbour_id": [], "score": [], "rank": []})
    docs = items[list(text)].fillna("").astype(str).apply(lambda r: " ".join(r).replace("/", " "), axis=1)
    matrix = TfidfVectorizer(max_features=max_features, sublinear_tf=True).fit_transform(docs)
    sims = (matrix @ matrix.T).toarray()
    np.fill_diagonal(sims, -1.0)
    sims = np.round(sims, 6)
    ids = items[item].to_numpy()
    n = min(top_n, len(items) - 1)
    # stable sort on -score: ties keep id order (the ids are sorted)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :n]
    rows = np.repeat(np.arange(len(items)), n)
    cols = order.ravel()
    return pd.DataFrame({item: ids[rows], "neighbour_id": ids[cols], "score": sims[rows, cols],
                         "rank": np.tile(np.arange(1, n + 1), len(items))})


def content(
    spark, versions: DataFrame, *, item: str, time: str, text: tuple[str, ...], max_features: int,
    snapshots: list[dt.date], top_n: int,
) -> DataFrame:
    """TF-IDF neighbours per snapshot D in `snapshots`, from the item versions known at D."""
    import pandas as pd

    latest = versions.select(item, F.col(time).cast("timestamp").alias("_t"), *text).where(
        F.col("_t").isNotNull()).toPandas()
    frames = []
    for d in snapshots:
        known = latest[latest["_t"] < pd.Timestamp(d + dt.timedelta(days=1))]
        known = known.sort_values(["_t", *text]).groupby(item, as_index=False).last()
        found = content_neighbours(known, item=item, text=text, top_n=top_n, max_features=max_features)
        frames.append(found.assign(snapshot_date=d))
    found = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        {item: [], "neighbour_id": [], "score": [], "rank": [], SNAPSHOT: []})
    schema = f"{item} string, neighbour_id string, score double, rank int, {SNAPSHOT} date"
    out = spark.createDataFrame(found[[item, "neighbour_id", "score", "rank", SNAPSHOT]].astype(
        {"score": "float64", "rank": "int32"}), schema=schema)
    return out.select(item, "neighbour_id", F.lit("content").alias("kind"), F.lit(None).cast("long").alias("baskets"),
                      F.lit(None).cast("double").alias("jaccard"), F.lit(None).cast("double").alias("lift"),
                      "score", "rank", SNAPSHOT)


def build_similarity(spark, spec: SimilaritySpec, silver: dict[str, DataFrame], snapshots: list[dt.date]) -> DataFrame:
    """Every kind of `spec` for every snapshot D, one frame; `silver` maps table -> rows."""
    parts = [
        cooccurrence(silver[table], item=spec.item, time=time, group=group, where=where, kind=kind, days=spec.days,
                     snapshots=snapshots, top_n=spec.top_n, min_count=spec.min_count)
        for kind, (table, time, group, where) in spec.cooccurrence.items()
    ]
    if spec.content is not None:
        table, time, text, max_features = spec.content
        parts.append(content(spark, silver[table], item=spec.item, time=time, text=text, max_features=max_features,
                             snapshots=snapshots, top_n=spec.top_n))
    return functools.reduce(lambda a, b: a.unionByName(b), parts)
