"""Text of numbers, months, table names and paths as the slides write them (no drawing)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from utils.lake.paths import PROJECT_ROOT, portable_path  # noqa: F401  (re-exported)


def n(value: float | int | None) -> str:
    """12,500 (integers), or '–' for missing."""
    return "–" if value is None else f"{int(round(value)):,}"


def pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}\u00a0%"  # no break before %


def month_span(months: Sequence[str]) -> str:
    months = [m for m in months if m]
    if not months:
        return "–"
    return months[0] if len(months) == 1 else f"{months[0]} to {months[-1]}"


def mb(size: int | None) -> str:
    return "–" if size is None else f"{size / 1e6:.1f}\u00a0MB"


def seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}\u00a0s"


def plural(count: int, word: str, words: str | None = None) -> str:
    return f"{n(count)} {word if count == 1 else (words or word + 's')}"


def plain(text: str) -> str:
    """`text` with "$" escaped, so matplotlib never reads it as mathtext ($DM, $DATA)."""
    return str(text).replace("$", r"\$")


def month_of(value: Any) -> str | None:
    """'2024-03' of a date (or its text); None for None."""
    if value is None:
        return None
    return str(value)[:7]


def short_table(name: str) -> str:
    """'silver/financials' -> 'financials'."""
    return name.split("/", 1)[1] if "/" in name else name


