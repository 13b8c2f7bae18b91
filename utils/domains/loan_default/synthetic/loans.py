"""``lms_loan_daily``: the loan ledger month by month, following each customer's planted
repayment path (no randomness of its own)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .draws import month_strings
from .layout import APPLICATION_MONTHS, DEFAULT_START, INSTALMENT, LMS_COLUMNS, LMS_ROWS_PER_LOAN, LOAN_AMT, TENURE


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
    months = month_strings(start, APPLICATION_MONTHS + TENURE)
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
