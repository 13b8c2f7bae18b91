"""Simulate, dirty, render and write the recommendation sample; its manifest; the
command line (``python -m utils.domains.recommendation.synthetic``)."""

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
from . import vocab
from .catalog import Catalog, make_catalog
from .dirt import bot_sessions, event_dirt
from .population import DAY, DIRT, SCORES, Users, calendar_days, make_users, month_add, stream, visit_rates
from .render import (app_versions, event_records, iso_utc, order_rows, product_records, score_records, user_rows,
                     utc_month)
from .scores import make_scores
from .shopping import FOLLOW_UP, simulate

logger = logging.getLogger(__name__)

DESCRIPTION = "Deterministic synthetic sample of the recommendation domain (RecoMart e-commerce)."
#: Called as progress(step, done, total) after each step of :func:`generate`.
Progress = Callable[[str, int, int], None]
STEPS = 5
BOT = 3  # session kind of the bots (after shopping's MAIN, FOLLOW_UP, RATING)
TYPE_ORDER = {t: k for k, t in enumerate(L.EVENT_TYPES)}


@dataclass
class Manifest:
    """What :func:`generate` wrote: its parameters, records per file (a CSV's data lines,
    a JSON Lines file's lines), rows per table, the dirt counts and a few counts of
    the ground truth. Written as `_generated.json`; same arguments, same bytes."""

    users: int
    seed: int
    start: str
    months: int
    files: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    dirt: dict[str, int] = field(default_factory=dict)
    truth: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"




