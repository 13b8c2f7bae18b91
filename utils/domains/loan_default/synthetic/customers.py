"""The clean ground truth: one row per customer with the application-time values the
files render, the latent clickstream levels, and the planted outcome (default
probability, default, and the repayment path that produces the course label)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .draws import (calibrated_intercept, correlated_normal, correlated_uniform, expit, from_pmf, month_strings,
                    stream)
from .layout import (APPLICATION_MONTHS, DEFAULT_SEED, DEFAULT_START, ID_BASE, OCCUPATIONS, PAYMENT_BEHAVIOUR_WEIGHTS,
                     PAYMENT_BEHAVIOURS, STREAM_CUSTOMERS, TARGET_DEFAULT_RATE, TENURE)


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

    Every value comes from one stream, drawn in a fixed order (the steps below are
    called in that order), so the same arguments give the same customers.
    """
    if customers < 1:
        raise ValueError(f"customers must be >= 1, got {customers}")
    rng = stream(seed, STREAM_CUSTOMERS)
    n = customers
    ids = _customer_ids(rng, n)
    application_month = rng.integers(0, APPLICATION_MONTHS, size=n)
    risk = rng.standard_normal(n)  # latent credit quality: higher is riskier
    click_risk = rng.standard_normal(n)
    click_safe = rng.standard_normal(n)
    person = _person(rng, n, risk)
    credit = _credit(rng, n, risk, person["monthly_salary"])

    default_probability = _default_probability(person, credit, click_risk, click_safe)
    default = rng.random(n) < default_probability
    repayment = _repayment(rng, n, default)

    months = month_strings(start, APPLICATION_MONTHS)
    return pd.DataFrame(
        {
            "Customer_ID": ids,
            "application_month": application_month,
            "loan_start_date": months[application_month],
            **person,
            **credit,
            "click_risk": click_risk,
            "click_safe": click_safe,
            "default_probability": default_probability,
            "default": default,
            **repayment,
        }
    )


