"""What customers do, day by day: orders (and refunds), web events and support tickets,
drawn from daily Poisson rates that the churn truth bends.

For a chunk of customers every rate is a (customers x days) matrix. A customer's
*stress* (0..1.2) is the sum of their pre-churn ramp (rising linearly over `lead_days`
before `churn_day`, for signalled churners) and their dissatisfaction episodes (false
alarms that fade again). Stress lowers orders and logins and raises pricing-page,
cancel-page and support-page visits, tickets, refunds and bad ticket scores. After
churning a customer buys nothing and logs in rarely; one who comes back buys again at
a lower rate. Times are seconds since the calendar's first day (UTC).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from . import layout as L

DAY = 86_400
#: Orders per month of the year relative to the mean (Christmas up, August down).
SEASON = np.array([0.95, 0.9, 1.0, 1.0, 1.0, 0.95, 0.9, 0.85, 1.0, 1.05, 1.15, 1.25])


def _column(df: pd.DataFrame, name: str) -> np.ndarray:
    return df[name].to_numpy()[:, None]


def daily_state(truth: pd.DataFrame, days: int) -> dict[str, np.ndarray]:
    """(customers x days) matrices: alive (buying), lapsed (churned, not back), returned
    (came back), stress. Float32 to keep a chunk small."""
    d = np.arange(days, dtype=np.float32)[None, :]
    churn, back = _column(truth, "churn_day"), _column(truth, "return_day")
    known = d >= _column(truth, "signup_day")
    alive = known & ((d < churn) | (d >= back))
    lapsed = known & (d >= churn) & (d < back)
    lead = _column(truth, "lead_days").astype(np.float32)
    ramp = np.clip((d - (churn - lead)) / lead, 0.0, 1.0) * (d < churn)
    stress = ramp * (_column(truth, "signalled") * _column(truth, "intensity"))
    for k in range(3):
        mid, half = _column(truth, f"episode_mid_{k}"), _column(truth, f"episode_half_{k}")
        stress = stress + _column(truth, f"episode_amp_{k}") * np.clip(1.0 - np.abs(d - mid) / half, 0.0, 1.0)
    stress = np.clip(stress, 0.0, 1.2).astype(np.float32) * alive
    return {"alive": alive, "lapsed": lapsed, "returned": alive & (d >= back), "stress": stress}


def _draw(rng: np.random.Generator, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson counts per cell -> (customer row, day, seconds since start) of each event."""
    counts = rng.poisson(np.maximum(rate, 0.0))
    rows, days = np.nonzero(counts)
    n = counts[rows, days]
    rows, days = np.repeat(rows, n), np.repeat(days, n)
    seconds = days.astype(np.int64) * DAY + rng.integers(6 * 3600, 23 * 3600, size=len(days))
    return rows, days, seconds


