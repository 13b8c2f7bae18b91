"""The product catalog: products in the category leaves with a log-normal price, a
Zipf-like popularity, a latent quality (what ratings follow), sometimes a "bought
together" complement, a title and a description built from their leaf's words; and
the catalog's versions over time (price changes, a few re-categorisations).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import layout as L
from . import vocab
from .dirt import how_many
from .population import CATALOG, DAY, TEXT, calendar_days, stream

#: Version lookup keys: product index x KEY_SPAN + seconds + KEY_OFFSET (seconds >= -KEY_OFFSET).
KEY_SPAN, KEY_OFFSET = 2**42, 2**36


@dataclass
class Catalog:
    """`frame`: one row per product (product_id, leaf, top, created_seconds, base_price,
    rel_price, popularity, quality, complement (-1: none), title, description, brand);
    `versions`: (prod, seconds, price, leaf, category_change) sorted by (prod, seconds)."""

    frame: pd.DataFrame
    versions: pd.DataFrame

    def at(self, prod: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """Row of `versions` in force for each (product index, instant); the instant must
        not be before the product's creation."""
        keys = self.versions["prod"].to_numpy() * KEY_SPAN + self.versions["seconds"].to_numpy() + KEY_OFFSET
        return np.searchsorted(keys, prod.astype(np.int64) * KEY_SPAN + seconds + KEY_OFFSET, side="right") - 1


def round_price(value: np.ndarray) -> np.ndarray:
    """Shop prices: x.99 above 5 EUR, two decimals below."""
    return np.where(value >= 5, np.round(value) - 0.01, np.round(np.maximum(value, 0.5), 2)).round(2)


def make_catalog(seed: int, start: dt.date, months: int, n: int = L.PRODUCTS) -> Catalog:
    rng = stream(seed, CATALOG)
    days = calendar_days(start, months)
    leaves, tops = vocab.LEAVES, vocab.TOP_NAMES
    leaf = rng.choice(len(leaves), size=n, p=_normalised(rng.gamma(4.0, 1.0, size=len(leaves))))
    top = np.array([tops.index(leaves[k].path[0]) for k in leaf])
    kind = rng.choice(3, size=n, p=[L.OLD_PRODUCT_SHARE, 1 - L.OLD_PRODUCT_SHARE - L.COLD_ITEM_SHARE,
                                     L.COLD_ITEM_SHARE])
    cold_from = max(days - L.COLD_ITEM_DAYS, 1)
    day = np.select([kind == 0, kind == 1], [rng.integers(-3 * 365, 0, size=n), rng.integers(0, cold_from, size=n)],
                    rng.integers(cold_from, max(days - 3, cold_from + 1), size=n))
    created = day.astype(np.int64) * DAY + rng.integers(8 * 3600, 18 * 3600, size=n)
    order = np.lexsort((np.arange(n), created))  # ids follow creation
    leaf, top, created = leaf[order], top[order], created[order]
    leaf_level = rng.lognormal(0.0, 0.3, size=len(leaves))
    median = np.array([vocab.TOPS[tops[t]][3] for t in top]) * leaf_level[leaf]
    spread = rng.normal(0.0, L.PRICE_SIGMA, size=n)
    rank = rng.permutation(n) + 1
    frame = pd.DataFrame({
        "product_id": [f"P{i + 1:05d}" for i in range(n)],
        "leaf": leaf, "top": top, "created_seconds": created,
        "base_price": round_price(median * np.exp(spread)), "rel_price": spread,
        "popularity": rank.astype(np.float64) ** -L.ZIPF_EXPONENT,
        "quality": rng.normal(0.0, 1.0, size=n),
    })
    frame["complement"] = _complements(rng, frame)
    _add_text(frame, stream(seed, TEXT))
    return Catalog(frame, _versions(rng, frame, days))


