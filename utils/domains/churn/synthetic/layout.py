"""What the churn sample looks like: calendar, file names, columns, vocabularies, the
rates of behaviour and of dirt. Constants only; every other module reads them here."""

from __future__ import annotations

import datetime as dt

DEFAULT_CUSTOMERS = 5000
DEFAULT_SEED = 11
DEFAULT_START = dt.date(2023, 1, 1)
DEFAULT_MONTHS = 24  # 2023-01-01 .. 2024-12-31
#: From this month on the CRM export renames phone -> mobile_phone and adds marketing_opt_in.
DRIFT_MONTH = dt.date(2024, 7, 1)
#: Customers are simulated in chunks of this many (memory: a few days x customers matrices).
CHUNK_CUSTOMERS = 2000
MANIFEST_FILE = "_generated.json"

# --------------------------------------------------------------------------- files

CRM_DIR, ORDERS_DIR, EVENTS_DIR, API_DIR = "crm", "orders", "events", "api"
TICKETS_FILE = f"{API_DIR}/support_tickets.jsonl"


def crm_file(month: dt.date) -> str:
    return f"{CRM_DIR}/customers_{month:%Y-%m}.csv"


def orders_file(month: dt.date) -> str:
    return f"{ORDERS_DIR}/orders_{month:%Y-%m}.csv"


def events_file(month: dt.date) -> str:
    return f"{EVENTS_DIR}/web_events_{month:%Y-%m}.jsonl"


CRM_COLUMNS = ["customer_id", "signup_date", "plan", "region", "acquisition_channel", "birth_date", "name",
               "email", "phone", "export_date"]
CRM_COLUMNS_DRIFTED = ["customer_id", "signup_date", "plan", "region", "acquisition_channel", "birth_date", "name",
                       "email", "mobile_phone", "marketing_opt_in", "export_date"]
ORDER_COLUMNS = ["order_id", "customer_id", "ordered_at", "amount", "currency", "discount", "channel", "status"]

# --------------------------------------------------------------------------- vocabularies

PLANS = ("basic", "standard", "premium")
PLAN_WEIGHTS = (0.50, 0.35, 0.15)
REGIONS = ("north", "south", "east", "west", "capital")
REGION_WEIGHTS = (0.18, 0.22, 0.17, 0.18, 0.25)
ACQUISITION = ("organic", "paid_search", "social", "referral", "affiliate")
ACQUISITION_WEIGHTS = (0.35, 0.25, 0.20, 0.12, 0.08)
ORDER_CHANNELS = ("web", "app", "store")
ORDER_CHANNEL_WEIGHTS = (0.50, 0.40, 0.10)
EVENT_TYPES = ("login", "page_view", "pricing_page", "cancel_page", "support_page")
DEVICE_TYPES = ("mobile", "desktop", "tablet")
DEVICE_WEIGHTS = (0.55, 0.35, 0.10)
DEVICE_OS = {"mobile": ("ios", "android"), "desktop": ("windows", "macos", "linux"), "tablet": ("ios", "android")}
TICKET_CHANNELS = ("email", "chat", "phone", "form")
TICKET_CHANNEL_WEIGHTS = (0.40, 0.35, 0.15, 0.10)
TICKET_CATEGORIES = ("billing", "delivery", "product", "account", "cancellation")
CURRENCY = "EUR"
#: Spark patterns of the timestamps written (for conf/churn.yaml and the tests).
ISO_FORMAT = "yyyy-MM-dd'T'HH:mm:ssXXX"
LEGACY_FORMAT = "dd/MM/yyyy HH:mm"
LOCAL_ZONE = "Europe/Paris"  # ISO order times are written in this zone, with its offset

# --------------------------------------------------------------------------- behaviour
# Monthly rates of an engaged, non-churning customer; per-customer noise multiplies them.

ORDERS_PER_MONTH = {"basic": 2.0, "standard": 2.6, "premium": 3.4}
ORDER_AMOUNT = {"basic": 28.0, "standard": 42.0, "premium": 65.0}  # median EUR
LOGINS_PER_MONTH = {"basic": 2.0, "standard": 2.5, "premium": 3.0}
PAGE_VIEWS_PER_LOGIN = 0.8
PRICING_PER_MONTH = 0.15
CANCEL_PER_MONTH = 0.03
SUPPORT_PAGE_PER_MONTH = 0.08
TICKETS_PER_MONTH = 0.07
REFUND_SHARE = 0.03
DISCOUNT_SHARE = 0.25
SATISFACTION_ANSWERED = 0.75
#: Monthly churn hazard: logit = base + plan + acquisition + tenure - engagement.
CHURN_LOGIT_BASE = -3.5
CHURN_LOGIT_PLAN = {"basic": 0.35, "standard": 0.0, "premium": -0.45}
CHURN_LOGIT_ACQUISITION = {"organic": 0.0, "paid_search": 0.2, "social": 0.25, "referral": -0.25, "affiliate": 0.1}
CHURN_LOGIT_NEW = (0.6, 0.3)  # tenure < 6 months, < 12 months
CHURN_LOGIT_ENGAGEMENT = 0.35
#: Share of churners whose behaviour announces it, over a lead of 30-90 days before they stop.
SIGNALLED_SHARE = 0.7
LEAD_DAYS = (30, 90)
#: Churners who come back after a long pause (90-360 days), at a lower rate.
RETURN_SHARE = 0.12
#: Episodes of dissatisfaction without churn (false alarms), per customer and year.
EPISODES_PER_YEAR = 0.3
#: Month-to-month swings of a customer's order rate (gamma shape of 30-day blocks; lower = burstier).
ORDER_BURST_SHAPE = 1.8
#: Effects of full stress (1.0): relative fall of orders and logins, added visits per day.
STRESS_ORDERS, STRESS_LOGINS = 0.45, 0.5
STRESS_PRICING, STRESS_CANCEL, STRESS_SUPPORT, STRESS_TICKETS = 0.05, 0.045, 0.01, 0.015
#: A churned customer still logs in, at this share of their former rate.
LAPSED_LOGINS = 0.03

# --------------------------------------------------------------------------- dirt
# Shares of the rows concerned; each kind is counted in the manifest.

DUPLICATE_ORDER_SHARE = 0.005  # a completed order written twice
ORPHAN_REFUND_SHARE = 0.002  # refunded rows whose order never appears (per completed order)
NEGATIVE_AMOUNT_SHARE = 0.001
ABSURD_AMOUNT_SHARE = 0.0005  # amount x 1000 (cents typed as euros)
LEGACY_TIME_SHARE = 0.04  # besides every store order: dd/MM/yyyy HH:mm in UTC
UNKNOWN_CUSTOMER_EVENT_SHARE = 0.003
LATE_EVENT_SHARE = 0.02  # events written to the next month's drop
EMPTY_TICKET_TEXT_SHARE = 0.03
CONTACT_IN_TICKET_SHARE = 0.02  # the customer wrote an email address or phone number
INVALID_EMAIL_SHARE = 0.005
PLAN_CHANGE_SHARE = 0.06  # customers whose plan changes once (the snapshots show it)
