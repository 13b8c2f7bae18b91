"""Deterministic synthetic copy of the SMU CS611 loan-default raw data.

Every file name, header, column order, value format and time structure matches the
CS611 course data, but every value is generated here (names from random syllables,
``CUS_0x<hex>`` ids, random SSNs); nothing is copied from the real files.

Files (one loan per customer; all dates are first-of-month ``yyyy-MM-dd``)
--------------------------------------------------------------------------
``lms_loan_daily.csv``
    Grain: loan x month on book. 11 rows per loan, ``installment_num`` (MOB) 0..10,
    ``snapshot_date = loan_start_date + MOB months``. tenure 10, loan_amt 10000,
    due_amt 0.0 at MOB 0 and 1000.0 after. ``overdue_amt`` = cumulative due minus
    cumulative paid, ``balance`` = 10000 minus cumulative paid. Application months are
    spread uniformly over 25 months (default 2023-01-01 .. 2025-01-01), so LMS spans
    35 months. ``loan_id = Customer_ID + "_" + loan_start_date`` with ``-`` -> ``_``.
``features_attributes.csv`` / ``features_financials.csv``
    Grain: customer. One row each, ``snapshot_date = loan_start_date`` (application).
``feature_clickstream.csv``
    Grain: customer x month. 24 monthly rows (first 24 calendar months) for every
    customer who applied within the first 18 months (by 2024-06-01); later applicants
    have none. Most rows lie AFTER the customer's application month: a leakage trap.

Label and planted signal
------------------------
The course label is "30 dpd at MOB 6". Defaulters (about 28.8 % of loans, like the
real data) stop paying for good at a MOB between 1 and 5; before that they may miss
single installments and then catch up by paying the arrears (as some real defaulters
do), so their overdue at MOB 6 is at least two installments. Everyone else pays every
installment. The default probability is a logistic function of APPLICATION-TIME
values: higher Interest_Rate, Outstanding_Debt, Num_of_Delayed_Payment and
Delay_from_due_date, Credit_Mix ``Bad`` (``Good`` lowers it), lower Annual_Income, and
two clickstream features with a persistent per-customer level (``fe_4`` raises risk,
``fe_9`` lowers it), visible in the months up to the application. The financial
features share a latent credit-quality factor, so each one alone is only moderately
predictive (AUC roughly 0.6-0.7) and a model using all of them does clearly better,
without getting near 1. After a defaulter's first missed installment, ``fe_15`` jumps
up: that signal exists only in clickstream rows after the application, so a pipeline
that lets post-application rows into its features gets a too-good-to-be-true score.

Dirty values (same kinds and roughly the same proportions as the real data)
---------------------------------------------------------------------------
Age with trailing ``_``, ``-500`` and impossible ages in the thousands; SSN
``#F%$D@*&8``; Occupation ``_______``; Credit_Mix ``_``; Payment_Behaviour ``!@9#%8``;
Amount_invested_monthly ``__10000__``; Changed_Credit_Limit ``_``; Monthly_Balance
``__-333333333333333333333333333__`` (rare, but at least one per file); trailing ``_``
on Annual_Income, Num_of_Loan, Num_of_Delayed_Payment and Outstanding_Debt;
Num_of_Loan ``-100``; huge outliers in Annual_Income, Num_Bank_Accounts,
Num_Credit_Card, Interest_Rate, Num_of_Loan, Num_of_Delayed_Payment,
Num_Credit_Inquiries and Total_EMI_per_month; small negative Num_of_Delayed_Payment,
Delay_from_due_date and Num_Bank_Accounts; empty Type_of_Loan (no loans). About 1 % of
names contain a double quote, written RFC-4180 style (``"Kadonel""t"``), which a CSV
reader must be told to unescape. Every dirty kind appears at least once in each file
(each chunk of 100,000 customers) as long as there are enough customers. The dirt is
applied to the rendered text only: the risk model uses the clean underlying values.

Determinism: the same ``customers``, ``seed`` and ``start`` give byte-identical files.

CLI::

    python -m utils.domains.loan_default.synthetic --customers 1500 --seed 7 --out data/
    python -m utils.domains.loan_default.synthetic --scale 40 --out /tmp/cs611_x40/   # 500,000 customers
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

CS611_CUSTOMERS = 12_500
DEFAULT_CUSTOMERS = 1_500
DEFAULT_SEED = 7
DEFAULT_START = dt.date(2023, 1, 1)

APPLICATION_MONTHS = 25  # loan_start_date spread over start .. start + 24 months
CLICKSTREAM_MONTHS = 24  # clickstream calendar: start .. start + 23 months
CLICKSTREAM_LAST_APPLICATION = 17  # applicants up to start + 17 months have clickstream
TENURE = 10
LOAN_AMT = 10_000
INSTALMENT = 1_000.0
LMS_ROWS_PER_LOAN = TENURE + 1
TARGET_DEFAULT_RATE = 0.288
CHUNK_CUSTOMERS = 100_000  # customers rendered (and their noise drawn) per chunk
# Customer numbers start above the course data's id range (which ends below 0xd000), so a
# synthetic Customer_ID can never collide with a real one.
ID_BASE = 0xD000

LMS_FILE = "lms_loan_daily.csv"
ATTRIBUTES_FILE = "features_attributes.csv"
FINANCIALS_FILE = "features_financials.csv"
CLICKSTREAM_FILE = "feature_clickstream.csv"

LMS_COLUMNS = [
    "loan_id", "Customer_ID", "loan_start_date", "tenure", "installment_num", "loan_amt",
    "due_amt", "paid_amt", "overdue_amt", "balance", "snapshot_date",
]  # fmt: skip
ATTRIBUTES_COLUMNS = ["Customer_ID", "Name", "Age", "SSN", "Occupation", "snapshot_date"]
FINANCIALS_COLUMNS = [
    "Customer_ID", "Annual_Income", "Monthly_Inhand_Salary", "Num_Bank_Accounts",
    "Num_Credit_Card", "Interest_Rate", "Num_of_Loan", "Type_of_Loan", "Delay_from_due_date",
    "Num_of_Delayed_Payment", "Changed_Credit_Limit", "Num_Credit_Inquiries", "Credit_Mix",
    "Outstanding_Debt", "Credit_Utilization_Ratio", "Credit_History_Age",
    "Payment_of_Min_Amount", "Total_EMI_per_month", "Amount_invested_monthly",
    "Payment_Behaviour", "Monthly_Balance", "snapshot_date",
]  # fmt: skip
CLICKSTREAM_FEATURES = [f"fe_{i}" for i in range(1, 21)]
CLICKSTREAM_COLUMNS = [*CLICKSTREAM_FEATURES, "Customer_ID", "snapshot_date"]

# Dirty tokens, exactly as they appear in the course data.
BAD_SSN = "#F%$D@*&8"
BAD_OCCUPATION = "_______"
BAD_CREDIT_MIX = "_"
BAD_PAYMENT_BEHAVIOUR = "!@9#%8"
BAD_AMOUNT_INVESTED = "__10000__"
BAD_CHANGED_CREDIT_LIMIT = "_"
BAD_MONTHLY_BALANCE = "__-333333333333333333333333333__"
AGE_SENTINEL = -500
NUM_OF_LOAN_SENTINEL = -100

OCCUPATIONS = [
    "Scientist", "Teacher", "Engineer", "Entrepreneur", "Developer", "Lawyer", "Media_Manager",
    "Doctor", "Journalist", "Manager", "Accountant", "Musician", "Mechanic", "Writer", "Architect",
]  # fmt: skip
LOAN_TYPES = [
    "Auto Loan", "Credit-Builder Loan", "Personal Loan", "Home Equity Loan", "Mortgage Loan",
    "Student Loan", "Debt Consolidation Loan", "Payday Loan", "Not Specified",
]  # fmt: skip
PAYMENT_BEHAVIOURS = [
    "Low_spent_Small_value_payments", "High_spent_Medium_value_payments",
    "Low_spent_Medium_value_payments", "High_spent_Large_value_payments",
    "High_spent_Small_value_payments", "Low_spent_Large_value_payments",
]  # fmt: skip
PAYMENT_BEHAVIOUR_WEIGHTS = [0.28, 0.19, 0.14, 0.14, 0.14, 0.11]

_ONSETS = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
           "br", "ch", "sh", "st", "tr"]  # fmt: skip
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "y"]
_CODAS = ["", "", "", "", "", "n", "l", "r", "s", "m", "t", "nd"]
_SYLLABLES = np.array([o + v + c for o in _ONSETS for v in _VOWELS for c in _CODAS], dtype=object)
_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"), dtype=object)

# Stream ids for np.random.SeedSequence([seed, stream, ...]): each table draws from its own
# stream so changing one table's generator never shifts another table's values.
_STREAM_CUSTOMERS, _STREAM_ATTRIBUTES, _STREAM_FINANCIALS, _STREAM_CLICKSTREAM = 1, 2, 3, 4


# --------------------------------------------------------------------------- helpers


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stream]))


def _month_strings(start: dt.date, count: int) -> np.ndarray:
    """``count`` consecutive first-of-month dates from ``start`` as ``yyyy-MM-dd`` strings."""
    months = pd.period_range(pd.Period(start, freq="M"), periods=count, freq="M")
    return np.array([p.start_time.strftime("%Y-%m-%d") for p in months], dtype=object)


def _first_of_month(value: str) -> dt.date:
    date = dt.date.fromisoformat(value)
    if date.day != 1:
        raise argparse.ArgumentTypeError(f"--start must be the first of a month, got {value}")
    return date


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Logistic approximation of the standard normal CDF (error < 0.01, plenty here)."""
    return 1.0 / (1.0 + np.exp(-1.702 * x))


