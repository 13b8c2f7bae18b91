"""What the recommendation sample looks like: calendar, file names, columns, the rates
of behaviour and of dirt. Constants only; every other module reads them here (the
words of the catalog and the names are in :mod:`.vocab`)."""

from __future__ import annotations

import datetime as dt

DEFAULT_USERS = 2000
DEFAULT_SEED = 7
DEFAULT_START = dt.date(2024, 1, 1)
DEFAULT_MONTHS = 12  # 2024-01-01 .. 2024-12-31
PRODUCTS = 600
MANIFEST_FILE = "_generated.json"

# --------------------------------------------------------------------------- files

USERS_DIR, API_DIR, CLICKSTREAM_DIR, ORDERS_DIR = "users", "api", "clickstream", "orders"
PRODUCTS_FILE = f"{API_DIR}/products.jsonl"
SCORES_FILE = f"{API_DIR}/product_scores.jsonl"
CHANNELS = ("web", "mobile")


def users_file(month: dt.date) -> str:
    return f"{USERS_DIR}/users_{month:%Y-%m}.csv"


def clickstream_file(channel: str, month: dt.date) -> str:
    return f"{CLICKSTREAM_DIR}/clickstream_{channel}_{month:%Y-%m}.jsonl"


def orders_file(month: dt.date) -> str:
    return f"{ORDERS_DIR}/orders_{month:%Y-%m}.csv"


USER_COLUMNS = ["user_id", "name", "email", "country", "signup_at"]
ORDER_COLUMNS = ["order_id", "user_id", "product_id", "quantity", "unit_price", "ordered_at"]
PRODUCT_FIELDS = ["id", "title", "description", "category", "brand", "price", "created_at", "updated_at"]
SCORE_FIELDS = ["id", "product_id", "score_date", "popularity", "sentiment", "updated_at"]
EVENT_FIELDS = ["event_id", "session_id", "user_id", "event_type", "product_id", "occurred_at", "device", "item",
                "rating"]
EVENT_TYPES = ("view", "add_to_cart", "purchase", "rating")
LOCAL_ZONE = "Europe/Paris"  # signup_at and ordered_at are local times with this zone's offset
#: Spark patterns of the timestamps written (for conf/recommendation.yaml and the tests).
LOCAL_FORMAT = "yyyy-MM-dd'T'HH:mm:ssXXX"
UTC_FORMAT = "yyyy-MM-dd'T'HH:mm:ss'Z'"

# --------------------------------------------------------------------------- users

COUNTRIES = ("FR", "DE", "ES", "IT", "NL", "BE")
COUNTRY_WEIGHTS = (0.34, 0.22, 0.15, 0.14, 0.08, 0.07)
#: Share of the users signed up before the calendar (over the 730 days before it).
EARLY_SHARE = 0.7
EARLY_DAYS = 730
#: Usual device of a user; a tablet user uses the app or the web site (half each).
DEVICE_TYPES = ("desktop", "ios", "android", "tablet")
DEVICE_WEIGHTS = (0.40, 0.22, 0.28, 0.10)
USUAL_DEVICE_SHARE = 0.8
#: Tastes: Dirichlet concentration over the top-level categories (small: 1-3 dominate),
#: gamma shape of the preference between the leaves of a top, spread of the price level.
TASTE_ALPHA = 0.3
LEAF_SHAPE = 0.8
PRICE_LEVEL_SIGMA = 0.35
PRICE_FIT_SIGMA = 0.6

# --------------------------------------------------------------------------- products

#: Share of products created before the calendar (over the 3 years before it) and of
#: cold items (created over the last COLD_ITEM_DAYS days); the rest in between.
OLD_PRODUCT_SHARE = 0.85
COLD_ITEM_SHARE = 0.08
COLD_ITEM_DAYS = 75
PRICE_SIGMA = 0.5  # log-normal spread of prices around the top-level median
ZIPF_EXPONENT = 1.35  # raw popularity = rank ** -exponent
POPULARITY_POWER = 0.6  # choice weight = popularity ** power x taste x price fit
PRICE_CHANGES_PER_YEAR = 0.9
PRICE_FACTORS = (0.75, 0.8, 0.85, 0.9, 1.05, 1.1, 1.15)
COMPLEMENT_SHARE = 0.35  # products with a "bought together" complement in another sub-category

# --------------------------------------------------------------------------- behaviour

SESSIONS_PER_DAY = 0.05  # median visit rate of an active user (log-normal across users)
ACTIVITY_SIGMA = 1.0
NEWCOMER_BOOST, NEWCOMER_DAYS = 2.0, 21  # new users visit more at first
QUIET_START, QUIET_END = 0.10, 0.30  # monthly chance to go quiet / to come back
QUIET_LEVEL = 0.03  # visit rate of a quiet user relative to their usual
SESSION_VIEWS_P = 0.22  # views per session = 1 + geometric(p) - 1 (mean about 4.5)
#: Where a session's views come from: its focus leaf, its focus top-level, anywhere.
FOCUS_SHARES = (0.65, 0.25, 0.10)
CART_SHARE = 0.09  # per distinct product viewed in a session
PURCHASE_SHARE = 0.45  # per product carted
QUANTITIES, QUANTITY_WEIGHTS = (1, 2, 3), (0.85, 0.12, 0.03)
RATING_SHARE = 0.3  # purchases rated, 2-20 days later
RATING_DAYS = (2, 21)
#: After buying a product with a complement, the share of users who come back 1-10
#: days later to look at it, and their cart and purchase shares then.
COMPLEMENT_VISIT_SHARE, COMPLEMENT_CART, COMPLEMENT_PURCHASE = 0.5, 0.4, 0.55
TRACKING_LOST_SHARE = 0.08  # orders whose purchase events never reach the clickstream
#: Orders per month of the year relative to the mean (Christmas up, summer down).
SEASON = (0.95, 0.9, 1.0, 1.0, 1.0, 0.95, 0.9, 0.85, 1.0, 1.05, 1.2, 1.35)
#: Product scores: published when popularity moved by POPULARITY_STEP points or
#: sentiment by SENTIMENT_STEP since the last published score; prior of sentiment.
POPULARITY_STEP, SENTIMENT_STEP = 4.0, 0.05
RATING_PRIOR_MEAN, RATING_PRIOR_WEIGHT = 3.8, 4.0

# --------------------------------------------------------------------------- dirt
# Shares of the rows concerned; each kind is counted in the manifest (at least one).

BOT_SESSION_SHARE = 0.0001  # per session; each 1500-4000 views within 2 hours
BOT_VIEWS = (1500, 4000)
BOT_REAL_USER_EVERY = 3  # every third bot session runs under a real user's id
DUPLICATE_EVENT_SHARE = 0.003
UNKNOWN_PRODUCT_SHARE = 0.002  # views of ids not in the catalog (P99xxx)
UNKNOWN_USER_SHARE = 0.002  # whole small sessions of ids in no users file
RATING_OUT_OF_SCALE_SHARE = 0.02  # of rating events: 0, 6 or 10
OUT_OF_SCALE_RATINGS = (0, 6, 10)
CATEGORY_CHANGE_SHARE = 0.03  # products re-categorised once (a new catalog version)
