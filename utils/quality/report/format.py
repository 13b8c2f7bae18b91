"""Text of counts, changes, dates, months and paths as the report writes them, and the
small helpers the pages share (no drawing)."""

from __future__ import annotations

import math

from utils.lake.paths import PROJECT_ROOT, portable_path  # noqa: F401  (re-exported)


def num(value: float | None) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{int(value):,}"


def delta(now: int | None, before: int | None) -> str:
    if now is None or before is None:
        return "–"
    d = now - before
    return "0" if d == 0 else f"{d:+,}".replace("-", "−")


def day(value) -> str:
    return "none" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)[:10]


def month(value) -> str:
    return "null" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)[:7]


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def raw_text(raw) -> str:
    """raw_values (a map, as pairs) as ``key=value; ...``; personal data is already
    masked in the quarantine."""
    if raw is None:
        return ""
    pairs = raw.items() if isinstance(raw, dict) else raw
    return "; ".join(f"{k}={'' if v is None else v}" for k, v in pairs)


def capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def compact(n: int) -> str:
    if n < 1000:
        return str(n)
    if n < 100_000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return f"{n / 1000:.0f}k" if n < 1_000_000 else f"{n / 1e6:.1f}M"


def balanced_chunks(items: list, size: int) -> list[list]:
    """`items` in balanced chunks of at most `size`."""
    if not items:
        return []
    n = math.ceil(len(items) / size)
    step = math.ceil(len(items) / n)
    return [items[i:i + step] for i in range(0, len(items), step)]


