"""``feature_clickstream``: 20 monthly behaviour scores per customer, two of them
carrying the customer's latent risk, one (fe_15) leaking the outcome after the
application month."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd

from .draws import month_strings, stream
from .layout import (CLICKSTREAM_COLUMNS, CLICKSTREAM_FEATURES, CLICKSTREAM_LAST_APPLICATION, CLICKSTREAM_MONTHS,
                     DEFAULT_SEED, DEFAULT_START, STREAM_CLICKSTREAM)


def iter_clickstream(
    customers: pd.DataFrame, seed: int = DEFAULT_SEED, start: dt.date = DEFAULT_START
) -> Iterator[pd.DataFrame]:
    """``feature_clickstream`` one calendar month at a time (bounded memory).

    Each month holds one row per customer who applied within the first 18 months, in
    Customer_ID order. fe_1..fe_20 are integers around 100 (sd 100); fe_4 and fe_9 carry
    the customer's persistent ``click_risk`` / ``click_safe`` level; fe_15 rises by about
    70 from a defaulter's first missed installment on (the post-application leak).
    """
    eligible = customers[customers["application_month"] <= CLICKSTREAM_LAST_APPLICATION]
    ids = eligible["Customer_ID"].to_numpy(dtype=object)
    click_risk = eligible["click_risk"].to_numpy()
    click_safe = eligible["click_safe"].to_numpy()
    first_missed = np.where(
        eligible["default"].to_numpy(),
        eligible["application_month"].to_numpy() + eligible["first_missed_mob"].to_numpy(),
        np.iinfo(np.int64).max,
    )
    fe = {name: i for i, name in enumerate(CLICKSTREAM_FEATURES)}
    for month, date in enumerate(month_strings(start, CLICKSTREAM_MONTHS)):
        rng = stream(seed, STREAM_CLICKSTREAM, month)
        values = rng.normal(100.0, 100.0, size=(len(ids), len(CLICKSTREAM_FEATURES)))
        values[:, fe["fe_4"]] += 40.0 * click_risk
        values[:, fe["fe_9"]] += 40.0 * click_safe
        values[:, fe["fe_15"]] += np.where(month >= first_missed, 60.0, 0.0)
        frame = pd.DataFrame(np.clip(np.round(values), -450, 650).astype(np.int16), columns=CLICKSTREAM_FEATURES)
        frame["Customer_ID"] = ids
        frame["snapshot_date"] = date
        yield frame


def make_clickstream(
    customers: pd.DataFrame, seed: int = DEFAULT_SEED, start: dt.date = DEFAULT_START
) -> pd.DataFrame:
    """The whole ``feature_clickstream`` table, sorted by snapshot_date then Customer_ID."""
    frames = list(iter_clickstream(customers, seed, start))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=CLICKSTREAM_COLUMNS)
