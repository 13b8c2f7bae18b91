"""``features_attributes`` and ``features_financials``: one row per customer at
application, rendered from the clean ground truth with the dirty values of the course
data planted into the text (the risk model never sees them)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .draws import as_text, english_list, pick, stream
from .layout import (AGE_SENTINEL, ATTRIBUTES_COLUMNS, BAD_AMOUNT_INVESTED, BAD_CHANGED_CREDIT_LIMIT, BAD_CREDIT_MIX,
                     BAD_MONTHLY_BALANCE, BAD_OCCUPATION, BAD_PAYMENT_BEHAVIOUR, BAD_SSN, DEFAULT_SEED,
                     FINANCIALS_COLUMNS, LETTERS, LOAN_TYPES, NUM_OF_LOAN_SENTINEL, STREAM_ATTRIBUTES,
                     STREAM_FINANCIALS, SYLLABLES)


def make_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random syllable names: one or two words, a stray lowercase letter at the end (a
    quirk of the course data), and about 1 % carrying a double quote character."""

    def word() -> np.ndarray:
        syllables = rng.integers(0, len(SYLLABLES), size=(n, 3))
        two = rng.random(n) < 0.75
        text = SYLLABLES[syllables[:, 0]] + SYLLABLES[syllables[:, 1]]
        text = np.where(two, text, text + SYLLABLES[syllables[:, 2]])
        return np.array([w.capitalize() for w in text.tolist()], dtype=object)

    first, last = word(), word()
    names = np.where(rng.random(n) < 0.4, first + " " + last, first)
    quoted = pick(rng, n, 0.0086)
    before_last_letter = rng.random(n) < 0.6
    tail = LETTERS[rng.integers(0, len(LETTERS), size=n)]
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
    rng = stream(seed, STREAM_ATTRIBUTES, part)
    n = len(customers)
    age = as_text(customers["age"].to_numpy())
    underscore = pick(rng, n, 0.051)
    sentinel = pick(rng, n, 0.0083, taken=underscore)
    huge = pick(rng, n, 0.017, taken=underscore | sentinel)
    age[underscore] = age[underscore] + "_"
    age[sentinel] = str(AGE_SENTINEL)
    age[huge] = as_text(rng.integers(150, 8_700, size=int(huge.sum())))

    ssn_parts = [rng.integers(1, 900, size=n), rng.integers(1, 100, size=n), rng.integers(1, 10_000, size=n)]
    ssn = np.array([f"{a:03d}-{g:02d}-{s:04d}" for a, g, s in zip(*(p.tolist() for p in ssn_parts))], dtype=object)
    ssn[pick(rng, n, 0.056)] = BAD_SSN

    occupation = customers["occupation"].to_numpy(dtype=object).copy()
    occupation[pick(rng, n, 0.07)] = BAD_OCCUPATION

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
    mask = pick(rng, len(values), rate, taken)
    out = values.copy()
    out[mask] = rng.integers(low, high, size=int(mask.sum())).astype(out.dtype)
    return out, mask


def make_financials(customers: pd.DataFrame, seed: int = DEFAULT_SEED, part: int = 0) -> pd.DataFrame:
    """``features_financials`` rows, one per customer, snapshot_date = loan_start_date.

    Numbers are written the way the course file writes them (incomes and debts with two
    decimals, salaries and ratios at full precision, Num_Credit_Inquiries as ``7.0``);
    Type_of_Loan lists one loan type per clean Num_of_Loan (empty when there are none)
    and Credit_History_Age reads ``N Years and M Months``. Dirty values: see the package
    docstring. ``part`` is the index of the customer chunk.

    The steps draw from one stream in the order they are called (the dict below is
    evaluated left to right), so the same arguments give the same text.
    """
    rng = stream(seed, STREAM_FINANCIALS, part)
    values = {
        "Customer_ID": customers["Customer_ID"].to_numpy(dtype=object),
        "Monthly_Inhand_Salary": customers["monthly_salary"].to_numpy(),
        "Credit_Utilization_Ratio": customers["credit_utilization_ratio"].to_numpy(),
        "Payment_of_Min_Amount": customers["payment_of_min_amount"].to_numpy(dtype=object),
        "snapshot_date": customers["loan_start_date"].to_numpy(dtype=object),
        **_income_and_accounts(rng, customers),
        **_loans(rng, customers),
        **_delays(rng, customers),
        **_credit_and_spending(rng, customers),
    }
    return pd.DataFrame(values, columns=FINANCIALS_COLUMNS)


def _income_and_accounts(rng: np.random.Generator, customers: pd.DataFrame) -> dict[str, np.ndarray]:
    """Annual_Income (huge outliers, trailing ``_``), Num_Bank_Accounts (outliers, -1),
    Num_Credit_Card and Interest_Rate (outliers)."""
    n = len(customers)
    income, income_huge = _with_outliers(rng, customers["annual_income"].to_numpy(), 0.009, 300_000, 24_000_000)
    annual_income = as_text(income)
    income_underscore = pick(rng, n, 0.069, taken=income_huge)
    annual_income[income_underscore] = annual_income[income_underscore] + "_"

    bank_accounts, bank_huge = _with_outliers(rng, customers["num_bank_accounts"].to_numpy(), 0.013, 26, 1_800)
    bank_accounts[pick(rng, n, 0.0004, taken=bank_huge)] = -1
    credit_cards, _ = _with_outliers(rng, customers["num_credit_card"].to_numpy(), 0.024, 21, 1_500)
    interest_rate, _ = _with_outliers(rng, customers["interest_rate"].to_numpy(), 0.022, 99, 5_800)
    return {"Annual_Income": annual_income, "Num_Bank_Accounts": bank_accounts, "Num_Credit_Card": credit_cards,
            "Interest_Rate": interest_rate}


