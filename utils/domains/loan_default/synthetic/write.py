"""Writing the four files, chunk by chunk, and the command line
(``python -m utils.domains.loan_default.synthetic``)."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd

from .clickstream import iter_clickstream
from .customers import make_customers
from .draws import chunks
from .layout import (ATTRIBUTES_FILE, CLICKSTREAM_FILE, CS611_CUSTOMERS, DEFAULT_CUSTOMERS, DEFAULT_SEED,
                     DEFAULT_START, FINANCIALS_FILE, LMS_FILE)
from .loans import make_loans
from .profiles import make_attributes, make_financials

logger = logging.getLogger(__name__)

DESCRIPTION = "Deterministic synthetic copy of the SMU CS611 loan-default raw data."


def _write(frames: Iterator[pd.DataFrame], path: Path) -> int:
    """Write frames to one CSV (header once, ``\\n`` line ends, RFC-4180 quoting)."""
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        for i, frame in enumerate(frames):
            frame.to_csv(handle, index=False, header=i == 0, lineterminator="\n")
            rows += len(frame)
    logger.info("wrote %s: %d rows, %.1f MB", path, rows, path.stat().st_size / 1e6)
    return rows


def generate(
    out_dir: Path, customers: int, seed: int = DEFAULT_SEED, start: dt.date = DEFAULT_START
) -> dict[str, Path]:
    """Write the four CS611-shaped CSV files for ``customers`` customers into ``out_dir``.

    Returns ``{table name: path}`` for ``lms_loan_daily``, ``features_attributes``,
    ``features_financials`` and ``feature_clickstream``. Customers are rendered in chunks
    of ``CHUNK_CUSTOMERS`` and the clickstream month by month, so memory stays bounded.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    truth = make_customers(customers, seed, start)
    logger.info(
        "%d customers (seed %d, start %s): default rate %.3f",
        customers, seed, start, truth["default"].mean(),
    )  # fmt: skip

    parts = [(part, truth.iloc[lo:hi]) for part, lo, hi in chunks(len(truth))]
    paths = {
        "lms_loan_daily": out_dir / LMS_FILE,
        "features_attributes": out_dir / ATTRIBUTES_FILE,
        "features_financials": out_dir / FINANCIALS_FILE,
        "feature_clickstream": out_dir / CLICKSTREAM_FILE,
    }
    _write((make_loans(chunk, start) for _, chunk in parts), paths["lms_loan_daily"])
    _write((make_attributes(chunk, seed, part) for part, chunk in parts), paths["features_attributes"])
    _write((make_financials(chunk, seed, part) for part, chunk in parts), paths["features_financials"])
    _write(iter_clickstream(truth, seed, start), paths["feature_clickstream"])
    logger.info("generated %s in %.1f s", out_dir, time.perf_counter() - began)
    return paths


def _first_of_month(value: str) -> dt.date:
    """--start as a date; an argparse error unless it is the first of a month."""
    date = dt.date.fromisoformat(value)
    if date.day != 1:
        raise argparse.ArgumentTypeError(f"--start must be the first of a month, got {value}")
    return date


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the files the options ask for into --out; 0 (argparse exits 2 on wrong options)."""
    parser = argparse.ArgumentParser(prog="python -m utils.domains.loan_default.synthetic", description=DESCRIPTION)
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--customers", type=int, help=f"number of customers (default {DEFAULT_CUSTOMERS}, the committed sample)"
    )
    size.add_argument(
        "--scale", type=float, help=f"size as a multiple of CS611 ({CS611_CUSTOMERS:,} customers), e.g. 40"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("data"), help="output folder (default %(default)s)")
    parser.add_argument(
        "--start", type=_first_of_month, default=DEFAULT_START,
        help="first application month, yyyy-MM-01 (default %(default)s, the CS611 calendar)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.scale is not None:
        if args.scale <= 0:
            parser.error("--scale must be positive")
        customers = max(1, round(CS611_CUSTOMERS * args.scale))
    else:
        customers = DEFAULT_CUSTOMERS if args.customers is None else args.customers
        if customers < 1:
            parser.error("--customers must be >= 1")
    generate(args.out, customers, args.seed, args.start)
    return 0
