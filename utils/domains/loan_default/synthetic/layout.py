"""What the synthetic CS611 files look like: names, columns, calendar, loan terms, the
dirty tokens of the course data and the vocabularies values are drawn from. Data only."""

from __future__ import annotations

import datetime as dt

import numpy as np

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
SYLLABLES = np.array([o + v + c for o in _ONSETS for v in _VOWELS for c in _CODAS], dtype=object)
LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"), dtype=object)

# Stream ids for np.random.SeedSequence([seed, stream, ...]): each table draws from its own
# stream so changing one table's generator never shifts another table's values.
STREAM_CUSTOMERS, STREAM_ATTRIBUTES, STREAM_FINANCIALS, STREAM_CLICKSTREAM = 1, 2, 3, 4
