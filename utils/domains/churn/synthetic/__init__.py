"""Deterministic synthetic sample of the churn domain: a subscription e-commerce shop
whose customers sometimes stop buying. numpy and pandas only, no network; every value
is generated here.

Files (under the output folder; calendar default 2023-01-01 .. 2024-12-31)
--------------------------------------------------------------------------
``crm/customers_YYYY-MM.csv``
    One per month, each a FULL snapshot of the customers signed up by the month's last
    day: customer_id (C00042), signup_date, plan (basic/standard/premium, a few change
    once), region, acquisition_channel, birth_date, name, email, phone, export_date (the
    month's last day). Schema drift from 2024-07: ``phone`` is renamed ``mobile_phone``
    and ``marketing_opt_in`` (true/false) is added before export_date.
``orders/orders_YYYY-MM.csv``
    One drop per month (UTC month of the row's time): order_id (O0000001), customer_id,
    ordered_at, amount, currency (EUR), discount, channel (web/app/store), status
    (completed/refunded). ordered_at is the time of the row's event: the purchase, or
    for a refunded row the refund (which carries its order's order_id). Two formats:
    ``2024-03-15T10:22:05+01:00`` (local time with offset) and, for every store order
    and a few others, ``15/03/2024 10:22`` (UTC).
``events/web_events_YYYY-MM.jsonl``
    One drop per month: event_id, customer_id, event_type (login, page_view,
    pricing_page, cancel_page, support_page), occurred_at (``...Z``, UTC) and a nested
    ``device`` {type, os, app_version (null on desktop)}.
``api/support_tickets.jsonl``
    What the demo API serves for source ``support_tickets``, sorted by (updated_at, id):
    id (int), customer_id, created_at, updated_at, channel, category, satisfaction (1-5
    or null), text (free text; some empty, a few holding the customer's email or phone).
``_generated.json``
    The :class:`Manifest`: records per file, rows per table, dirt counts, drift, truth.

Churn and the planted signal
----------------------------
Churn is "no completed order for 60+ days". Each customer has a monthly churn hazard
(logistic in plan, acquisition channel, tenure under 6/12 months and a latent
engagement that also drives order and login rates). About 70 % of churners announce
it: over 30-90 days before they stop their orders and logins fall, pricing-page,
cancel-page and support-page visits rise, they open more tickets with lower
satisfaction and texts about cancelling, refunds or complaints, and refund more.
The signal is noisy on purpose: 30 % of churners leave silently, content customers
have dissatisfaction episodes with the same symptoms that pass, rates vary a lot
between customers, and 12 % of churners come back after 3-12 months. So a model on
windowed behaviour features learns it (ROC AUC roughly 0.7-0.85 out of time) while no
single feature gets near 0.9.

Dirt (exact counts in the manifest; at least one of each kind in any sample)
---------------------------------------------------------------------------
duplicate_orders (a completed order written twice, right after itself),
orphan_refunds (refunded rows whose order_id no completed row carries),
negative_amounts, absurd_amounts (x 1000), legacy_timestamps (the second format),
unknown_customer_events (ids beyond the CRM's), late_events (dated in the month
before the drop they arrive in), empty_ticket_texts, contact_in_ticket_texts,
unanswered_satisfaction, invalid_emails (" at " for "@"), plan_changes.

Determinism: the same customers, seed, start and months give byte-identical files.

Modules: ``layout`` (calendar, files, vocabularies, rates), ``population`` (customers
and churn truth), ``activity`` (daily rates -> orders, events, tickets), ``dirt``,
``text`` (names, contact data, ticket wording), ``render`` (rows -> file text),
``write`` (:func:`generate`, the manifest, the command line)::

    python -m utils.domains.churn.synthetic --customers 5000 --seed 11 --out data/churn
    python -m utils.domains.churn.synthetic --customers 300 --start 2024-05 --months 4 --out /tmp/churn
"""

from __future__ import annotations

from .layout import (DEFAULT_CUSTOMERS, DEFAULT_MONTHS, DEFAULT_SEED, DEFAULT_START, DRIFT_MONTH, ISO_FORMAT,
                     LEGACY_FORMAT, MANIFEST_FILE, TICKETS_FILE, crm_file, events_file, orders_file)
from .write import Manifest, generate, main

__all__ = [
    "DEFAULT_CUSTOMERS", "DEFAULT_MONTHS", "DEFAULT_SEED", "DEFAULT_START", "DRIFT_MONTH", "ISO_FORMAT",
    "LEGACY_FORMAT", "MANIFEST_FILE", "TICKETS_FILE", "Manifest", "crm_file", "events_file", "generate", "main",
    "orders_file",
]  # fmt: skip