def _correlated_normal(rng: np.random.Generator, driver: np.ndarray, rho: float) -> np.ndarray:
    """Standard normals correlated ``rho`` with the standard normal ``driver``."""
    return rho * driver + np.sqrt(1.0 - rho**2) * rng.standard_normal(driver.shape[0])


def _correlated_uniform(rng: np.random.Generator, driver: np.ndarray, rho: float) -> np.ndarray:
    """Uniforms whose normal scores correlate ``rho`` with ``driver`` (a Gaussian copula)."""
    return _normal_cdf(_correlated_normal(rng, driver, rho))


def _from_pmf(u: np.ndarray, values: Sequence[int], weights: Sequence[float]) -> np.ndarray:
    """Inverse CDF of a discrete distribution evaluated at uniforms ``u``."""
    cdf = np.cumsum(weights, dtype=float)
    idx = np.searchsorted(cdf / cdf[-1], u, side="right")
    return np.asarray(values)[np.minimum(idx, len(values) - 1)]


def _pick(rng: np.random.Generator, n: int, rate: float, taken: np.ndarray | None = None) -> np.ndarray:
    """Mask of about ``rate * n`` random rows, at least one, avoiding rows already ``taken``.

    Used to plant dirty values: the guaranteed single row makes every dirty kind show up
    even in small samples, and ``taken`` keeps different kinds of dirt on one column apart.
    """
    mask = np.zeros(n, dtype=bool)
    free = np.flatnonzero(~taken) if taken is not None else np.arange(n)
    if free.size == 0:
        return mask
    count = min(max(1, int(rng.binomial(n, rate))), free.size)
    mask[rng.choice(free, size=count, replace=False)] = True
    return mask


