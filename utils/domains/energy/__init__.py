"""Energy (an energy company predicts the heat consumption of its customers' buildings):
the sample-data generator (:mod:`.synthetic`) and :func:`ensure_sample`, which the
command line calls so that the sample, which is not committed, exists before a build.

Imports: numpy, pandas and the standard library only (no Spark, nothing of utils.layers).
"""

from __future__ import annotations

import logging
from pathlib import Path

from utils.domains import generate_once

from .synthetic import DEFAULT_BUILDINGS, DEFAULT_SEED, generate

logger = logging.getLogger(__name__)


def ensure_sample(data_root: Path, *, buildings: int = DEFAULT_BUILDINGS, seed: int = DEFAULT_SEED) -> bool:
    """Generate the energy sample into `data_root` when it holds no ``readings/`` folder;
    True when it generated, False when the data was already there (never overwritten).
    An interrupted generation leaves no ``readings/`` and is redone (:func:`generate_once`)."""
    if (Path(data_root) / "readings").is_dir():
        return False
    logger.info("no energy sample in %s: generating %d buildings (seed %d)", data_root, buildings, seed)
    return generate_once(data_root, "readings", lambda folder: generate(folder, buildings, seed))