def _loans(rng: np.random.Generator, customers: pd.DataFrame) -> dict[str, np.ndarray]:
    """Num_of_Loan (``-100``, outliers, trailing ``_``) and Type_of_Loan (one type per
    clean loan, as an English list)."""
    n = len(customers)
    loans_clean = customers["num_of_loan"].to_numpy()
    loans_sentinel = pick(rng, n, 0.04)
    loans, _ = _with_outliers(rng, loans_clean, 0.0055, 18, 1_500, taken=loans_sentinel)
    loans[loans_sentinel] = NUM_OF_LOAN_SENTINEL
    num_of_loan = as_text(loans)
    loans_underscore = pick(rng, n, 0.05)
    num_of_loan[loans_underscore] = num_of_loan[loans_underscore] + "_"
    loan_type_draws = rng.integers(0, len(LOAN_TYPES), size=(n, int(loans_clean.max(initial=0))))
    type_of_loan = np.array(
        [
            english_list([LOAN_TYPES[t] for t in draws[:count]])
            for draws, count in zip(loan_type_draws.tolist(), loans_clean.tolist())
        ],
        dtype=object,
    )
    return {"Num_of_Loan": num_of_loan, "Type_of_Loan": type_of_loan}


def _delays(rng: np.random.Generator, customers: pd.DataFrame) -> dict[str, np.ndarray]:
    """Delay_from_due_date (small negatives) and Num_of_Delayed_Payment (small
    negatives, outliers, trailing ``_``)."""
    n = len(customers)
    delay = customers["delay_from_due_date"].to_numpy().copy()
    delay_negative = pick(rng, n, 0.007)
    delay[delay_negative] = -rng.integers(1, 6, size=int(delay_negative.sum()))

    delayed = customers["num_of_delayed_payment"].to_numpy().copy()
    delayed_negative = pick(rng, n, 0.007)
    delayed[delayed_negative] = -rng.integers(1, 4, size=int(delayed_negative.sum()))
    delayed, _ = _with_outliers(rng, delayed, 0.0084, 47, 4_300, taken=delayed_negative)
    num_of_delayed_payment = as_text(delayed)
    delayed_underscore = pick(rng, n, 0.03)
    num_of_delayed_payment[delayed_underscore] = num_of_delayed_payment[delayed_underscore] + "_"
    return {"Delay_from_due_date": delay, "Num_of_Delayed_Payment": num_of_delayed_payment}


def _credit_and_spending(rng: np.random.Generator, customers: pd.DataFrame) -> dict[str, np.ndarray]:
    """Changed_Credit_Limit, Num_Credit_Inquiries, Credit_Mix, Outstanding_Debt,
    Credit_History_Age, Total_EMI_per_month, Amount_invested_monthly, Payment_Behaviour
    and Monthly_Balance, each with its dirty token or outliers."""
    n = len(customers)
    changed_credit_limit = as_text(customers["changed_credit_limit"].to_numpy())
    changed_credit_limit[pick(rng, n, 0.02)] = BAD_CHANGED_CREDIT_LIMIT

    inquiries, _ = _with_outliers(rng, customers["num_credit_inquiries"].to_numpy(), 0.016, 26, 2_600)

    credit_mix = customers["credit_mix"].to_numpy(dtype=object).copy()
    credit_mix[pick(rng, n, 0.21)] = BAD_CREDIT_MIX

    outstanding_debt = as_text(customers["outstanding_debt"].to_numpy())
    debt_underscore = pick(rng, n, 0.011)
    outstanding_debt[debt_underscore] = outstanding_debt[debt_underscore] + "_"

    history = customers["credit_history_months"].to_numpy()
    credit_history_age = (
        pd.Series(history // 12).astype(str) + " Years and " + pd.Series(history % 12).astype(str) + " Months"
    ).to_numpy(dtype=object)

    total_emi, _ = _with_outliers(rng, customers["total_emi"].to_numpy(), 0.032, 5_000, 82_000)

    amount_invested = as_text(customers["amount_invested"].to_numpy())
    amount_invested[pick(rng, n, 0.045)] = BAD_AMOUNT_INVESTED

    payment_behaviour = customers["payment_behaviour"].to_numpy(dtype=object).copy()
    payment_behaviour[pick(rng, n, 0.08)] = BAD_PAYMENT_BEHAVIOUR

    monthly_balance = as_text(customers["monthly_balance"].to_numpy())
    monthly_balance[pick(rng, n, 0.0001)] = BAD_MONTHLY_BALANCE
    return {"Changed_Credit_Limit": changed_credit_limit, "Num_Credit_Inquiries": inquiries, "Credit_Mix": credit_mix,
            "Outstanding_Debt": outstanding_debt, "Credit_History_Age": credit_history_age,
            "Total_EMI_per_month": total_emi, "Amount_invested_monthly": amount_invested,
            "Payment_Behaviour": payment_behaviour, "Monthly_Balance": monthly_balance}
