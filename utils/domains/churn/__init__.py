"""Churn (subscription e-commerce: predict which active customers stop buying): the
sample-data generator (:mod:`.synthetic`) and :func:`ensure_sample`, which the command
line calls so that the sample, which is not committed, exists before a build.

Imports: numpy, pandas and the standard library only (no Spark, nothing of utils.layers).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path

from .synthetic import DEFAULT_CUSTOMERS, DEFAULT_SEED, generate

logger = logging.getLogger(__name__)


def ensure_sample(data_root: Path, *, customers: int = DEFAULT_CUSTOMERS, seed: int = DEFAULT_SEED) -> bool:
    """Generate the churn sample into `data_root` when it holds no ``crm/`` folder;
    True when it generated, False when the data was already there (never overwritten).

    The files are written into a hidden folder beside `data_root` and moved in with
    ``crm/`` last, so an interrupted generation leaves no ``crm/`` and is redone."""
    data_root = Path(data_root)
    if (data_root / "crm").is_dir():
        return False
    logger.info("no churn sample in %s: generating %d customers (seed %d)", data_root, customers, seed)
    data_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{data_root.name}.", dir=data_root.parent))
    try:
        generate(staging, customers, seed)
        for entry in sorted(staging.iterdir(), key=lambda p: p.name == "crm"):
            target = data_root / entry.name
            if target.is_dir():
                shutil.rmtree(target)  # a leftover of an interrupted run (no crm/ means incomplete)
            entry.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True
