"""The customers' ground truth: who they are, how active they are, when (and whether)
they churn, and when their behaviour shows it.

Time is counted in days from the first day of the calendar (day 0 = `start`); a
customer who signed up before it has a negative signup day. One row per customer.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from utils.domains.sample import calendar_days, month_add, stream  # noqa: F401  (re-exported)

from . import layout as L
from .dirt import how_many
from .text import make_emails, make_names, make_phones

#: Stream keys of :func:`stream` (one independent random stream per part of the data).
CUSTOMERS, CHURN, WORDING, ORDERS, EVENTS, TICKETS, DIRT = range(1, 8)
NEVER = 10**6  # the day of something that does not happen within the calendar





def _pick(rng: np.random.Generator, values: tuple[str, ...], weights: tuple[float, ...], n: int) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=n, p=np.asarray(weights) / sum(weights))]


def _exactly(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    """A boolean mask of `n` with exactly `k` random positions set."""
    mask = np.zeros(n, dtype=bool)
    mask[rng.choice(n, size=k, replace=False)] = True
    return mask


def make_customers(n: int, seed: int, start: dt.date, months: int) -> pd.DataFrame:
    """One row per customer: identity and profile columns (customer_id, signup_day,
    plan, region, acquisition_channel, birth_date, first/last name, email, phone,
    marketing_opt_in, plan change), behaviour rates per day (order_rate, login_rate,
    pricing_rate, cancel_rate, support_rate, ticket_rate), devices and the churn truth
    (:func:`add_churn`)."""
    rng = stream(seed, CUSTOMERS)
    days = calendar_days(start, months)
    # signups spread evenly over the two years before the calendar and the calendar itself
    # (the last two weeks excepted: a customer is known for a while before the data ends)
    signup = rng.integers(-730, max(days - 14, 1), size=n)
    plan = _pick(rng, L.PLANS, L.PLAN_WEIGHTS, n)
    first, last = make_names(rng, n)
    age_days = (np.clip(rng.normal(40, 13, size=n), 18, 85) * 365.25).astype(int)
    engagement = rng.normal(0.0, 1.0, size=n)
    df = pd.DataFrame({
        "customer_id": [f"C{i + 1:05d}" for i in range(n)],
        "signup_day": signup,
        "plan": plan,
        "region": _pick(rng, L.REGIONS, L.REGION_WEIGHTS, n),
        "acquisition_channel": _pick(rng, L.ACQUISITION, L.ACQUISITION_WEIGHTS, n),
        "birth_date": [start - dt.timedelta(days=int(a)) for a in age_days],
        "name": [f"{f} {la}" for f, la in zip(first, last)],
        "email": make_emails(rng, first, last, _exactly(rng, n, how_many(L.INVALID_EMAIL_SHARE, n))),
        "phone": make_phones(rng, n),
        "marketing_opt_in": rng.random(n) < 0.55,
        "engagement": engagement,
    })
    _add_plan_change(df, rng, days)
    _add_rates(df, rng)
    _add_devices(df, rng)
    add_churn(df, stream(seed, CHURN), days)
    return df


def _add_plan_change(df: pd.DataFrame, rng: np.random.Generator, days: int) -> None:
    """plan_change_day (NEVER for most) and new_plan: the plan the CRM shows from that day."""
    n = len(df)
    changes = rng.random(n) < L.PLAN_CHANGE_SHARE
    day = rng.integers(0, max(days, 1), size=n)
    df["plan_change_day"] = np.where(changes & (day > df["signup_day"].to_numpy()), day, NEVER)
    shift = rng.choice(np.array([-1, 1]), size=n)
    index = np.clip(pd.Series(df["plan"]).map({p: i for i, p in enumerate(L.PLANS)}).to_numpy() + shift, 0, 2)
    df["new_plan"] = np.asarray(L.PLANS, dtype=object)[index]


def _add_rates(df: pd.DataFrame, rng: np.random.Generator) -> None:
    """Behaviour rates per day of a content customer; gamma noise keeps customers of one
    plan apart (some rarely buy, some watch prices all the time)."""
    n, e = len(df), df["engagement"].to_numpy()
    month = 30.44

    def noise(shape: float) -> np.ndarray:
        return rng.gamma(shape, 1.0 / shape, size=n)

    df["order_rate"] = df["plan"].map(L.ORDERS_PER_MONTH).to_numpy() / month * np.exp(0.3 * e) * noise(6.0)
    df["login_rate"] = df["plan"].map(L.LOGINS_PER_MONTH).to_numpy() / month * np.exp(0.35 * e) * noise(4.0)
    df["pricing_rate"] = L.PRICING_PER_MONTH / month * noise(0.8)
    df["cancel_rate"] = L.CANCEL_PER_MONTH / month * noise(1.0)
    df["support_rate"] = L.SUPPORT_PAGE_PER_MONTH / month * noise(1.5)
    df["ticket_rate"] = L.TICKETS_PER_MONTH / month * noise(1.5)
    df["amount_median"] = df["plan"].map(L.ORDER_AMOUNT).to_numpy() * rng.lognormal(0.0, 0.25, size=n)


def _add_devices(df: pd.DataFrame, rng: np.random.Generator) -> None:
    """The customer's usual device type, its OS, and preferred order channel."""
    n = len(df)
    device = _pick(rng, L.DEVICE_TYPES, L.DEVICE_WEIGHTS, n)
    df["device_type"] = device
    df["device_os"] = [L.DEVICE_OS[d][int(k) % len(L.DEVICE_OS[d])] for d, k in zip(device, rng.integers(0, 6, n))]
    df["order_channel"] = _pick(rng, L.ORDER_CHANNELS, L.ORDER_CHANNEL_WEIGHTS, n)


