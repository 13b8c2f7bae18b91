"""Simulate, dirty, render and write the churn sample; its manifest; the command line
(``python -m utils.domains.churn.synthetic``)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from utils.domains.sample import month_arg, rows_per_table, write_csv, write_lines

from . import layout as L
from .activity import DAY, daily_state, make_events, make_orders, make_tickets
from .dirt import event_dirt, order_dirt, orphan_refunds, ticket_dirt
from .population import (DIRT, EVENTS, NEVER, ORDERS, TICKETS, WORDING, calendar_days, make_customers,
                         month_add, stream)
from .render import (app_versions, crm_snapshots, event_records, iso_utc, month_of, number_orders, order_rows,
                     ticket_records)

logger = logging.getLogger(__name__)

DESCRIPTION = "Deterministic synthetic sample of the churn domain (subscription e-commerce)."
#: Called as progress(step, done, total) after each step of :func:`generate`.
Progress = Callable[[str, int, int], None]
STEPS = 5


@dataclass
class Manifest:
    """What :func:`generate` wrote: its parameters, records per file (a CSV's data lines,
    a JSON Lines file's lines), rows per table, the dirt counts, the schema drift and
    the churn truth. Written as `_generated.json`; same seed, same bytes."""

    customers: int
    seed: int
    start: str
    months: int
    files: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    dirt: dict[str, int] = field(default_factory=dict)
    drift: dict[str, object] = field(default_factory=dict)
    truth: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def simulate(truth: pd.DataFrame, seed: int, start: dt.date, months: int) -> tuple[pd.DataFrame, ...]:
    """Clean orders (refunds included), events and tickets of every customer, chunk by
    chunk (each chunk its own random streams); `cust` indexes `truth`, a refund's `ref`
    the row of its order in the returned orders."""
    days = calendar_days(start, months)
    orders, events, tickets = [], [], []
    offset = 0
    for chunk, lo in enumerate(range(0, len(truth), L.CHUNK_CUSTOMERS)):
        part = truth.iloc[lo:lo + L.CHUNK_CUSTOMERS]
        state = daily_state(part, days)
        o = make_orders(part, state, stream(seed, ORDERS, chunk), start)
        o["ref"] = np.where(o["ref"].to_numpy() >= 0, o["ref"].to_numpy() + offset, -1)
        offset += len(o)
        e = make_events(part, state, stream(seed, EVENTS, chunk))
        t = make_tickets(part, state, stream(seed, TICKETS, chunk))
        for frame in (o, e, t):
            frame["cust"] += lo
        orders.append(o)
        events.append(e)
        tickets.append(t)
    return (pd.concat(orders, ignore_index=True), pd.concat(events, ignore_index=True),
            pd.concat(tickets, ignore_index=True))




def _prepare_orders(orders: pd.DataFrame, truth: pd.DataFrame, rng: np.random.Generator, start: dt.date,
                    days: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """Ids, orphan refunds and dirt: the rendered order rows (with `month`) and counts."""
    orders = orders.assign(orphan=False)
    orphans = orphan_refunds(orders, rng, days * DAY)
    orders = pd.concat([orders, orphans], ignore_index=True)
    orders["order_id"] = number_orders(orders)
    orders, counts = order_dirt(orders, rng)
    counts["orphan_refunds"] = len(orphans)
    return order_rows(orders, truth["customer_id"].to_numpy(), start), counts


def _prepare_events(events: pd.DataFrame, truth: pd.DataFrame, rng: np.random.Generator, start: dt.date,
                    months: int) -> tuple[pd.DataFrame, dict[str, int]]:
    """Ids, timestamps, app versions and dirt; `drop` is the month of the file an event
    is written to (its own month, the next one for a late event)."""
    events = events.sort_values(["seconds", "cust", "event_type"], kind="stable").reset_index(drop=True)
    seconds = events["seconds"].to_numpy()
    events["event_id"] = [f"EV{i + 1:09d}" for i in range(len(events))]
    events["customer_id"] = truth["customer_id"].to_numpy()[events["cust"].to_numpy()]
    events["occurred_at"] = iso_utc(start, seconds)
    events["month"] = month_of(start, seconds)
    events["app_version"] = app_versions(events["app_version_day"].to_numpy(), start, rng)
    events, counts = event_dirt(events, rng, len(truth), months - 1)
    events["drop"] = events["month"] + events["late"].to_numpy().astype(np.int64)
    # a late event arrives after the drop's own events
    events = events.sort_values(["drop", "late"], kind="stable").reset_index(drop=True)
    return events, counts


def _write_monthly(out: Path, manifest: Manifest, start: dt.date, months: int, frames: dict[str, pd.DataFrame]) -> None:
    """One orders CSV and one events JSON Lines file per month of the calendar."""
    orders, events = frames["orders"], frames["events"]
    for m in range(months):
        month = month_add(start, m)
        path = L.orders_file(month)
        manifest.files[path] = write_csv(out / path, orders[orders["month"] == m][L.ORDER_COLUMNS])
        path = L.events_file(month)
        manifest.files[path] = write_lines(out / path, event_records(events[events["drop"] == m]))


def generate(out: Path, customers: int = L.DEFAULT_CUSTOMERS, seed: int = L.DEFAULT_SEED, *,
             start: dt.date = L.DEFAULT_START, months: int = L.DEFAULT_MONTHS,
             progress: Progress | None = None) -> Manifest:
    """Write the churn sample for `customers` customers over `months` months from
    `start` (the first of a month) into `out`: crm/, orders/, events/, api/ and
    `_generated.json` (the returned :class:`Manifest`). Deterministic for its arguments."""
    if customers < 1 or months < 1 or start.day != 1:
        raise ValueError(f"need customers >= 1, months >= 1 and a first-of-month start (got {customers}, "
                         f"{months}, {start})")
    out = Path(out)
    began = time.perf_counter()
    report = progress or (lambda step, done, total: None)
    days = calendar_days(start, months)
    truth = make_customers(customers, seed, start, months)
    orders, events, tickets = simulate(truth, seed, start, months)
    report("simulated", 1, STEPS)
    rng = stream(seed, DIRT)
    order_frame, order_counts = _prepare_orders(orders, truth, rng, start, days)
    event_frame, event_counts = _prepare_events(events, truth, rng, start, months)
    tickets = tickets.sort_values(["seconds", "cust"], kind="stable").reset_index(drop=True)
    tickets["id"] = np.arange(100_001, 100_001 + len(tickets))
    tickets, ticket_counts = ticket_dirt(tickets, rng)
    report("dirtied", 2, STEPS)

    manifest = Manifest(customers=customers, seed=seed, start=start.isoformat(), months=months)
    for month, frame in crm_snapshots(truth, start, months):
        manifest.files[L.crm_file(month)] = write_csv(out / L.crm_file(month), frame)
    report("crm", 3, STEPS)
    _write_monthly(out, manifest, start, months, {"orders": order_frame, "events": event_frame})
    report("orders and events", 4, STEPS)
    lines = ticket_records(tickets, truth, start, stream(seed, WORDING))
    manifest.files[L.TICKETS_FILE] = write_lines(out / L.TICKETS_FILE, lines)
    report("tickets", 5, STEPS)

    _fill_manifest(manifest, truth, {**order_counts, **event_counts, **ticket_counts}, start, months)
    (out / L.MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
    logger.info("churn sample: %d customers, %s in %s (%.1f s)", customers,
                ", ".join(f"{k} {v:,}" for k, v in manifest.rows.items()), out, time.perf_counter() - began)
    return manifest


def _fill_manifest(manifest: Manifest, truth: pd.DataFrame, counts: dict[str, int], start: dt.date,
                   months: int) -> None:
    """Rows per table, dirt, drift and truth."""
    manifest.rows.update(rows_per_table(manifest.files, {"customers": "crm/", "orders": "orders/",
                                                         "web_events": "events/", "support_tickets": "api/"}))
    counts["invalid_emails"] = int((~truth["email"].str.contains("@", regex=False)).sum())
    counts["plan_changes"] = int((truth["plan_change_day"] < NEVER).sum())
    manifest.dirt = dict(sorted(counts.items()))
    drifted = [month_add(start, m).isoformat()[:7] for m in range(months) if month_add(start, m) >= L.DRIFT_MONTH]
    manifest.drift = {"from_month": drifted[0] if drifted else None, "renamed": {"phone": "mobile_phone"},
                      "added": ["marketing_opt_in"], "files": len(drifted)}
    manifest.truth = {"churners": int((truth["churn_day"] < NEVER).sum()),
                      "signalled_churners": int(truth["signalled"].sum()),
                      "returning_churners": int((truth["return_day"] < NEVER).sum())}



def main(argv: Sequence[str] | None = None) -> int:
    """Generate the sample the options ask for into --out, with a progress bar; 0."""
    from rich.progress import Progress as Bar

    p = argparse.ArgumentParser(prog="python -m utils.domains.churn.synthetic", description=DESCRIPTION)
    p.add_argument("--customers", type=int, default=L.DEFAULT_CUSTOMERS,
                   help="number of customers (default %(default)s)")
    p.add_argument("--seed", type=int, default=L.DEFAULT_SEED, help="random seed (default %(default)s)")
    p.add_argument("--out", type=Path, default=Path("data/churn"), help="output folder (default %(default)s)")
    p.add_argument("--start", type=month_arg, default=L.DEFAULT_START, help="first month, YYYY-MM (default 2023-01)")
    p.add_argument("--months", type=int, default=L.DEFAULT_MONTHS, help="number of months (default %(default)s)")
    args = p.parse_args(argv)
    if args.customers < 1 or args.months < 1:
        p.error("--customers and --months must be >= 1")
    with Bar(transient=True) as bar:
        task = bar.add_task("generating", total=STEPS)
        manifest = generate(args.out, args.customers, args.seed, start=args.start, months=args.months,
                            progress=lambda step, done, total: bar.update(task, completed=done, description=step))
    logger.info("wrote %s (manifest %s)", args.out, args.out / L.MANIFEST_FILE)
    logger.info("dirt: %s", ", ".join(f"{k} {v}" for k, v in manifest.dirt.items()))
    return 0