def _prepare_events(events: pd.DataFrame, sessions: pd.DataFrame, catalog: Catalog, users: Users, seed: int,
                    start: dt.date, days: int) -> tuple[pd.DataFrame, dict[str, int], pd.DataFrame]:
    """Bots joined in, items (category and price in force), dirt, session and event ids,
    times, devices; `month` is the UTC month of the drop an event goes to. Returns
    (events, dirt counts, sessions with the bots')."""
    rng = stream(seed, DIRT)
    user_ids = users.frame["user_id"].to_numpy()
    bots, bot_events = bot_sessions(len(sessions), user_ids, users.frame["signup_seconds"].to_numpy(),
                                   catalog.frame["created_seconds"].to_numpy(), days, rng)
    sessions = pd.concat([sessions.assign(user_id=user_ids[sessions["user"].to_numpy()]),
                          bots.assign(kind=BOT, device="desktop", channel="web")], ignore_index=True)
    events = pd.concat([events.assign(bot=False),
                        bot_events.assign(session=bot_events["session"] + len(sessions) - len(bots), rating=-1,
                                          bot=True)], ignore_index=True)
    prod, seconds = events["prod"].to_numpy(), events["seconds"].to_numpy()
    version = catalog.at(prod, seconds)
    paths = np.array(["/".join(leaf.path) for leaf in vocab.LEAVES], dtype=object)
    events["category"] = paths[catalog.versions["leaf"].to_numpy()[version]]
    events["price"] = catalog.versions["price"].to_numpy()[version]
    events["user_id"] = sessions["user_id"].to_numpy()[events["session"].to_numpy()]
    events["product_id"] = catalog.frame["product_id"].to_numpy()[prod]
    events, counts = event_dirt(events, len(user_ids), rng)
    counts["bot_sessions"], counts["bot_events"] = len(bots), int(events["bot"].sum())
    # session ids in order of start; mobile sessions run an app version
    rank = np.lexsort((np.arange(len(sessions)), sessions["kind"].to_numpy(), sessions["t0"].to_numpy()))
    number = np.empty(len(sessions), dtype=np.int64)
    number[rank] = np.arange(len(sessions))
    sessions["session_id"] = [f"S{k + 1:09d}" for k in number]
    mobile = sessions["channel"].to_numpy() == "mobile"
    versions = app_versions(sessions["t0"].to_numpy() // DAY, start, stream(seed, DIRT, 1))
    sessions["app_version"] = np.where(mobile, versions, None)
    s = events["session"].to_numpy()
    events["number"] = number[s]
    events["order"] = events["event_type"].map(TYPE_ORDER)
    events = events.sort_values(["seconds", "number", "order", "prod"], kind="stable").reset_index(drop=True)
    s = events["session"].to_numpy()
    events["event_id"] = [f"E{i + 1:010d}" for i in range(len(events))]
    events["session_id"] = sessions["session_id"].to_numpy()[s]
    events["device"] = sessions["device"].to_numpy()[s]
    events["app_version"] = sessions["app_version"].to_numpy()[s]
    events["channel"] = sessions["channel"].to_numpy()[s]
    events["occurred_at"] = iso_utc(start, events["seconds"].to_numpy())
    events["month"] = utc_month(start, events["seconds"].to_numpy())
    return events, counts, sessions


def generate(out: Path, users: int = L.DEFAULT_USERS, seed: int = L.DEFAULT_SEED, *,
             start: dt.date = L.DEFAULT_START, months: int = L.DEFAULT_MONTHS,
             progress: Progress | None = None) -> Manifest:
    """Write the recommendation sample for `users` users over `months` months from
    `start` (the first of a month) into `out`: users/, api/, clickstream/, orders/ and
    `_generated.json` (the returned :class:`Manifest`). Deterministic for its arguments."""
    if users < 1 or months < 1 or start.day != 1:
        raise ValueError(f"need users >= 1, months >= 1 and a first-of-month start (got {users}, {months}, {start})")
    out = Path(out)
    began = time.perf_counter()
    report = progress or (lambda step, done, total: None)
    days = calendar_days(start, months)
    people = make_users(users, seed, start, months)
    catalog = make_catalog(seed, start, months)
    events, sessions, orders = simulate(people, catalog, visit_rates(people, seed, start, months), seed, start, months)
    report("simulated", 1, STEPS)
    scores = make_scores(events, catalog, days, stream(seed, SCORES))
    frame, counts, sessions = _prepare_events(events, sessions, catalog, people, seed, start, days)
    report("dirtied", 2, STEPS)

    manifest = Manifest(users=users, seed=seed, start=start.isoformat(), months=months)
    user_frame = user_rows(people.frame, start, months)
    order_frame = order_rows(orders, catalog, people.frame["user_id"].to_numpy(), start, months)
    for m in range(months):
        month = month_add(start, m)
        for path, part in ((L.users_file(month), user_frame[user_frame["month"] == m][L.USER_COLUMNS]),
                           (L.orders_file(month), order_frame[order_frame["month"] == m][L.ORDER_COLUMNS])):
            manifest.files[path] = write_csv(out / path, part)
    report("users and orders", 3, STEPS)
    for channel in L.CHANNELS:
        for m in range(months):
            path = L.clickstream_file(channel, month_add(start, m))
            part = frame[(frame["channel"].to_numpy() == channel) & (frame["month"].to_numpy() == m)]
            manifest.files[path] = write_lines(out / path, event_records(part))
    report("clickstream", 4, STEPS)
    manifest.files[L.PRODUCTS_FILE] = write_lines(out / L.PRODUCTS_FILE, product_records(catalog, start))
    manifest.files[L.SCORES_FILE] = write_lines(out / L.SCORES_FILE, score_records(scores, catalog, start))
    report("api", 5, STEPS)

    _fill_manifest(manifest, counts, people, catalog, sessions, orders, frame, start, months)
    (out / L.MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
    logger.info("recommendation sample: %d users, %s in %s (%.1f s)", users,
                ", ".join(f"{k} {v:,}" for k, v in manifest.rows.items()), out, time.perf_counter() - began)
    return manifest


def _fill_manifest(manifest: Manifest, counts: dict[str, int], people: Users, catalog: Catalog,
                   sessions: pd.DataFrame, orders: pd.DataFrame, events: pd.DataFrame, start: dt.date,
                   months: int) -> None:
    """Rows per table, dirt and truth."""
    manifest.rows.update(rows_per_table(manifest.files, {
        "users": "users/", "products": L.PRODUCTS_FILE, "product_scores": L.SCORES_FILE,
        "clickstream": "clickstream/", "orders": "orders/"}))
    counts["category_changes"] = int(catalog.versions["category_change"].sum())
    manifest.dirt = dict(sorted(counts.items()))
    cold = (month_add(start, max(months - 2, 0)) - start).days * DAY
    kind = events["event_type"].to_numpy()
    manifest.truth = dict(sorted({
        "products": len(catalog.frame),
        "catalog_versions": len(catalog.versions),
        "price_changes": int((~catalog.versions["category_change"] & catalog.versions.duplicated("prod")).sum()),
        "cold_users": int((people.frame["signup_seconds"] >= cold).sum()),
        "cold_items": int((catalog.frame["created_seconds"] >= cold).sum()),
        "sessions": int((sessions["kind"] != BOT).sum()),
        "complement_sessions": int((sessions["kind"] == FOLLOW_UP).sum()),
        "bot_sessions_of_real_users": int(sessions["real_user"].eq(True).sum()),
        "purchases": len(orders),
        "orders": int(orders["order"].nunique()),
        "orders_without_purchase_event": int(orders.loc[~orders["tracked"], "order"].nunique()),
        "purchase_events": int((kind == "purchase").sum()),  # distinct events (a duplicate is one event)
        "rating_events": int((kind == "rating").sum()),
    }.items()))



def main(argv: Sequence[str] | None = None) -> int:
    """Generate the sample the options ask for into --out, logging each step; 0."""
    p = argparse.ArgumentParser(prog="python -m utils.domains.recommendation.synthetic", description=DESCRIPTION)
    p.add_argument("--users", type=int, default=L.DEFAULT_USERS, help="number of users (default %(default)s)")
    p.add_argument("--seed", type=int, default=L.DEFAULT_SEED, help="random seed (default %(default)s)")
    p.add_argument("--out", type=Path, default=Path("data/recommendation"), help="output folder (default %(default)s)")
    p.add_argument("--start", type=month_arg, default=L.DEFAULT_START, help="first month, YYYY-MM (default 2024-01)")
    p.add_argument("--months", type=int, default=L.DEFAULT_MONTHS, help="number of months (default %(default)s)")
    args = p.parse_args(argv)
    if args.users < 1 or args.months < 1:
        p.error("--users and --months must be >= 1")
    manifest = generate(args.out, args.users, args.seed, start=args.start, months=args.months,
                        progress=lambda step, done, total: logger.info("%s (%d/%d)", step, done, total))
    logger.info("wrote %s (manifest %s)", args.out, args.out / L.MANIFEST_FILE)
    logger.info("dirt: %s", ", ".join(f"{k} {v}" for k, v in manifest.dirt.items()))
    return 0