def churn_logit(df: pd.DataFrame, tenure_months: np.ndarray) -> np.ndarray:
    """Monthly churn hazard (logit) of each customer at a tenure: plan, acquisition
    channel, being new and (low) engagement raise it."""
    new, young = L.CHURN_LOGIT_NEW
    return (L.CHURN_LOGIT_BASE
            + df["plan"].map(L.CHURN_LOGIT_PLAN).to_numpy()[:, None]
            + df["acquisition_channel"].map(L.CHURN_LOGIT_ACQUISITION).to_numpy()[:, None]
            + np.where(tenure_months < 6, new, np.where(tenure_months < 12, young, 0.0))
            - L.CHURN_LOGIT_ENGAGEMENT * df["engagement"].to_numpy()[:, None])


def add_churn(df: pd.DataFrame, rng: np.random.Generator, days: int) -> None:
    """The churn truth, in place: churn_day (the day the customer stops buying; NEVER if
    not within the calendar), signalled (their behaviour announces it over lead_days
    before, with strength intensity), return_day (a churner who comes back), and up to
    three dissatisfaction episodes without churn (episode_mid_k, episode_half_k,
    episode_amp_k). A customer who signed up before the calendar is active at day 0."""
    n = len(df)
    signup = df["signup_day"].to_numpy()
    first = np.maximum(signup, 0)
    steps = days // 30 + 2
    step_start = first[:, None] + 30 * np.arange(steps)[None, :]
    tenure = (step_start - signup[:, None]) / 30.44
    hazard = 1.0 / (1.0 + np.exp(-churn_logit(df, tenure)))
    hit = rng.random((n, steps)) < hazard
    step = np.where(hit.any(axis=1), hit.argmax(axis=1), steps)
    churn = first + 30 * step + rng.integers(0, 30, size=n)
    churn = np.where((step < steps) & (churn < days), churn, NEVER)
    churn = np.maximum(churn, first + 21)  # at least three weeks of activity first
    df["churn_day"] = np.where(churn >= days, NEVER, churn)
    churned = df["churn_day"].to_numpy() < NEVER
    df["signalled"] = churned & (rng.random(n) < L.SIGNALLED_SHARE)
    df["lead_days"] = rng.integers(L.LEAD_DAYS[0], L.LEAD_DAYS[1] + 1, size=n)
    df["intensity"] = rng.uniform(0.5, 1.2, size=n)
    comes_back = churned & (rng.random(n) < L.RETURN_SHARE)
    df["return_day"] = np.where(comes_back, df["churn_day"].to_numpy() + rng.integers(90, 361, size=n), NEVER)
    episodes = rng.poisson(L.EPISODES_PER_YEAR * days / 365.0, size=n)
    for k in range(3):
        present = episodes > k
        df[f"episode_mid_{k}"] = np.where(present, rng.integers(0, max(days, 1), size=n), NEVER)
        df[f"episode_half_{k}"] = rng.integers(15, 39, size=n)
        df[f"episode_amp_{k}"] = np.where(present, rng.uniform(0.3, 0.9, size=n), 0.0)