def _customer_ids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Unique ids with random gaps, in text order like the course files (CUS_0x10000 < CUS_0xd001)."""
    numbers = ID_BASE + np.cumsum(rng.integers(1, 8, size=n))
    ids = np.array([f"CUS_0x{k:x}" for k in numbers.tolist()], dtype=object)
    return ids[np.argsort(ids, kind="stable")]


def _person(rng: np.random.Generator, n: int, risk: np.ndarray) -> dict[str, np.ndarray]:
    """age, occupation, annual_income (lower with higher risk) and monthly_salary."""
    ages = np.arange(14, 57)
    age_weights = np.select(
        [ages == 14, ages < 18, ages == 18, ages <= 45, ages == 46, ages <= 55],
        [0.4, 1.0, 1.3, 1.9, 1.4, 0.9],
        0.5,
    )
    age = from_pmf(rng.random(n), ages, age_weights)
    occupation = rng.integers(0, len(OCCUPATIONS), size=n)

    income = np.exp(10.53 + 0.78 * correlated_normal(rng, risk, -0.35))
    income = np.round(np.clip(income, 7_000.0, 180_000.0), 2)
    monthly_salary = income / 12.0 * np.clip(rng.normal(1.0, 0.05, size=n), 0.85, 1.15)
    return {"age": age, "occupation": np.asarray(OCCUPATIONS, dtype=object)[occupation],
            "annual_income": income, "monthly_salary": monthly_salary}


def _credit(rng: np.random.Generator, n: int, risk: np.ndarray, monthly_salary: np.ndarray) -> dict[str, np.ndarray]:
    """The financial values at application, most of them correlated with `risk`: from
    num_bank_accounts to monthly_balance, as make_customers names them."""
    num_bank_accounts = from_pmf(
        correlated_uniform(rng, risk, 0.45), range(11), [4, 4, 4, 12, 12, 12, 13, 13, 13, 6, 6]
    )
    num_credit_card = from_pmf(
        correlated_uniform(rng, risk, 0.45), range(1, 11), [2, 2, 13, 14, 18, 17, 16, 5, 5, 5]
    )
    interest_rate = from_pmf(
        correlated_uniform(rng, risk, 0.5), range(1, 35), [3] * 4 + [5] * 8 + [2.5] * 2 + [4] * 6 + [1.7] * 14
    )
    num_of_loan = from_pmf(
        correlated_uniform(rng, risk, 0.4), range(10), [11, 11, 15, 15, 15, 7, 8, 7, 3, 4]
    )
    delay_from_due_date = np.clip(np.round(18.0 * np.exp(0.75 * correlated_normal(rng, risk, 0.45))), 0, 67)
    num_of_delayed_payment = np.clip(np.round(14.0 + 6.5 * correlated_normal(rng, risk, 0.45)), 0, 28)
    changed_credit_limit = np.round(np.clip(rng.normal(10.4, 6.8, size=n) + 1.5 * risk, -6.5, 37.0), 2)
    num_credit_inquiries = from_pmf(
        correlated_uniform(rng, risk, 0.5), range(18),
        [4, 5, 7, 8, 10, 8, 9, 8, 8, 7, 6, 6, 5, 3, 2, 1.7, 1, 0.6],
    )  # fmt: skip
    mix_u = correlated_uniform(rng, risk, 0.6)
    credit_mix = np.where(mix_u < 0.30, "Good", np.where(mix_u < 0.76, "Standard", "Bad")).astype(object)
    debt_z = correlated_normal(rng, risk, 0.55)
    outstanding_debt = np.round(np.clip(np.exp(7.06 + 0.85 * debt_z), 0.23, 4_998.0), 2)
    credit_utilization_ratio = np.clip(rng.normal(32.3, 5.1, size=n), 20.1, 48.2)
    history_u = 0.7 * correlated_uniform(rng, -risk, 0.35) + 0.3 * rng.random(n)
    credit_history_months = np.round(8 + 396 * history_u).astype(np.int64)
    min_u = correlated_uniform(rng, risk, 0.45)
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
    return {
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
    }


def _default_probability(person: dict[str, np.ndarray], credit: dict[str, np.ndarray], click_risk: np.ndarray,
                         click_safe: np.ndarray) -> np.ndarray:
    """The planted relationship: logistic in the clean application-time values, with the
    intercept calibrated so the mean probability is TARGET_DEFAULT_RATE."""
    mix = credit["credit_mix"]
    linear = (
        0.55 * (credit["interest_rate"] - 15.0) / 9.0
        + 0.45 * (np.log(credit["outstanding_debt"]) - 7.0) / 0.9
        + 0.35 * (credit["num_of_delayed_payment"] - 13.0) / 6.5
        + 0.25 * (credit["delay_from_due_date"] - 21.0) / 15.0
        + 0.5 * (mix == "Bad")
        - 0.45 * (mix == "Good")
        - 0.3 * (np.log(person["annual_income"]) - 10.5) / 0.78
        + 0.45 * click_risk
        - 0.4 * click_safe
    )
    return expit(calibrated_intercept(linear, TARGET_DEFAULT_RATE) + linear)


def _repayment(rng: np.random.Generator, n: int, default: np.ndarray) -> dict[str, np.ndarray]:
    """stop_mob, missed_mask and first_missed_mob. Defaulters stop paying for good at
    stop_mob (1..5); each earlier installment but the last one before the stop may be
    missed, and the next payment then clears the arrears."""
    stop_mob = np.where(default, from_pmf(rng.random(n), range(1, 6), [4, 15, 31, 31, 19]), 0)
    missed = rng.random((n, TENURE + 1)) < 0.3
    mob = np.arange(TENURE + 1)
    missed &= (mob[None, :] >= 1) & (mob[None, :] <= stop_mob[:, None] - 2)
    missed_mask = (missed * (1 << mob)[None, :]).sum(axis=1)
    first_missed_mob = np.where(missed.any(axis=1), missed.argmax(axis=1), stop_mob)
    return {"stop_mob": stop_mob, "missed_mask": missed_mask, "first_missed_mob": first_missed_mob}
