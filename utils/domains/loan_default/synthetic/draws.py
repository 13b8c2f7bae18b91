"""Random draws and text rendering shared by the generators: seeded streams, correlated
draws (a Gaussian copula around one latent factor), discrete distributions, the rows that
get a dirty value, and numbers and lists written the way the course files write them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from .layout import CHUNK_CUSTOMERS


def stream(seed: int, *ids: int) -> np.random.Generator:
    """The generator of one stream (see layout.STREAM_*): SeedSequence([seed, *ids])."""
    return np.random.default_rng(np.random.SeedSequence([seed, *ids]))


def month_strings(start: dt.date, count: int) -> np.ndarray:
    """``count`` consecutive first-of-month dates from ``start`` as ``yyyy-MM-dd`` strings."""
    months = pd.period_range(pd.Period(start, freq="M"), periods=count, freq="M")
    return np.array([p.start_time.strftime("%Y-%m-%d") for p in months], dtype=object)


def normal_cdf(x: np.ndarray) -> np.ndarray:
    """Logistic approximation of the standard normal CDF (error < 0.01, plenty here)."""
    return 1.0 / (1.0 + np.exp(-1.702 * x))


def correlated_normal(rng: np.random.Generator, driver: np.ndarray, rho: float) -> np.ndarray:
    """Standard normals correlated ``rho`` with the standard normal ``driver``."""
    return rho * driver + np.sqrt(1.0 - rho**2) * rng.standard_normal(driver.shape[0])


def correlated_uniform(rng: np.random.Generator, driver: np.ndarray, rho: float) -> np.ndarray:
    """Uniforms whose normal scores correlate ``rho`` with ``driver`` (a Gaussian copula)."""
    return normal_cdf(correlated_normal(rng, driver, rho))


def from_pmf(u: np.ndarray, values: Sequence[int], weights: Sequence[float]) -> np.ndarray:
    """Inverse CDF of a discrete distribution evaluated at uniforms ``u``."""
    cdf = np.cumsum(weights, dtype=float)
    idx = np.searchsorted(cdf / cdf[-1], u, side="right")
    return np.asarray(values)[np.minimum(idx, len(values) - 1)]


def expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def calibrated_intercept(linear: np.ndarray, rate: float) -> float:
    """Intercept that makes the mean default probability equal ``rate`` (bisection)."""
    lo, hi = -10.0, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if expit(mid + linear).mean() < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def pick(rng: np.random.Generator, n: int, rate: float, taken: np.ndarray | None = None) -> np.ndarray:
    """Mask of about ``rate * n`` random rows, at least one, avoiding rows already ``taken``.

    Used to plant dirty values: the guaranteed single row makes every dirty kind show up
    even in small samples, and ``taken`` keeps different kinds of dirt on one column apart.
    """
    mask = np.zeros(n, dtype=bool)
    free = np.flatnonzero(~taken) if taken is not None else np.arange(n)
    if free.size == 0:
        return mask
    count = min(max(1, int(rng.binomial(n, rate))), free.size)
    mask[rng.choice(free, size=count, replace=False)] = True
    return mask


def as_text(values: np.ndarray) -> np.ndarray:
    """Numbers as their shortest round-trip text (``1000.0``, ``2706.1616666666664``)."""
    return np.asarray(values).astype(str).astype(object)


def english_list(items: Sequence[str]) -> str:
    """CS611 style: ``A``; ``A, and B``; ``A, B, and C`` (the comma before "and" always)."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def chunks(n: int, size: int = CHUNK_CUSTOMERS) -> Iterator[tuple[int, int, int]]:
    """(part, first row, end row) of each run of `size` rows out of `n`."""
    for part, lo in enumerate(range(0, n, size)):
        yield part, lo, min(lo + size, n)

