"""Deterministic synthetic sample of the recommendation domain: RecoMart, an e-commerce
shop that wants personalised product recommendations. numpy and pandas only, no
network; every value (names and product texts included) is generated here.

Files (under the output folder; calendar default 2024-01-01 .. 2024-12-31)
--------------------------------------------------------------------------
``users/users_YYYY-MM.csv``
    One per month, the users who signed up that month (a delta drop; the first file
    also holds the 70 % who signed up over the two years before the calendar):
    user_id (U000042), name, email (personal data, made up), country (FR DE ES IT NL
    BE), signup_at (``2024-03-15T10:22:05+01:00``, Europe/Paris with its offset).
``api/products.jsonl``
    What the demo API serves for source ``products``: the catalog's versions (a new
    one when the price or the category changes), sorted by (updated_at, id): id
    (P00042), title, description, category ``{"path": [top, sub, leaf]}``, brand,
    price (EUR), created_at, updated_at (``...Z``, UTC).
``api/product_scores.jsonl``
    What the demo API serves for source ``product_scores``: a scoring service's daily
    scores, published only when they move: id (``P00042-2024-03-15``), product_id,
    score_date, popularity (0-100, 1 decimal), sentiment (-1..1, 3 decimals),
    updated_at (the next day at 02:00Z). Sorted by (updated_at, id).
``clickstream/clickstream_{web,mobile}_YYYY-MM.jsonl``
    One drop per channel and UTC month: event_id (E + 10 digits), session_id (S + 9
    digits), user_id, event_type (view, add_to_cart, purchase, rating), product_id,
    occurred_at (``...Z``), device ``{type: desktop|ios|android|tablet, app_version:
    "3.7.2" | null on the web}``, item ``{category: "Home/Kitchen/Cookware", price}``
    (the product's category and price at the time) and rating (1-5 on rating events,
    null otherwise).
``orders/orders_YYYY-MM.csv``
    One drop per (local) month, one row per order line: order_id (O00000042),
    user_id, product_id, quantity, unit_price, ordered_at (local time with offset).
    The system of record for purchases: 8 % of orders have no purchase event.
``_generated.json``
    The :class:`Manifest`: records per file, rows per table, dirt counts, truth.

Behaviour and the planted signal
--------------------------------
Users have stable latent tastes (a Dirichlet over the 8 top-level categories holding
1-3 of them, shared out between leaves) and a price level; products a Zipf-like
popularity. A session focuses on a leaf drawn from the user's weights (popularity **
0.6 x taste x price fit) and views products mostly there, so products co-occur in
sessions; some views are carted, some carts bought at checkout, 30 % of purchases
rated 2-20 days later (stars follow a latent product quality). A third of the products
have a complement in another sub-category that buyers often look at and buy 1-10 days
later. Visit rates vary log-normally between users, with quiet months (a Markov chain)
and a newcomer boost; users who signed up in the last two months are the cold-start
users, products created in the last 75 days the cold items.

Dirt (exact counts in the manifest; at least one of each in any sample)
-----------------------------------------------------------------------
rating_out_of_scale (0, 6 or 10), unknown_product_events (P99xxx), bot_sessions and
bot_events (1500-4000 views within two hours from a bot id U9xxxxx in no users file,
or every third from a real user), duplicate_events (written twice, same event_id,
next to itself), category_changes (catalog versions moving a product to another
leaf), unknown_user_events (small view-only sessions of ids in no users file).

Determinism: the same users, seed, start and months give byte-identical files.

Modules: ``layout`` (calendar, files, rates), ``vocab`` (category tree and words),
``population`` (users, tastes, visit rates), ``catalog`` (products, versions),
``sessions`` (visits and views), ``shopping`` (carts, purchases, ratings, orders),
``scores``, ``dirt``, ``render`` (rows -> file text), ``write`` (:func:`generate`, the
manifest, the command line)::

    python -m utils.domains.recommendation.synthetic --users 2000 --seed 7 --out data/recommendation
    python -m utils.domains.recommendation.synthetic --users 300 --start 2024-01 --months 6 --out data/reco_small
"""

from __future__ import annotations

from .layout import (DEFAULT_MONTHS, DEFAULT_SEED, DEFAULT_START, DEFAULT_USERS, LOCAL_FORMAT, MANIFEST_FILE,
                     PRODUCTS_FILE, SCORES_FILE, UTC_FORMAT, clickstream_file, orders_file, users_file)
from .write import Manifest, generate, main

__all__ = [
    "DEFAULT_MONTHS", "DEFAULT_SEED", "DEFAULT_START", "DEFAULT_USERS", "LOCAL_FORMAT", "MANIFEST_FILE",
    "PRODUCTS_FILE", "SCORES_FILE", "UTC_FORMAT", "Manifest", "clickstream_file", "generate", "main",
    "orders_file", "users_file",
]  # fmt: skip
