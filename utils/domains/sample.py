"""What the domains' sample generators share: independent random streams, the month
calendar, deterministic file writers and the --start option of their command lines.
numpy, pandas and the standard library only."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd


def stream(seed: int, *keys: int) -> np.random.Generator:
    """An independent random stream for (seed, keys): changing how one part of the data
    draws never shifts another part."""
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def month_add(day: dt.date, months: int) -> dt.date:
    """The first of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def calendar_days(start: dt.date, months: int) -> int:
    """Days from `start` to the first day after its `months` months."""
    return (month_add(start, months) - start).days


def write_csv(path: Path, frame: pd.DataFrame) -> int:
    """`frame` as CSV with \\n line ends (the same bytes on every platform); its rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        frame.to_csv(handle, index=False, lineterminator="\n")
    return len(frame)


def write_lines(path: Path, lines: list[str]) -> int:
    """One line per item (JSON Lines); the number of lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return len(lines)


def rows_per_table(files: dict[str, int], prefixes: dict[str, str]) -> dict[str, int]:
    """table -> the records of the files whose path starts with its prefix."""
    return {table: sum(v for k, v in files.items() if k.startswith(prefix)) for table, prefix in prefixes.items()}


def month_arg(value: str) -> dt.date:
    """--start as the first of its month: 2024-05 or 2024-05-01."""
    try:
        day = dt.date.fromisoformat(value if len(value) > 7 else f"{value}-01")
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM or YYYY-MM-01, got {value!r}") from None
    if day.day != 1:
        raise argparse.ArgumentTypeError(f"--start must be the first of a month, got {value}")
    return day