def _text(values: np.ndarray) -> np.ndarray:
    """Numbers as their shortest round-trip text (``1000.0``, ``2706.1616666666664``)."""
    return np.asarray(values).astype(str).astype(object)


def _english_list(items: Sequence[str]) -> str:
    """CS611 style: ``A``; ``A, and B``; ``A, B, and C`` (the comma before "and" always)."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _chunks(n: int, size: int = CHUNK_CUSTOMERS) -> Iterator[tuple[int, int, int]]:
    for part, lo in enumerate(range(0, n, size)):
        yield part, lo, min(lo + size, n)


# --------------------------------------------------------------------------- customers


def make_customers(customers: int, seed: int = DEFAULT_SEED, start: dt.date = DEFAULT_START) -> pd.DataFrame:
    """Clean ground truth, one row per customer, sorted by ``Customer_ID`` (as text).

    Columns: ``Customer_ID``, ``application_month`` (0-based month index from ``start``),
    ``loan_start_date``; the clean application-time values the other tables render
    (``age``, ``occupation``, ``annual_income``, ``monthly_salary``, ``num_bank_accounts``,
    ``num_credit_card``, ``interest_rate``, ``num_of_loan``, ``delay_from_due_date``,
    ``num_of_delayed_payment``, ``changed_credit_limit``, ``num_credit_inquiries``,
    ``credit_mix``, ``outstanding_debt``, ``credit_utilization_ratio``,
    ``credit_history_months``, ``payment_of_min_amount``, ``total_emi``,
    ``amount_invested``, ``payment_behaviour``, ``monthly_balance``); the latent
    clickstream levels ``click_risk`` (shown by fe_4) and ``click_safe`` (shown by fe_9);
    the outcome: ``default_probability``, ``default`` (the 30dpd-at-MOB-6 label),
    ``stop_mob`` (first MOB of permanent non-payment, 0 if none), ``missed_mask`` (bit m
    set when installment m, before ``stop_mob``, was missed and later caught up) and
    ``first_missed_mob`` (0 if none).
    """
    if customers < 1:
        raise ValueError(f"customers must be >= 1, got {customers}")
    rng = _rng(seed, _STREAM_CUSTOMERS)
    n = customers

    # Unique ids with random gaps, in text order like the course files (CUS_0x10000 < CUS_0xd001).
    numbers = ID_BASE + np.cumsum(rng.integers(1, 8, size=n))
    ids = np.array([f"CUS_0x{k:x}" for k in numbers.tolist()], dtype=object)
    ids = ids[np.argsort(ids, kind="stable")]

    application_month = rng.integers(0, APPLICATION_MONTHS, size=n)
    risk = rng.standard_normal(n)  # latent credit quality: higher is riskier
    click_risk = rng.standard_normal(n)
    click_safe = rng.standard_normal(n)

    ages = np.arange(14, 57)
    age_weights = np.select(
        [ages == 14, ages < 18, ages == 18, ages <= 45, ages == 46, ages <= 55],
        [0.4, 1.0, 1.3, 1.9, 1.4, 0.9],
        0.5,
    )
    age = _from_pmf(rng.random(n), ages, age_weights)
    occupation = rng.integers(0, len(OCCUPATIONS), size=n)

    income = np.exp(10.53 + 0.78 * _correlated_normal(rng, risk, -0.35))
    income = np.round(np.clip(income, 7_000.0, 180_000.0), 2)
    monthly_salary = income / 12.0 * np.clip(rng.normal(1.0, 0.05, size=n), 0.85, 1.15)

    num_bank_accounts = _from_pmf(
        _correlated_uniform(rng, risk, 0.45), range(11), [4, 4, 4, 12, 12, 12, 13, 13, 13, 6, 6]
    )
    num_credit_card = _from_pmf(
        _correlated_uniform(rng, risk, 0.45), range(1, 11), [2, 2, 13, 14, 18, 17, 16, 5, 5, 5]
    )
    interest_rate = _from_pmf(
        _correlated_uniform(rng, risk, 0.5), range(1, 35), [3] * 4 + [5] * 8 + [2.5] * 2 + [4] * 6 + [1.7] * 14
    )
    num_of_loan = _from_pmf(
        _correlated_uniform(rng, risk, 0.4), range(10), [11, 11, 15, 15, 15, 7, 8, 7, 3, 4]
    )
    delay_from_due_date = np.clip(np.round(18.0 * np.exp(0.75 * _correlated_normal(rng, risk, 0.45))), 0, 67)
    num_of_delayed_payment = np.clip(np.round(14.0 + 6.5 * _correlated_normal(rng, risk, 0.45)), 0, 28)
    changed_credit_limit = np.round(np.clip(rng.normal(10.4, 6.8, size=n) + 1.5 * risk, -6.5, 37.0), 2)
    num_credit_inquiries = _from_pmf(
        _correlated_uniform(rng, risk, 0.5), range(18),
        [4, 5, 7, 8, 10, 8, 9, 8, 8, 7, 6, 6, 5, 3, 2, 1.7, 1, 0.6],
    )  # fmt: skip
    mix_u = _correlated_uniform(rng, risk, 0.6)
    credit_mix = np.where(mix_u < 0.30, "Good", np.where(mix_u < 0.76, "Standard", "Bad")).astype(object)
    debt_z = _correlated_normal(rng, risk, 0.55)
    outstanding_debt = np.round(np.clip(np.exp(7.06 + 0.85 * debt_z), 0.23, 4_998.0), 2)
    credit_utilization_ratio = np.clip(rng.normal(32.3, 5.1, size=n), 20.1, 48.2)
    history_u = 0.7 * _correlated_uniform(rng, -risk, 0.35) + 0.3 * rng.random(n)
    credit_history_months = np.round(8 + 396 * history_u).astype(np.int64)
    min_u = _correlated_uniform(rng, risk, 0.45)
    payment_of_min_amount = np.where(
        rng.random(n) < 0.115, "NM", np.where(min_u < 0.41, "No", "Yes")
    ).astype(object)
    total_emi = np.where(
        num_of_loan == 0, 0.0, monthly_salary * 0.008 * num_of_loan * np.exp(rng.normal(0.0, 0.6, size=n))
    )
    amount_invested = np.clip(monthly_salary * 0.042 * np.exp(rng.normal(0.0, 0.7, size=n)), 0.0, 2_000.0)
    monthly_balance = np.clip(
        monthly_salary * rng.uniform(0.04, 0.2, size=n) + np.abs(rng.normal(60.0, 90.0, size=n)), 0.4, 1_460.0
    )
    payment_behaviour = rng.choice(len(PAYMENT_BEHAVIOURS), size=n, p=PAYMENT_BEHAVIOUR_WEIGHTS)

    # Planted relationship: logistic in the clean application-time values.
    linear = (
        0.55 * (interest_rate - 15.0) / 9.0
        + 0.45 * (np.log(outstanding_debt) - 7.0) / 0.9
        + 0.35 * (num_of_delayed_payment - 13.0) / 6.5
        + 0.25 * (delay_from_due_date - 21.0) / 15.0
        + 0.5 * (credit_mix == "Bad")
        - 0.45 * (credit_mix == "Good")
        - 0.3 * (np.log(income) - 10.5) / 0.78
        + 0.45 * click_risk
        - 0.4 * click_safe
    )
    default_probability = _expit(_calibrated_intercept(linear, TARGET_DEFAULT_RATE) + linear)
    default = rng.random(n) < default_probability

    # Defaulters stop paying for good at stop_mob (1..5); each earlier installment but the
    # last one before the stop may be missed, and the next payment then clears the arrears.
    stop_mob = np.where(default, _from_pmf(rng.random(n), range(1, 6), [4, 15, 31, 31, 19]), 0)
    missed = rng.random((n, TENURE + 1)) < 0.3
    mob = np.arange(TENURE + 1)
    missed &= (mob[None, :] >= 1) & (mob[None, :] <= stop_mob[:, None] - 2)
    missed_mask = (missed * (1 << mob)[None, :]).sum(axis=1)
    first_missed_mob = np.where(missed.any(axis=1), missed.argmax(axis=1), stop_mob)

    months = _month_strings(start, APPLICATION_MONTHS)
    return pd.DataFrame(
        {
            "Customer_ID": ids,
            "application_month": application_month,
            "loan_start_date": months[application_month],
            "age": age,
            "occupation": np.asarray(OCCUPATIONS, dtype=object)[occupation],
            "annual_income": income,
            "monthly_salary": monthly_salary,
            "num_bank_accounts": num_bank_accounts,
            "num_credit_card": num_credit_card,
            "interest_rate": interest_rate,
            "num_of_loan": num_of_loan,
            "delay_from_due_date": delay_from_due_date.astype(np.int64),
            "num_of_delayed_payment": num_of_delayed_payment.astype(np.int64),
            "changed_credit_limit": changed_credit_limit,
            "num_credit_inquiries": num_credit_inquiries.astype(float),
            "credit_mix": credit_mix,
            "outstanding_debt": outstanding_debt,
            "credit_utilization_ratio": credit_utilization_ratio,
            "credit_history_months": credit_history_months,
            "payment_of_min_amount": payment_of_min_amount,
            "total_emi": total_emi,
            "amount_invested": amount_invested,
            "payment_behaviour": np.asarray(PAYMENT_BEHAVIOURS, dtype=object)[payment_behaviour],
            "monthly_balance": monthly_balance,
            "click_risk": click_risk,
            "click_safe": click_safe,
            "default_probability": default_probability,
            "default": default,
            "stop_mob": stop_mob,
            "missed_mask": missed_mask,
            "first_missed_mob": first_missed_mob,
        }
    )


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _calibrated_intercept(linear: np.ndarray, rate: float) -> float:
    """Intercept that makes the mean default probability equal ``rate`` (bisection)."""
    lo, hi = -10.0, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if _expit(mid + linear).mean() < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


# --------------------------------------------------------------------------- tables


def make_loans(customers: pd.DataFrame, start: dt.date = DEFAULT_START) -> pd.DataFrame:
    """``lms_loan_daily`` rows: 11 per loan (MOB 0..10), sorted by Customer_ID then MOB.

    Paid installments are 1000 each; a payment after missed installments pays them too
    (2000, 3000, ...); from ``stop_mob`` on a defaulter pays nothing. ``overdue_amt`` is
    cumulative due minus cumulative paid and ``balance`` 10000 minus cumulative paid.
    No randomness: everything follows from the customers' ground truth.
    """
    n = len(customers)
    mob = np.arange(LMS_ROWS_PER_LOAN)
    stop = customers["stop_mob"].to_numpy()
    missed = (customers["missed_mask"].to_numpy()[:, None] >> mob[None, :]) & 1 == 1

    paid = np.zeros((n, LMS_ROWS_PER_LOAN))
    arrears = np.zeros(n)
    for m in range(1, LMS_ROWS_PER_LOAN):
        pays = ((stop == 0) | (m < stop)) & ~missed[:, m]
        paid[:, m] = np.where(pays, arrears + 1.0, 0.0)
        arrears = np.where(pays, 0.0, arrears + 1.0)
    due = np.where(mob == 0, 0.0, 1.0)[None, :].repeat(n, axis=0)
    cumulative_paid = paid.cumsum(axis=1)
    overdue = due.cumsum(axis=1) - cumulative_paid
    balance = TENURE - cumulative_paid

    application = customers["application_month"].to_numpy()
    months = _month_strings(start, APPLICATION_MONTHS + TENURE)
    ids = customers["Customer_ID"].to_numpy(dtype=object)
    start_dates = months[application]
    loan_ids = ids + "_" + pd.Series(start_dates).str.replace("-", "_", regex=False).to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "loan_id": np.repeat(loan_ids, LMS_ROWS_PER_LOAN),
            "Customer_ID": np.repeat(ids, LMS_ROWS_PER_LOAN),
            "loan_start_date": np.repeat(start_dates, LMS_ROWS_PER_LOAN),
            "tenure": TENURE,
            "installment_num": np.tile(mob, n),
            "loan_amt": LOAN_AMT,
            "due_amt": (due * INSTALMENT).ravel(),
            "paid_amt": (paid * INSTALMENT).ravel(),
            "overdue_amt": (overdue * INSTALMENT).ravel(),
            "balance": (balance * INSTALMENT).ravel(),
            "snapshot_date": months[(application[:, None] + mob[None, :]).ravel()],
        },
        columns=LMS_COLUMNS,
    )


def make_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random syllable names: one or two words, a stray lowercase letter at the end (a
    quirk of the course data), and about 1 % carrying a double quote character."""

    def word() -> np.ndarray:
        syllables = rng.integers(0, len(_SYLLABLES), size=(n, 3))
        two = rng.random(n) < 0.75
        text = _SYLLABLES[syllables[:, 0]] + _SYLLABLES[syllables[:, 1]]
        text = np.where(two, text, text + _SYLLABLES[syllables[:, 2]])
        return np.array([w.capitalize() for w in text.tolist()], dtype=object)

    first, last = word(), word()
    names = np.where(rng.random(n) < 0.4, first + " " + last, first)
    quoted = _pick(rng, n, 0.0086)
    before_last_letter = rng.random(n) < 0.6
    tail = _LETTERS[rng.integers(0, len(_LETTERS), size=n)]
    return np.where(
        quoted & before_last_letter,
        names + '"' + tail,
        np.where(quoted, '"' + names + tail, names + tail),
    )


