"""Domains: one sub-package each, with its sample-data generator and the pure functions
its YAML cannot say.

:func:`generate_once` is what each domain's ``ensure_sample`` calls: the command line
generates a sample that is not committed before the first build of its domain."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def generate_once(data_root: Path, marker: str, generate: Callable[[Path], object]) -> bool:
    """Run `generate(folder)` for `data_root` when it holds no `marker` folder; True when
    it generated, False when the data was already there (never overwritten).

    The files are written into a hidden folder beside `data_root` and moved in with
    `marker` last, so an interrupted generation leaves no `marker` and is redone."""
    data_root = Path(data_root)
    if (data_root / marker).is_dir():
        return False
    data_root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{data_root.name}.", dir=data_root.parent))
    try:
        generate(staging)
        for entry in sorted(staging.iterdir(), key=lambda p: p.name == marker):
            target = data_root / entry.name
            if target.is_dir():
                shutil.rmtree(target)  # a leftover of an interrupted run (no marker means incomplete)
            entry.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return True