def _normalised(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum()


def _complements(rng: np.random.Generator, frame: pd.DataFrame) -> np.ndarray:
    """For COMPLEMENT_SHARE of the products, a product of the same top-level category but
    another sub-category, the popular ones more likely (-1 for the others)."""
    sub = np.array([vocab.LEAVES[k].path[1] for k in frame["leaf"]], dtype=object)
    top, weight = frame["top"].to_numpy(), np.sqrt(frame["popularity"].to_numpy())
    out = np.full(len(frame), -1)
    for i in np.flatnonzero(rng.random(len(frame)) < L.COMPLEMENT_SHARE):
        candidates = np.flatnonzero((top == top[i]) & (sub != sub[i]))
        if len(candidates):
            out[i] = rng.choice(candidates, p=_normalised(weight[candidates]))
    return out


def _add_text(frame: pd.DataFrame, rng: np.random.Generator) -> None:
    """title ("Stainless Steel Saucepan 20cm"), description (a sentence of the leaf's
    features, often a second one of the top-level category or the shop) and brand."""
    titles, descriptions, brands = [], [], []
    for k in frame["leaf"].to_numpy():
        leaf = vocab.LEAVES[k]
        top_brands, variants, sentence, _ = vocab.TOPS[leaf.path[0]]
        noun = leaf.nouns[rng.integers(len(leaf.nouns))]
        mod = leaf.modifiers[rng.integers(len(leaf.modifiers))]
        variant = variants[rng.integers(len(variants))]
        titles.append(f"{mod} {noun} {variant}" if rng.random() < 0.8 else f"{mod} {noun}")
        f0, f1, f2 = (leaf.features[j] for j in rng.permutation(len(leaf.features))[:3])
        template = vocab.DESCRIPTION_TEMPLATES[rng.integers(len(vocab.DESCRIPTION_TEMPLATES))]
        text = template.format(Mod=mod, mod=mod.lower(), noun=noun.lower(), f0=f0, f1=f1, f2=f2)
        extra = rng.random()
        if extra < 0.35:
            text = f"{text} {sentence}"
        elif extra < 0.7:
            text = f"{text} {vocab.GENERIC_SENTENCES[rng.integers(len(vocab.GENERIC_SENTENCES))]}"
        descriptions.append(text)
        brands.append(top_brands[rng.integers(len(top_brands))])
    frame["title"], frame["description"], frame["brand"] = titles, descriptions, brands


def _versions(rng: np.random.Generator, frame: pd.DataFrame, days: int) -> pd.DataFrame:
    """Version 0 at creation; price changes (a factor of the base price) on random days;
    for CATEGORY_CHANGE_SHARE of the products (created two weeks before the end at the
    latest) one move to another leaf of the same top-level category. Versions that would
    change nothing, or fall on a day another version of the product already has, are
    dropped. Versions are written at night (03:00-06:00 UTC)."""
    n = len(frame)
    created = frame["created_seconds"].to_numpy()
    first_day = np.maximum(created // DAY + 7, 0)
    changes = rng.poisson(L.PRICE_CHANGES_PER_YEAR * days / 365.0, size=n) * (first_day < days - 1)
    prod = np.repeat(np.arange(n), changes)
    change_day = rng.integers(first_day[prod], days - 1)
    factor = np.asarray(L.PRICE_FACTORS)[rng.integers(0, len(L.PRICE_FACTORS), size=len(prod))]
    movable = np.flatnonzero(first_day < days - 14)
    moved = np.sort(rng.choice(movable, size=how_many(L.CATEGORY_CHANGE_SHARE, len(movable)), replace=False))
    move_day = rng.integers(first_day[moved], days - 1)
    night = rng.integers(3 * 3600, 6 * 3600, size=len(prod) + len(moved))
    raw = pd.DataFrame({
        "prod": np.concatenate([prod, moved]),
        "seconds": np.concatenate([change_day, move_day]).astype(np.int64) * DAY + night,
        "factor": np.concatenate([factor, np.ones(len(moved))]),
        "move": np.concatenate([np.zeros(len(prod), dtype=bool), np.ones(len(moved), dtype=bool)]),
    })
    # one version per product and day at most; a re-categorisation wins over a price change
    raw["day"] = raw["seconds"] // DAY
    raw = raw.sort_values(["prod", "day", "move"], ascending=[True, True, False], kind="stable")
    raw = raw[~raw.duplicated(["prod", "day"])].sort_values(["prod", "seconds"], kind="stable")
    raw = raw[["prod", "seconds", "factor", "move"]]
    base, leaf0 = frame["base_price"].to_numpy(), frame["leaf"].to_numpy()
    siblings = _siblings()
    rows = [(i, int(created[i]), float(base[i]), int(leaf0[i]), False) for i in range(n)]
    current = {i: (float(base[i]), int(leaf0[i])) for i in range(n)}
    for p, s, f, move in raw.itertuples(index=False):
        price, leaf = current[p]
        if move:
            options = siblings[leaf]
            leaf = int(options[rng.integers(len(options))])
        else:
            price = float(round_price(np.array([base[p] * f]))[0])
        if (price, leaf) != current[p]:
            current[p] = (price, leaf)
            rows.append((int(p), int(s), price, leaf, bool(move)))
    versions = pd.DataFrame(rows, columns=["prod", "seconds", "price", "leaf", "category_change"])
    return versions.sort_values(["prod", "seconds"], kind="stable").reset_index(drop=True)


def _siblings() -> dict[int, np.ndarray]:
    """For each leaf, the other leaves of its top-level category."""
    tops = np.array([leaf.path[0] for leaf in vocab.LEAVES], dtype=object)
    return {k: np.flatnonzero((tops == tops[k]) & (np.arange(len(tops)) != k)) for k in range(len(tops))}