def make_attributes(customers: pd.DataFrame, seed: int = DEFAULT_SEED, part: int = 0) -> pd.DataFrame:
    """``features_attributes`` rows, one per customer, snapshot_date = loan_start_date.

    Dirty: Age with trailing ``_`` (~5 %), ``-500`` (~0.8 %), 150..8700 (~1.7 %); SSN
    ``#F%$D@*&8`` (~5.6 %); Occupation ``_______`` (~7 %); ~1 % of names hold ``"``.
    ``part`` is the index of the customer chunk, so that chunks draw different noise.
    """
    rng = _rng(seed, _STREAM_ATTRIBUTES, part)
    n = len(customers)
    age = _text(customers["age"].to_numpy())
    underscore = _pick(rng, n, 0.051)
    sentinel = _pick(rng, n, 0.0083, taken=underscore)
    huge = _pick(rng, n, 0.017, taken=underscore | sentinel)
    age[underscore] = age[underscore] + "_"
    age[sentinel] = str(AGE_SENTINEL)
    age[huge] = _text(rng.integers(150, 8_700, size=int(huge.sum())))

    ssn_parts = [rng.integers(1, 900, size=n), rng.integers(1, 100, size=n), rng.integers(1, 10_000, size=n)]
    ssn = np.array([f"{a:03d}-{g:02d}-{s:04d}" for a, g, s in zip(*(p.tolist() for p in ssn_parts))], dtype=object)
    ssn[_pick(rng, n, 0.056)] = BAD_SSN

    occupation = customers["occupation"].to_numpy(dtype=object).copy()
    occupation[_pick(rng, n, 0.07)] = BAD_OCCUPATION

    return pd.DataFrame(
        {
            "Customer_ID": customers["Customer_ID"].to_numpy(dtype=object),
            "Name": make_names(rng, n),
            "Age": age,
            "SSN": ssn,
            "Occupation": occupation,
            "snapshot_date": customers["loan_start_date"].to_numpy(dtype=object),
        },
        columns=ATTRIBUTES_COLUMNS,
    )


