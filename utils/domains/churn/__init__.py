"""Churn (subscription e-commerce: predict which active customers stop buying): the
sample-data generator (:mod:`.synthetic`) and :func:`ensure_sample`, which the command
line calls so that the sample, which is not committed, exists before a build.

Imports: numpy, pandas and the standard library only (no Spark, nothing of utils.layers).
"""

from __future__ import annotations

import logging
from pathlib import Path

from utils.domains import generate_once

from .synthetic import DEFAULT_CUSTOMERS, DEFAULT_SEED, generate

logger = logging.getLogger(__name__)


def ensure_sample(data_root: Path, *, customers: int = DEFAULT_CUSTOMERS, seed: int = DEFAULT_SEED) -> bool:
    """Generate the churn sample into `data_root` when it holds no ``crm/`` folder;
    True when it generated, False when the data was already there (never overwritten).
    An interrupted generation leaves no ``crm/`` and is redone (:func:`generate_once`)."""
    if (Path(data_root) / "crm").is_dir():
        return False
    logger.info("no churn sample in %s: generating %d customers (seed %d)", data_root, customers, seed)
    return generate_once(data_root, "crm", lambda folder: generate(folder, customers, seed))
