"""Recommendation (RecoMart e-commerce: recommend products each user is likely to want):
the sample-data generator (:mod:`.synthetic`) and :func:`ensure_sample`, which the
command line calls so that the sample, which is not committed, exists before a build.

Imports: numpy, pandas and the standard library only (no Spark, nothing of utils.layers).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from .synthetic import DEFAULT_SEED, DEFAULT_USERS, generate

logger = logging.getLogger(__name__)


def ensure_sample(data_root: Path, *, users: int = DEFAULT_USERS, seed: int = DEFAULT_SEED) -> bool:
    """Generate the recommendation sample into `data_root` when it holds no ``users/``
    folder; True when it generated, False when the data was already there (never
    overwritten).

    The files are written into a hidden folder beside `data_root` and moved in with
    ``users/`` last, so an interrupted generation leaves no ``users/`` and is redone."""
    data_root = Path(data_root)
    if (data_root / "users").is_dir():
        return False
    logger.info("no recommendation sample in %s: generating %d users (seed %d)", data_root, users, seed)
    data_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{data_root.name}.", dir=data_root.parent))
    try:
        generate(staging, users, seed)
        for entry in sorted(staging.iterdir(), key=lambda p: p.name == "users"):
            target = data_root / entry.name
            if target.is_dir():
                shutil.rmtree(target)  # a leftover of an interrupted run (no users/ means incomplete)
            entry.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True