def _with_outliers(
    rng: np.random.Generator, values: np.ndarray, rate: float, low: int, high: int, taken: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Replace about ``rate`` of ``values`` by impossible integers in [low, high)."""
    mask = _pick(rng, len(values), rate, taken)
    out = values.copy()
    out[mask] = rng.integers(low, high, size=int(mask.sum())).astype(out.dtype)
    return out, mask


def make_financials(customers: pd.DataFrame, seed: int = DEFAULT_SEED, part: int = 0) -> pd.DataFrame:
    """``features_financials`` rows, one per customer, snapshot_date = loan_start_date.

    Numbers are written the way the course file writes them (incomes and debts with two
    decimals, salaries and ratios at full precision, Num_Credit_Inquiries as ``7.0``);
    Type_of_Loan lists one loan type per clean Num_of_Loan (empty when there are none)
    and Credit_History_Age reads ``N Years and M Months``. Dirty values: see the module
    docstring. ``part`` is the index of the customer chunk.
    """
    rng = _rng(seed, _STREAM_FINANCIALS, part)
    n = len(customers)

    income, income_huge = _with_outliers(rng, customers["annual_income"].to_numpy(), 0.009, 300_000, 24_000_000)
    annual_income = _text(income)
    income_underscore = _pick(rng, n, 0.069, taken=income_huge)
    annual_income[income_underscore] = annual_income[income_underscore] + "_"

    bank_accounts, bank_huge = _with_outliers(rng, customers["num_bank_accounts"].to_numpy(), 0.013, 26, 1_800)
    bank_accounts[_pick(rng, n, 0.0004, taken=bank_huge)] = -1
    credit_cards, _ = _with_outliers(rng, customers["num_credit_card"].to_numpy(), 0.024, 21, 1_500)
    interest_rate, _ = _with_outliers(rng, customers["interest_rate"].to_numpy(), 0.022, 99, 5_800)

    loans_clean = customers["num_of_loan"].to_numpy()
    loans_sentinel = _pick(rng, n, 0.04)
    loans, _ = _with_outliers(rng, loans_clean, 0.0055, 18, 1_500, taken=loans_sentinel)
    loans[loans_sentinel] = NUM_OF_LOAN_SENTINEL
    num_of_loan = _text(loans)
    loans_underscore = _pick(rng, n, 0.05)
    num_of_loan[loans_underscore] = num_of_loan[loans_underscore] + "_"
    loan_type_draws = rng.integers(0, len(LOAN_TYPES), size=(n, int(loans_clean.max(initial=0))))
    type_of_loan = np.array(
        [
            _english_list([LOAN_TYPES[t] for t in draws[:count]])
            for draws, count in zip(loan_type_draws.tolist(), loans_clean.tolist())
        ],
        dtype=object,
    )

    delay = customers["delay_from_due_date"].to_numpy().copy()
    delay_negative = _pick(rng, n, 0.007)
    delay[delay_negative] = -rng.integers(1, 6, size=int(delay_negative.sum()))

    delayed = customers["num_of_delayed_payment"].to_numpy().copy()
    delayed_negative = _pick(rng, n, 0.007)
    delayed[delayed_negative] = -rng.integers(1, 4, size=int(delayed_negative.sum()))
    delayed, _ = _with_outliers(rng, delayed, 0.0084, 47, 4_300, taken=delayed_negative)
    num_of_delayed_payment = _text(delayed)
    delayed_underscore = _pick(rng, n, 0.03)
    num_of_delayed_payment[delayed_underscore] = num_of_delayed_payment[delayed_underscore] + "_"

    changed_credit_limit = _text(customers["changed_credit_limit"].to_numpy())
    changed_credit_limit[_pick(rng, n, 0.02)] = BAD_CHANGED_CREDIT_LIMIT

    inquiries, _ = _with_outliers(rng, customers["num_credit_inquiries"].to_numpy(), 0.016, 26, 2_600)

    credit_mix = customers["credit_mix"].to_numpy(dtype=object).copy()
    credit_mix[_pick(rng, n, 0.21)] = BAD_CREDIT_MIX

    outstanding_debt = _text(customers["outstanding_debt"].to_numpy())
    debt_underscore = _pick(rng, n, 0.011)
    outstanding_debt[debt_underscore] = outstanding_debt[debt_underscore] + "_"

    history = customers["credit_history_months"].to_numpy()
    credit_history_age = (
        pd.Series(history // 12).astype(str) + " Years and " + pd.Series(history % 12).astype(str) + " Months"
    ).to_numpy(dtype=object)

    total_emi, _ = _with_outliers(rng, customers["total_emi"].to_numpy(), 0.032, 5_000, 82_000)

    amount_invested = _text(customers["amount_invested"].to_numpy())
    amount_invested[_pick(rng, n, 0.045)] = BAD_AMOUNT_INVESTED

    payment_behaviour = customers["payment_behaviour"].to_numpy(dtype=object).copy()
    payment_behaviour[_pick(rng, n, 0.08)] = BAD_PAYMENT_BEHAVIOUR

    monthly_balance = _text(customers["monthly_balance"].to_numpy())
    monthly_balance[_pick(rng, n, 0.0001)] = BAD_MONTHLY_BALANCE

    return pd.DataFrame(
        {
            "Customer_ID": customers["Customer_ID"].to_numpy(dtype=object),
            "Annual_Income": annual_income,
            "Monthly_Inhand_Salary": customers["monthly_salary"].to_numpy(),
            "Num_Bank_Accounts": bank_accounts,
            "Num_Credit_Card": credit_cards,
            "Interest_Rate": interest_rate,
            "Num_of_Loan": num_of_loan,
            "Type_of_Loan": type_of_loan,
            "Delay_from_due_date": delay,
            "Num_of_Delayed_Payment": num_of_delayed_payment,
            "Changed_Credit_Limit": changed_credit_limit,
            "Num_Credit_Inquiries": inquiries,
            "Credit_Mix": credit_mix,
            "Outstanding_Debt": outstanding_debt,
            "Credit_Utilization_Ratio": customers["credit_utilization_ratio"].to_numpy(),
            "Credit_History_Age": credit_history_age,
            "Payment_of_Min_Amount": customers["payment_of_min_amount"].to_numpy(dtype=object),
            "Total_EMI_per_month": total_emi,
            "Amount_invested_monthly": amount_invested,
            "Payment_Behaviour": payment_behaviour,
            "Monthly_Balance": monthly_balance,
            "snapshot_date": customers["loan_start_date"].to_numpy(dtype=object),
        },
        columns=FINANCIALS_COLUMNS,
    )


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
    for month, date in enumerate(_month_strings(start, CLICKSTREAM_MONTHS)):
        rng = _rng(seed, _STREAM_CLICKSTREAM, month)
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


# --------------------------------------------------------------------------- writing


def _write(frames: Iterator[pd.DataFrame], path: Path) -> int:
    """Write frames to one CSV (header once, ``\\n`` line ends, RFC-4180 quoting)."""
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        for i, frame in enumerate(frames):
            frame.to_csv(handle, index=False, header=i == 0, lineterminator="\n")
            rows += len(frame)
    logger.info("wrote %s: %d rows, %.1f MB", path, rows, path.stat().st_size / 1e6)
    return rows


def generate(
    out_dir: Path, customers: int, seed: int = DEFAULT_SEED, start: dt.date = DEFAULT_START
) -> dict[str, Path]:
    """Write the four CS611-shaped CSV files for ``customers`` customers into ``out_dir``.

    Returns ``{table name: path}`` for ``lms_loan_daily``, ``features_attributes``,
    ``features_financials`` and ``feature_clickstream``. Customers are rendered in chunks
    of ``CHUNK_CUSTOMERS`` and the clickstream month by month, so memory stays bounded.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    truth = make_customers(customers, seed, start)
    logger.info(
        "%d customers (seed %d, start %s): default rate %.3f",
        customers, seed, start, truth["default"].mean(),
    )  # fmt: skip

    chunks = [(part, truth.iloc[lo:hi]) for part, lo, hi in _chunks(len(truth))]
    paths = {
        "lms_loan_daily": out_dir / LMS_FILE,
        "features_attributes": out_dir / ATTRIBUTES_FILE,
        "features_financials": out_dir / FINANCIALS_FILE,
        "feature_clickstream": out_dir / CLICKSTREAM_FILE,
    }
    _write((make_loans(chunk, start) for _, chunk in chunks), paths["lms_loan_daily"])
    _write((make_attributes(chunk, seed, part) for part, chunk in chunks), paths["features_attributes"])
    _write((make_financials(chunk, seed, part) for part, chunk in chunks), paths["features_financials"])
    _write(iter_clickstream(truth, seed, start), paths["feature_clickstream"])
    logger.info("generated %s in %.1f s", out_dir, time.perf_counter() - began)
    return paths


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m utils.domains.loan_default.synthetic", description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--customers", type=int, help=f"number of customers (default {DEFAULT_CUSTOMERS}, the committed sample)"
    )
    size.add_argument(
        "--scale", type=float, help=f"size as a multiple of CS611 ({CS611_CUSTOMERS:,} customers), e.g. 40"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("data"), help="output folder (default %(default)s)")
    parser.add_argument(
        "--start", type=_first_of_month, default=DEFAULT_START,
        help="first application month, yyyy-MM-01 (default %(default)s, the CS611 calendar)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.scale is not None:
        if args.scale <= 0:
            parser.error("--scale must be positive")
        customers = max(1, round(CS611_CUSTOMERS * args.scale))
    else:
        customers = DEFAULT_CUSTOMERS if args.customers is None else args.customers
        if customers < 1:
            parser.error("--customers must be >= 1")
    generate(args.out, customers, args.seed, args.start)
    return 0


if __name__ == "__main__":
    from utils.lake import logs

    logs.configure()
    raise SystemExit(main())
