"""Recommendation (RecoMart e-commerce: recommend products each user is likely to want):
the sample-data generator (:mod:`.synthetic`) and :func:`ensure_sample`, which the
command line calls so that the sample, which is not committed, exists before a build.

Imports: numpy, pandas and the standard library only (no Spark, nothing of utils.layers).
"""

from __future__ import annotations

import logging
from pathlib import Path

from utils.domains import generate_once

from .synthetic import DEFAULT_SEED, DEFAULT_USERS, generate

logger = logging.getLogger(__name__)


def ensure_sample(data_root: Path, *, users: int = DEFAULT_USERS, seed: int = DEFAULT_SEED) -> bool:
    """Generate the recommendation sample into `data_root` when it holds no ``users/`` folder;
    True when it generated, False when the data was already there (never overwritten).
    An interrupted generation leaves no ``users/`` and is redone (:func:`generate_once`)."""
    if (Path(data_root) / "users").is_dir():
        return False
    logger.info("no recommendation sample in %s: generating %d users (seed %d)", data_root, users, seed)
    return generate_once(data_root, "users", lambda folder: generate(folder, users, seed))
