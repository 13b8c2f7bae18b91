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

Modules, by idea: ``layout`` (file names, columns, calendar, dirty tokens, vocabularies),
``draws`` (seeded streams and the random and text helpers), ``customers`` (the clean
ground truth and the planted risk), ``loans``, ``profiles`` (attributes and financials
with their dirt) and ``clickstream`` (one generator per file), ``write`` (the files and
the command line). Every name below is importable from the package.

CLI::

    python -m utils.domains.loan_default.synthetic --customers 1500 --seed 7 --out data/
    python -m utils.domains.loan_default.synthetic --scale 40 --out /tmp/cs611_x40/   # 500,000 customers
"""

from __future__ import annotations

from .clickstream import iter_clickstream, make_clickstream
from .customers import make_customers
from .layout import (AGE_SENTINEL, APPLICATION_MONTHS, ATTRIBUTES_COLUMNS, ATTRIBUTES_FILE, BAD_AMOUNT_INVESTED,
                     BAD_CHANGED_CREDIT_LIMIT, BAD_CREDIT_MIX, BAD_MONTHLY_BALANCE, BAD_OCCUPATION,
                     BAD_PAYMENT_BEHAVIOUR, BAD_SSN, CHUNK_CUSTOMERS, CLICKSTREAM_COLUMNS, CLICKSTREAM_FEATURES,
                     CLICKSTREAM_FILE, CLICKSTREAM_LAST_APPLICATION, CLICKSTREAM_MONTHS, CS611_CUSTOMERS,
                     DEFAULT_CUSTOMERS, DEFAULT_SEED, DEFAULT_START, FINANCIALS_COLUMNS, FINANCIALS_FILE, ID_BASE,
                     INSTALMENT, LMS_COLUMNS, LMS_FILE, LMS_ROWS_PER_LOAN, LOAN_AMT, LOAN_TYPES, NUM_OF_LOAN_SENTINEL,
                     OCCUPATIONS, PAYMENT_BEHAVIOUR_WEIGHTS, PAYMENT_BEHAVIOURS, TARGET_DEFAULT_RATE, TENURE)
from .loans import make_loans
from .profiles import make_attributes, make_financials, make_names
from .write import generate, main

__all__ = [
    "AGE_SENTINEL", "APPLICATION_MONTHS", "ATTRIBUTES_COLUMNS", "ATTRIBUTES_FILE", "BAD_AMOUNT_INVESTED",
    "BAD_CHANGED_CREDIT_LIMIT", "BAD_CREDIT_MIX", "BAD_MONTHLY_BALANCE", "BAD_OCCUPATION", "BAD_PAYMENT_BEHAVIOUR",
    "BAD_SSN", "CHUNK_CUSTOMERS", "CLICKSTREAM_COLUMNS", "CLICKSTREAM_FEATURES", "CLICKSTREAM_FILE",
    "CLICKSTREAM_LAST_APPLICATION", "CLICKSTREAM_MONTHS", "CS611_CUSTOMERS", "DEFAULT_CUSTOMERS", "DEFAULT_SEED",
    "DEFAULT_START", "FINANCIALS_COLUMNS", "FINANCIALS_FILE", "ID_BASE", "INSTALMENT", "LMS_COLUMNS", "LMS_FILE",
    "LMS_ROWS_PER_LOAN", "LOAN_AMT", "LOAN_TYPES", "NUM_OF_LOAN_SENTINEL", "OCCUPATIONS", "PAYMENT_BEHAVIOURS",
    "PAYMENT_BEHAVIOUR_WEIGHTS", "TARGET_DEFAULT_RATE", "TENURE",
    "generate", "iter_clickstream", "main", "make_attributes", "make_clickstream", "make_customers",
    "make_financials", "make_loans", "make_names",
]  # fmt: skip