def make_orders(truth: pd.DataFrame, state: dict[str, np.ndarray], rng: np.random.Generator,
                start: dt.date) -> pd.DataFrame:
    """Completed orders and their refunds, one row each: cust (row of `truth`), seconds,
    amount, discount, channel, status, ref (for a refund: the position of its order in
    this frame)."""
    days = state["alive"].shape[1]
    months = np.array([(start + dt.timedelta(days=i)).month - 1 for i in range(days)])
    season = SEASON[months][None, :].astype(np.float32)
    blocks = rng.gamma(L.ORDER_BURST_SHAPE, 1.0 / L.ORDER_BURST_SHAPE, size=(len(truth), days // 30 + 1))
    burst = np.repeat(blocks, 30, axis=1)[:, :days].astype(np.float32)
    rate = (_column(truth, "order_rate") * season * burst * state["alive"]
            * np.clip(1.0 - L.STRESS_ORDERS * state["stress"], 0.05, 1.0) * np.where(state["returned"], 0.6, 1.0))
    rows, day, seconds = _draw(rng, rate)
    n = len(rows)
    amount = np.round(truth["amount_median"].to_numpy()[rows] * rng.lognormal(0.0, 0.35, size=n), 2)
    discount = np.where(rng.random(n) < L.DISCOUNT_SHARE,
                        np.round(amount * rng.choice([0.05, 0.1, 0.15, 0.2], size=n), 2), 0.0)
    usual = truth["order_channel"].to_numpy()[rows]
    other = np.asarray(L.ORDER_CHANNELS, dtype=object)[rng.choice(3, size=n, p=L.ORDER_CHANNEL_WEIGHTS)]
    channel = np.where(rng.random(n) < 0.8, usual, other)
    orders = pd.DataFrame({"cust": rows, "seconds": seconds, "amount": amount, "discount": discount,
                           "channel": channel, "status": "completed", "ref": -1})
    stress = state["stress"][rows, day]
    refunded = rng.random(n) < L.REFUND_SHARE + 0.10 * stress
    later = seconds + rng.integers(2 * DAY, 25 * DAY, size=n)
    refunded &= later < days * DAY
    refunds = orders[refunded].assign(seconds=later[refunded], status="refunded", ref=np.flatnonzero(refunded))
    return pd.concat([orders, refunds], ignore_index=True)


def make_events(truth: pd.DataFrame, state: dict[str, np.ndarray], rng: np.random.Generator) -> pd.DataFrame:
    """Web events, one row each: cust, seconds, event_type, device_type, device_os and
    app_version_day (the day whose app release a mobile event ran; -1 for the web)."""
    alive, lapsed, stress = state["alive"], state["lapsed"], state["stress"]
    login = _column(truth, "login_rate") * (alive * (1.0 - L.STRESS_LOGINS * stress) + lapsed * L.LAPSED_LOGINS)
    rates = {
        "login": login,
        "page_view": login * L.PAGE_VIEWS_PER_LOGIN,
        "pricing_page": alive * (_column(truth, "pricing_rate") + L.STRESS_PRICING * stress)
                        + lapsed * _column(truth, "pricing_rate") * L.LAPSED_LOGINS,
        "cancel_page": alive * (_column(truth, "cancel_rate") + L.STRESS_CANCEL * stress),
        "support_page": alive * (_column(truth, "support_rate") + L.STRESS_SUPPORT * stress),
    }
    frames = []
    for kind, rate in rates.items():
        rows, day, seconds = _draw(rng, rate)
        frames.append(pd.DataFrame({"cust": rows, "day": day, "seconds": seconds, "event_type": kind}))
    events = pd.concat(frames, ignore_index=True)
    n = len(events)
    usual = truth["device_type"].to_numpy()[events["cust"].to_numpy()]
    other = np.asarray(L.DEVICE_TYPES, dtype=object)[rng.choice(3, size=n, p=L.DEVICE_WEIGHTS)]
    device = np.where(rng.random(n) < 0.85, usual, other)
    usual_os = truth["device_os"].to_numpy()[events["cust"].to_numpy()]
    fallback = np.array([L.DEVICE_OS[d][0] for d in device], dtype=object)
    os_ok = np.array([o in L.DEVICE_OS[d] for o, d in zip(usual_os, device)])
    events["device_type"] = device
    events["device_os"] = np.where(os_ok, usual_os, fallback)
    events["app_version_day"] = np.where(device == "desktop", -1, events["day"].to_numpy())
    return events.drop(columns="day")


def make_tickets(truth: pd.DataFrame, state: dict[str, np.ndarray], rng: np.random.Generator) -> pd.DataFrame:
    """Support tickets, one row each: cust, seconds (created), updated_seconds, channel,
    category, satisfaction (NaN = not answered) and unhappy (the customer's stress drew
    a cancel / refund / complaint wording)."""
    stress = state["stress"]
    days = stress.shape[1]
    rate = state["alive"] * (_column(truth, "ticket_rate") + L.STRESS_TICKETS * stress)
    rows, day, seconds = _draw(rng, rate)
    n = len(rows)
    s = stress[rows, day]
    unhappy = rng.random(n) < 0.08 + 0.55 * np.minimum(s, 1.0)
    category = np.asarray(L.TICKET_CATEGORIES, dtype=object)[rng.choice(5, size=n, p=[0.25, 0.3, 0.2, 0.15, 0.1])]
    category = np.where(unhappy & (rng.random(n) < 0.6), "cancellation", category)
    score = np.clip(np.round(rng.normal(4.1 - 1.8 * s - 0.5 * unhappy, 0.9)), 1, 5)
    answered = rng.random(n) < L.SATISFACTION_ANSWERED
    updated = np.minimum(seconds + rng.integers(3600, 10 * DAY, size=n), days * DAY - 1)
    channel = np.asarray(L.TICKET_CHANNELS, dtype=object)[rng.choice(4, size=n, p=L.TICKET_CHANNEL_WEIGHTS)]
    return pd.DataFrame({"cust": rows, "seconds": seconds, "updated_seconds": updated, "channel": channel,
                         "category": category, "satisfaction": np.where(answered, score, np.nan),
                         "unhappy": unhappy})
